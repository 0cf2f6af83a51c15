-- The events the sealer has still to seal, in the order it seals them.
-- Its query (`position IS NULL ORDER BY at, id LIMIT 5000`) went through the
-- unique index on `position` and sorted every unsealed event for each
-- batch: after a bulk load (`bench seed --scale 1`: 17 million events) a
-- batch took longer than the pool's ten-second wait, so the sealer held
-- SQLite's one writer and every other write timed out. This index holds
-- only the unsealed events, already in that order.
CREATE INDEX ledger_events_pending ON ledger_events(at, id) WHERE position IS NULL;
