-- Approval chains in flight (SPEC section 7). A file put on a workflow keeps
-- the definition it started with (by hash), so editing a TOML changes the
-- route of new files only; where it stands on the route is one row per file,
-- so the approval queue is one indexed read.
CREATE TABLE file_routes (
    file_id     TEXT PRIMARY KEY NOT NULL REFERENCES files(id),
    workflow_id TEXT NOT NULL,
    hash        TEXT NOT NULL,
    -- The declared numeric fields (e.g. amount in PKR), as a JSON object.
    fields      TEXT NOT NULL,
    -- 'originator' (not yet submitted, or returned to them), 'step' (a
    -- step's decision awaited), 'done'.
    state       TEXT NOT NULL CHECK (state IN ('originator','step','done')),
    step        INTEGER,
    -- The post whose decision the current step awaits.
    post_id     TEXT REFERENCES posts(id),
    -- When the file arrived at the current step, and when that step is due.
    step_since  BIGINT,
    step_due_at BIGINT,
    -- Counts arrivals at steps: each arrival has its own SLA and at most one breach.
    entry       BIGINT NOT NULL
);
CREATE INDEX file_routes_queue ON file_routes (post_id, step_due_at) WHERE state = 'step';
CREATE INDEX file_routes_due ON file_routes (step_due_at) WHERE state = 'step';

-- Every definition a file has been put on, by the SHA-256 of its text.
CREATE TABLE workflow_versions (
    hash        TEXT PRIMARY KEY NOT NULL,
    workflow_id TEXT NOT NULL,
    definition  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Concurrences another entity gives before a step can be approved; they
-- run in parallel, each addressed to the head of its entity with its own SLA.
CREATE TABLE concurrences (
    id          TEXT PRIMARY KEY NOT NULL,
    file_id     TEXT NOT NULL REFERENCES files(id),
    step_entry  BIGINT NOT NULL,
    step        INTEGER NOT NULL,
    entity_code TEXT NOT NULL,
    post_id     TEXT NOT NULL REFERENCES posts(id),
    status      TEXT NOT NULL CHECK (status IN ('pending','concurred','declined')),
    asked_at    BIGINT NOT NULL,
    due_at      BIGINT NOT NULL,
    answered_at BIGINT,
    answered_by TEXT REFERENCES users(id),
    note_id     TEXT REFERENCES notes(id),
    remarks     TEXT,
    breached_at BIGINT
);
CREATE INDEX concurrences_file ON concurrences (file_id, step_entry);
CREATE INDEX concurrences_waiting ON concurrences (post_id, asked_at) WHERE status = 'pending';
CREATE INDEX concurrences_due ON concurrences (due_at) WHERE status = 'pending' AND breached_at IS NULL;

-- One row per breached step arrival: the key makes a breach count once,
-- whichever server process finds it first.
CREATE TABLE sla_breaches (
    file_id     TEXT NOT NULL REFERENCES files(id),
    step_entry  BIGINT NOT NULL,
    step        INTEGER NOT NULL,
    post_id     TEXT NOT NULL REFERENCES posts(id),
    due_at      BIGINT NOT NULL,
    recorded_at BIGINT NOT NULL,
    escalated_to TEXT REFERENCES posts(id),
    PRIMARY KEY (file_id, step_entry)
);

-- A post consulted for a concurrence sees the file while consulted (SQLite
-- cannot change a CHECK in place: the table is rebuilt).
CREATE TABLE stays_new (
    id         TEXT PRIMARY KEY NOT NULL,
    object_id  TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('file','receipt','consult')),
    post_id    TEXT NOT NULL REFERENCES posts(id),
    from_at    BIGINT NOT NULL,
    until_at   BIGINT
);
INSERT INTO stays_new SELECT id, object_id, kind, post_id, from_at, until_at FROM stays;
DROP TABLE stays;
ALTER TABLE stays_new RENAME TO stays;
CREATE INDEX stays_object ON stays(object_id, post_id);
CREATE INDEX stays_open ON stays(object_id, until_at);
