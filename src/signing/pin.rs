//! The PIN throttle: each attempt is counted before the PIN is tried, so
//! parallel guesses cannot outrun the lock.

use diesel::prelude::*;

use crate::store::schema::signing_keys;
use crate::store::{DbConn, now_micros};

/// Wrong PINs allowed before the key locks.
pub const PIN_TRIES: i32 = 5;
/// How long a locked key stays locked.
pub const PIN_LOCK_SECS: i64 = 15 * 60;

/// Counts a PIN attempt before the PIN is tried, atomically, so parallel
/// guesses cannot outrun the lock: `Err(seconds)` when the key is locked or
/// [`PIN_TRIES`] attempts are already counted. A right PIN then calls
/// [`pin_succeeded`]; a wrong one [`pin_failed`].
pub fn reserve_pin_attempt(conn: &mut DbConn, key_id: &str) -> QueryResult<Result<(), i64>> {
    let now = now_micros();
    let counted = diesel::update(signing_keys::table.find(key_id))
        .filter(signing_keys::pin_locked_until.is_null().or(signing_keys::pin_locked_until.le(now)))
        .filter(signing_keys::pin_failures.lt(PIN_TRIES))
        .set((
            signing_keys::pin_failures.eq(signing_keys::pin_failures + 1),
            signing_keys::pin_locked_until.eq(None::<i64>),
        ))
        .execute(conn)?;
    if counted == 1 {
        return Ok(Ok(()));
    }
    // Attempts counted but never settled (a dropped request, say) lock the key
    // like failures would, and so heal after one lock period.
    pin_failed(conn, key_id)?;
    let until: Option<i64> = signing_keys::table.find(key_id).select(signing_keys::pin_locked_until).first(conn)?;
    Ok(Err(until.map_or(PIN_LOCK_SECS, |u| ((u - now) / 1_000_000).max(1))))
}

/// A wrong PIN was tried: once [`PIN_TRIES`] attempts are counted the key
/// locks for [`PIN_LOCK_SECS`] (the count is then back at zero, so a lock in
/// force is never renewed or lifted here).
pub fn pin_failed(conn: &mut DbConn, key_id: &str) -> QueryResult<()> {
    let until = now_micros() + PIN_LOCK_SECS * 1_000_000;
    diesel::update(signing_keys::table.find(key_id))
        .filter(signing_keys::pin_failures.ge(PIN_TRIES))
        .set((signing_keys::pin_failures.eq(0), signing_keys::pin_locked_until.eq(until)))
        .execute(conn)?;
    Ok(())
}

/// The right PIN was given: the count starts again.
pub fn pin_succeeded(conn: &mut DbConn, key_id: &str) -> QueryResult<()> {
    diesel::update(signing_keys::table.find(key_id)).set(signing_keys::pin_failures.eq(0)).execute(conn)?;
    Ok(())
}
