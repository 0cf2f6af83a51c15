-- Four eyes on privilege (SPEC section 3, Organisation): a change that
-- widens what someone may see, made by an administrator, waits here until a
-- second authorised administrator, neither the requester nor the
-- beneficiary, approves it. `payload` is the change as submitted (a new
-- user's password only as its argon2id hash, cleared once decided).
CREATE TABLE admin_requests (
    id            TEXT PRIMARY KEY NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('user','assignment')),
    payload       TEXT NOT NULL,
    summary       TEXT NOT NULL,
    entity_id     TEXT REFERENCES org_units(id),
    beneficiary   TEXT REFERENCES users(id),
    requested_by  TEXT NOT NULL REFERENCES users(id),
    status        TEXT NOT NULL CHECK (status IN ('pending','approved','rejected')),
    decided_by    TEXT REFERENCES users(id),
    result_id     TEXT,
    created_at    BIGINT NOT NULL,
    decided_at    BIGINT
);
CREATE INDEX admin_requests_pending ON admin_requests(status, created_at);
