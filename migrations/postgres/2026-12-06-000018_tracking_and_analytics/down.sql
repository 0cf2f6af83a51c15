DROP INDEX files_entity_holder;
DROP INDEX stays_post_ended;
DROP TABLE receipt_tracking;
