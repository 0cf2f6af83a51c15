-- Officers' signing keys with the certificates the deployment CA issued for
-- them, and the signatures on notes.

CREATE TABLE signing_keys (
    id                  TEXT PRIMARY KEY NOT NULL,
    user_id             TEXT NOT NULL REFERENCES users(id),
    -- 'server': generated here, kept wrapped under the officer's PIN;
    -- 'client': the officer's own key, only the public half is here.
    mode                TEXT NOT NULL CHECK (mode IN ('server','client')),
    -- Uncompressed P-256 point, hex.
    public_key          TEXT NOT NULL,
    -- PKCS#8 of the private key, AES-256-GCM under argon2id(PIN, salt); hex.
    wrapped_key         TEXT,
    salt                TEXT,
    nonce               TEXT,
    certificate_serial  TEXT NOT NULL UNIQUE,
    certificate_pem     TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    revoked_at          BIGINT,
    pin_failures        INTEGER NOT NULL DEFAULT 0,
    pin_locked_until    BIGINT
);
CREATE INDEX signing_keys_user ON signing_keys(user_id);

CREATE TABLE note_signatures (
    note_id             TEXT PRIMARY KEY NOT NULL REFERENCES notes(id),
    key_id              TEXT NOT NULL REFERENCES signing_keys(id),
    certificate_serial  TEXT NOT NULL,
    alg                 TEXT NOT NULL,
    -- The exact bytes signed (RFC 8785 JSON).
    canonical           TEXT NOT NULL,
    -- DER ECDSA signature, base64.
    signature_b64       TEXT NOT NULL,
    signed_at           BIGINT NOT NULL
);
