-- The partner API: keys with which an OEM partner or reseller acts for its own customers.
-- A key belongs to a partner record of this region and is kept where the partner is;
-- prefix is its public part (shown in lists, used to find it), secret_hash the hex SHA-256
-- of its secret. scopes are space-separated; created_by names the operator who made it.

-- +goose Up
CREATE TABLE partner_keys (
    id           TEXT   NOT NULL PRIMARY KEY,
    partner_id   TEXT   NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    region       TEXT   NOT NULL,
    name         TEXT   NOT NULL,
    prefix       TEXT   NOT NULL UNIQUE,
    secret_hash  TEXT   NOT NULL,
    scopes       TEXT   NOT NULL,
    created_by   TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX partner_keys_partner_id ON partner_keys (partner_id);

-- A partner lists its customers, newest first, on every page of its console.
CREATE INDEX accounts_channel_created ON accounts (channel, created_at);

-- +goose Down
DROP INDEX accounts_channel_created;
DROP TABLE partner_keys;
