DROP INDEX stays_open;
CREATE INDEX stays_open ON stays(object_id, until_at);
CREATE INDEX ledger_events_unsealed ON ledger_events(position, at);
