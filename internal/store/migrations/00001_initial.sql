-- The meeting product's tables. This one file runs unchanged on SQLite and PostgreSQL:
-- ids are TEXT, timestamps are BIGINT unix milliseconds (UTC), booleans are INTEGER 0/1,
-- and enumerations are TEXT with CHECK constraints. Every table has a region column: the
-- home region of the row's data, which never leaves that region's store.

-- +goose Up
CREATE TABLE accounts (
    id         TEXT   NOT NULL PRIMARY KEY,
    region     TEXT   NOT NULL,
    type       TEXT   NOT NULL CHECK (type IN ('individual', 'business')),
    name       TEXT   NOT NULL,
    plan       TEXT   NOT NULL CHECK (plan IN ('free', 'pro', 'business', 'enterprise')),
    channel    TEXT   NOT NULL DEFAULT 'direct',
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id            TEXT   NOT NULL PRIMARY KEY,
    account_id    TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    region        TEXT   NOT NULL,
    email         TEXT   NOT NULL UNIQUE, -- lower-cased by the store
    display_name  TEXT   NOT NULL,
    password_hash TEXT   NOT NULL,
    role          TEXT   NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at    BIGINT NOT NULL
);
CREATE INDEX users_account_id ON users (account_id);

-- id and csrf_token_hash are hex SHA-256 hashes: the tokens themselves are never stored.
CREATE TABLE sessions (
    id              TEXT   NOT NULL PRIMARY KEY,
    user_id         TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    region          TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    revoked_at      BIGINT,
    csrf_token_hash TEXT   NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE password_resets (
    token_hash TEXT   NOT NULL PRIMARY KEY,
    user_id    TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    region     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX password_resets_user_id ON password_resets (user_id);

-- prefix is the public part of a key, shown to users and used to find it; secret_hash is
-- the hex SHA-256 of the secret part. scopes are space-separated.
CREATE TABLE api_keys (
    id          TEXT   NOT NULL PRIMARY KEY,
    account_id  TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    region      TEXT   NOT NULL,
    name        TEXT   NOT NULL,
    prefix      TEXT   NOT NULL UNIQUE,
    secret_hash TEXT   NOT NULL,
    scopes      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX api_keys_account_id ON api_keys (account_id);

-- passcode is stored as the host typed or was given it, not hashed: see Meeting.Passcode.
CREATE TABLE meetings (
    id               TEXT    NOT NULL PRIMARY KEY CHECK (length(id) = 11),
    account_id       TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    host_user_id     TEXT    NOT NULL REFERENCES users (id),
    region           TEXT    NOT NULL,
    topic            TEXT    NOT NULL,
    kind             TEXT    NOT NULL CHECK (kind IN ('instant', 'scheduled')),
    starts_at        BIGINT,
    duration_minutes INTEGER NOT NULL CHECK (duration_minutes >= 0),
    time_zone        TEXT    NOT NULL,
    recurrence       TEXT,
    passcode         TEXT    NOT NULL,
    join_token_hash  TEXT    NOT NULL,
    waiting_room     INTEGER NOT NULL CHECK (waiting_room IN (0, 1)),
    join_before_host INTEGER NOT NULL CHECK (join_before_host IN (0, 1)),
    require_sign_in  INTEGER NOT NULL CHECK (require_sign_in IN (0, 1)),
    locked           INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1)),
    status           TEXT    NOT NULL CHECK (status IN ('scheduled', 'live', 'ended')),
    created_at       BIGINT  NOT NULL,
    ended_at         BIGINT
);
CREATE INDEX meetings_account_created ON meetings (account_id, created_at);
CREATE INDEX meetings_host_user_id ON meetings (host_user_id);

-- Participants removed from a meeting by its host: they may not join it again.
CREATE TABLE meeting_removals (
    meeting_id TEXT   NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    identity   TEXT   NOT NULL,
    region     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (meeting_id, identity)
);

-- Append-only: the store has no statement that updates or deletes a row here.
CREATE TABLE audit_log (
    id      TEXT   NOT NULL PRIMARY KEY,
    region  TEXT   NOT NULL,
    at      BIGINT NOT NULL,
    actor   TEXT   NOT NULL,
    action  TEXT   NOT NULL,
    subject TEXT   NOT NULL,
    outcome TEXT   NOT NULL,
    detail  TEXT   NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_subject_at ON audit_log (subject, at);
CREATE INDEX audit_log_actor_at ON audit_log (actor, at);

-- +goose Down
DROP TABLE audit_log;
DROP TABLE meeting_removals;
DROP TABLE meetings;
DROP TABLE api_keys;
DROP TABLE password_resets;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE accounts;
