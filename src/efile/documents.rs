//! The correspondence portion: documents attached to files and receipts.
//! The bytes live in the blob store; rows here describe them.

use diesel::prelude::*;
use serde_json::json;

use super::{Actor, EfileError, actionable_file, invalid, visible_file};
use crate::domain::efile::DocumentKind;
use crate::domain::org::parse_text;
use crate::jobs;
use crate::ledger;
use crate::store::schema::{documents, files};
use crate::store::{DbConn, new_id, now_micros, rfc3339};

/// A stored original, described.
pub struct Stored {
    /// SHA-256, hex.
    pub sha256: String,
    /// Bytes.
    pub size: i64,
    /// Media type, judged by content.
    pub mime: &'static str,
    /// The name the uploader gave it (informational only).
    pub filename: Option<String>,
}

/// Cleans an uploaded file name for `Content-Disposition`: no paths, no quotes.
pub fn clean_filename(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|c| !c.is_control() && !matches!(c, '"' | ';')).take(120).collect();
    (!cleaned.trim().is_empty()).then(|| cleaned.trim().to_owned())
}

/// Checks a document's title and kind.
pub fn check_meta(title: &str, kind: &str) -> Result<(String, DocumentKind), EfileError> {
    let title = parse_text(title, 300).map_err(|e| invalid("title", e))?;
    let kind: DocumentKind = kind.parse().map_err(|e| invalid("kind", e))?;
    Ok((title, kind))
}

/// Inserts a document row.
pub fn insert(
    conn: &mut DbConn,
    actor: &Actor,
    file_id: Option<&str>,
    receipt_id: Option<&str>,
    title: &str,
    kind: DocumentKind,
    blob: &Stored,
) -> Result<String, EfileError> {
    let id = new_id();
    let post = actor.post()?.to_owned();
    diesel::insert_into(documents::table)
        .values((
            documents::id.eq(&id),
            documents::file_id.eq(file_id),
            documents::receipt_id.eq(receipt_id),
            documents::title.eq(title),
            documents::kind.eq(kind.as_str()),
            documents::sha256.eq(&blob.sha256),
            documents::size.eq(blob.size),
            documents::mime.eq(blob.mime),
            documents::filename.eq(&blob.filename),
            documents::added_by_user.eq(actor.user()),
            documents::added_by_post.eq(&post),
            documents::created_at.eq(now_micros()),
        ))
        .execute(conn)?;
    // Its text is taken out for search by a job (slow, and bounded there).
    jobs::enqueue(conn, &jobs::Job::extract_text(&id))?;
    ledger::append(
        conn,
        ledger::Event {
            kind: "document_attached",
            actor_user: Some(actor.user()),
            actor_post: Some(&post),
            file_id,
            receipt_id,
            payload: json!({"document_id": id, "title": title, "kind": kind.as_str(), "sha256": blob.sha256, "size": blob.size,
                            "mime": blob.mime}),
        },
    )?;
    Ok(id)
}

/// Attaches a stored original to a file the actor holds.
/// A document as files, receipts and uploads show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DocumentView {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its kind.
    pub kind: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Its size in bytes.
    pub size: i64,
    /// Its media type.
    pub mime: String,
    /// When it was attached (in a file's correspondence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub added_at: Option<String>,
}

/// A document's row as lists show it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = documents)]
struct ListedRow {
    id: String,
    title: String,
    kind: String,
    sha256: String,
    size: i64,
    mime: String,
    created_at: i64,
}

impl ListedRow {
    fn view(self, with_time: bool) -> DocumentView {
        DocumentView {
            id: self.id,
            title: self.title,
            kind: self.kind,
            sha256: self.sha256,
            size: self.size,
            mime: self.mime,
            added_at: with_time.then(|| rfc3339(self.created_at)),
        }
    }
}

/// A file's correspondence, oldest first, with when each was attached.
pub fn of_file(conn: &mut DbConn, file_id: &str) -> QueryResult<Vec<DocumentView>> {
    let rows: Vec<ListedRow> = crate::on_backend!(conn, |c| documents::table
        .filter(documents::file_id.eq(file_id))
        .order(documents::created_at)
        .select(ListedRow::as_select())
        .load(c))?;
    Ok(rows.into_iter().map(|r| r.view(true)).collect())
}

/// A receipt's own scans (not the copies made when it was put up in a file).
pub fn scans_of_receipt(conn: &mut DbConn, receipt_id: &str) -> QueryResult<Vec<DocumentView>> {
    let rows: Vec<ListedRow> = documents::table
        .filter(documents::receipt_id.eq(receipt_id))
        .filter(documents::file_id.is_null())
        .select(ListedRow::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(|r| r.view(false)).collect())
}

/// Attaches a stored document to a file the actor holds.
pub fn attach_to_file(
    conn: &mut DbConn,
    actor: &Actor,
    file_id: &str,
    title: &str,
    kind: DocumentKind,
    blob: &Stored,
) -> Result<DocumentView, EfileError> {
    let (file, _) = actionable_file(conn, actor, file_id)?;
    let id = insert(conn, actor, Some(file_id), None, title, kind, blob)?;
    diesel::update(files::table.find(file_id))
        .set((files::version.eq(file.version + 1), files::updated_at.eq(now_micros())))
        .execute(conn)?;
    Ok(DocumentView {
        id,
        title: title.to_owned(),
        kind: kind.as_str().to_owned(),
        sha256: blob.sha256.clone(),
        size: blob.size,
        mime: blob.mime.to_owned(),
        added_at: None,
    })
}

/// A document the viewer may see (through its file or receipt): (sha256, mime, filename, title).
pub fn visible(
    conn: &mut DbConn,
    actor: &Actor,
    document_id: &str,
) -> Result<(String, String, Option<String>, String), EfileError> {
    let row: Option<(Option<String>, Option<String>, String, String, Option<String>, String)> = documents::table
        .find(document_id)
        .select((
            documents::file_id,
            documents::receipt_id,
            documents::sha256,
            documents::mime,
            documents::filename,
            documents::title,
        ))
        .first(conn)
        .optional()?;
    let Some((file_id, receipt_id, sha, mime, filename, title)) = row else { return Err(EfileError::NotFound) };
    let seen = match (file_id, receipt_id) {
        (Some(f), _) => visible_file(conn, actor.viewer, &f).is_ok(),
        (None, Some(r)) => super::visible_receipt(conn, actor.viewer, &r).is_ok(),
        (None, None) => false,
    };
    if seen { Ok((sha, mime, filename, title)) } else { Err(EfileError::NotFound) }
}
