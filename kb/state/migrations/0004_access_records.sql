-- Who may change the KB, and who asked (bot/state/pg_access.py): accounts, signed-in browsers, API tokens,
-- the audit log, widget sites, sign-in attempts; the ask log's and feedback's identity columns.

-- Who asked (a site's signed widget token) and every passage an answer quoted (analytics).
ALTER TABLE asks ADD COLUMN cited text NOT NULL DEFAULT '',
                 ADD COLUMN agent text,
                 ADD COLUMN team text,
                 ADD COLUMN site text;
CREATE INDEX asks_ts ON asks (ts);
ALTER TABLE feedback ADD COLUMN agent text,
                     ADD COLUMN team text,
                     ADD COLUMN site text;
CREATE INDEX feedback_ts ON feedback (ts);

CREATE TABLE accounts (
    name text PRIMARY KEY,
    role text NOT NULL,
    password_hash text NOT NULL,  -- argon2; never the password
    created_at double precision NOT NULL,  -- Unix time
    disabled boolean NOT NULL DEFAULT false,
    last_login double precision
);

-- Signed-in browsers of the admin page, by the SHA-256 of the cookie: every replica sees every sign-in.
CREATE TABLE login_sessions (
    id_hash text PRIMARY KEY,
    account text NOT NULL,
    csrf text NOT NULL,
    created_at double precision NOT NULL,
    expires_at double precision NOT NULL,
    ip text NOT NULL,
    user_agent text NOT NULL
);
CREATE INDEX login_sessions_account ON login_sessions (account);
CREATE INDEX login_sessions_expires ON login_sessions (expires_at);

CREATE TABLE api_tokens (
    id text PRIMARY KEY,
    name text NOT NULL,
    role text NOT NULL,
    token_hash text NOT NULL UNIQUE,  -- SHA-256 of the token
    created_by text NOT NULL,
    created_at double precision NOT NULL,
    last_used double precision,
    revoked_at double precision
);

-- Every admin action. Append-only: the triggers below refuse UPDATE, DELETE and TRUNCATE.
CREATE TABLE audit (
    id bigserial PRIMARY KEY,
    ts double precision NOT NULL,
    actor text NOT NULL,
    role text,
    ip text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    status integer NOT NULL,
    detail jsonb NOT NULL
);
CREATE INDEX audit_ts ON audit (ts);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_no_update_or_delete BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

CREATE TABLE sites (
    id text PRIMARY KEY,
    name text NOT NULL,
    origins text[] NOT NULL,
    secret text,  -- the HS256 key its widget tokens are signed with; NULL: anonymous widget only
    created_at double precision NOT NULL,
    created_by text NOT NULL
);

-- Sign-in attempts per key ('ip:<address>', 'name:<account name>'), shared by every replica: wrong passwords in
-- a row and the lockout they led to (bot/auth/sessions.py), and the address's rate-limit bucket.
CREATE TABLE login_attempts (
    key text PRIMARY KEY,
    failures integer NOT NULL DEFAULT 0,
    lockouts integer NOT NULL DEFAULT 0,
    locked_until double precision NOT NULL DEFAULT 0,  -- Unix time
    tokens double precision,  -- the rate bucket's tokens; NULL: full
    taken_at double precision NOT NULL DEFAULT 0,  -- when the bucket was last taken from
    updated double precision NOT NULL
);
CREATE INDEX login_attempts_updated ON login_attempts (updated);
