-- The countries the jurisdiction policy decides by (docs/policy.md): the country of the
-- person's address and the billing country, ISO 3166-1 alpha-2, recorded at sign-up.
-- Accounts from before have neither ('': no jurisdiction's country rules touch them).

-- +goose Up
ALTER TABLE accounts ADD COLUMN country TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN billing_country TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE accounts DROP COLUMN billing_country;
ALTER TABLE accounts DROP COLUMN country;
