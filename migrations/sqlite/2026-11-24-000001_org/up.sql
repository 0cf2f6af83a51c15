-- The organisation: units, posts (desks), users, their assignments and roles.
-- Ids are application-generated opaque strings (UUIDv7: time-ordered, so
-- b-tree inserts stay at the right edge). Times are Unix microseconds (UTC) and
-- dates are ISO `YYYY-MM-DD` text, identical on both backends.

CREATE TABLE org_units (
    id          TEXT PRIMARY KEY NOT NULL,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('government','ministry','division',
                    'attached_department','soe','regulator','wing','section')),
    parent_id   TEXT REFERENCES org_units(id),
    -- The reporting entity (ministry, division, attached department, SOE or
    -- regulator) this unit belongs to; NULL only for the government root.
    entity_id   TEXT REFERENCES org_units(id),
    created_at  BIGINT NOT NULL
);
CREATE INDEX org_units_parent ON org_units(parent_id);
CREATE INDEX org_units_entity ON org_units(entity_id);

CREATE TABLE posts (
    id           TEXT PRIMARY KEY NOT NULL,
    code         TEXT NOT NULL UNIQUE,
    org_unit_id  TEXT NOT NULL REFERENCES org_units(id),
    designation  TEXT NOT NULL,
    title        TEXT NOT NULL,
    reports_to   TEXT REFERENCES posts(id),
    created_at   BIGINT NOT NULL
);
CREATE INDEX posts_org_unit ON posts(org_unit_id);
CREATE INDEX posts_reports_to ON posts(reports_to);

CREATE TABLE users (
    id             TEXT PRIMARY KEY NOT NULL,
    username       TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    email          TEXT,
    password_hash  TEXT NOT NULL,
    clearance      TEXT NOT NULL CHECK (clearance IN ('unclassified','restricted',
                       'confidential','secret','top_secret')),
    disabled       BOOLEAN NOT NULL DEFAULT 0,
    -- Bumped to end every session of the user at once (logout-all, disable,
    -- password change).
    token_version  BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL
);

CREATE TABLE post_assignments (
    id          TEXT PRIMARY KEY NOT NULL,
    post_id     TEXT NOT NULL REFERENCES posts(id),
    user_id     TEXT NOT NULL REFERENCES users(id),
    kind        TEXT NOT NULL CHECK (kind IN ('regular','additional_charge','acting')),
    is_primary  BOOLEAN NOT NULL DEFAULT 0,
    starts_on   TEXT NOT NULL,
    ends_on     TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX post_assignments_user ON post_assignments(user_id);
CREATE INDEX post_assignments_post ON post_assignments(post_id);

CREATE TABLE user_roles (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id),
    role       TEXT NOT NULL CHECK (role IN ('officer','registry','org_admin','auditor',
                   'compliance','sysadmin')),
    -- The entity the role applies to (registry, org_admin, auditor); NULL for
    -- roles that are not scoped to one entity.
    entity_id  TEXT REFERENCES org_units(id),
    created_at BIGINT NOT NULL
);
CREATE INDEX user_roles_user ON user_roles(user_id);
