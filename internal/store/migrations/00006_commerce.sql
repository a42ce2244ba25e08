-- Sales: partners and resellers (their brand and support contacts), price books per channel
-- and currency, subscriptions, orders and invoices. Money is BIGINT minor units (cents)
-- with an ISO 4217 currency beside it, never a float. A channel is 'direct' or a partner's
-- id, as in accounts.channel. Like every table, each has the region of its row.

-- +goose Up
CREATE TABLE partners (
    id             TEXT   NOT NULL PRIMARY KEY,
    region         TEXT   NOT NULL,
    kind           TEXT   NOT NULL CHECK (kind IN ('oem', 'reseller')),
    name           TEXT   NOT NULL,
    brand_name     TEXT   NOT NULL,
    logo_url       TEXT   NOT NULL,
    primary_color  TEXT   NOT NULL,
    accent_color   TEXT   NOT NULL,
    domain         TEXT   NOT NULL,
    support_email  TEXT   NOT NULL,
    support_url    TEXT   NOT NULL,
    support_phone  TEXT   NOT NULL,
    jurisdictions  TEXT   NOT NULL, -- space-separated jurisdiction codes
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE price_books (
    id         TEXT   NOT NULL PRIMARY KEY,
    region     TEXT   NOT NULL,
    channel    TEXT   NOT NULL,
    currency   TEXT   NOT NULL CHECK (length(currency) = 3),
    updated_at BIGINT NOT NULL,
    UNIQUE (channel, currency)
);

CREATE TABLE prices (
    book_id          TEXT   NOT NULL REFERENCES price_books (id) ON DELETE CASCADE,
    region           TEXT   NOT NULL,
    plan             TEXT   NOT NULL CHECK (plan IN ('free', 'pro', 'business', 'enterprise')),
    billing_interval TEXT   NOT NULL CHECK (billing_interval IN ('month', 'year')),
    amount_minor     BIGINT NOT NULL CHECK (amount_minor >= 0),
    PRIMARY KEY (book_id, plan, billing_interval)
);

-- An account has at most one current subscription (active, past_due, or cancelled and
-- running to its end); expired ones stay as history.
CREATE TABLE subscriptions (
    id               TEXT   NOT NULL PRIMARY KEY,
    account_id       TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    region           TEXT   NOT NULL,
    channel          TEXT   NOT NULL,
    plan             TEXT   NOT NULL CHECK (plan IN ('free', 'pro', 'business', 'enterprise')),
    billing_interval TEXT   NOT NULL CHECK (billing_interval IN ('month', 'year')),
    currency         TEXT   NOT NULL CHECK (length(currency) = 3),
    amount_minor     BIGINT NOT NULL CHECK (amount_minor >= 0),
    billing_country  TEXT   NOT NULL,
    status           TEXT   NOT NULL CHECK (status IN ('active', 'past_due', 'cancelled', 'expired')),
    period_start     BIGINT NOT NULL,
    period_end       BIGINT NOT NULL, -- the renewal date
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX subscriptions_current ON subscriptions (account_id)
    WHERE status IN ('active', 'past_due', 'cancelled');
-- What ExpireSubscriptions scans on every tick: the current ones, by renewal date.
CREATE INDEX subscriptions_due ON subscriptions (period_end) WHERE status <> 'expired';

-- One order per checkout attempt, found again by its idempotency key so that a retried
-- request does not charge twice.
CREATE TABLE orders (
    id               TEXT   NOT NULL PRIMARY KEY,
    account_id       TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    region           TEXT   NOT NULL,
    idempotency_key  TEXT   NOT NULL,
    kind             TEXT   NOT NULL CHECK (kind IN ('new', 'upgrade', 'renew')),
    channel          TEXT   NOT NULL,
    plan             TEXT   NOT NULL CHECK (plan IN ('free', 'pro', 'business', 'enterprise')),
    billing_interval TEXT   NOT NULL CHECK (billing_interval IN ('month', 'year')),
    currency         TEXT   NOT NULL CHECK (length(currency) = 3),
    amount_minor     BIGINT NOT NULL CHECK (amount_minor >= 0),
    billing_country  TEXT   NOT NULL,
    status           TEXT   NOT NULL CHECK (status IN ('pending', 'paid', 'declined', 'failed')),
    charge_id        TEXT   NOT NULL DEFAULT '',
    decline_code     TEXT   NOT NULL DEFAULT '',
    subscription_id  TEXT   NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (account_id, idempotency_key)
);
-- One checkout of an account is charged at a time, so that two at once cannot both sell
-- it a subscription.
CREATE UNIQUE INDEX orders_one_pending ON orders (account_id) WHERE status = 'pending';

-- The seller is the operator for direct accounts and the partner (reseller or OEM) for
-- theirs, named as it was when the invoice was issued.
CREATE TABLE invoices (
    id              TEXT   NOT NULL PRIMARY KEY,
    account_id      TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    order_id        TEXT   NOT NULL UNIQUE REFERENCES orders (id),
    region          TEXT   NOT NULL,
    seller_channel  TEXT   NOT NULL,
    seller_name     TEXT   NOT NULL,
    seller_contact  TEXT   NOT NULL,
    buyer_name      TEXT   NOT NULL,
    billing_country TEXT   NOT NULL,
    description     TEXT   NOT NULL,
    currency        TEXT   NOT NULL CHECK (length(currency) = 3),
    amount_minor    BIGINT NOT NULL CHECK (amount_minor >= 0),
    period_start    BIGINT NOT NULL,
    period_end      BIGINT NOT NULL,
    issued_at       BIGINT NOT NULL
);
CREATE INDEX invoices_account_issued ON invoices (account_id, issued_at);

-- +goose Down
DROP TABLE invoices;
DROP TABLE orders;
DROP TABLE subscriptions;
DROP TABLE prices;
DROP TABLE price_books;
DROP TABLE partners;
