//! Revoking certificates: a revoked key signs nothing new, and every
//! signature is stored only while its key is unrevoked.

use diesel::prelude::*;
use serde_json::json;

use super::SignError;
use crate::store::schema::signing_keys;
use crate::store::{DbConn, now_micros};

/// The key's row while it is unrevoked: what a signature is stored from.
pub(crate) fn live_key(
    key_id: &str,
) -> diesel::dsl::Filter<diesel::dsl::Find<signing_keys::table, &str>, diesel::dsl::IsNull<signing_keys::revoked_at>> {
    signing_keys::table.find(key_id).filter(signing_keys::revoked_at.is_null())
}

pub(crate) fn revoked() -> SignError {
    SignError::Forbidden("your signing certificate has been revoked".into())
}

/// Revokes a certificate: it signs nothing from now on; what it signed before
/// stays valid as of its time. The holder's org_admin or a sysadmin may.
pub fn revoke(
    conn: &mut DbConn,
    actor: crate::org::admin::Actor,
    serial: &str,
) -> Result<(), crate::org::admin::AdminError> {
    use crate::org::admin::AdminError;
    let row: Option<(String, String, Option<i64>)> = signing_keys::table
        .filter(signing_keys::certificate_serial.eq(serial))
        .select((signing_keys::id, signing_keys::user_id, signing_keys::revoked_at))
        .first(conn)
        .optional()?;
    let Some((id, user_id, revoked)) = row else { return Err(AdminError::NotFound("certificate")) };
    crate::org::admin::require_over_user(conn, actor, &user_id)?;
    if revoked.is_some() {
        return Err(AdminError::Conflict("the certificate is already revoked".into()));
    }
    let by = match actor {
        crate::org::admin::Actor::User(p) => Some(p.viewer.user_id.clone()),
        crate::org::admin::Actor::Operator => None,
    };
    diesel::update(signing_keys::table.find(&id))
        .set((signing_keys::revoked_at.eq(now_micros()), signing_keys::revoked_by.eq(&by)))
        .execute(conn)?;
    crate::auth::audit::record(
        conn,
        crate::auth::audit::Event {
            kind: "certificate_revoked",
            user_id: Some(&user_id),
            actor_id: by.as_deref(),
            details: Some(json!({"certificate_serial": serial})),
            ..Default::default()
        },
    )?;
    Ok(())
}

/// When a certificate was revoked, if it was.
pub fn revoked_at(conn: &mut DbConn, serial: &str) -> QueryResult<Option<i64>> {
    signing_keys::table
        .filter(signing_keys::certificate_serial.eq(serial))
        .select(signing_keys::revoked_at)
        .first::<Option<i64>>(conn)
        .optional()
        .map(Option::flatten)
}
