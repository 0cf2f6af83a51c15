-- Public tracking of letters from outside the government (issue 26): the
-- diary number and the SHA-256 of the random code the sender was given.
-- The code itself is never stored.
CREATE TABLE receipt_tracking (
    receipt_id  TEXT PRIMARY KEY NOT NULL REFERENCES receipts(id),
    diary_no    TEXT NOT NULL UNIQUE,
    code_sha256 TEXT NOT NULL,
    issued_at   BIGINT NOT NULL
);

-- Bottleneck analytics read, desk by desk, the stays that ended in a
-- period (how long each file sat at that desk) from this index alone.
CREATE INDEX stays_post_ended ON stays(post_id, kind, until_at, from_at);
-- ... and what each desk holds now, with its oldest and overdue, from this.
CREATE INDEX files_entity_holder ON files(entity_id, status, holder_post_id, held_since, due_at);
