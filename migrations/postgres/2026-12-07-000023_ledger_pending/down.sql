DROP INDEX ledger_events_pending;
