//! The note sheet: numbered paragraphs that run on across the whole file.
//! A draft is editable by its author while the file is in hand; a signed
//! note never changes again.

use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use super::{Actor, EfileError, FileRow, actionable_file, invalid};
use crate::ledger;
use crate::signing::Signature;
use crate::signing::keys::{ActiveKey, Proof};
use crate::store::prepared::Sql;
use crate::store::schema::{files, notes};
use crate::store::{Db, DbConn, new_id, now_micros, rfc3339};

/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 100_000;

/// Checks a note body; it is stored exactly as given (Urdu, RTL marks and all).
pub fn check_body(body: &str) -> Result<(), EfileError> {
    if body.trim().is_empty() {
        return Err(invalid("body", "must not be empty"));
    }
    if body.chars().count() > MAX_NOTE_CHARS {
        return Err(invalid("body", format!("must be at most {MAX_NOTE_CHARS} characters")));
    }
    if body.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(invalid("body", "contains control characters"));
    }
    Ok(())
}

/// A stored note as the sheet shows it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = notes)]
struct NoteRow {
    id: String,
    seq: i64,
    body: String,
    status: String,
    author_post_id: String,
    author_user_id: String,
    created_at: i64,
    updated_at: i64,
    signed_at: Option<i64>,
}

/// [`NoteRow`]'s columns in its order, for a `RETURNING` clause.
const NOTE_COLUMNS: &str = "id, seq, body, status, author_post_id, author_user_id, created_at, updated_at, signed_at";

/// [`NoteRow`]'s SQL types in its order.
type NoteRowType = (
    diesel::sql_types::Text,
    diesel::sql_types::BigInt,
    diesel::sql_types::Text,
    diesel::sql_types::Text,
    diesel::sql_types::Text,
    diesel::sql_types::Text,
    diesel::sql_types::BigInt,
    diesel::sql_types::BigInt,
    diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
);

/// A note as readers see it.
#[derive(Debug, Clone, Serialize)]
pub struct NoteView {
    /// Its id.
    pub id: String,
    /// Its paragraph number on the file.
    pub seq: i64,
    /// Its text, exactly as written.
    pub body: String,
    /// `draft` or `signed`.
    pub status: String,
    /// The post it was written at.
    pub author_post_id: String,
    /// Its author.
    pub author_user_id: String,
    /// When written (RFC 3339).
    pub created_at: String,
    /// When last edited.
    pub updated_at: String,
    /// When signed.
    pub signed_at: Option<String>,
    /// The author's signature, once signed.
    pub signature: Option<Signature>,
}

fn render_note(n: NoteRow, signature: Option<Signature>) -> NoteView {
    NoteView {
        id: n.id,
        seq: n.seq,
        body: n.body,
        status: n.status,
        author_post_id: n.author_post_id,
        author_user_id: n.author_user_id,
        created_at: rfc3339(n.created_at),
        updated_at: rfc3339(n.updated_at),
        signed_at: n.signed_at.map(rfc3339),
        signature,
    }
}

/// A note as the API shows it, with its signature.
pub fn note_view(conn: &mut DbConn, note_id: &str) -> QueryResult<NoteView> {
    let row: NoteRow = notes::table.find(note_id).select(NoteRow::as_select()).first(conn)?;
    let signature = crate::signing::notes::signature_of(conn, note_id)?;
    Ok(render_note(row, signature))
}

/// The note sheet of a file as `user_id` sees it: every signed note and their
/// own drafts (others' drafts are theirs alone), in order; two queries
/// however long the file.
pub fn sheet(conn: &mut DbConn, file_id: &str, user_id: &str) -> QueryResult<Vec<NoteView>> {
    let rows: Vec<NoteRow> = crate::on_backend!(conn, |c| notes::table
        .filter(notes::file_id.eq(file_id))
        .filter(notes::status.eq("signed").or(notes::author_user_id.eq(user_id)))
        .order(notes::seq)
        .select(NoteRow::as_select())
        .load(c))?;
    let mut signatures = crate::signing::notes::signatures_of_file(conn, file_id)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let signature = signatures.remove(&row.id);
            render_note(row, signature)
        })
        .collect())
}

/// Whether `post` has worked on the file since `since` (µs): written a note,
/// attached a document or put a receipt up in it.
pub fn worked_on_since(conn: &mut DbConn, file_id: &str, post: &str, since: i64) -> QueryResult<bool> {
    use crate::store::schema::{documents, movements};
    let noted = notes::table
        .filter(notes::file_id.eq(file_id))
        .filter(notes::author_post_id.eq(post))
        .filter(notes::created_at.ge(since));
    let attached = documents::table
        .filter(documents::file_id.eq(file_id))
        .filter(documents::added_by_post.eq(post))
        .filter(documents::created_at.ge(since));
    let moved = movements::table
        .filter(movements::file_id.eq(file_id))
        .filter(movements::by_post_id.eq(post))
        .filter(movements::sent_at.ge(since));
    diesel::select(diesel::dsl::exists(noted).or(diesel::dsl::exists(attached)).or(diesel::dsl::exists(moved)))
        .get_result(conn)
}

/// Adds a draft note to a file the actor holds.
pub fn add(conn: &mut DbConn, actor: &Actor, file_id: &str, body: &str) -> Result<NoteView, EfileError> {
    check_body(body)?;
    let (mut file, _) = actionable_file(conn, actor, file_id)?;
    insert_draft(conn, actor, &mut file, body)
}

/// Adds a draft note at the next paragraph number of `file`, which the
/// caller has checked the actor may write on (its holder, or a desk whose
/// concurrence is asked); `file` is kept as the database now has it.
pub(crate) fn insert_draft(
    conn: &mut DbConn,
    actor: &Actor,
    file: &mut FileRow,
    body: &str,
) -> Result<NoteView, EfileError> {
    let file_id = file.id.as_str();
    let post = actor.post()?.to_owned();
    let now = now_micros();
    // Take the paragraph number and bump the version together; a concurrent
    // change to the file makes this one stale rather than reuse a number.
    let taken = Sql::new()
        .push("UPDATE files SET next_note_seq = ")
        .int(file.next_note_seq + 1)
        .push(", version = ")
        .int(file.version + 1)
        .push(", updated_at = ")
        .int(now)
        .push(" WHERE id = ")
        .text(file_id)
        .push(" AND version = ")
        .int(file.version)
        .statement()
        .execute(conn)?;
    if taken != 1 {
        return Err(EfileError::Stale);
    }
    let seq = file.next_note_seq;
    (file.next_note_seq, file.version, file.updated_at) = (seq + 1, file.version + 1, now);
    let id = new_id();
    diesel::insert_into(notes::table)
        .values((
            notes::id.eq(&id),
            notes::file_id.eq(file_id),
            notes::seq.eq(seq),
            notes::body.eq(body),
            notes::status.eq("draft"),
            notes::author_post_id.eq(&post),
            notes::author_user_id.eq(actor.user()),
            notes::created_at.eq(now),
            notes::updated_at.eq(now),
        ))
        .execute(conn)?;
    ledger::append(
        conn,
        ledger::Event {
            kind: "note_added",
            actor_user: Some(actor.user()),
            actor_post: Some(&post),
            file_id: Some(file_id),
            receipt_id: None,
            payload: json!({"note_id": id, "seq": seq, "body_sha256": crate::domain::canonical::sha256_hex(body.as_bytes())}),
        },
    )?;
    let row = NoteRow {
        id,
        seq,
        body: body.to_owned(),
        status: "draft".into(),
        author_post_id: post,
        author_user_id: actor.user().to_owned(),
        created_at: now,
        updated_at: now,
        signed_at: None,
    };
    Ok(render_note(row, None))
}

/// Edits a draft: only its author, only while the file is in their hand.
pub fn edit(
    conn: &mut DbConn,
    actor: &Actor,
    file_id: &str,
    note_id: &str,
    body: &str,
) -> Result<NoteView, EfileError> {
    check_body(body)?;
    let (file, _) = actionable_file(conn, actor, file_id)?;
    let note: Option<(String, String)> = notes::table
        .filter(notes::id.eq(note_id))
        .filter(notes::file_id.eq(file_id))
        .select((notes::author_user_id, notes::status))
        .first(conn)
        .optional()?;
    let Some((author, status)) = note else { return Err(EfileError::NotFound) };
    if author != actor.user() {
        // Another officer's draft is invisible to the caller.
        return Err(if status == "draft" {
            EfileError::NotFound
        } else {
            EfileError::Forbidden("only the author edits a note".into())
        });
    }
    if status != "draft" {
        return Err(EfileError::Conflict("a signed note can never change".into()));
    }
    let now = now_micros();
    diesel::update(notes::table.find(note_id))
        .filter(notes::status.eq("draft"))
        .set((notes::body.eq(body), notes::updated_at.eq(now)))
        .execute(conn)?;
    diesel::update(files::table.find(file_id))
        .set((files::version.eq(file.version + 1), files::updated_at.eq(now)))
        .execute(conn)?;
    let post = actor.post()?.to_owned();
    ledger::append(
        conn,
        ledger::Event {
            kind: "note_edited",
            actor_user: Some(actor.user()),
            actor_post: Some(&post),
            file_id: Some(file_id),
            receipt_id: None,
            payload: json!({"note_id": note_id, "body_sha256": crate::domain::canonical::sha256_hex(body.as_bytes())}),
        },
    )?;
    Ok(note_view(conn, note_id)?)
}

/// Whether `user_id` has unsigned drafts on the file.
pub fn has_drafts(conn: &mut DbConn, file_id: &str, user_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        notes::table
            .filter(notes::file_id.eq(file_id))
            .filter(notes::author_user_id.eq(user_id))
            .filter(notes::status.eq("draft")),
    ))
    .get_result(conn)
}

/// Signs a draft (the signature itself is produced by the signing module and
/// passed in as the ledger payload); afterwards the note is immutable.
pub fn mark_signed(
    conn: &mut DbConn,
    actor: &Actor,
    file_id: &str,
    note_id: &str,
    signature: Signature,
) -> Result<NoteView, EfileError> {
    let now = now_micros();
    // Shown as reading the note shows it (the ledger keeps the digest too):
    // the row comes back from the update.
    let row: Option<NoteRow> = Sql::new()
        .push("UPDATE notes SET status = 'signed', signed_at = ")
        .int(now)
        .push(" WHERE id = ")
        .text(note_id)
        .push(" AND file_id = ")
        .text(file_id)
        .push(" AND author_user_id = ")
        .text(actor.user())
        .push(" AND status = 'draft' RETURNING ")
        .push(NOTE_COLUMNS)
        .rows::<NoteRowType>()
        .get_result(conn)
        .optional()?;
    let Some(row) = row else {
        return Err(EfileError::Conflict("only a draft of your own can be signed".into()));
    };
    let post = actor.post()?.to_owned();
    ledger::append(
        conn,
        ledger::Event {
            kind: "note_signed",
            actor_user: Some(actor.user()),
            actor_post: Some(&post),
            file_id: Some(file_id),
            receipt_id: None,
            payload: json!({"note_id": note_id, "signature": signature}),
        },
    )?;
    Ok(render_note(row, Some(signature.shown())))
}

/// Checks that a note on the file is a draft of `user_id`'s own.
pub fn own_draft(conn: &mut DbConn, file_id: &str, note_id: &str, user_id: &str) -> Result<(), EfileError> {
    let row: Option<(String, String)> = notes::table
        .filter(notes::id.eq(note_id))
        .filter(notes::file_id.eq(file_id))
        .select((notes::author_user_id, notes::status))
        .first(conn)
        .optional()?;
    match row {
        None => Err(EfileError::NotFound),
        Some((author, status)) if author != user_id => {
            if status == "draft" {
                Err(EfileError::NotFound)
            } else {
                Err(EfileError::Forbidden("only the author signs a note".into()))
            }
        }
        Some((_, status)) if status != "draft" => Err(EfileError::Conflict("the note is already signed".into())),
        Some(_) => Ok(()),
    }
}

/// Signs the actor's draft note (the use case of `POST .../sign`): checks
/// what can be checked first, then the PIN (counted, tried off any
/// transaction, settled: [`crate::signing::pin::open_with_pin`]), then signs
/// and marks the note signed in one transaction. `keep` receives the
/// unsealed key to keep for the login session's following moves.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    db: &Db,
    wrap: &crate::signing::keys::PinWrap,
    actor: &Actor,
    file_id: &str,
    note_id: &str,
    proof: Proof,
    keep: impl FnOnce(&ActiveKey, &[u8]),
) -> Result<NoteView, EfileError> {
    let key = {
        let mut c = db.reader()?;
        actionable_file(&mut c, actor, file_id)?;
        own_draft(&mut c, file_id, note_id, actor.user())?;
        crate::signing::keys::active_key(&mut c, actor.user())?
    };
    let (unsealed, client_signature) = match proof {
        Proof::Pin(pin) => (Some(crate::signing::pin::open_with_pin(db, wrap, &key, &pin, |k| keep(&key, k))?), None),
        Proof::Signature(sig) => (None, Some(sig)),
    };
    db.write_tx(|c| {
        actionable_file(c, actor, file_id)?;
        let signature =
            crate::signing::notes::sign_note(c, &key, unsealed.as_ref(), client_signature.as_deref(), note_id)?;
        mark_signed(c, actor, file_id, note_id, signature)
    })
}

/// The bytes a client-mode key signs for the actor's own draft note (what
/// [`sign`] will check the client's signature against).
pub fn signing_bytes(conn: &mut DbConn, actor: &Actor, file_id: &str, note_id: &str) -> Result<Vec<u8>, EfileError> {
    actionable_file(conn, actor, file_id)?;
    own_draft(conn, file_id, note_id, actor.user())?;
    Ok(crate::signing::forms::note_canonical(conn, note_id)?)
}
