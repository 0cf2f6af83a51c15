//! The inbox (what the acting post holds), and what the user has sent, as
//! typed views. Both lists are filtered by the caller's one sight
//! ([`crate::store::sight`]), so they can never list what `GET /files/{id}`
//! would refuse.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;

use super::{Actor, EfileError, PostRef, Refs};
use crate::domain::access::Sight;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};

use crate::store::schema::{files, movements as mv, receipts};
use crate::store::{DbConn, now_micros, prepared, rfc3339, sight};

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

/// A file or receipt as a line of a list names it.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    /// `file` or `receipt`.
    pub kind: &'static str,
    /// The file's or receipt's id.
    pub id: String,
    /// A file's number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_no: Option<String>,
    /// A receipt's diary number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diary_no: Option<String>,
    /// Its subject.
    pub subject: String,
}

impl Listed {
    fn new(kind: &'static str, id: String, number: String, subject: String) -> Listed {
        let is_file = kind == "file";
        Listed { kind, id, file_no: is_file.then(|| number.clone()), diary_no: (!is_file).then_some(number), subject }
    }
}

/// One line of the inbox.
#[derive(Debug, Clone, Serialize)]
pub struct InboxItem {
    /// What it is.
    #[serde(flatten)]
    pub item: Listed,
    /// Its priority.
    pub priority: String,
    /// Its classification.
    pub classification: String,
    /// Who sent it here (none for what was created here).
    pub from_post: Option<PostRef>,
    /// When it arrived (RFC 3339).
    pub received_at: String,
    /// When it is due, if set.
    pub due_at: Option<String>,
    /// Past its due date.
    pub overdue: bool,
    /// The holder has opened it (it can no longer be recalled).
    pub opened: bool,
    #[serde(skip)]
    urgency: i32,
    #[serde(skip)]
    held_since: i64,
}

/// A held file or receipt: `file` or `receipt`, its id, number, subject,
/// priority, classification, urgency, arrival and due date; then who sent
/// it and when it was opened (kept on its row), and the sender's post.
type HeldRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    i32,
    i64,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<PostRow>,
);

/// A post as [`PostRef`] shows it: id, code, designation, title, unit code.
type PostRow = (String, String, String, String, String);

/// [`HeldRow`]'s SQL types.
type HeldRowType = (
    Text,
    Text,
    Text,
    Text,
    Text,
    Text,
    Integer,
    BigInt,
    Nullable<BigInt>,
    Nullable<Text>,
    Nullable<BigInt>,
    Nullable<(Text, Text, Text, Text, Text)>,
);

/// The open items of `table` (`files` or `receipts`, numbered by `number`,
/// listed as `kind`) that `post` holds and the sight may see, most urgent
/// first, at most `take`, with its sender's post. No movement is read: the
/// row keeps who sent it and when it was opened. Written whole
/// ([`prepared`]): it runs on every inbox view.
fn held(
    kind: &'static str,
    table: &'static str,
    number: &'static str,
    post: &str,
    visible: prepared::Sql,
    take: i64,
) -> prepared::Sql {
    let mut q = prepared::Sql::new();
    q.push(format!(
        "SELECT '{kind}' AS kind, {table}.id, {table}.{number}, {table}.subject, {table}.priority, \
         {table}.classification, {table}.urgency, {table}.held_since, {table}.due_at, {table}.last_from_post, \
         {table}.last_opened_at, posts.id AS post_id, posts.code, posts.designation, posts.title, \
         org_units.code AS unit_code \
         FROM {table} LEFT JOIN posts ON posts.id = {table}.last_from_post \
         LEFT JOIN org_units ON org_units.id = posts.org_unit_id \
         WHERE {table}.holder_post_id = "
    ));
    q.text(post).push(format!(" AND {table}.status = 'open' AND "));
    q.append(visible);
    q.push(format!(" ORDER BY {table}.urgency DESC, {table}.held_since ASC, {table}.id ASC LIMIT "));
    q.int(take);
    q
}

/// What the acting post holds and is open: most urgent first, then oldest.
/// `offset`/`limit` page through it. One query (files and receipts each
/// take their first `offset + limit + 1` in a `UNION ALL`), with each
/// item's sender's post joined in.
pub fn inbox(
    conn: &mut DbConn,
    actor: &Actor,
    kind: Kind,
    offset: i64,
    limit: i64,
) -> Result<(Vec<InboxItem>, bool), EfileError> {
    let Some(post) = actor.post else { return Ok((Vec::new(), false)) };
    let now = now_micros();
    let sight = Sight::of(actor.viewer, now);
    let take = offset + limit + 1;
    let files = || held("file", "files", "file_no", post, sight::files(&sight), take);
    let receipts = || held("receipt", "receipts", "diary_no", post, sight::receipts(&sight), take);
    let mut query = match kind {
        Kind::Files => files(),
        Kind::Receipts => receipts(),
        Kind::All => {
            let mut q = prepared::Sql::new();
            q.push("SELECT * FROM (").append(files()).push(") AS f UNION ALL SELECT * FROM (");
            q.append(receipts()).push(") AS r");
            q
        }
    };
    let query = query.rows::<HeldRowType>();
    let found: Vec<HeldRow> = crate::on_backend!(conn, |c| query.load(c))?;
    let mut items: Vec<InboxItem> = found
        .into_iter()
        .map(|r| {
            let (
                kind,
                id,
                number,
                subject,
                priority,
                classification,
                urgency,
                held_since,
                due_at,
                from,
                opened,
                sender,
            ) = r;
            InboxItem {
                item: Listed::new(if kind == "file" { "file" } else { "receipt" }, id, number, subject),
                priority,
                classification,
                from_post: sender.map(|(id, code, designation, title, org_unit_code)| PostRef {
                    id,
                    code,
                    designation,
                    title,
                    org_unit_code,
                }),
                received_at: rfc3339(held_since),
                due_at: due_at.map(rfc3339),
                overdue: due_at.is_some_and(|d| d < now),
                // A file created here, with no movement yet, is its creator's own.
                opened: opened.is_some() || from.is_none(),
                urgency,
                held_since,
            }
        })
        .collect();
    items.sort_by(|a, b| b.urgency.cmp(&a.urgency).then(a.held_since.cmp(&b.held_since)));
    let more = items.len() as i64 > offset + limit;
    Ok((items.into_iter().skip(offset as usize).take(limit as usize).collect(), more))
}

/// One line of "sent": a movement by the user, and where its file or
/// receipt is now.
#[derive(Debug, Clone, Serialize)]
pub struct SentItem {
    /// What it is.
    #[serde(flatten)]
    pub item: Listed,
    /// What the user did.
    pub action: String,
    /// Where they sent it.
    pub to_post: Option<PostRef>,
    /// When (RFC 3339).
    pub sent_at: String,
    /// When the receiver opened it.
    pub opened_at: Option<String>,
    /// The post that holds it now.
    pub now_with: Option<PostRef>,
    /// Its status now.
    pub status: String,
}

type MoveRow = (Option<String>, Option<String>, String, Option<String>, i64, Option<i64>);
type NowRow = (String, String, String, String, String);

/// What the user moved, files and receipts, newest first, with where each is
/// now. Only what the caller may see now is listed (say, not a file whose
/// classification rose above their clearance).
pub fn sent(conn: &mut DbConn, actor: &Actor, offset: i64, limit: i64) -> Result<(Vec<SentItem>, bool), EfileError> {
    let sight = Sight::of(actor.viewer, now_micros());
    let mut shown: Vec<(MoveRow, &'static str, NowRow)> = Vec::new();
    let wanted = (offset + limit + 1) as usize;
    let mut skip = 0i64;
    let batch = (offset + limit + 1).max(50);
    // Newest first, in batches; movements of what the caller may no longer
    // see are passed over.
    loop {
        let moves: Vec<MoveRow> = mv::table
            .filter(mv::by_user_id.eq(actor.user()))
            .order((mv::sent_at.desc(), mv::id.desc()))
            .offset(skip)
            .limit(batch)
            .select((mv::file_id, mv::receipt_id, mv::action, mv::to_post_id, mv::sent_at, mv::opened_at))
            .load(conn)?;
        let exhausted = (moves.len() as i64) < batch;
        skip += moves.len() as i64;
        let file_ids: Vec<&str> = moves.iter().filter(|m| m.1.is_none()).filter_map(|m| m.0.as_deref()).collect();
        let receipt_ids: Vec<&str> = moves.iter().filter_map(|m| m.1.as_deref()).collect();
        let mut now_rows: HashMap<String, (&'static str, NowRow)> = HashMap::new();
        if !file_ids.is_empty() {
            let rows: Vec<NowRow> = files::table
                .filter(prepared::one_of(files::id, &file_ids))
                .filter(sight::files(&sight))
                .select((files::id, files::file_no, files::subject, files::holder_post_id, files::status))
                .load(conn)?;
            now_rows.extend(rows.into_iter().map(|r| (r.0.clone(), ("file", r))));
        }
        if !receipt_ids.is_empty() {
            let rows: Vec<NowRow> = receipts::table
                .filter(prepared::one_of(receipts::id, &receipt_ids))
                .filter(sight::receipts(&sight))
                .select((
                    receipts::id,
                    receipts::diary_no,
                    receipts::subject,
                    receipts::holder_post_id,
                    receipts::status,
                ))
                .load(conn)?;
            now_rows.extend(rows.into_iter().map(|r| (r.0.clone(), ("receipt", r))));
        }
        for m in moves {
            let key = m.1.clone().or_else(|| m.0.clone());
            if let Some((kind, row)) = key.and_then(|k| now_rows.get(&k)).cloned() {
                shown.push((m, kind, row));
            }
        }
        if exhausted || shown.len() >= wanted {
            break;
        }
    }
    let more = shown.len() > (offset + limit) as usize;
    let page: Vec<_> = shown.into_iter().skip(offset as usize).take(limit as usize).collect();
    let refs = Refs::load(conn, page.iter().flat_map(|(m, _, r)| [m.3.as_deref(), Some(r.3.as_str())]), None)?;
    let items = page
        .into_iter()
        .map(|(m, kind, (id, number, subject, holder, status))| SentItem {
            item: Listed::new(kind, id, number, subject),
            action: m.2,
            to_post: refs.post_ref(m.3.as_deref()),
            sent_at: rfc3339(m.4),
            opened_at: m.5.map(rfc3339),
            now_with: refs.post_ref(Some(&holder)),
            status,
        })
        .collect();
    Ok((items, more))
}
