-- The service's own records (bot/state/postgres.py): the ask log, feedback, jobs.

CREATE TABLE asks (
    id bigserial PRIMARY KEY,
    ts double precision NOT NULL,  -- Unix time
    question text NOT NULL,
    matched smallint NOT NULL,
    confidence double precision,
    top_passage text,
    top_title text,
    top_doc text,
    ms double precision,
    session_id text,
    version text
);
CREATE INDEX asks_unmatched ON asks (matched, ts);

CREATE TABLE feedback (
    id bigserial PRIMARY KEY,
    ts double precision NOT NULL,
    question text NOT NULL,
    passage_id text,
    helpful smallint NOT NULL,
    comment text,
    session_id text,
    version text
);
CREATE INDEX feedback_helpful ON feedback (helpful, ts);

-- Jobs as bot.jobs.Job.to_dict() gives them; whether an unfinished one is alive is the job lock's to say.
CREATE TABLE jobs (
    id text PRIMARY KEY,
    kind text NOT NULL,
    state text NOT NULL,
    data jsonb NOT NULL,
    updated double precision NOT NULL
);
CREATE INDEX jobs_updated ON jobs (updated);
