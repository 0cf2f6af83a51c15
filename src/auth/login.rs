//! Logging in: the throttle, the password check (always paid, for unknown
//! users too), the session, and the audit trail, in one place. Slow
//! (argon2id): call it off the async runtime.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::json;

use super::session::{self, Issued, Kind, Lifetimes};
use super::throttle::Throttle;
use super::tokens::TokenKeys;
use super::{audit, password};
use crate::domain::org::Username;
use crate::store::schema::users;
use crate::store::{Db, StoreError};

/// Why a login was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Too many failures: try again after this long.
    #[error("too many failed logins; wait and try again")]
    Throttled(Duration),
    /// Unknown user, wrong password or disabled account: told apart only in the audit trail.
    #[error("wrong username or password")]
    Refused,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for LoginError {
    fn from(e: diesel::result::Error) -> Self {
        LoginError::Store(e.into())
    }
}

/// What a login needs of the deployment's identity settings.
pub struct Gate<'a> {
    /// Signs the access tokens.
    pub keys: &'a TokenKeys,
    /// Slows guessing.
    pub throttle: &'a Throttle,
    /// Token and session lifetimes.
    pub life: Lifetimes,
    /// Checked for unknown users, so they cost what a real one does.
    pub dummy_hash: &'a str,
}

/// Logs `account` in from `ip` with `pw`.
pub fn login(db: &Db, gate: Gate<'_>, account: &str, pw: &str, ip: &str, kind: Kind) -> Result<Issued, LoginError> {
    let mut conn = db.writer()?;
    let user = match Username::parse(account) {
        Ok(u) => users::table
            .filter(users::username.eq(u.as_str()))
            .select((users::id, users::password_hash, users::disabled, users::token_version))
            .first::<(String, String, bool, i64)>(&mut *conn)
            .optional()?,
        Err(_) => None,
    };
    let known = match &user {
        Some((id, ..)) => audit::is_known_address(&mut conn, id, ip)?,
        None => false,
    };
    let attempt = gate.throttle.reserve(account, ip, known, Instant::now()).map_err(LoginError::Throttled)?;
    let hash = user.as_ref().map(|u| u.1.as_str()).unwrap_or(gate.dummy_hash);
    let matches = password::verify_password(pw, hash);
    match user {
        Some((id, _, false, version)) if matches => {
            attempt.succeeded();
            Ok(conn.transaction(|c| {
                let issued = session::start(c, gate.keys, gate.life, &id, version, kind)?;
                audit::record(
                    c,
                    audit::Event {
                        kind: "login_succeeded",
                        user_id: Some(&id),
                        ip: Some(ip),
                        details: Some(json!({"session": issued.session_id})),
                        ..Default::default()
                    },
                )?;
                Ok::<_, diesel::result::Error>(issued)
            })?)
        }
        user => {
            attempt.failed(Instant::now());
            let reason = match &user {
                None => "unknown_user",
                Some((_, _, true, _)) => "disabled",
                Some(_) => "wrong_password",
            };
            audit::record(
                &mut conn,
                audit::Event {
                    kind: "login_failed",
                    user_id: user.as_ref().map(|u| u.0.as_str()),
                    username: Some(&account.chars().take(64).collect::<String>()),
                    ip: Some(ip),
                    details: Some(json!({ "reason": reason })),
                    ..Default::default()
                },
            )?;
            Err(LoginError::Refused)
        }
    }
}

/// Checks an officer's account password again before a sensitive change (a
/// new signing key, a new password): throttled like a login, the attempt
/// counted before the slow check. Slow: call it off the async runtime.
pub fn reauthenticate(db: &Db, throttle: &Throttle, user_id: &str, pw: &str) -> Result<(), LoginError> {
    let key = format!("reauth\u{0}{user_id}");
    let attempt = throttle.reserve(&key, &key, false, Instant::now()).map_err(LoginError::Throttled)?;
    let hash: String = {
        let mut conn = db.reader()?;
        users::table.find(user_id).select(users::password_hash).first(&mut *conn)?
    };
    if pw.len() <= crate::domain::org::MAX_PASSWORD_BYTES && password::verify_password(pw, &hash) {
        attempt.succeeded();
        Ok(())
    } else {
        attempt.failed(Instant::now());
        Err(LoginError::Refused)
    }
}
