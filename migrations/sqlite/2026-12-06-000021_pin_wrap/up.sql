-- How each server key is sealed under its PIN (signing::keys): keys sealed
-- so far used argon2id of the PIN alone; new ones use the deployment's
-- key-wrapping key, kept outside the database (SECURITY.md). Old keys are
-- sealed again the first time their PIN is given; client keys have none.
ALTER TABLE signing_keys ADD COLUMN sealed_with TEXT NOT NULL DEFAULT 'argon2id';
UPDATE signing_keys SET sealed_with = 'none' WHERE wrapped_key IS NULL;
