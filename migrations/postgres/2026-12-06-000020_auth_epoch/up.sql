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

CREATE FUNCTION daftar_bump_auth_epoch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE auth_epoch SET value = value + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER auth_epoch_users AFTER UPDATE OF username, name, email, clearance, disabled, token_version OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION daftar_bump_auth_epoch();

CREATE TRIGGER auth_epoch_user_roles AFTER INSERT OR UPDATE OR DELETE ON user_roles
    FOR EACH STATEMENT EXECUTE FUNCTION daftar_bump_auth_epoch();

CREATE TRIGGER auth_epoch_post_assignments AFTER INSERT OR UPDATE OR DELETE ON post_assignments
    FOR EACH STATEMENT EXECUTE FUNCTION daftar_bump_auth_epoch();

CREATE TRIGGER auth_epoch_posts AFTER UPDATE OR DELETE ON posts
    FOR EACH STATEMENT EXECUTE FUNCTION daftar_bump_auth_epoch();

CREATE TRIGGER auth_epoch_org_units AFTER UPDATE OR DELETE ON org_units
    FOR EACH STATEMENT EXECUTE FUNCTION daftar_bump_auth_epoch();

CREATE TRIGGER auth_epoch_sessions AFTER UPDATE OF user_id, token_version, expires_at, revoked_at OR DELETE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION daftar_bump_auth_epoch();
