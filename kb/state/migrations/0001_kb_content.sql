-- The KB's shared state (kb/state/postgres.py, kb/state/pg_versions.py).

-- Uploaded documents, whole (kb/state/base.py DocumentStore), and the names left out of the corpus.
CREATE TABLE documents (
    name text PRIMARY KEY,
    data bytea NOT NULL,
    size bigint NOT NULL,
    sha256 text NOT NULL,
    uploaded_at double precision NOT NULL  -- Unix time
);
CREATE TABLE excluded_documents (
    name text PRIMARY KEY
);

-- The dictionary files editors wrote (the others read as the packaged defaults).
CREATE TABLE dictionary_files (
    name text PRIMARY KEY,
    text text NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now()
);

-- Conversations: each its last few turns, forgotten after the TTL unused.
CREATE TABLE sessions (
    id text PRIMARY KEY,
    turns jsonb NOT NULL,
    touched double precision NOT NULL  -- Unix time of the last use
);
CREATE INDEX sessions_touched ON sessions (touched);

-- KB versions: the manifest, and every file of the version folder in chunks with its checksum. A version
-- is published when `published_at` is set, in the transaction that points current_version at it.
CREATE TABLE versions (
    id text PRIMARY KEY,
    manifest jsonb NOT NULL,
    bytes bigint NOT NULL DEFAULT 0,
    stored_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE TABLE version_files (
    version_id text NOT NULL REFERENCES versions (id) ON DELETE CASCADE,
    path text NOT NULL,  -- relative to the version folder, '/'-separated
    size bigint NOT NULL,
    sha256 text NOT NULL,
    chunks integer NOT NULL,
    PRIMARY KEY (version_id, path)
);
CREATE TABLE version_chunks (
    version_id text NOT NULL,
    path text NOT NULL,
    seq integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (version_id, path, seq),
    FOREIGN KEY (version_id, path) REFERENCES version_files (version_id, path) ON DELETE CASCADE
);
-- Vectors and indexes barely compress: stored out of line without trying.
ALTER TABLE version_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
CREATE TABLE current_version (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version_id text NOT NULL REFERENCES versions (id)
);
