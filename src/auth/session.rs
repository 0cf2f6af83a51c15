//! Sessions: a login and the refresh tokens rotated from it. Refresh tokens
//! are opaque, stored only as hashes, single-use; presenting a used one again
//! means it was stolen, and ends the whole session (the token family).

use diesel::prelude::*;

use super::tokens::{AUDIENCE, Claims, ISSUER, TokenKeys, random_token, token_hash};
use crate::store::schema::{refresh_tokens, sessions, users};
use crate::store::{DbConn, new_id, now_micros};
use base64::Engine;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::signing::keys::{ActiveKey, OpenKey};

/// Session lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Access-token lifetime, seconds (≤ 15 minutes).
    pub access_secs: i64,
    /// A session unused (not refreshed) this long ends, seconds.
    pub idle_secs: i64,
    /// A session ends this long after login whatever happens, seconds.
    pub absolute_secs: i64,
}

/// `api` sessions use bearer tokens; `web` sessions use cookies and CSRF tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bearer tokens.
    Api,
    /// Cookies.
    Web,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Api => "api",
            Kind::Web => "web",
        }
    }
}

/// Tokens handed to a client.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The session.
    pub session_id: String,
    /// The JWT.
    pub access_token: String,
    /// The opaque refresh token.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The anti-CSRF token (web sessions).
    pub csrf: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn issue(
    conn: &mut DbConn,
    keys: &TokenKeys,
    life: Lifetimes,
    user_id: &str,
    session_id: &str,
    version: i64,
    kind: Kind,
    signing_secret: &str,
) -> QueryResult<Issued> {
    let now = now_micros();
    // The signing secret rides on the refresh token so that it survives
    // rotation without the server ever keeping it.
    let refresh = format!("{}.{signing_secret}", random_token());
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(token_hash(&refresh)),
            refresh_tokens::session_id.eq(session_id),
            refresh_tokens::created_at.eq(now),
        ))
        .execute(conn)?;
    let secs = now / 1_000_000;
    let csrf = (kind == Kind::Web).then(random_token);
    let claims = Claims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: user_id.into(),
        sid: session_id.into(),
        ver: version,
        iat: secs,
        nbf: secs,
        exp: secs + life.access_secs,
        csrf: csrf.clone(),
        sk: Some(signing_secret.to_owned()),
    };
    Ok(Issued {
        session_id: session_id.into(),
        access_token: keys.sign(&claims),
        refresh_token: refresh,
        expires_in: life.access_secs,
        csrf,
    })
}

/// Starts a session for a user who has just proved who they are.
pub fn start(
    conn: &mut DbConn,
    keys: &TokenKeys,
    life: Lifetimes,
    user_id: &str,
    version: i64,
    kind: Kind,
) -> QueryResult<Issued> {
    let now = now_micros();
    let id = new_id();
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(&id),
            sessions::user_id.eq(user_id),
            sessions::kind.eq(kind.as_str()),
            sessions::token_version.eq(version),
            sessions::created_at.eq(now),
            sessions::last_used_at.eq(now),
            sessions::expires_at.eq(now + life.absolute_secs * 1_000_000),
        ))
        .execute(conn)?;
    issue(conn, keys, life, user_id, &id, version, kind, &random_token())
}

/// What presenting a refresh token led to.
#[derive(Debug)]
pub enum Refreshed {
    /// New tokens; the old refresh token is spent.
    Rotated(Issued),
    /// Unknown, expired, idle, revoked, or its user disabled.
    Refused,
    /// A spent token was presented again: the session has been ended.
    Reused {
        /// The session's user.
        user_id: String,
    },
}

/// Rotates a refresh token (call inside a transaction).
pub fn refresh(conn: &mut DbConn, keys: &TokenKeys, life: Lifetimes, token: &str) -> QueryResult<Refreshed> {
    let now = now_micros();
    let row = refresh_tokens::table
        .inner_join(sessions::table.inner_join(users::table))
        .filter(refresh_tokens::token_hash.eq(token_hash(token)))
        .select((
            refresh_tokens::used_at,
            sessions::id,
            sessions::user_id,
            sessions::kind,
            sessions::token_version,
            sessions::last_used_at,
            sessions::expires_at,
            sessions::revoked_at,
            users::token_version,
            users::disabled,
        ))
        .first::<(Option<i64>, String, String, String, i64, i64, i64, Option<i64>, i64, bool)>(conn)
        .optional()?;
    let Some((used, sid, user_id, kind, version, last_used, expires, revoked, user_version, disabled)) = row else {
        return Ok(Refreshed::Refused);
    };
    if used.is_some() {
        end(conn, &sid, "refresh_token_reuse")?;
        return Ok(Refreshed::Reused { user_id });
    }
    let idle_over = now - last_used > life.idle_secs * 1_000_000;
    if revoked.is_some() || disabled || version != user_version || now >= expires || idle_over {
        return Ok(Refreshed::Refused);
    }
    // Spend the token only if nobody spent it in the meantime: of two racing
    // refreshes exactly one wins.
    let spent = diesel::update(refresh_tokens::table.find(token_hash(token)))
        .filter(refresh_tokens::used_at.is_null())
        .set(refresh_tokens::used_at.eq(now))
        .execute(conn)?;
    if spent != 1 {
        end(conn, &sid, "refresh_token_reuse")?;
        return Ok(Refreshed::Reused { user_id });
    }
    diesel::update(sessions::table.find(&sid)).set(sessions::last_used_at.eq(now)).execute(conn)?;
    let kind = if kind == "web" { Kind::Web } else { Kind::Api };
    let secret = match token.split_once('.') {
        Some((_, s)) if s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => {
            s.to_owned()
        }
        _ => random_token(),
    };
    Ok(Refreshed::Rotated(issue(conn, keys, life, &user_id, &sid, version, kind, &secret)?))
}

/// The session a refresh token belongs to, if any: (session, user, whether
/// the token is the session's current one and the session still live).
pub fn session_of(conn: &mut DbConn, token: &str) -> QueryResult<Option<(String, String, bool)>> {
    // (session, user, token used at, session revoked at, session expires at)
    type Row = (String, String, Option<i64>, Option<i64>, i64);
    let row: Option<Row> = refresh_tokens::table
        .inner_join(sessions::table)
        .filter(refresh_tokens::token_hash.eq(token_hash(token)))
        .select((sessions::id, sessions::user_id, refresh_tokens::used_at, sessions::revoked_at, sessions::expires_at))
        .first(conn)
        .optional()?;
    Ok(row.map(|(sid, user, used, revoked, expires)| {
        let live = used.is_none() && revoked.is_none() && now_micros() < expires;
        (sid, user, live)
    }))
}

/// Ends one session: its refresh tokens and access tokens stop working.
pub fn end(conn: &mut DbConn, session_id: &str, reason: &str) -> QueryResult<()> {
    diesel::update(sessions::table.find(session_id))
        .filter(sessions::revoked_at.is_null())
        .set((sessions::revoked_at.eq(now_micros()), sessions::revoked_reason.eq(reason)))
        .execute(conn)?;
    Ok(())
}

/// Ends every session of a user at once (password change, disabling).
pub fn end_all(conn: &mut DbConn, user_id: &str, reason: &str) -> QueryResult<()> {
    diesel::update(users::table.find(user_id)).set(users::token_version.eq(users::token_version + 1)).execute(conn)?;
    diesel::update(sessions::table)
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::revoked_at.is_null())
        .set((sessions::revoked_at.eq(now_micros()), sessions::revoked_reason.eq(reason)))
        .execute(conn)?;
    Ok(())
}

/// A login session's signing secret, as carried by its tokens (base64url).
/// Shown as `SessionSecret(..)` in logs.
#[derive(Clone)]
pub struct SessionSecret(pub String);

impl std::fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSecret(..)")
    }
}

impl SessionSecret {
    fn aead(&self) -> Option<LessSafeKey> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&self.0).ok()?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &raw);
        UnboundKey::new(&AES_256_GCM, digest.as_ref()).ok().map(LessSafeKey::new)
    }
}

/// Signing sessions: after an officer gives their PIN, the moves that follow
/// in the same login session are signed too without asking again, for a
/// short while. The key is kept sealed (AES-256-GCM) under the session's
/// signing secret, which only the session's own tokens carry: the server
/// holds nothing it can open by itself, and the key is decrypted only for the
/// moment of each signature. Memory only; a restart or the expiry closes it.
#[derive(Default)]
pub struct Sessions {
    open: std::sync::Mutex<std::collections::HashMap<String, SealedKey>>,
    ttl: std::time::Duration,
}

struct SealedKey {
    key_id: String,
    public_key_hex: String,
    nonce: [u8; 12],
    sealed: Vec<u8>,
    until: std::time::Instant,
}

impl Sessions {
    /// Keys stay usable this long after the last PIN.
    pub fn new(ttl: std::time::Duration) -> Sessions {
        Sessions { open: Default::default(), ttl }
    }

    /// Keeps a key (PKCS#8, just unsealed by its PIN) for a login session,
    /// sealed under the session's secret. Nothing is kept without a secret.
    pub fn put(&self, session_id: &str, secret: Option<&SessionSecret>, key: &ActiveKey, pkcs8: &[u8]) {
        let Some(aead) = secret.and_then(SessionSecret::aead) else { return };
        if self.ttl.is_zero() {
            return;
        }
        let mut nonce = [0u8; 12];
        if SystemRandom::new().fill(&mut nonce).is_err() {
            return;
        }
        let mut sealed = pkcs8.to_vec();
        if aead
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(session_id), &mut sealed)
            .is_err()
        {
            return;
        }
        let now = std::time::Instant::now();
        let entry = SealedKey {
            key_id: key.id.clone(),
            public_key_hex: key.public_key.clone(),
            nonce,
            sealed,
            until: now + self.ttl,
        };
        let mut open = self.open.lock().expect("signing sessions lock");
        open.retain(|_, k| k.until > now);
        open.insert(session_id.to_owned(), entry);
    }

    /// The session's key, opened with its secret for one use: (key id, key).
    pub fn get(&self, session_id: &str, secret: Option<&SessionSecret>) -> Option<(String, OpenKey)> {
        let aead = secret?.aead()?;
        let (key_id, public_key_hex, nonce, mut sealed) = {
            let open = self.open.lock().expect("signing sessions lock");
            let k = open.get(session_id).filter(|k| k.until > std::time::Instant::now())?;
            (k.key_id.clone(), k.public_key_hex.clone(), k.nonce, k.sealed.clone())
        };
        let opened = match aead.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(session_id), &mut sealed) {
            Ok(plain) => OpenKey::new(plain, &public_key_hex).ok(),
            Err(_) => None,
        };
        sealed.iter_mut().for_each(|b| *b = 0);
        opened.map(|k| (key_id, k))
    }
}

#[cfg(test)]
mod signing_session_tests {
    use super::*;
    use crate::signing::keys::{PinWrap, new_server_key_for_test, unseal_then, verify};

    #[test]
    fn a_signing_session_keeps_the_key_sealed_under_its_secret() {
        let active = new_server_key_for_test("246810");
        // A signing session keeps the key sealed under the session's secret:
        // the wrong secret, another session or no secret opens nothing.
        let sessions = Sessions::new(std::time::Duration::from_secs(60));
        let secret = SessionSecret(super::random_token());
        let other = SessionSecret(super::random_token());
        let mut plain = Vec::new();
        unseal_then(&PinWrap::for_test(), &active, "246810", |pkcs8| {
            plain = pkcs8.to_vec();
            sessions.put("s1", Some(&secret), &active, pkcs8)
        })
        .unwrap()
        .unwrap();
        let stored = sessions.open.lock().unwrap().get("s1").map(|k| k.sealed.clone()).unwrap();
        assert!(
            plain.len() > 64 && !stored.windows(16).any(|w| plain.windows(16).any(|p| p == w)),
            "nothing kept in clear"
        );
        assert!(sessions.get("s1", Some(&other)).is_none());
        assert!(sessions.get("s1", None).is_none());
        assert!(sessions.get("s2", Some(&secret)).is_none());
        let (id, reopened) = sessions.get("s1", Some(&secret)).unwrap();
        assert_eq!(id, "k");
        assert!(verify(&active.public_key, b"moved", &reopened.sign(b"moved").unwrap()));
        assert_eq!(format!("{secret:?}"), "SessionSecret(..)");
    }
}
