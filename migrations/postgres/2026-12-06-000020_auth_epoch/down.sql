DROP TRIGGER IF EXISTS auth_epoch_users ON users;
DROP TRIGGER IF EXISTS auth_epoch_user_roles ON user_roles;
DROP TRIGGER IF EXISTS auth_epoch_post_assignments ON post_assignments;
DROP TRIGGER IF EXISTS auth_epoch_posts ON posts;
DROP TRIGGER IF EXISTS auth_epoch_org_units ON org_units;
DROP TRIGGER IF EXISTS auth_epoch_sessions ON sessions;
DROP FUNCTION IF EXISTS daftar_bump_auth_epoch();
DROP TABLE auth_epoch;
