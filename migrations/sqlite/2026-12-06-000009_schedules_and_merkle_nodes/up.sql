-- Periodic work (the ledger sealer, the SLA clock): one row per schedule; the
-- process that moves `period` forward runs that period, so several servers on
-- one database run each period exactly once.
CREATE TABLE schedules (
    name    TEXT PRIMARY KEY NOT NULL,
    period  BIGINT NOT NULL,
    ran_by  TEXT,
    ran_at  BIGINT
);

-- The ledger's Merkle tree: the hash of every complete, aligned subtree of
-- 2^level leaves (level >= 1; leaves are ledger_events.hash), written by the
-- sealer in the transaction that seals its leaves. Roots and inclusion proofs
-- then need O(log^2 n) rows, not the whole ledger.
CREATE TABLE ledger_nodes (
    level  INTEGER NOT NULL,
    idx    BIGINT NOT NULL,
    hash   TEXT NOT NULL,
    PRIMARY KEY (level, idx)
);

-- How many sealed leaves the nodes above cover (one row, id 1).
CREATE TABLE ledger_tree (
    id      INTEGER PRIMARY KEY NOT NULL,
    leaves  BIGINT NOT NULL
);
INSERT INTO ledger_tree (id, leaves) VALUES (1, 0);

-- Done jobs are deleted from now on; /metrics counts them.
DELETE FROM jobs WHERE status = 'done';
