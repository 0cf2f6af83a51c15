//! The canonical bytes that notes and movements are signed over (SPEC
//! section 5), rebuilt from the stored rows: signing uses them, and so does
//! the ledger's verification to find what changed.

use diesel::prelude::*;
use serde_json::json;

use super::SignError;
use crate::domain::canonical::{canonical_json, sha256_hex};
use crate::store::schema::{files, note_signatures, notes};
use crate::store::{DbConn, rfc3339};

/// The canonical bytes of a note (SPEC section 5).
pub fn note_canonical(conn: &mut DbConn, note_id: &str) -> Result<Vec<u8>, SignError> {
    type Row = (String, String, i64, String, String, String, i64, Option<i64>);
    let (file_id, file_no, seq, body, post, user, created, signed_at): Row = notes::table
        .inner_join(files::table)
        .left_join(note_signatures::table)
        .filter(notes::id.eq(note_id))
        .select((
            notes::file_id,
            files::file_no,
            notes::seq,
            notes::body,
            notes::author_post_id,
            notes::author_user_id,
            notes::created_at,
            note_signatures::signed_at.nullable(),
        ))
        .first(conn)?;
    // The previous note signed before this one chains it to the sheet; "before"
    // is judged by signing time, so the bytes are the same when recomputed.
    let previous: Option<String> = note_signatures::table
        .inner_join(notes::table)
        .filter(notes::file_id.eq(&file_id))
        .filter(notes::seq.lt(seq))
        .filter(note_signatures::signed_at.lt(signed_at.unwrap_or(i64::MAX)))
        .order(notes::seq.desc())
        .select(note_signatures::canonical)
        .first(conn)
        .optional()?;
    Ok(canonical_json(&json!({
        "type": "daftar.note.v1",
        "file_id": file_id,
        "file_no": file_no,
        "seq": seq,
        "author_post_id": post,
        "author_user_id": user,
        "body_sha256": sha256_hex(body.as_bytes()),
        "created_at": rfc3339(created),
        "previous_note_sha256": previous.map(|p| sha256_hex(p.as_bytes())),
    })))
}

/// Versions of a movement's signed form. v1 (until 2026-12) left out the
/// priority and the mover's post; v2 covers every column that carries
/// meaning. Old signatures are checked against the form they were made over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovementForm {
    /// `daftar.movement.v1`.
    V1,
    /// `daftar.movement.v2`: what is signed now.
    V2,
}

impl MovementForm {
    /// The form named by stored canonical bytes (v1 if unreadable: the older).
    pub fn of(canonical: &str) -> MovementForm {
        let v: serde_json::Value = serde_json::from_str(canonical).unwrap_or_default();
        if v["type"] == "daftar.movement.v2" { MovementForm::V2 } else { MovementForm::V1 }
    }
}

/// The canonical bytes of a movement in `form`: what its mover signed.
pub fn movement_canonical(conn: &mut DbConn, movement_id: &str, form: MovementForm) -> Result<Vec<u8>, SignError> {
    Ok(movement_facts(conn, movement_id, form)?.0)
}

/// A movement's canonical bytes, with what it moved and who moved it.
#[allow(clippy::type_complexity)]
pub(crate) fn movement_facts(
    conn: &mut DbConn,
    movement_id: &str,
    form: MovementForm,
) -> Result<(Vec<u8>, Option<String>, Option<String>, String), SignError> {
    use crate::store::schema::movements as mv;
    type Row = (
        Option<String>,
        Option<String>,
        i64,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
        i64,
        String,
        Option<String>,
        String,
    );
    let (file_id, receipt_id, seq, action, from, to, remarks, due, sent, by, priority, by_post): Row = mv::table
        .find(movement_id)
        .select((
            mv::file_id,
            mv::receipt_id,
            mv::seq,
            mv::action,
            mv::from_post_id,
            mv::to_post_id,
            mv::remarks,
            mv::due_at,
            mv::sent_at,
            mv::by_user_id,
            mv::priority,
            mv::by_post_id,
        ))
        .first(conn)?;
    let mut facts = json!({
        "type": "daftar.movement.v1", "movement_id": movement_id, "file_id": file_id, "receipt_id": receipt_id, "seq": seq,
        "action": action, "from_post_id": from, "to_post_id": to,
        "remarks_sha256": remarks.map(|r| sha256_hex(r.as_bytes())), "due_at": due.map(rfc3339), "sent_at": rfc3339(sent),
        "by_user_id": by,
    });
    if form == MovementForm::V2 {
        facts["type"] = json!("daftar.movement.v2");
        facts["priority"] = json!(priority);
        facts["by_post_id"] = json!(by_post);
    }
    Ok((canonical_json(&facts), file_id, receipt_id, by))
}
