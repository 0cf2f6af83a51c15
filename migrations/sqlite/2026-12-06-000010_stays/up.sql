-- Which posts each file or receipt has been with, and when: created there,
-- marked or referred to it. Written in the transaction of the movement, so
-- list queries decide who may see what (SPEC section 2) from one indexed
-- table instead of replaying every movement per row.
CREATE TABLE stays (
    id         TEXT PRIMARY KEY NOT NULL,
    object_id  TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('file','receipt')),
    post_id    TEXT NOT NULL REFERENCES posts(id),
    from_at    BIGINT NOT NULL,
    until_at   BIGINT
);
CREATE INDEX stays_object ON stays(object_id, post_id);
CREATE INDEX stays_open ON stays(object_id, until_at);

-- What has happened so far: the stay where each was created, then one per
-- movement to a post, each ending when the next began.
INSERT INTO stays (id, object_id, kind, post_id, from_at, until_at)
SELECT object_id || '-' || CAST(ord + 1 AS TEXT), object_id, kind, post_id, from_at,
       LEAD(from_at) OVER (PARTITION BY object_id ORDER BY ord)
FROM (
    SELECT id AS object_id, 'file' AS kind, created_by_post AS post_id, created_at AS from_at, -1 AS ord FROM files
    UNION ALL
    SELECT id, 'receipt', created_by_post, created_at, -1 FROM receipts
    UNION ALL
    SELECT file_id, 'file', to_post_id, sent_at, seq FROM movements
     WHERE file_id IS NOT NULL AND to_post_id IS NOT NULL
    UNION ALL
    SELECT receipt_id, 'receipt', to_post_id, sent_at, seq FROM movements
     WHERE receipt_id IS NOT NULL AND to_post_id IS NOT NULL
) AS history;
