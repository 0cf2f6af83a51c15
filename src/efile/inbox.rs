//! The inbox (what the acting post holds), and what the user has sent.

use diesel::prelude::*;
use serde_json::{Value, json};

use super::{Actor, EfileError, post_ref};
use crate::domain::org::Clearance;
use crate::store::schema::{files, movements as mv, receipts};
use crate::store::{DbConn, now_micros, rfc3339};

/// Which items an inbox shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Files and receipts.
    All,
    /// Files only.
    Files,
    /// Receipts only.
    Receipts,
}

/// Classifications a clearance may see.
pub fn visible_classes(c: Clearance) -> Vec<&'static str> {
    Clearance::ALL.iter().filter(|k| **k <= c).map(|k| k.as_str()).collect()
}

struct Entry {
    urgency: i32,
    held_since: i64,
    json: Value,
}

type InboxRow = (String, String, String, String, String, i32, i64, Option<i64>, Option<String>, Option<i64>);

/// What the acting post holds and is open: most urgent first, then oldest.
/// `offset`/`limit` page through it.
pub fn inbox(
    conn: &mut DbConn,
    actor: &Actor,
    kind: Kind,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Value>, bool), EfileError> {
    let Some(post) = actor.post else { return Ok((Vec::new(), false)) };
    let classes = visible_classes(actor.viewer.clearance);
    let now = now_micros();
    let take = offset + limit + 1;
    let mut entries: Vec<Entry> = Vec::new();
    if kind != Kind::Receipts {
        let rows: Vec<InboxRow> = files::table
            .left_join(mv::table.on(files::last_movement_id.eq(mv::id.nullable())))
            .filter(files::holder_post_id.eq(post))
            .filter(files::status.eq("open"))
            .filter(files::classification.eq_any(&classes))
            .order((files::urgency.desc(), files::held_since.asc(), files::id.asc()))
            .limit(take)
            .select((
                files::id,
                files::file_no,
                files::subject,
                files::priority,
                files::classification,
                files::urgency,
                files::held_since,
                files::due_at,
                mv::from_post_id.nullable(),
                mv::opened_at.nullable(),
            ))
            .load(conn)?;
        for r in rows {
            entries.push(entry(conn, "file", r, now, true)?);
        }
    }
    if kind != Kind::Files {
        let rows: Vec<InboxRow> = receipts::table
            .left_join(mv::table.on(receipts::last_movement_id.eq(mv::id.nullable())))
            .filter(receipts::holder_post_id.eq(post))
            .filter(receipts::status.eq("open"))
            .filter(receipts::classification.eq_any(&classes))
            .order((receipts::urgency.desc(), receipts::held_since.asc(), receipts::id.asc()))
            .limit(take)
            .select((
                receipts::id,
                receipts::diary_no,
                receipts::subject,
                receipts::priority,
                receipts::classification,
                receipts::urgency,
                receipts::held_since,
                receipts::due_at,
                mv::from_post_id.nullable(),
                mv::opened_at.nullable(),
            ))
            .load(conn)?;
        for r in rows {
            entries.push(entry(conn, "receipt", r, now, false)?);
        }
    }
    entries.sort_by(|a, b| b.urgency.cmp(&a.urgency).then(a.held_since.cmp(&b.held_since)));
    let more = entries.len() as i64 > offset + limit;
    Ok((entries.into_iter().skip(offset as usize).take(limit as usize).map(|e| e.json).collect(), more))
}

fn entry(conn: &mut DbConn, kind: &str, r: InboxRow, now: i64, is_file: bool) -> Result<Entry, EfileError> {
    let (id, number, subject, priority, classification, urgency, held_since, due_at, from, opened) = r;
    let number_key = if is_file { "file_no" } else { "diary_no" };
    let from_post = post_ref(conn, from.as_deref())?;
    let mut json = json!({
        "kind": kind,
        "id": id,
        "subject": subject,
        "priority": priority,
        "classification": classification,
        "from_post": from_post,
        "received_at": rfc3339(held_since),
        "due_at": due_at.map(rfc3339),
        "overdue": due_at.is_some_and(|d| d < now),
        // A file created here, with no movement yet, is its creator's own.
        "opened": opened.is_some() || from.is_none(),
    });
    json[number_key] = Value::String(number);
    Ok(Entry { urgency, held_since, json })
}

/// What the user moved, newest first, with where each file is now.
pub fn sent(conn: &mut DbConn, actor: &Actor, offset: i64, limit: i64) -> Result<(Vec<Value>, bool), EfileError> {
    let classes = visible_classes(actor.viewer.clearance);
    let rows: Vec<(String, String, Option<String>, i64, Option<i64>, String, String, String, String)> = mv::table
        .inner_join(files::table.on(mv::file_id.eq(files::id.nullable())))
        .filter(mv::by_user_id.eq(actor.user()))
        .filter(files::classification.eq_any(&classes))
        .order((mv::sent_at.desc(), mv::id.desc()))
        .offset(offset)
        .limit(limit + 1)
        .select((
            files::id,
            mv::action,
            mv::to_post_id,
            mv::sent_at,
            mv::opened_at,
            files::file_no,
            files::subject,
            files::holder_post_id,
            files::status,
        ))
        .load(conn)?;
    let more = rows.len() as i64 > limit;
    let mut out = Vec::new();
    for (file_id, action, to, sent_at, opened, file_no, subject, holder, status) in
        rows.into_iter().take(limit as usize)
    {
        out.push(json!({
            "kind": "file",
            "id": file_id,
            "file_no": file_no,
            "subject": subject,
            "action": action,
            "to_post": post_ref(conn, to.as_deref())?,
            "sent_at": rfc3339(sent_at),
            "opened_at": opened.map(rfc3339),
            "now_with": post_ref(conn, Some(&holder))?,
            "status": status,
        }));
    }
    Ok((out, more))
}
