DROP TABLE user_roles;
DROP TABLE post_assignments;
DROP TABLE users;
DROP TABLE posts;
DROP TABLE org_units;
