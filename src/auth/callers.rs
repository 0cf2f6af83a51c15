//! Who each request's caller is, cached per process so that an
//! authenticated request costs one small query instead of three and an
//! EdDSA check.
//!
//! Two things are kept:
//! - **verified tokens**: the claims of an access token whose signature was
//!   checked, used until the token's own `exp`; then it is checked afresh;
//! - **live callers**: per session, the principal and the session's expiry,
//!   stamped with the `auth_epoch` number read before they were loaded.
//!
//! Every write that could change who a caller is, what they hold, or whether
//! their session lives (logout, disabling, a password change, roles, posts,
//! assignments) bumps `auth_epoch` through database triggers (migration 20),
//! whichever process makes it: another `daftar serve` on the same
//! PostgreSQL, or the CLI. Each request reads the number (a primary-key
//! read) and uses its cached caller only if the number is unchanged, so a
//! session ended anywhere is refused at once everywhere. The number is read
//! before the principal is loaded: a write that lands between the two makes
//! the cached entry older than the database, never newer.

use std::collections::HashMap;
use std::sync::Mutex;

use diesel::prelude::*;

use super::principal::{self, Principal};
use super::tokens::{Claims, TokenKeys};
use crate::store::schema::{auth_epoch, sessions, users};
use crate::store::{DbConn, now_micros};

/// Entries kept in each map before it is swept (expired entries are dropped
/// first; if it is still full, it starts again empty).
const MAX_ENTRIES: usize = 100_000;

/// A caller as last loaded.
#[derive(Clone)]
struct Live {
    epoch: i64,
    user_id: String,
    version: i64,
    expires_at: i64,
    principal: Principal,
}

/// What `GET /me` shows of a user besides the principal, as of a day.
#[derive(Clone)]
struct Card {
    epoch: i64,
    day: String,
    posts: Vec<crate::org::MyPost>,
    roles: Vec<String>,
}

/// The per-process cache (one per server).
#[derive(Default)]
pub struct Callers {
    tokens: Mutex<HashMap<String, Claims>>,
    live: Mutex<HashMap<String, Live>>,
    cards: Mutex<HashMap<String, Card>>,
}

/// The current `auth_epoch` number.
pub fn epoch(conn: &mut DbConn) -> QueryResult<i64> {
    // Read on every authenticated request: on the concrete connection,
    // which finds its prepared statement without writing its SQL again.
    crate::on_backend!(conn, |c| auth_epoch::table.find(1).select(auth_epoch::value).first(c))
}

/// Inserts into a bounded map, sweeping it first when full.
fn bounded_insert<V>(map: &mut HashMap<String, V>, key: String, value: V, expired: impl Fn(&V) -> bool) {
    if map.len() >= MAX_ENTRIES {
        map.retain(|_, v| !expired(v));
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
    }
    map.insert(key, value);
}

impl Callers {
    /// The claims of a valid access token (signature, issuer, audience,
    /// `exp`, `nbf`), checking its signature only the first time it is seen.
    pub fn verify(&self, keys: &TokenKeys, token: &str) -> Option<Claims> {
        let now = now_micros() / 1_000_000;
        let cached = self.tokens.lock().ok().and_then(|t| t.get(token).filter(|c| now < c.exp).cloned());
        if cached.is_some() {
            return cached;
        }
        let claims = keys.verify(token)?;
        if now < claims.exp
            && let Ok(mut tokens) = self.tokens.lock()
        {
            bounded_insert(&mut tokens, token.to_owned(), claims.clone(), |c| now >= c.exp);
        }
        Some(claims)
    }

    /// The cached principal behind verified claims, if it was loaded at
    /// `epoch` (the number just read) and the session has not expired since.
    pub fn cached(&self, claims: &Claims, epoch: i64) -> Option<Principal> {
        let now = now_micros();
        self.live.lock().ok().and_then(|live| {
            live.get(&claims.sid)
                .filter(|l| {
                    l.epoch == epoch && l.user_id == claims.sub && l.version == claims.ver && now < l.expires_at
                })
                .map(|l| l.principal.clone())
        })
    }

    /// The principal behind verified claims if their session is live (not
    /// ended, not expired, the user enabled and the token version current),
    /// with the `auth_epoch` it holds for; from the cache when nothing has
    /// changed since it was loaded.
    pub fn principal(&self, conn: &mut DbConn, claims: &Claims) -> QueryResult<Option<(Principal, i64)>> {
        let epoch = epoch(conn)?;
        let now = now_micros();
        if let Some(p) = self.cached(claims, epoch) {
            return Ok(Some((p, epoch)));
        }
        let Some((expires_at, user)) = live_until(conn, &claims.sid, &claims.sub, claims.ver)? else {
            if let Ok(mut live) = self.live.lock() {
                live.remove(&claims.sid);
            }
            return Ok(None);
        };
        let principal = principal::complete(conn, user)?;
        if let Ok(mut live) = self.live.lock() {
            let entry = Live {
                epoch,
                user_id: claims.sub.clone(),
                version: claims.ver,
                expires_at,
                principal: principal.clone(),
            };
            bounded_insert(&mut live, claims.sid.clone(), entry, |l| now >= l.expires_at);
        }
        Ok(Some((principal, epoch)))
    }

    /// A user's posts held on `day` and role names, as `GET /me` shows
    /// them: cached if loaded at `epoch` for that day, else loaded now.
    pub fn card(
        &self,
        conn: &mut DbConn,
        user_id: &str,
        epoch: i64,
        day: &str,
    ) -> Result<(Vec<crate::org::MyPost>, Vec<String>), crate::store::StoreError> {
        if let Some(card) = self.cached_card(user_id, epoch, day) {
            return Ok(card);
        }
        let posts = crate::org::posts_held(conn, user_id, day)?;
        let roles = crate::org::role_names(conn, user_id)?;
        if let Ok(mut cards) = self.cards.lock() {
            let card = Card { epoch, day: day.to_owned(), posts: posts.clone(), roles: roles.clone() };
            bounded_insert(&mut cards, user_id.to_owned(), card, |c| c.epoch != epoch);
        }
        Ok((posts, roles))
    }

    /// [`Callers::card`] if it is cached for `epoch` and `day`.
    pub fn cached_card(&self, user_id: &str, epoch: i64, day: &str) -> Option<(Vec<crate::org::MyPost>, Vec<String>)> {
        self.cards.lock().ok().and_then(|cards| {
            cards.get(user_id).filter(|c| c.epoch == epoch && c.day == day).map(|c| (c.posts.clone(), c.roles.clone()))
        })
    }
}

/// When the session behind an access token expires, if it is live now, and
/// its user's row (read with the session's, one statement for both).
pub(crate) fn live_until(
    conn: &mut DbConn,
    session_id: &str,
    user_id: &str,
    version: i64,
) -> QueryResult<Option<(i64, principal::UserRow)>> {
    let now = now_micros();
    let row = sessions::table
        .inner_join(users::table)
        .filter(sessions::id.eq(session_id))
        .filter(sessions::user_id.eq(user_id))
        .select((sessions::revoked_at, sessions::expires_at, sessions::token_version, principal::USER_COLUMNS))
        .first::<(Option<i64>, i64, i64, principal::UserRow)>(conn)
        .optional()?;
    Ok(row.and_then(|(revoked, expires, v, user)| {
        let (.., disabled, user_version) = &user;
        let live = revoked.is_none() && now < expires && v == version && *user_version == version && !disabled;
        live.then_some((expires, user))
    }))
}
