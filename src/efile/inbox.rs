//! The inbox (what the acting post holds), and what the user has sent.

use diesel::prelude::*;
use serde_json::{Value, json};

use super::{Actor, EfileError, Refs};
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
    let mut found: Vec<(&str, InboxRow)> = Vec::new();
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
        found.extend(rows.into_iter().map(|r| ("file", r)));
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
        found.extend(rows.into_iter().map(|r| ("receipt", r)));
    }
    let refs = Refs::load(conn, found.iter().map(|(_, r)| r.8.as_deref()), None)?;
    let mut entries: Vec<Entry> = found.into_iter().map(|(kind, r)| entry(&refs, kind, r, now)).collect();
    entries.sort_by(|a, b| b.urgency.cmp(&a.urgency).then(a.held_since.cmp(&b.held_since)));
    let more = entries.len() as i64 > offset + limit;
    Ok((entries.into_iter().skip(offset as usize).take(limit as usize).map(|e| e.json).collect(), more))
}

fn entry(refs: &Refs, kind: &str, r: InboxRow, now: i64) -> Entry {
    let (id, number, subject, priority, classification, urgency, held_since, due_at, from, opened) = r;
    let number_key = if kind == "file" { "file_no" } else { "diary_no" };
    let from_post = refs.post(from.as_deref());
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
    Entry { urgency, held_since, json }
}

/// A movement in "sent": the movement, then what it moved as it is now.
type SentRow = (String, String, Option<String>, i64, Option<i64>, String, String, String, String);

/// What the user moved, files and receipts, newest first, with where each is
/// now. Items above the user's clearance (say, after it was lowered) are left out.
pub fn sent(conn: &mut DbConn, actor: &Actor, offset: i64, limit: i64) -> Result<(Vec<Value>, bool), EfileError> {
    let classes = visible_classes(actor.viewer.clearance);
    let take = offset + limit + 1;
    let files: Vec<SentRow> = mv::table
        .inner_join(files::table.on(mv::file_id.eq(files::id.nullable())))
        .filter(mv::by_user_id.eq(actor.user()))
        .filter(mv::receipt_id.is_null())
        .filter(files::classification.eq_any(&classes))
        .order((mv::sent_at.desc(), mv::id.desc()))
        .limit(take)
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
    let receipts: Vec<SentRow> = mv::table
        .inner_join(receipts::table.on(mv::receipt_id.eq(receipts::id.nullable())))
        .filter(mv::by_user_id.eq(actor.user()))
        .filter(receipts::classification.eq_any(&classes))
        .order((mv::sent_at.desc(), mv::id.desc()))
        .limit(take)
        .select((
            receipts::id,
            mv::action,
            mv::to_post_id,
            mv::sent_at,
            mv::opened_at,
            receipts::diary_no,
            receipts::subject,
            receipts::holder_post_id,
            receipts::status,
        ))
        .load(conn)?;
    let mut rows: Vec<(&str, SentRow)> =
        files.into_iter().map(|r| ("file", r)).chain(receipts.into_iter().map(|r| ("receipt", r))).collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1.3));
    let more = rows.len() as i64 > offset + limit;
    let page: Vec<(&str, SentRow)> = rows.into_iter().skip(offset as usize).take(limit as usize).collect();
    let refs = Refs::load(conn, page.iter().flat_map(|(_, r)| [r.2.as_deref(), Some(r.7.as_str())]), None)?;
    let out = page
        .into_iter()
        .map(|(kind, (id, action, to, sent_at, opened, number, subject, holder, status))| {
            let mut v = json!({
                "kind": kind,
                "id": id,
                "subject": subject,
                "action": action,
                "to_post": refs.post(to.as_deref()),
                "sent_at": rfc3339(sent_at),
                "opened_at": opened.map(rfc3339),
                "now_with": refs.post(Some(&holder)),
                "status": status,
            });
            v[if kind == "file" { "file_no" } else { "diary_no" }] = Value::String(number);
            v
        })
        .collect();
    Ok((out, more))
}
