-- Members of business accounts: invitations by email, one owner per account, and who
-- made each API key (so that removing a member revokes the keys they made).
-- member_invites.token_hash is the hex SHA-256 of the link's token, never the token.
-- An invite is pending while accepted_at and revoked_at are both NULL and expires_at is
-- ahead; an account has at most one pending invite per address (a new one replaces it).
-- api_keys.created_by is the user who made the key ('' for keys from before).

-- +goose Up
CREATE TABLE member_invites (
    id          TEXT   NOT NULL PRIMARY KEY,
    account_id  TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    region      TEXT   NOT NULL,
    email       TEXT   NOT NULL, -- lower-cased by the store
    role        TEXT   NOT NULL CHECK (role IN ('admin', 'member')),
    token_hash  TEXT   NOT NULL UNIQUE,
    invited_by  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    accepted_at BIGINT,
    accepted_by TEXT   NOT NULL DEFAULT '',
    revoked_at  BIGINT
);
CREATE INDEX member_invites_account_created ON member_invites (account_id, created_at);
CREATE UNIQUE INDEX member_invites_one_pending ON member_invites (account_id, email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;

CREATE UNIQUE INDEX users_one_owner ON users (account_id) WHERE role = 'owner';

ALTER TABLE api_keys ADD COLUMN created_by TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE api_keys DROP COLUMN created_by;
DROP INDEX users_one_owner;
DROP TABLE member_invites;
