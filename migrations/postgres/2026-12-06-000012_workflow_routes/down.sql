DELETE FROM stays WHERE kind = 'consult';
ALTER TABLE stays DROP CONSTRAINT stays_kind_check;
ALTER TABLE stays ADD CONSTRAINT stays_kind_check CHECK (kind IN ('file','receipt'));
DROP TABLE sla_breaches;
DROP TABLE concurrences;
DROP TABLE workflow_versions;
DROP TABLE file_routes;
