-- Callers are cached per process (auth::callers): each request reads this
-- one number and uses its cached principal, session and `GET /me` card only
-- if the number is unchanged. Any write that could change who a caller is,
-- what they hold (posts and units, names included), or whether their
-- session lives bumps it, from whichever process
-- (another server, the CLI) makes the write: the triggers below see them all.
CREATE TABLE auth_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO auth_epoch (id, value) VALUES (1, 0);

CREATE TRIGGER auth_epoch_users_update AFTER UPDATE OF username, name, email, clearance, disabled, token_version ON users
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER auth_epoch_users_delete AFTER DELETE ON users
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER auth_epoch_user_roles_insert AFTER INSERT ON user_roles
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER auth_epoch_user_roles_update AFTER UPDATE ON user_roles
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER auth_epoch_user_roles_delete AFTER DELETE ON user_roles
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER auth_epoch_post_assignments_insert AFTER INSERT ON post_assignments
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER auth_epoch_post_assignments_update AFTER UPDATE ON post_assignments
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER auth_epoch_post_assignments_delete AFTER DELETE ON post_assignments
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER auth_epoch_posts_update AFTER UPDATE ON posts
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER auth_epoch_posts_delete AFTER DELETE ON posts
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER auth_epoch_org_units_update AFTER UPDATE ON org_units
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER auth_epoch_org_units_delete AFTER DELETE ON org_units
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER auth_epoch_sessions_update AFTER UPDATE OF user_id, token_version, expires_at, revoked_at ON sessions
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
END;

CREATE TRIGGER auth_epoch_sessions_delete AFTER DELETE ON sessions
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
END;
