-- How many times an audit entry happened: 1 for a decision, more for an entry that sums up
-- refusals repeated within a window, so that a flood of guesses writes a bounded number of
-- rows and the trail still says how many there were.

-- +goose Up
ALTER TABLE audit_log ADD COLUMN count BIGINT NOT NULL DEFAULT 1;

-- +goose Down
ALTER TABLE audit_log DROP COLUMN count;
