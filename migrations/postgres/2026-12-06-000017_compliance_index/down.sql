DROP INDEX files_entity_status_created;
CREATE INDEX files_entity_created ON files(entity_id, created_at);
