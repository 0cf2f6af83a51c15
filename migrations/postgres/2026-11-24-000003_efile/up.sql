-- The e-file: files, their note sheets, correspondence, receipts (dak), every
-- movement, links between files; plus the job queue and the event ledger that
-- each change writes to in its own transaction.

-- Gap-free serial numbers: one counter row per (scope, year); taken by
-- incrementing inside the creating transaction, so a rollback returns it.
CREATE TABLE serials (
    scope  TEXT NOT NULL,
    year   INTEGER NOT NULL,
    last   BIGINT NOT NULL,
    PRIMARY KEY (scope, year)
);

CREATE TABLE files (
    id               TEXT PRIMARY KEY NOT NULL,
    file_no          TEXT NOT NULL UNIQUE,
    head             TEXT NOT NULL,
    serial           BIGINT NOT NULL,
    year             INTEGER NOT NULL,
    subject          TEXT NOT NULL,
    classification   TEXT NOT NULL,
    priority         TEXT NOT NULL,
    -- The priority as a number (0 routine … 3 most immediate), for ordering.
    urgency          INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open','parked','closed')),
    -- Due date of the movement that brought it here, if one was set.
    due_at           BIGINT,
    section_id       TEXT NOT NULL REFERENCES org_units(id),
    entity_id        TEXT REFERENCES org_units(id),
    created_by_post  TEXT NOT NULL REFERENCES posts(id),
    created_by_user  TEXT NOT NULL REFERENCES users(id),
    holder_post_id   TEXT NOT NULL REFERENCES posts(id),
    -- The movement that brought the file to its holder (NULL while with its creator).
    last_movement_id TEXT,
    held_since       BIGINT NOT NULL,
    -- Where a `refer` must come back to.
    referred_by_post TEXT REFERENCES posts(id),
    workflow_id      TEXT,
    workflow_step    INTEGER,
    next_note_seq    BIGINT NOT NULL DEFAULT 1,
    next_move_seq    BIGINT NOT NULL DEFAULT 1,
    version          BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
-- The inbox: what a post holds, most urgent first.
CREATE INDEX files_holder ON files(holder_post_id, status, urgency, held_since);
CREATE INDEX files_section ON files(section_id);

CREATE TABLE notes (
    id              TEXT PRIMARY KEY NOT NULL,
    file_id         TEXT NOT NULL REFERENCES files(id),
    seq             BIGINT NOT NULL,
    body            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('draft','signed')),
    author_post_id  TEXT NOT NULL REFERENCES posts(id),
    author_user_id  TEXT NOT NULL REFERENCES users(id),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    signed_at       BIGINT,
    UNIQUE (file_id, seq)
);

CREATE TABLE receipts (
    id              TEXT PRIMARY KEY NOT NULL,
    diary_no        TEXT NOT NULL UNIQUE,
    entity_id       TEXT NOT NULL REFERENCES org_units(id),
    subject         TEXT NOT NULL,
    sender          TEXT NOT NULL,
    letter_no       TEXT,
    letter_date     TEXT,
    mode            TEXT NOT NULL CHECK (mode IN ('post','email','hand','fax','courier')),
    form            TEXT NOT NULL CHECK (form IN ('electronic','physical')),
    classification  TEXT NOT NULL,
    priority        TEXT NOT NULL,
    urgency         INTEGER NOT NULL,
    due_at          BIGINT,
    status          TEXT NOT NULL CHECK (status IN ('open','put_up')),
    created_by_post TEXT NOT NULL REFERENCES posts(id),
    created_by_user TEXT NOT NULL REFERENCES users(id),
    holder_post_id  TEXT NOT NULL REFERENCES posts(id),
    last_movement_id TEXT,
    held_since      BIGINT NOT NULL,
    file_id         TEXT REFERENCES files(id),
    next_move_seq   BIGINT NOT NULL DEFAULT 1,
    version         BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL
);
CREATE INDEX receipts_holder ON receipts(holder_post_id, status, urgency, held_since);

CREATE TABLE documents (
    id          TEXT PRIMARY KEY NOT NULL,
    file_id     TEXT REFERENCES files(id),
    receipt_id  TEXT REFERENCES receipts(id),
    title       TEXT NOT NULL,
    kind        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    size        BIGINT NOT NULL,
    mime        TEXT NOT NULL,
    filename    TEXT,
    added_by_user TEXT NOT NULL REFERENCES users(id),
    added_by_post TEXT NOT NULL REFERENCES posts(id),
    created_at  BIGINT NOT NULL
);
CREATE INDEX documents_file ON documents(file_id);
CREATE INDEX documents_receipt ON documents(receipt_id);

-- One step of a file or a receipt. `seq` runs per file (or receipt).
CREATE TABLE movements (
    id            TEXT PRIMARY KEY NOT NULL,
    file_id       TEXT REFERENCES files(id),
    receipt_id    TEXT REFERENCES receipts(id),
    seq           BIGINT NOT NULL,
    action        TEXT NOT NULL,
    from_post_id  TEXT REFERENCES posts(id),
    to_post_id    TEXT REFERENCES posts(id),
    remarks       TEXT,
    due_at        BIGINT,
    priority      TEXT,
    sent_at       BIGINT NOT NULL,
    opened_at     BIGINT,
    by_user_id    TEXT NOT NULL REFERENCES users(id),
    by_post_id    TEXT NOT NULL REFERENCES posts(id)
);
CREATE UNIQUE INDEX movements_file_seq ON movements(file_id, seq);
CREATE UNIQUE INDEX movements_receipt_seq ON movements(receipt_id, seq);
-- "Sent": what a post moved, newest first.
CREATE INDEX movements_from ON movements(from_post_id, sent_at);

CREATE TABLE file_links (
    id            TEXT PRIMARY KEY NOT NULL,
    file_id       TEXT NOT NULL REFERENCES files(id),
    other_file_id TEXT NOT NULL REFERENCES files(id),
    kind          TEXT NOT NULL CHECK (kind IN ('reference','part_file','merged_into')),
    by_user_id    TEXT NOT NULL REFERENCES users(id),
    created_at    BIGINT NOT NULL,
    UNIQUE (file_id, other_file_id, kind)
);

-- Follow-up work (search indexing, email) written in the same transaction as
-- the change; run by workers with a lease; retried with backoff; dead after
-- max_attempts.
CREATE TABLE jobs (
    id            TEXT PRIMARY KEY NOT NULL,
    kind          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued','running','done','dead')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    run_at        BIGINT NOT NULL,
    locked_until  BIGINT,
    last_error    TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs(status, run_at);

-- Every event, appended in the transaction of its change. The ledger issue
-- seals them into a hash chain (position, hash) and signs checkpoints.
CREATE TABLE ledger_events (
    id          TEXT PRIMARY KEY NOT NULL,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    actor_user  TEXT,
    actor_post  TEXT,
    file_id     TEXT,
    receipt_id  TEXT,
    payload     TEXT NOT NULL,
    position    BIGINT UNIQUE,
    hash        TEXT,
    prev_hash   TEXT
);
CREATE INDEX ledger_events_file ON ledger_events(file_id);
