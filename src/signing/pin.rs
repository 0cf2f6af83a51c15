//! The PIN throttle: each attempt is counted (and reserved) before the PIN
//! is tried, so parallel guesses cannot outrun the lock; an attempt whose
//! process died is released once its lease lapses, so crashes are not
//! taken for wrong PINs.

use diesel::prelude::*;

use super::SignError;
use super::keys::{ActiveKey, OpenKey, PinWrap};
use crate::store::schema::{pin_reservations, signing_keys};
use crate::store::{Db, DbConn, StoreError, new_id, now_micros};

/// Wrong PINs allowed before the key locks.
pub const PIN_TRIES: i32 = 5;
/// How long a locked key stays locked.
pub const PIN_LOCK_SECS: i64 = 15 * 60;
/// How long an attempt may stay unsettled before it is taken for one whose
/// process died, and released (a PIN check takes milliseconds).
pub const PIN_LEASE_SECS: i64 = 20;

/// Releases the attempts on `key_id` whose lease lapsed unsettled (their
/// process died): they no longer count.
fn release_lapsed(conn: &mut DbConn, key_id: &str, now: i64) -> QueryResult<()> {
    let lapsed = diesel::delete(
        pin_reservations::table
            .filter(pin_reservations::key_id.eq(key_id))
            .filter(pin_reservations::lease_until.lt(now)),
    )
    .execute(conn)? as i32;
    if lapsed > 0 {
        diesel::update(signing_keys::table.find(key_id))
            .set(signing_keys::pin_failures.eq(signing_keys::pin_failures - lapsed))
            .execute(conn)?;
        diesel::update(signing_keys::table.find(key_id))
            .filter(signing_keys::pin_failures.lt(0))
            .set(signing_keys::pin_failures.eq(0))
            .execute(conn)?;
    }
    Ok(())
}

/// Takes the key's row lock before any reservation is touched, so that
/// concurrent attempts on one key queue on that one row (on PostgreSQL,
/// locking reservations first and the key second could deadlock with an
/// attempt that holds the key and clears the reservations).
fn lock_key(conn: &mut DbConn, key_id: &str) -> QueryResult<()> {
    diesel::update(signing_keys::table.find(key_id))
        .set(signing_keys::pin_failures.eq(signing_keys::pin_failures))
        .execute(conn)?;
    Ok(())
}

/// Settles a reservation; `false` if it was already released as lapsed.
fn settle(conn: &mut DbConn, reservation: &str) -> QueryResult<bool> {
    Ok(diesel::delete(pin_reservations::table.find(reservation)).execute(conn)? == 1)
}

/// Counts a PIN attempt before the PIN is tried, atomically, so parallel
/// guesses cannot outrun the lock, and reserves it: `Ok(reservation)`, or
/// `Err(seconds)` when the key is locked or [`PIN_TRIES`] attempts are
/// already counted. A right PIN then calls [`pin_succeeded`]; a wrong one
/// [`pin_failed`]. Attempts of a process that died are released first.
pub fn reserve_pin_attempt(conn: &mut DbConn, key_id: &str) -> QueryResult<Result<String, i64>> {
    let now = now_micros();
    lock_key(conn, key_id)?;
    release_lapsed(conn, key_id, now)?;
    let counted = diesel::update(signing_keys::table.find(key_id))
        .filter(signing_keys::pin_locked_until.is_null().or(signing_keys::pin_locked_until.le(now)))
        .filter(signing_keys::pin_failures.lt(PIN_TRIES))
        .set((
            signing_keys::pin_failures.eq(signing_keys::pin_failures + 1),
            signing_keys::pin_locked_until.eq(None::<i64>),
        ))
        .execute(conn)?;
    if counted == 1 {
        let id = new_id();
        diesel::insert_into(pin_reservations::table)
            .values((
                pin_reservations::id.eq(&id),
                pin_reservations::key_id.eq(key_id),
                pin_reservations::lease_until.eq(now + PIN_LEASE_SECS * 1_000_000),
            ))
            .execute(conn)?;
        return Ok(Ok(id));
    }
    // Attempts counted and still in flight (parallel guesses) lock the key
    // like failures would, and so heal after one lock period.
    lock_if_spent(conn, key_id)?;
    let until: Option<i64> = signing_keys::table.find(key_id).select(signing_keys::pin_locked_until).first(conn)?;
    Ok(Err(until.map_or(PIN_LOCK_SECS, |u| ((u - now) / 1_000_000).max(1))))
}

/// A wrong PIN was tried under `reservation`: it stays counted (counted
/// again if its lease had lapsed and released it), and the key locks once
/// [`PIN_TRIES`] are counted.
pub fn pin_failed(conn: &mut DbConn, key_id: &str, reservation: &str) -> QueryResult<()> {
    lock_key(conn, key_id)?;
    if !settle(conn, reservation)? {
        diesel::update(signing_keys::table.find(key_id))
            .set(signing_keys::pin_failures.eq(signing_keys::pin_failures + 1))
            .execute(conn)?;
    }
    lock_if_spent(conn, key_id)
}

/// Once [`PIN_TRIES`] attempts are counted the key locks for
/// [`PIN_LOCK_SECS`] (the count is then back at zero, so a lock in force is
/// never renewed or lifted here).
fn lock_if_spent(conn: &mut DbConn, key_id: &str) -> QueryResult<()> {
    let until = now_micros() + PIN_LOCK_SECS * 1_000_000;
    let locked = diesel::update(signing_keys::table.find(key_id))
        .filter(signing_keys::pin_failures.ge(PIN_TRIES))
        .set((signing_keys::pin_failures.eq(0), signing_keys::pin_locked_until.eq(until)))
        .execute(conn)?;
    if locked == 1 {
        forget_reservations(conn, key_id)?;
    }
    Ok(())
}

/// The count went back to zero: the attempts still reserved are no longer
/// in it, so they must not be taken off it later when their lease lapses
/// (each would give a guesser one more try). One still in flight that turns
/// out wrong finds its reservation gone and is counted afresh.
fn forget_reservations(conn: &mut DbConn, key_id: &str) -> QueryResult<()> {
    diesel::delete(pin_reservations::table.filter(pin_reservations::key_id.eq(key_id))).execute(conn)?;
    Ok(())
}

/// The right PIN was given: the count starts again.
/// Its own reservation goes with the others.
pub fn pin_succeeded(conn: &mut DbConn, key_id: &str) -> QueryResult<()> {
    diesel::update(signing_keys::table.find(key_id)).set(signing_keys::pin_failures.eq(0)).execute(conn)?;
    forget_reservations(conn, key_id)
}

/// Opens `key` with `pin`: the one place a PIN is tried. The attempt is
/// counted first (a locked key answers [`SignError::Locked`] without
/// trying), then the PIN is tried and the attempt settled. A key sealed under
/// the wrapping key costs an HMAC to try, so all three happen in one
/// transaction that holds the key's row (one durable commit; parallel
/// attempts queue on the row). A key still sealed by argon2id alone (25 ms)
/// is tried between two transactions, outside any lock; it is sealed again
/// under the wrapping key when its PIN is right. `keep` receives the
/// unsealed PKCS#8 (to keep for a signing session) before it is wiped.
pub fn open_with_pin(
    db: &Db,
    wrap: &PinWrap,
    key: &ActiveKey,
    pin: &str,
    keep: impl FnOnce(&[u8]),
) -> Result<OpenKey, SignError> {
    if key.wrapped.is_none() {
        return Err(SignError::Conflict("your key is a client key: send signature_b64 instead".into()));
    }
    if key.sealed_with != super::keys::SEALED_WITH_ARGON2ID {
        return db.write_tx(|c| -> Result<Result<OpenKey, SignError>, SignError> {
            let reservation = match reserve_pin_attempt(c, &key.id)? {
                Ok(r) => r,
                Err(wait) => return Ok(Err(SignError::Locked(wait))),
            };
            Ok(match super::keys::unseal_then(wrap, key, pin, keep) {
                Ok(Some(open)) => {
                    pin_succeeded(c, &key.id)?;
                    Ok(open)
                }
                Ok(None) => {
                    pin_failed(c, &key.id, &reservation)?;
                    Err(SignError::Forbidden("wrong PIN".into()))
                }
                // An error of ours (a damaged key) is not the officer's
                // wrong PIN: the attempt is not counted.
                Err(e) => return Err(e),
            })
        })?;
    }
    let reserved = db.write_tx(|c| reserve_pin_attempt(c, &key.id).map_err(StoreError::from))?;
    let reservation = match reserved {
        Ok(r) => r,
        Err(wait) => return Err(SignError::Locked(wait)),
    };
    // Sealed again under the wrapping key, once opened.
    let mut resealed = None;
    let opened = super::keys::unseal_then(wrap, key, pin, |pkcs8| {
        resealed = super::keys::seal(wrap, pin, pkcs8).ok();
        keep(pkcs8)
    });
    // An error of ours (a damaged key) leaves the attempt unsettled: it is
    // released when its lease lapses.
    match opened? {
        Some(open) => {
            db.write_tx(|c| {
                if let Some(sealed) = &resealed {
                    super::keys::reseal(c, &key.id, sealed)?;
                }
                pin_succeeded(c, &key.id).map_err(StoreError::from)
            })?;
            Ok(open)
        }
        None => {
            db.write_tx(|c| pin_failed(c, &key.id, &reservation).map_err(StoreError::from))?;
            Err(SignError::Forbidden("wrong PIN".into()))
        }
    }
}

/// A key opened for signing, and how.
#[derive(Clone)]
pub struct Opened {
    /// The key's record.
    pub key: ActiveKey,
    /// The key itself, for the moment of signing.
    pub open: OpenKey,
    /// Opened by a PIN given with this request (not from a signing session):
    /// only such a key signs notes.
    pub by_pin: bool,
}

/// The key a mover signs a movement with: opened now with `pin`, or the one
/// still open in their login session (`from_session`, asked with the key's
/// id); `None` when neither is at hand.
pub fn mover_key(
    db: &Db,
    wrap: &PinWrap,
    user_id: &str,
    pin: Option<&str>,
    from_session: impl FnOnce(&str) -> Option<OpenKey>,
    keep: impl FnOnce(&ActiveKey, &[u8]),
) -> Result<Option<Opened>, SignError> {
    let key = {
        let mut c = db.reader()?;
        super::keys::active_key(&mut c, user_id).ok()
    };
    let key = match key {
        Some(k) if k.mode == "server" => k,
        _ if pin.is_some() => {
            return Err(SignError::Forbidden("you have no server-mode signing key to use a PIN with".into()));
        }
        _ => return Ok(None),
    };
    match pin {
        Some(pin) => {
            let open = open_with_pin(db, wrap, &key, pin, |pkcs8| keep(&key, pkcs8))?;
            Ok(Some(Opened { key, open, by_pin: true }))
        }
        None => Ok(from_session(&key.id).map(|open| Opened { key, open, by_pin: false })),
    }
}
