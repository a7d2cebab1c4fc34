"""The catalog's numbered migrations."""

from __future__ import annotations

import sqlite3

import pytest

from hygiene import catalog


def test_migration_scripts_split_where_sqlite_says_a_statement_ends():
    script = "INSERT INTO t VALUES ('a;b'); -- one; two\nCREATE TABLE u (x);\n"
    assert list(catalog._statements(script)) == [
        "INSERT INTO t VALUES ('a;b'); -- one; two\n",
        "CREATE TABLE u (x);\n",
    ]
    with pytest.raises(catalog.CatalogError):
        list(catalog._statements("CREATE TABLE v (x"))


def test_a_new_catalog_gets_every_migration(tmp_path):
    conn = catalog.open_catalog(tmp_path / "c.sqlite")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == catalog.SCHEMA_VERSION
    columns = {row[1] for row in conn.execute("PRAGMA table_info(pair_relations)")}
    assert "residual" in columns


def test_an_older_catalog_is_upgraded_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("BEGIN")
    before_residuals = 5
    for version in range(1, before_residuals + 1):
        for statement in catalog._statements(catalog._MIGRATIONS[version]):
            old.execute(statement)
    old.execute(f"PRAGMA user_version = {before_residuals}")
    old.execute("COMMIT")
    old.execute("INSERT INTO pair_relations VALUES ('a', 'b', 'k', 'near')")
    old.close()
    conn = catalog.open_catalog(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == catalog.SCHEMA_VERSION
    assert catalog.pair_relation(conn, "a", "b", "k") is None  # no residual: judged again
    catalog.record_pair_relation(conn, "a", "b", "k", "near", 0.01)
    assert catalog.pair_relation(conn, "a", "b", "k") == ("near", 0.01)


def test_only_the_latest_few_candidate_sets_are_kept(tmp_path, monkeypatch):
    conn = catalog.open_catalog(tmp_path / "c.sqlite")
    clock = iter(range(100))
    monkeypatch.setattr(catalog.time, "time", lambda: float(next(clock)))
    for number in range(catalog._CANDIDATE_SETS_KEPT + 2):
        catalog.record_candidate_set(conn, f"key{number}", bytes([number]))
    kept = catalog._CANDIDATE_SETS_KEPT
    assert catalog.candidate_set(conn, "key0") is None
    assert catalog.candidate_set(conn, "key1") is None
    assert catalog.candidate_set(conn, f"key{kept + 1}") == bytes([kept + 1])
    stored = conn.execute("SELECT count(*) FROM candidate_sets").fetchone()[0]
    assert stored == kept


def test_proposals_survive_the_round_trip_through_the_catalog():
    from hygiene.duplicates.candidates import proposals_from_bytes, proposals_to_bytes

    proposals = [(0, 5, 3, False, 7, True), (2, 1, 0, True, 14, False)]
    assert proposals_from_bytes(proposals_to_bytes(proposals)) == proposals
    assert proposals_from_bytes(proposals_to_bytes([])) == []


def test_the_read_only_catalog_is_the_same_file_whatever_its_folder_is_called(tmp_path):
    folder = tmp_path / "photos #2 ?old 100%"
    conn = catalog.open_catalog(folder / "c.sqlite")
    catalog.record_candidate_set(conn, "key", b"stored")
    conn.close()
    reader = catalog.open_catalog_readonly(folder / "c.sqlite")
    assert catalog.candidate_set(reader, "key") == b"stored"
    with pytest.raises(sqlite3.OperationalError):  # read-only
        catalog.record_candidate_set(reader, "other", b"x")


def test_a_run_table_shares_equal_values_without_changing_their_type(tmp_path):
    """Equal sizes and border boxes share one object as a run table is read; a 1-pixel-wide
    image's width stays the int 1, not the 1.0 an unpadded photo's border box holds."""
    from hygiene.records import FileEntry, ImageFacts, QualityMetrics, ScanOutcome

    conn = catalog.open_catalog(tmp_path / "catalog.sqlite")
    root = catalog.root_id(conn, tmp_path)
    measured = QualityMetrics(*[0.5] * 10)
    facts = {  # sha256 order: the photo's row is read first
        "0" * 64: ("photo.jpg", 640, 480),
        "f" * 64: ("pixel.png", 1, 1),
    }
    for sha, (name, width, height) in facts.items():
        made = ImageFacts(
            "PNG", width, height, 1, None, None, None, bytes(8), b"", 0.1, 1.0,
            0.0, 0.0, 1.0, 1.0, measured, b"",
        )  # fmt: skip
        catalog.record_content(conn, ScanOutcome("ok", None, sha, made), "key")
        catalog.record_file(
            conn, root, FileEntry(name, 10, 0), "key", sha256=sha, status=None, error=None
        )
    catalog.record_run_files(conn, "run", root, [(0, "photo.jpg"), (1, "pixel.png")])
    read = catalog.read_run_table(conn, "run").facts
    assert [type(f.width) for f in read] == [int, int] and read[1].width == 1
    assert [type(f.content_right) for f in read] == [float, float]
    assert read[0].content_right is read[1].content_right  # shared, as meant
