DELETE FROM stays WHERE kind = 'consult';
CREATE TABLE stays_old (
    id         TEXT PRIMARY KEY NOT NULL,
    object_id  TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('file','receipt')),
    post_id    TEXT NOT NULL REFERENCES posts(id),
    from_at    BIGINT NOT NULL,
    until_at   BIGINT
);
INSERT INTO stays_old SELECT id, object_id, kind, post_id, from_at, until_at FROM stays;
DROP TABLE stays;
ALTER TABLE stays_old RENAME TO stays;
CREATE INDEX stays_object ON stays(object_id, post_id);
CREATE INDEX stays_open ON stays(object_id, until_at);
DROP TABLE sla_breaches;
DROP TABLE concurrences;
DROP TABLE workflow_versions;
DROP TABLE file_routes;
