-- Two indexes that cost every movement more than they gave.
--
-- `ledger_events_unsealed` (position, at) held every event: each of the
-- four events a signed forward writes was added to it, and moved within it
-- again when sealed. Every query by position is served by the unique index
-- on `position`, and the sealer's by `ledger_events_pending` (migration 23),
-- so nothing read it (checked with EXPLAIN QUERY PLAN on a seeded database).
DROP INDEX ledger_events_unsealed;
-- `stays_open` is looked up only for the open stay of a file or receipt
-- (`until_at IS NULL`, when it moves on), yet held every stay ever made: one
-- per movement. It now holds the open ones alone, one per file or receipt.
DROP INDEX stays_open;
CREATE INDEX stays_open ON stays(object_id) WHERE until_at IS NULL;
