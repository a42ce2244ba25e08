-- The decision log and the policy's activations (docs/policy.md).
--
-- policy_decisions holds the jurisdiction policy's decisions with the facts they were made
-- from, so that a dry run can replay them under a new version. subject is an opaque account
-- or meeting id ('' for a sign-up, which has none yet); facts is the policy.Facts as JSON
-- (countries, plan, account type, channel: never a name or an address), '' for a row that
-- sums decisions of many facts, which cannot be replayed. count is how many decisions the
-- row stands for (repeats of an anonymous decision are summed). Rows older than the
-- retention window, and past the row ceiling, are pruned.
--
-- policy_activations is every version an operator activated, with its source, newest
-- last: a restart runs the newest.

-- +goose Up
CREATE TABLE policy_decisions (
    id             TEXT    NOT NULL PRIMARY KEY,
    region         TEXT    NOT NULL,
    at             BIGINT  NOT NULL,
    question       TEXT    NOT NULL,
    subject        TEXT    NOT NULL,
    facts          TEXT    NOT NULL,
    allowed        INTEGER NOT NULL CHECK (allowed IN (0, 1)),
    code           TEXT    NOT NULL,
    rule_id        TEXT    NOT NULL,
    jurisdiction   TEXT    NOT NULL,
    policy_version TEXT    NOT NULL,
    count          BIGINT  NOT NULL DEFAULT 1
);
CREATE INDEX policy_decisions_at ON policy_decisions (at, id);
CREATE INDEX policy_decisions_rule ON policy_decisions (rule_id, at);
CREATE INDEX policy_decisions_jurisdiction ON policy_decisions (jurisdiction, at);

CREATE TABLE policy_activations (
    id      TEXT   NOT NULL PRIMARY KEY,
    region  TEXT   NOT NULL,
    at      BIGINT NOT NULL,
    actor   TEXT   NOT NULL,
    name    TEXT   NOT NULL,
    version TEXT   NOT NULL,
    source  TEXT   NOT NULL
);
CREATE INDEX policy_activations_at ON policy_activations (at, id);

-- +goose Down
DROP TABLE policy_activations;
DROP TABLE policy_decisions;
