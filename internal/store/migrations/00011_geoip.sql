-- Entry by country: whom an account's meetings let in, by the country GeoIP gives the
-- participant's address (docs/security.md). accounts.entry_mode is off, allow_list or
-- block_list; accounts.entry_countries the ISO 3166-1 alpha-2 codes of the list,
-- comma-separated in order ('' for none). Both are the account's, in its home region.

-- +goose Up
ALTER TABLE accounts ADD COLUMN entry_mode TEXT NOT NULL DEFAULT 'off';
ALTER TABLE accounts ADD COLUMN entry_countries TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE accounts DROP COLUMN entry_countries;
ALTER TABLE accounts DROP COLUMN entry_mode;
