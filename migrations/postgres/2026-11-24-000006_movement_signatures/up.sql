-- Movements signed by the mover (ECDSA P-256 over RFC 8785 JSON), when the
-- mover's key is unsealed in their signing session or a PIN comes with the move.
CREATE TABLE movement_signatures (
    movement_id         TEXT PRIMARY KEY NOT NULL REFERENCES movements(id),
    key_id              TEXT NOT NULL REFERENCES signing_keys(id),
    certificate_serial  TEXT NOT NULL,
    canonical           TEXT NOT NULL,
    signature_b64       TEXT NOT NULL,
    signed_at           BIGINT NOT NULL
);
