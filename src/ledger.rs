//! The event ledger: every change appends its event here, in the change's own
//! transaction. (Sealing the events into a hash chain with signed checkpoints
//! is the ledger issue's work; events already carry everything it needs.)

use diesel::prelude::*;
use serde_json::Value;

use crate::store::schema::ledger_events;
use crate::store::{DbConn, new_id, now_micros};

/// An event to append.
pub struct Event<'a> {
    /// e.g. `file_created`, `note_added`, `movement`, `receipt_diarised`, `document_attached`.
    pub kind: &'a str,
    /// Who did it.
    pub actor_user: Option<&'a str>,
    /// At which post.
    pub actor_post: Option<&'a str>,
    /// The file concerned.
    pub file_id: Option<&'a str>,
    /// The receipt concerned.
    pub receipt_id: Option<&'a str>,
    /// What happened, in full.
    pub payload: Value,
}

/// Appends an event; returns its id.
pub fn append(conn: &mut DbConn, e: Event<'_>) -> QueryResult<String> {
    let id = new_id();
    diesel::insert_into(ledger_events::table)
        .values((
            ledger_events::id.eq(&id),
            ledger_events::at.eq(now_micros()),
            ledger_events::kind.eq(e.kind),
            ledger_events::actor_user.eq(e.actor_user),
            ledger_events::actor_post.eq(e.actor_post),
            ledger_events::file_id.eq(e.file_id),
            ledger_events::receipt_id.eq(e.receipt_id),
            ledger_events::payload.eq(e.payload.to_string()),
        ))
        .execute(conn)?;
    Ok(id)
}
