-- Compliance (SPEC section 3): the register of physical files, so adoption
-- is measured against what is still on paper, and the certificates issued
-- (or imported from another deployment), immutable and versioned: a
-- re-issue for the same entity and period supersedes, never overwrites.
-- Physical receipts need no register of their own: the diary records them
-- (receipts.form = 'physical').
CREATE TABLE physical_files (
    id            TEXT PRIMARY KEY NOT NULL,
    entity_id     TEXT NOT NULL REFERENCES org_units(id),
    reference     TEXT NOT NULL,
    subject       TEXT NOT NULL,
    opened_on     TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    registered_by TEXT NOT NULL REFERENCES users(id),
    retired_at    BIGINT,
    retired_how   TEXT,
    e_file_id     TEXT REFERENCES files(id)
);
CREATE UNIQUE INDEX physical_files_reference ON physical_files(entity_id, reference);

CREATE TABLE compliance_certificates (
    id             TEXT PRIMARY KEY NOT NULL,
    entity_id      TEXT REFERENCES org_units(id),
    entity_code    TEXT NOT NULL,
    entity_name    TEXT NOT NULL,
    period_from    TEXT NOT NULL,
    period_to      TEXT NOT NULL,
    version        INTEGER NOT NULL,
    source         TEXT NOT NULL,
    metrics        TEXT NOT NULL,
    pdf_sha256     TEXT NOT NULL,
    signer         TEXT NOT NULL,
    issued_by_user TEXT REFERENCES users(id),
    issued_at      BIGINT NOT NULL,
    superseded_by  TEXT
);
CREATE UNIQUE INDEX compliance_certificates_version
    ON compliance_certificates(entity_code, period_from, period_to, source, version);

-- What the metrics read by entity and period.
CREATE INDEX files_entity_created ON files(entity_id, created_at);
CREATE INDEX receipts_entity_created ON receipts(entity_id, created_at);
CREATE INDEX movements_action_sent ON movements(action, sent_at);
