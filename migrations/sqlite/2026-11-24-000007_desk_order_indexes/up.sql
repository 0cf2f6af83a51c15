-- The inbox lists a desk's open files (and receipts) most urgent first, then
-- oldest: an index in exactly that order lets it stop after one page however
-- much the desk holds, instead of sorting everything the desk has.
DROP INDEX files_holder;
CREATE INDEX files_holder ON files(holder_post_id, status, urgency DESC, held_since, id);
DROP INDEX receipts_holder;
CREATE INDEX receipts_holder ON receipts(holder_post_id, status, urgency DESC, held_since, id);
-- "Sent": what a user moved, newest first.
CREATE INDEX movements_by_user ON movements(by_user_id, sent_at DESC, id DESC);
