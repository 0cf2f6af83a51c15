-- The compliance count of an entity's open files reads the index alone.
DROP INDEX files_entity_created;
CREATE INDEX files_entity_status_created ON files(entity_id, status, created_at);
