-- Signed checkpoints of the ledger: the Merkle root over its first `size`
-- sealed entries, signed by the deployment CA key.
CREATE TABLE ledger_checkpoints (
    id             TEXT PRIMARY KEY NOT NULL,
    size           BIGINT NOT NULL,
    root_hash      TEXT NOT NULL,
    at             BIGINT NOT NULL,
    -- RFC 8785 JSON of {size, root_hash, at}, the bytes signed.
    canonical      TEXT NOT NULL,
    signature_b64  TEXT NOT NULL
);
CREATE INDEX ledger_checkpoints_at ON ledger_checkpoints(at);
CREATE INDEX ledger_events_unsealed ON ledger_events(position, at);
-- Certificates revoked by an org_admin stop signing from that moment.
ALTER TABLE signing_keys ADD COLUMN revoked_by TEXT;
