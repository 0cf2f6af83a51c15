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

/// The canonical bytes of a movement: what its mover signs.
pub fn movement_canonical(conn: &mut DbConn, movement_id: &str) -> Result<Vec<u8>, SignError> {
    Ok(movement_facts(conn, movement_id)?.0)
}

/// A movement's canonical bytes, with what it moved and who moved it.
#[allow(clippy::type_complexity)]
pub(crate) fn movement_facts(
    conn: &mut DbConn,
    movement_id: &str,
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
    );
    let (file_id, receipt_id, seq, action, from, to, remarks, due, sent, by): Row = mv::table
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
        ))
        .first(conn)?;
    let canonical = canonical_json(&json!({
        "type": "daftar.movement.v1", "movement_id": movement_id, "file_id": file_id, "receipt_id": receipt_id, "seq": seq,
        "action": action, "from_post_id": from, "to_post_id": to,
        "remarks_sha256": remarks.map(|r| sha256_hex(r.as_bytes())), "due_at": due.map(rfc3339), "sent_at": rfc3339(sent),
        "by_user_id": by,
    }));
    Ok((canonical, file_id, receipt_id, by))
}
