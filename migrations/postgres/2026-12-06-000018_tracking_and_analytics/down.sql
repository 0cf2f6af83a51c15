DROP INDEX files_entity_holder;
DROP TABLE receipt_tracking;
