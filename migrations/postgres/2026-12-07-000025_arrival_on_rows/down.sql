ALTER TABLE receipts DROP COLUMN last_opened_at;
ALTER TABLE receipts DROP COLUMN last_from_post;
ALTER TABLE files DROP COLUMN last_opened_at;
ALTER TABLE files DROP COLUMN last_from_post;
