-- Sessions (a login and every token refreshed from it), their refresh tokens,
-- and the security audit trail.

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY NOT NULL,
    user_id        TEXT NOT NULL REFERENCES users(id),
    -- 'api' (bearer tokens) or 'web' (cookies with an anti-CSRF token).
    kind           TEXT NOT NULL CHECK (kind IN ('api','web')),
    -- The user's token_version when the session began; a bump ends it.
    token_version  BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT NOT NULL,
    -- Absolute end: no refresh after this.
    expires_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    -- Why it ended: logout, reuse, disabled, password, ...
    revoked_reason TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE refresh_tokens (
    -- SHA-256 (hex) of the opaque token; the token itself is never stored.
    token_hash  TEXT PRIMARY KEY NOT NULL,
    session_id  TEXT NOT NULL REFERENCES sessions(id),
    created_at  BIGINT NOT NULL,
    -- Set when rotated; presenting it again is reuse and ends the session.
    used_at     BIGINT
);
CREATE INDEX refresh_tokens_session ON refresh_tokens(session_id);

-- Security events (logins, logouts, token reuse, password and role changes).
-- Never holds passwords or tokens. The ledger issue chains these by hash.
CREATE TABLE audit_events (
    id          TEXT PRIMARY KEY NOT NULL,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    user_id     TEXT REFERENCES users(id),
    actor_id    TEXT REFERENCES users(id),
    username    TEXT,
    ip          TEXT,
    details     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at ON audit_events(at);
CREATE INDEX audit_events_user ON audit_events(user_id);
