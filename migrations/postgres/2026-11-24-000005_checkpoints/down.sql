ALTER TABLE signing_keys DROP COLUMN revoked_by;
DROP INDEX ledger_events_unsealed;
DROP TABLE ledger_checkpoints;
