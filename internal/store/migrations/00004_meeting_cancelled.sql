-- A scheduled meeting can be cancelled: "cancelled" joins the statuses. A CHECK constraint
-- cannot be altered on SQLite, so the table is rebuilt, in statements both databases run
-- the same. meeting_removals is rebuilt with it: dropping a table that another references
-- with ON DELETE CASCADE would delete the removals first (SQLite's implicit DELETE), and
-- renaming the new table updates the reference (SQLite 3.26+ and PostgreSQL alike).

-- +goose Up
CREATE TABLE meetings_new (
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
    status           TEXT    NOT NULL CHECK (status IN ('scheduled', 'live', 'ended', 'cancelled')),
    created_at       BIGINT  NOT NULL,
    ended_at         BIGINT,
    started_at       BIGINT
);
INSERT INTO meetings_new (id, account_id, host_user_id, region, topic, kind, starts_at, duration_minutes,
    time_zone, recurrence, passcode, join_token_hash, waiting_room, join_before_host, require_sign_in,
    locked, status, created_at, ended_at, started_at)
SELECT id, account_id, host_user_id, region, topic, kind, starts_at, duration_minutes,
    time_zone, recurrence, passcode, join_token_hash, waiting_room, join_before_host, require_sign_in,
    locked, status, created_at, ended_at, started_at FROM meetings;

CREATE TABLE meeting_removals_new (
    meeting_id TEXT   NOT NULL REFERENCES meetings_new (id) ON DELETE CASCADE,
    identity   TEXT   NOT NULL,
    region     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (meeting_id, identity)
);
INSERT INTO meeting_removals_new (meeting_id, identity, region, created_at)
SELECT meeting_id, identity, region, created_at FROM meeting_removals;

DROP TABLE meeting_removals;
DROP TABLE meetings;
ALTER TABLE meetings_new RENAME TO meetings;
ALTER TABLE meeting_removals_new RENAME TO meeting_removals;
CREATE INDEX meetings_account_created ON meetings (account_id, created_at);
CREATE INDEX meetings_host_user_id ON meetings (host_user_id);

-- +goose Down
CREATE TABLE meetings_old (
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
    ended_at         BIGINT,
    started_at       BIGINT
);
-- A cancelled meeting goes back as ended: the older schema has no other word for it.
INSERT INTO meetings_old (id, account_id, host_user_id, region, topic, kind, starts_at, duration_minutes,
    time_zone, recurrence, passcode, join_token_hash, waiting_room, join_before_host, require_sign_in,
    locked, status, created_at, ended_at, started_at)
SELECT id, account_id, host_user_id, region, topic, kind, starts_at, duration_minutes,
    time_zone, recurrence, passcode, join_token_hash, waiting_room, join_before_host, require_sign_in,
    locked, CASE status WHEN 'cancelled' THEN 'ended' ELSE status END, created_at, ended_at, started_at
FROM meetings;

CREATE TABLE meeting_removals_old (
    meeting_id TEXT   NOT NULL REFERENCES meetings_old (id) ON DELETE CASCADE,
    identity   TEXT   NOT NULL,
    region     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (meeting_id, identity)
);
INSERT INTO meeting_removals_old (meeting_id, identity, region, created_at)
SELECT meeting_id, identity, region, created_at FROM meeting_removals;

DROP TABLE meeting_removals;
DROP TABLE meetings;
ALTER TABLE meetings_old RENAME TO meetings;
ALTER TABLE meeting_removals_old RENAME TO meeting_removals;
CREATE INDEX meetings_account_created ON meetings (account_id, created_at);
CREATE INDEX meetings_host_user_id ON meetings (host_user_id);
