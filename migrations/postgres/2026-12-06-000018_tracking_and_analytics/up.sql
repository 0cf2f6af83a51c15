-- Public tracking of letters from outside the government (issue 26): the
-- diary number and the SHA-256 of the random code the sender was given.
-- The code itself is never stored.
CREATE TABLE receipt_tracking (
    receipt_id  TEXT PRIMARY KEY NOT NULL REFERENCES receipts(id),
    diary_no    TEXT NOT NULL UNIQUE,
    code_sha256 TEXT NOT NULL,
    issued_at   BIGINT NOT NULL
);

-- Bottleneck analytics read what each desk holds now, with its oldest and
-- overdue, from this index alone.
CREATE INDEX files_entity_holder ON files(entity_id, status, holder_post_id, held_since, due_at);
