-- Regions an account's meetings may use, and the set a meeting took when it went live.
-- Lists are comma-separated region ids; empty means the home region alone.
-- accounts.allowed_regions: the regions the account chose (its plan may narrow them);
-- accounts.opted_in: the opt-in regions an owner or admin turned on after the warning;
-- meetings.allowed_regions: the host account's set when the meeting last went live, kept
-- for its life.

-- +goose Up
ALTER TABLE accounts ADD COLUMN allowed_regions TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN opted_in TEXT NOT NULL DEFAULT '';
ALTER TABLE meetings ADD COLUMN allowed_regions TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE meetings DROP COLUMN allowed_regions;
ALTER TABLE accounts DROP COLUMN opted_in;
ALTER TABLE accounts DROP COLUMN allowed_regions;
