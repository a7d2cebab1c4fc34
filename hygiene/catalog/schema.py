"""The catalog's schema as numbered migrations, each frozen once released: a catalog at
version N gets migrations N+1.. applied in one transaction (see hygiene.catalog._migrate)."""

from __future__ import annotations

SCHEMA_VERSION = 10

# The quality columns migration 1 creates, frozen: later fields come with their own migration.
_QUALITY_FIELDS_V1 = (
    "luma_mean",
    "luma_p01",
    "luma_p05",
    "luma_p50",
    "luma_p95",
    "luma_p99",
    "luma_p999",
    "highlight_fraction",
    "flat_midtone_fraction",
    "blur",
)

MIGRATIONS: dict[int, str] = {
    1: f"""
    CREATE TABLE roots (
        root_id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE
    );
    -- status/error are set here only for outcomes that depend on more than the bytes
    -- (non-image content, empty files, timeouts), otherwise the contents row says.
    CREATE TABLE files (
        root_id INTEGER NOT NULL REFERENCES roots(root_id),
        rel_path TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        scan_key TEXT NOT NULL,
        sha256 TEXT,
        status TEXT,
        error TEXT,
        PRIMARY KEY (root_id, rel_path)
    ) WITHOUT ROWID;
    CREATE TABLE contents (
        sha256 TEXT NOT NULL,
        scan_key TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        format TEXT,
        width INTEGER,
        height INTEGER,
        orientation INTEGER,
        taken_at TEXT,
        camera_model TEXT,
        pixel_sha256 TEXT,
        phash TEXT,
        dhash TEXT,
        {", ".join(f"{name} REAL" for name in _QUALITY_FIELDS_V1)},
        PRIMARY KEY (sha256, scan_key)
    ) WITHOUT ROWID;
    CREATE TABLE thumbnails (
        sha256 TEXT PRIMARY KEY,
        webp BLOB NOT NULL
    ) WITHOUT ROWID;
    -- the files one run saw, in discovery order, cleared once the run has exported them
    CREATE TABLE run_files (
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        root_id INTEGER NOT NULL,
        rel_path TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;
    """,
    2: """
    ALTER TABLE contents ADD COLUMN near_hashes BLOB;
    ALTER TABLE contents ADD COLUMN colourfulness REAL;
    ALTER TABLE contents ADD COLUMN content_fraction REAL;
    """,
    3: """
    -- what comparing two contents concluded, so a re-run does not compare them again
    CREATE TABLE pair_relations (
        sha_a TEXT NOT NULL,
        sha_b TEXT NOT NULL,
        check_key TEXT NOT NULL,
        relation TEXT NOT NULL,
        PRIMARY KEY (sha_a, sha_b, check_key)
    ) WITHOUT ROWID;
    """,
    4: """
    -- CLIP image embeddings (float16) per content and model, and prompt embeddings per model
    CREATE TABLE embeddings (
        sha256 TEXT NOT NULL,
        model_id TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (sha256, model_id)
    ) WITHOUT ROWID;
    CREATE TABLE text_embeddings (
        model_id TEXT NOT NULL,
        prompt TEXT NOT NULL,
        vector BLOB NOT NULL,
        PRIMARY KEY (model_id, prompt)
    ) WITHOUT ROWID;
    """,
    5: """
    ALTER TABLE contents ADD COLUMN clipped_content_fraction REAL;
    ALTER TABLE contents ADD COLUMN clipped_fragment_fraction REAL;
    ALTER TABLE contents ADD COLUMN sharpness_min_dir REAL;
    ALTER TABLE contents ADD COLUMN sharpness_max_dir REAL;
    """,
    6: """
    ALTER TABLE pair_relations ADD COLUMN residual REAL;
    ALTER TABLE contents ADD COLUMN content_left REAL;
    ALTER TABLE contents ADD COLUMN content_top REAL;
    ALTER TABLE contents ADD COLUMN content_right REAL;
    ALTER TABLE contents ADD COLUMN content_bottom REAL;
    """,
    7: """
    -- full-resolution pixel hashes the duplicate stage computed for itself (the scan's own stay
    -- in contents.pixel_sha256, which only the scan writes)
    CREATE TABLE pixel_hashes (
        sha256 TEXT PRIMARY KEY,
        pixel_sha256 TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    8: """
    -- each CLIP model's learned logit scale: with the embeddings cached, a re-run can score
    -- without loading the model
    CREATE TABLE clip_models (
        model_id TEXT PRIMARY KEY,
        logit_scale REAL NOT NULL
    ) WITHOUT ROWID;
    """,
    9: """
    ALTER TABLE contents ADD COLUMN window_colours BLOB;
    """,
    10: """
    -- the duplicate stage's candidate pairs for a set of photos, keyed by a digest of everything
    -- the search reads (duplicates.candidates.candidates_key): a re-run over unchanged photos
    -- skips the search
    CREATE TABLE candidate_sets (
        inputs_key TEXT PRIMARY KEY,
        stored_at REAL NOT NULL,
        proposals BLOB NOT NULL
    ) WITHOUT ROWID;
    """,
}
