-- Labelled questions and the no-answer model fitted on them (kb/state/pg_labels.py), and editors' decisions
-- on the review queue (bot/state/review.py).

-- Labels by id, in the order first stored (seq); `item` is the label as given, exported as it is.
CREATE TABLE labels (
    id text PRIMARY KEY,
    seq bigint NOT NULL,
    question text NOT NULL,
    kind text NOT NULL,
    gold text NOT NULL,  -- JSON list
    passage_id text,
    source text NOT NULL,
    created_at double precision NOT NULL,  -- Unix time
    created_by text NOT NULL,
    item text NOT NULL  -- JSON, as given (its fields in their order)
);
CREATE INDEX labels_seq ON labels (seq);
-- Grows with every change of labels (NOTIFY kb_labels in the same transaction).
CREATE TABLE label_revision (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    rev bigint NOT NULL
);
INSERT INTO label_revision (rev) VALUES (0);

-- The fitted no-answer model: one row at most.
CREATE TABLE calibration (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    model jsonb NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now()
);

-- The latest decision per review-queue question (its match key).
CREATE TABLE review_decisions (
    question_key text PRIMARY KEY,
    ts double precision NOT NULL,
    action text NOT NULL,
    label_id text,
    decided_by text NOT NULL
);
