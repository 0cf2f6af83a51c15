//! The security audit trail: one row per security event, written in the same
//! transaction as the change it records. Never holds a password or token.

use diesel::prelude::*;
use serde_json::Value;

use crate::store::schema::audit_events;
use crate::store::{DbConn, new_id, now_micros};

/// A security event to record.
#[derive(Debug, Default)]
pub struct Event<'a> {
    /// e.g. `login_succeeded`, `login_failed`, `logout`, `token_reuse_detected`,
    /// `password_changed`, `user_disabled`, `role_granted`, `assignment_added`.
    pub kind: &'a str,
    /// The user the event is about.
    pub user_id: Option<&'a str>,
    /// Who did it, when not the user themself.
    pub actor_id: Option<&'a str>,
    /// The username given (kept for failed logins of unknown users).
    pub username: Option<&'a str>,
    /// The client address.
    pub ip: Option<&'a str>,
    /// Anything else worth keeping (never secrets).
    pub details: Option<Value>,
}

/// Appends an event, to the audit trail and to the ledger.
pub fn record(conn: &mut DbConn, e: Event<'_>) -> QueryResult<()> {
    let details = e.details.clone().unwrap_or_else(|| serde_json::json!({}));
    crate::ledger::append(
        conn,
        crate::ledger::Event {
            kind: &format!("auth.{}", e.kind),
            actor_user: e.actor_id.or(e.user_id),
            actor_post: None,
            file_id: None,
            receipt_id: None,
            payload: serde_json::json!({"user_id": e.user_id, "username": e.username, "ip": e.ip, "details": details}),
        },
    )?;
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::id.eq(new_id()),
            audit_events::at.eq(now_micros()),
            audit_events::kind.eq(e.kind),
            audit_events::user_id.eq(e.user_id),
            audit_events::actor_id.eq(e.actor_id),
            audit_events::username.eq(e.username),
            audit_events::ip.eq(e.ip),
            audit_events::details.eq(e.details.unwrap_or_else(|| serde_json::json!({})).to_string()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Whether `user_id` has logged in from `ip` in the last 90 days.
pub fn is_known_address(conn: &mut DbConn, user_id: &str, ip: &str) -> QueryResult<bool> {
    let since = now_micros() - 90 * 86_400 * 1_000_000;
    diesel::select(diesel::dsl::exists(
        audit_events::table
            .filter(audit_events::user_id.eq(user_id))
            .filter(audit_events::kind.eq("login_succeeded"))
            .filter(audit_events::ip.eq(ip))
            .filter(audit_events::at.gt(since)),
    ))
    .get_result(conn)
}
