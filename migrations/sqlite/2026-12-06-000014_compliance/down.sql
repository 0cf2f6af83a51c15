DROP INDEX movements_action_sent;
DROP INDEX receipts_entity_created;
DROP INDEX files_entity_created;
DROP TABLE compliance_certificates;
DROP TABLE physical_files;
