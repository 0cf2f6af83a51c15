DROP INDEX receipts_due;
DROP INDEX files_due;
DROP TABLE mail_once;
DROP TABLE mail_digest_items;
DROP TABLE notification_prefs;
