-- The models tuned on the labels (kb/state/pg_models.py): a version embedded with one names it in its
-- manifest, and every replica fetches the folder with the version. Stored once, files in checksummed chunks
-- like the versions'; `complete` once every file is stored.
CREATE TABLE models (
    name text PRIMARY KEY,
    bytes bigint NOT NULL DEFAULT 0,
    stored_at timestamptz NOT NULL DEFAULT now(),
    complete boolean NOT NULL DEFAULT false
);
CREATE TABLE model_files (
    model text NOT NULL REFERENCES models (name) ON DELETE CASCADE,
    path text NOT NULL,  -- relative to the model folder, '/'-separated
    size bigint NOT NULL,
    sha256 text NOT NULL,
    chunks integer NOT NULL,
    PRIMARY KEY (model, path)
);
CREATE TABLE model_chunks (
    model text NOT NULL,
    path text NOT NULL,
    seq integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (model, path, seq),
    FOREIGN KEY (model, path) REFERENCES model_files (model, path) ON DELETE CASCADE
);
-- Weights barely compress: stored out of line without trying.
ALTER TABLE model_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
