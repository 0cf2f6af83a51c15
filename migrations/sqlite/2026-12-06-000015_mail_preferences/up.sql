-- Email preferences and the daily digest. `marked` says how a user hears of
-- a file or receipt marked to their post: `immediately` (the default when
-- there is no row), `digest` (once a day) or `off`. Mail about their own
-- account (password, signing key) is always sent.
CREATE TABLE notification_prefs (
    user_id    TEXT PRIMARY KEY NOT NULL REFERENCES users(id),
    marked     TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- What waits for a user's next digest, once per event (`id` names the event
-- and the user, so a retried fan-out adds nothing twice).
CREATE TABLE mail_digest_items (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users(id),
    line       TEXT NOT NULL,
    link       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at    BIGINT
);
CREATE INDEX mail_digest_items_pending ON mail_digest_items(user_id, created_at) WHERE sent_at IS NULL;

-- Notices a daily run gives once per object and day ("due tomorrow"):
-- the key is kept, so running it again (or from a second server) tells no
-- one twice.
CREATE TABLE mail_once (
    key TEXT PRIMARY KEY NOT NULL,
    at  BIGINT NOT NULL
);

-- Files and receipts falling due, for the daily "due tomorrow" mail.
CREATE INDEX files_due ON files(due_at) WHERE due_at IS NOT NULL;
CREATE INDEX receipts_due ON receipts(due_at) WHERE due_at IS NOT NULL;
