"""The PostgreSQL + pgvector store: a run's searchable photos copied into a database, for
libraries that outgrow one file or are searched from elsewhere. Every SQL statement the store
runs is in this module.

Tables (created on first push; one photo table per vector width, since a pgvector column has
a fixed number of dimensions):
- hygiene_search_sets        one row per (archive root, model): which run was pushed last
- hygiene_search_photos_<D>  one row per searchable photo: metadata and a vector(D), with an
                             HNSW index for cosine distance
- hygiene_search_files       every readable file of the run -> the photo it belongs to (what
                             --like looks a path up in)

A query asks the HNSW index for the best candidates, scores the library's fixed sample (the
same photos the embedded index samples, chosen by hash) and hands both to rank, so the two
backends cut results at the same floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hygiene.catalog.postgres import redacted
from hygiene.search.library import (
    Candidates,
    Library,
    Photo,
    SearchError,
    normalised,
    sample_limit,
)

_CONNECT_TIMEOUT_S = 10
_PHOTO_COLUMNS = "path, sha256, category, taken_at, thumbnail, copies"  # Photo's order


def connect(url: str) -> Any:
    """A connection with pgvector's types registered (SearchError, one line, when none)."""
    try:
        import psycopg
        from pgvector.psycopg import register_vector
    except ImportError:
        raise SearchError(
            "the PostgreSQL store needs psycopg and pgvector: pip install 'photo-hygiene[postgres]'"
        ) from None
    try:
        conn = psycopg.connect(url, connect_timeout=_CONNECT_TIMEOUT_S, autocommit=True)
    except (psycopg.Error, ValueError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise SearchError(f"cannot reach the store {redacted(url)}: {reason}") from None
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        register_vector(conn)
    except psycopg.Error as exc:
        conn.close()
        reason = " ".join(str(exc).split())
        raise SearchError(
            f"the store {redacted(url)} has no pgvector extension: {reason}"
        ) from None
    return conn


def _photos_table(dims: int) -> str:
    return f"hygiene_search_photos_{int(dims)}"


def _create_tables(conn: Any, dims: int) -> None:
    table = _photos_table(dims)
    conn.execute(
        """CREATE TABLE IF NOT EXISTS hygiene_search_sets (
            set_id serial PRIMARY KEY,
            root text NOT NULL,
            model_id text NOT NULL,
            dims integer NOT NULL,
            run_dir text NOT NULL,
            stamp text NOT NULL,
            photos integer NOT NULL,
            pushed_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (root, model_id))"""
    )
    conn.execute(
        f"""CREATE TABLE IF NOT EXISTS {table} (
            set_id integer NOT NULL REFERENCES hygiene_search_sets ON DELETE CASCADE,
            sha256 text NOT NULL,
            path text NOT NULL,
            category text NOT NULL,
            taken_at text NOT NULL,
            thumbnail text NOT NULL,
            copies integer NOT NULL,
            sample_key bigint NOT NULL,  -- the first 8 hex digits of sha256: in_sample
            embedding vector({int(dims)}) NOT NULL,
            PRIMARY KEY (set_id, sha256))"""
    )
    conn.execute(
        f"CREATE INDEX IF NOT EXISTS {table}_hnsw ON {table} "
        "USING hnsw (embedding vector_cosine_ops)"
    )
    conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_sample ON {table} (set_id, sample_key)")
    conn.execute(
        """CREATE TABLE IF NOT EXISTS hygiene_search_files (
            set_id integer NOT NULL REFERENCES hygiene_search_sets ON DELETE CASCADE,
            path text NOT NULL,
            sha256 text NOT NULL,
            PRIMARY KEY (set_id, path))"""
    )


@dataclass(frozen=True)
class PushReport:
    photos: int
    added: int
    removed: int


def push(library: Library, url: str) -> PushReport:
    """Make the store's copy of the library's archive (under its model) match the library:
    vectors of new photos copied in, departed photos removed, metadata and paths refreshed."""
    conn = connect(url)
    import psycopg  # connect() has imported it: present

    try:
        return _push(conn, library)
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())
        raise SearchError(f"cannot push to the store {redacted(url)}: {reason}") from None
    finally:
        conn.close()


def _push(conn: Any, library: Library) -> PushReport:
    dims = library.index.dims
    table = _photos_table(dims)
    _create_tables(conn, dims)
    with conn.transaction():
        set_id = conn.execute(
            """INSERT INTO hygiene_search_sets (root, model_id, dims, run_dir, stamp, photos)
               VALUES (%s, %s, %s, %s, %s, %s)
               ON CONFLICT (root, model_id) DO UPDATE SET dims = EXCLUDED.dims,
                   run_dir = EXCLUDED.run_dir, stamp = EXCLUDED.stamp,
                   photos = EXCLUDED.photos, pushed_at = now()
               RETURNING set_id""",
            (
                library.root,
                library.model_id,
                dims,
                str(library.run_dir),
                library.index.meta.get("synced", ""),
                len(library.photos),
            ),
        ).fetchone()[0]
        stored = {
            sha
            for (sha,) in conn.execute(f"SELECT sha256 FROM {table} WHERE set_id = %s", (set_id,))
        }
        present = {photo.sha256 for photo in library.photos}
        departed = sorted(stored - present)
        conn.execute(
            f"DELETE FROM {table} WHERE set_id = %s AND sha256 = ANY(%s)", (set_id, departed)
        )
        conn.execute("CREATE TEMP TABLE incoming (LIKE " + table + ") ON COMMIT DROP")
        conn.execute("ALTER TABLE incoming ALTER COLUMN embedding DROP NOT NULL")
        with conn.cursor().copy(
            f"COPY incoming (set_id, {_PHOTO_COLUMNS}, sample_key, embedding) FROM STDIN"
        ) as copy:
            for entry, photo in enumerate(library.photos):
                vector = None if photo.sha256 in stored else library.vector(entry)
                copy.write_row(
                    (
                        set_id,
                        photo.path,
                        photo.sha256,
                        photo.category,
                        photo.taken_at,
                        photo.thumbnail,
                        photo.copies,
                        int(photo.sha256[:8], 16),
                        vector,
                    )
                )
        conn.execute(
            f"""UPDATE {table} AS t SET path = i.path, category = i.category,
                   taken_at = i.taken_at, thumbnail = i.thumbnail, copies = i.copies,
                   sample_key = i.sample_key
                FROM incoming AS i WHERE t.set_id = i.set_id AND t.sha256 = i.sha256"""
        )
        conn.execute(f"INSERT INTO {table} SELECT * FROM incoming WHERE embedding IS NOT NULL")
        conn.execute("DELETE FROM hygiene_search_files WHERE set_id = %s", (set_id,))
        with conn.cursor().copy(
            "COPY hygiene_search_files (set_id, path, sha256) FROM STDIN"
        ) as copy:
            for path, entry in library.entry_of.items():
                copy.write_row((set_id, path, library.photos[entry].sha256))
    return PushReport(len(library.photos), len(present - stored), len(departed))


class StoreLibrary:
    """A pushed archive, searched in PostgreSQL. Entries are content hashes."""

    def __init__(self, conn: Any, url: str, root: str | None, model_id: str | None) -> None:
        import psycopg  # connect() has imported it: present

        self.conn, self.url = conn, url
        wanted = "WHERE (%(root)s::text IS NULL OR root = %(root)s) AND "
        wanted += "(%(model)s::text IS NULL OR model_id = %(model)s)"
        try:
            found = conn.execute(
                "SELECT set_id, root, model_id, dims, photos FROM hygiene_search_sets "
                f"{wanted} ORDER BY pushed_at DESC LIMIT 1",
                {"root": root, "model": model_id},
            ).fetchone()
        except psycopg.errors.UndefinedTable:  # nothing was ever pushed there
            found = None
        except psycopg.Error as exc:
            raise SearchError(f"cannot read the store {redacted(url)}: {exc}") from None
        if found is None:
            which = f" of {root}" if root else ""
            raise SearchError(
                f"the store {redacted(url)} holds no photos{which}: "
                "run `hygiene store push` after a scan with CLIP"
            )
        self.set_id, self.root, self.model_id, dims, self.size = found
        self.table = _photos_table(dims)
        self.run_dir = redacted(url)

    def find(self, path: str) -> str | None:
        row = self.conn.execute(
            "SELECT sha256 FROM hygiene_search_files WHERE set_id = %s AND path = %s",
            (self.set_id, normalised(path, self.root)),
        ).fetchone()
        return None if row is None else row[0]

    def entry_with(self, sha256: str) -> str | None:
        row = self.conn.execute(
            f"SELECT sha256 FROM {self.table} WHERE set_id = %s AND sha256 = %s",
            (self.set_id, sha256),
        ).fetchone()
        return None if row is None else row[0]

    def vector(self, entry: str) -> np.ndarray:
        (embedding,) = self.conn.execute(
            f"SELECT embedding FROM {self.table} WHERE set_id = %s AND sha256 = %s",
            (self.set_id, entry),
        ).fetchone()
        return np.asarray(embedding.to_numpy(), dtype=np.float32)  # a pgvector Vector

    def candidates(
        self, query: np.ndarray, want: int, *, category: str | None, exclude: str | None
    ) -> Candidates:
        q = np.asarray(query, dtype=np.float32)
        params = {"set": self.set_id, "q": q, "want": want, "exclude": exclude or ""}
        score = "1 - (embedding <=> %(q)s)"
        with self.conn.transaction():
            # a wider graph search than pgvector's default 40, so `want` survive the filters
            self.conn.execute(f"SET LOCAL hnsw.ef_search = {max(40, 2 * want + 2)}")
            near = self.conn.execute(
                f"""SELECT {_PHOTO_COLUMNS}, {score} FROM {self.table}
                    WHERE set_id = %(set)s AND sha256 <> %(exclude)s
                    ORDER BY embedding <=> %(q)s LIMIT %(want)s""",
                params,
            ).fetchall()
        usual = self.conn.execute(
            f"""SELECT {score} FROM {self.table}
                WHERE set_id = %(set)s AND sha256 <> %(exclude)s
                  AND sample_key < %(limit)s""",
            params | {"limit": sample_limit(self.size)},
        ).fetchall()
        best = np.array(sorted((row[-1] for row in near), reverse=True), np.float32)
        eligible = self.size - (1 if exclude else 0)
        pool, seen_all = near, None
        if category:  # a category is a slice of the library: score it all, exactly
            pool = self.conn.execute(
                f"""SELECT * FROM (SELECT {_PHOTO_COLUMNS}, {score} AS score FROM {self.table}
                    WHERE set_id = %(set)s AND sha256 <> %(exclude)s
                      AND lower(category) = lower(%(category)s)) AS slice
                    ORDER BY score DESC""",
                params | {"category": category},
            ).fetchall()
            seen_all = np.array([row[-1] for row in pool], np.float32)
            eligible = len(pool)
        pool = pool[:want]  # both queries order best first
        return Candidates(
            [Photo(*row[:6]) for row in pool],
            np.array([row[-1] for row in pool], np.float32),
            np.array([row[0] for row in usual], np.float32),
            best,
            eligible,
            seen_all,
        )


def open_store(url: str, root: str | None, model_id: str | None) -> StoreLibrary:
    return StoreLibrary(connect(url), url, root, model_id)
