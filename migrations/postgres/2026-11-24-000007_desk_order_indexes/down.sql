DROP INDEX movements_by_user;
DROP INDEX receipts_holder;
CREATE INDEX receipts_holder ON receipts(holder_post_id, status, urgency, held_since);
DROP INDEX files_holder;
CREATE INDEX files_holder ON files(holder_post_id, status, urgency, held_since);
