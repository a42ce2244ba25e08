-- When a meeting last went live, so that its time limit survives a restart of the node.

-- +goose Up
ALTER TABLE meetings ADD COLUMN started_at BIGINT;

-- +goose Down
ALTER TABLE meetings DROP COLUMN started_at;
