"""The catalog on PostgreSQL, for archives scanned from several machines at once (SQLite on
network storage is unsafe). The catalog's statements are written once, in SQLite's dialect, in
hygiene.catalog and its migrations; this module runs them on PostgreSQL, translated:

- types: INTEGER -> BIGINT (sizes and nanosecond times overflow 32 bits), REAL -> DOUBLE
  PRECISION (PostgreSQL's REAL is 4 bytes), BLOB -> BYTEA, TEXT compared byte by byte
  (COLLATE "C", as SQLite does), `INTEGER PRIMARY KEY` -> an identity column;
- INSERT OR REPLACE -> INSERT ... ON CONFLICT (the table's key) DO UPDATE, INSERT OR IGNORE ->
  ON CONFLICT DO NOTHING, `?` -> `%s`, X'' -> an empty bytea;
- the schema version lives in a table (PRAGMA user_version is SQLite's), and migrations run
  under an advisory lock, so two machines starting at once migrate once.

Every table lives in the schema `hygiene_catalog`, apart from whatever else the database holds
(the search store's tables, say).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

from hygiene.catalog.schema import MIGRATIONS, SCHEMA_VERSION
from hygiene.config import DATABASE_URL_PREFIXES

SCHEMA = "hygiene_catalog"
_CONNECT_TIMEOUT_S = 10
_MIGRATION_LOCK = 0x68796769  # any constant: the advisory lock every migrating client takes


class PostgresError(RuntimeError):
    """The catalog database cannot be reached or used; str() is one line."""


def is_url(location: object) -> bool:
    return isinstance(location, str) and location.startswith(DATABASE_URL_PREFIXES)


_PASSWORD = re.compile(r"(://[^:/@]*):[^@]*@")  # user:password@ in a URL


def without_password(url: str) -> str:
    """The URL as runs record it: a password stays out of run.json (libpq finds it again in
    PGPASSWORD or ~/.pgpass)."""
    return _PASSWORD.sub(r"\1@", url)


def redacted(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return _PASSWORD.sub(r"\1:***@", url)


class Connection:
    """A psycopg connection that takes the catalog's SQLite statements (execute, executemany,
    close, and BEGIN/COMMIT/ROLLBACK issued as statements, as on an autocommit sqlite3
    connection)."""

    def __init__(self, url: str, *, readonly: bool = False) -> None:
        try:
            import psycopg
        except ImportError:
            raise PostgresError(
                "a PostgreSQL catalog needs psycopg: pip install 'photo-hygiene[postgres]'"
            ) from None
        self.url = url
        options = f"-c search_path={SCHEMA}"
        if readonly:
            options += " -c default_transaction_read_only=on"
        try:
            self._conn = psycopg.connect(
                url, connect_timeout=_CONNECT_TIMEOUT_S, autocommit=True, options=options
            )
        except (psycopg.Error, ValueError) as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise PostgresError(f"cannot reach the catalog {redacted(url)}: {reason}") from None
        if not readonly:
            self._migrate()

    def execute(self, sql: str, params: Sequence[object] = ()) -> Any:
        return self._conn.execute(_translated(sql), _adapted(params) if params else None)

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        with self._conn.cursor() as cursor:
            cursor.executemany(_translated(sql), [_adapted(row) for row in rows])

    def close(self) -> None:
        self._conn.close()

    @property
    def usable(self) -> bool:
        """False once the connection was closed or lost (a server restart, a network cut)."""
        return not (self._conn.closed or self._conn.broken)

    def _migrate(self) -> None:
        with self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            self._conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            self._conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT)")
            row = self._conn.execute("SELECT max(version) FROM schema_version").fetchone()
            current = row[0] or 0
            if current > SCHEMA_VERSION:
                raise PostgresError(
                    f"catalog schema {current} is newer than this hygiene understands "
                    f"({SCHEMA_VERSION}); upgrade hygiene or use another --catalog"
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                self._conn.execute(ddl(MIGRATIONS[version]))
                self._conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))


def _adapted(params: Sequence[object]) -> list[object]:
    # sqlite3 takes memoryview and bytearray as BLOBs; psycopg wants bytes for bytea
    return [bytes(v) if isinstance(v, memoryview | bytearray) else v for v in params]


def ddl(script: str) -> str:
    """A migration's DDL in PostgreSQL's types."""
    script = re.sub(
        r"\bINTEGER PRIMARY KEY\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", script
    )
    script = re.sub(r"\bINTEGER\b", "BIGINT", script)
    script = re.sub(r"\bREAL\b", "DOUBLE PRECISION", script)
    script = re.sub(r"\bBLOB\b", "BYTEA", script)
    script = re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', script)
    return re.sub(r"\)\s*WITHOUT ROWID", ")", script)


@functools.cache
def primary_keys() -> dict[str, tuple[str, ...]]:
    """Each table's key columns, read from the migrations (what ON CONFLICT names)."""
    keys: dict[str, tuple[str, ...]] = {}
    for script in MIGRATIONS.values():
        for table, body in re.findall(r"CREATE TABLE (\w+) \((.*?)\n\s*\)", script, re.S):
            named = re.search(r"PRIMARY KEY \(([^)]*)\)", body)
            if named:
                keys[table] = tuple(c.strip() for c in named.group(1).split(","))
            else:
                column = re.search(r"(\w+) \w+ PRIMARY KEY", body)
                if column:
                    keys[table] = (column.group(1),)
    return keys


_INSERT = re.compile(r"^\s*INSERT OR (REPLACE|IGNORE) INTO (\w+)\s*\(([^)]*)\)(.*)$", re.S)


@functools.lru_cache(maxsize=256)
def _translated(sql: str) -> str:
    """A catalog statement in PostgreSQL's dialect."""
    sql = sql.strip()
    if sql == "BEGIN IMMEDIATE":
        return "BEGIN"
    sql = sql.replace("X''", "''::bytea")
    insert = _INSERT.match(sql)
    if insert:
        verb, table, columns, rest = insert.groups()
        names = [c.strip() for c in columns.split(",")]
        sql = f"INSERT INTO {table} ({', '.join(names)}){rest}"
        if verb == "IGNORE":
            sql += " ON CONFLICT DO NOTHING"
        else:
            key = primary_keys()[table]
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in names if c not in key)
            action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
            sql += f" ON CONFLICT ({', '.join(key)}) {action}"
    return sql.replace("?", "%s")
