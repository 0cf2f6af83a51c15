DROP TABLE audit_events;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
