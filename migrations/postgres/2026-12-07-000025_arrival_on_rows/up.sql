-- What brought a file or receipt to its holder, kept on its own row: the
-- post that sent it and when the holder opened it. The inbox shows both for
-- every line, and a move checks both (a recall only while unopened); they
-- were read from the movement `last_movement_id` names, one row on its own
-- page of the largest table for every line of every inbox. The movement
-- stays the record (its `opened_at` is still set when the holder opens it);
-- these are copies, written in the same statements.
ALTER TABLE files ADD COLUMN last_from_post TEXT;
ALTER TABLE files ADD COLUMN last_opened_at BIGINT;
ALTER TABLE receipts ADD COLUMN last_from_post TEXT;
ALTER TABLE receipts ADD COLUMN last_opened_at BIGINT;
UPDATE files SET (last_from_post, last_opened_at) =
    (SELECT from_post_id, opened_at FROM movements WHERE movements.id = files.last_movement_id)
    WHERE last_movement_id IS NOT NULL;
UPDATE receipts SET (last_from_post, last_opened_at) =
    (SELECT from_post_id, opened_at FROM movements WHERE movements.id = receipts.last_movement_id)
    WHERE last_movement_id IS NOT NULL;
