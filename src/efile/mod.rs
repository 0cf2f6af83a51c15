//! The e-file: files, notes, movements, receipts and documents, as the
//! application sees them. Every operation runs in one transaction that also
//! appends its ledger event and enqueues its follow-up jobs; every read goes
//! through [`crate::domain::access`].

pub mod documents;
pub mod file;
pub mod inbox;
pub mod movements;
pub mod notes;
pub mod receipts;
pub mod route;

use diesel::prelude::*;

use crate::domain::access::{self, Stay, Subject, Viewer};
use crate::domain::org::Clearance;
use crate::store::prepared::Sql;
use crate::store::schema::receipts as receipt_rows;
use crate::store::schema::{files, movements as mv, posts, serials, stays};
use crate::store::{DbConn, StoreError, new_id, now_micros};

/// Why an e-file operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum EfileError {
    /// Missing, or not visible to the caller (the two are indistinguishable).
    #[error("not found")]
    NotFound,
    /// The caller does not hold it at the acting post.
    #[error("{0}")]
    NotHolder(String),
    /// The mover has unsigned drafts on the file.
    #[error("sign or delete your draft notes before moving the file")]
    UnsignedNotes,
    /// Someone else changed it first.
    #[error("the file changed while you were acting on it; reload and try again")]
    Stale,
    /// Not possible in the current state.
    #[error("{0}")]
    Conflict(String),
    /// A field is wrong.
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Signing failed (no key, wrong PIN, locked, revoked, bad signature).
    #[error(transparent)]
    Signing(#[from] crate::signing::SignError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for EfileError {
    fn from(e: diesel::result::Error) -> Self {
        EfileError::Store(StoreError::Query(e))
    }
}

/// Shorthand for a field error.
pub fn invalid(field: &'static str, msg: impl ToString) -> EfileError {
    EfileError::Invalid(field, msg.to_string())
}

/// Most characters in remarks.
pub const MAX_REMARKS: usize = 5000;

/// Trimmed remarks, if any: plain text of at most [`MAX_REMARKS`] characters
/// (counted as given), blank meaning none.
pub fn check_remarks(remarks: Option<&str>) -> Result<Option<String>, EfileError> {
    let Some(r) = remarks else { return Ok(None) };
    if r.chars().count() > MAX_REMARKS {
        return Err(invalid("remarks", format!("must be at most {MAX_REMARKS} characters")));
    }
    if r.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(invalid("remarks", "must be plain text (no control characters)"));
    }
    Ok(Some(r.trim().to_owned()).filter(|r| !r.is_empty()))
}

/// A classification field: default `unclassified`, never above the actor's clearance.
pub fn parse_classification(actor: &Actor, given: Option<&str>) -> Result<Clearance, EfileError> {
    let c: Clearance = match given {
        Some(c) => c.parse().map_err(|e| invalid("classification", e))?,
        None => Clearance::Unclassified,
    };
    if c > actor.viewer.clearance {
        return Err(EfileError::Forbidden("classification: is above your own clearance".into()));
    }
    Ok(c)
}

/// A priority field: default `routine`.
pub fn parse_priority(given: Option<&str>) -> Result<crate::domain::efile::Priority, EfileError> {
    given.map_or(Ok(crate::domain::efile::Priority::Routine), |p| p.parse().map_err(|e| invalid("priority", e)))
}

/// Who is acting: the user (with everything the policy needs) and the post.
pub struct Actor<'a> {
    /// The user.
    pub viewer: &'a Viewer,
    /// The acting post, if the user holds any.
    pub post: Option<&'a str>,
}

impl Actor<'_> {
    /// The acting post, required for anything that writes.
    pub fn post(&self) -> Result<&str, EfileError> {
        self.post.ok_or_else(|| EfileError::Forbidden("you hold no post today, so you cannot act on files".into()))
    }

    /// The user's id.
    pub fn user(&self) -> &str {
        &self.viewer.user_id
    }
}

/// A stored file.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = files)]
pub struct FileRow {
    pub id: String,
    pub file_no: String,
    pub head: String,
    pub serial: i64,
    pub year: i32,
    pub subject: String,
    pub classification: String,
    pub priority: String,
    pub urgency: i32,
    pub status: String,
    pub due_at: Option<i64>,
    pub section_id: String,
    pub entity_id: Option<String>,
    pub created_by_post: String,
    pub created_by_user: String,
    pub holder_post_id: String,
    pub last_movement_id: Option<String>,
    /// The post that sent it to its holder (`None` while with its creator).
    pub last_from_post: Option<String>,
    /// When its holder opened it, once they have.
    pub last_opened_at: Option<i64>,
    pub held_since: i64,
    pub referred_by_post: Option<String>,
    pub workflow_id: Option<String>,
    pub workflow_step: Option<i32>,
    pub next_note_seq: i64,
    pub next_move_seq: i64,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl FileRow {
    /// The classification as a value; an unknown stored word is an error.
    pub fn clearance(&self) -> QueryResult<Clearance> {
        crate::store::stored(&self.classification)
    }
}

/// Records that something was created at `post` (its first stay).
pub(crate) fn first_stay(conn: &mut DbConn, object_id: &str, kind: &str, post: &str, at: i64) -> QueryResult<()> {
    diesel::insert_into(stays::table)
        .values((
            stays::id.eq(new_id()),
            stays::object_id.eq(object_id),
            stays::kind.eq(kind),
            stays::post_id.eq(post),
            stays::from_at.eq(at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Records that something moved to `post` at `at`: its stay at the last
/// desk ends, and one at the new desk begins.
pub(crate) fn next_stay(conn: &mut DbConn, object_id: &str, kind: &str, post: &str, at: i64) -> QueryResult<()> {
    let ending: Vec<(String, i64)> = Sql::new()
        .push("UPDATE stays SET until_at = ")
        .int(at)
        .push(" WHERE object_id = ")
        .text(object_id)
        .push(" AND kind = ")
        .text(kind)
        .push(" AND until_at IS NULL RETURNING post_id, from_at")
        .rows::<(diesel::sql_types::Text, diesel::sql_types::BigInt)>()
        .load(conn)?;
    // A file's stay is counted for the analytics as it ends.
    if kind == "file" {
        for (at_post, from) in ending {
            count_dwell(conn, &at_post, from, at)?;
        }
    }
    first_stay(conn, object_id, kind, post, at)
}

/// Counts a file's stay at `post` from `from` to `until` (µs) for the
/// bottleneck analytics (`dwell_counts`, migration 19).
pub(crate) fn count_dwell(conn: &mut DbConn, post: &str, from: i64, until: i64) -> QueryResult<()> {
    let seconds = crate::domain::analytics::dwell_bucket(crate::domain::analytics::stay_seconds(from, until));
    Sql::new()
        .push("INSERT INTO dwell_counts (post_id, hour, seconds, n) VALUES (")
        .text(post)
        .push(", ")
        .int(until.div_euclid(3_600_000_000))
        .push(", ")
        .int(seconds)
        .push(", 1) ON CONFLICT (post_id, hour, seconds) DO UPDATE SET n = dwell_counts.n + 1")
        .statement()
        .execute(conn)?;
    Ok(())
}

/// Every stay of a file or receipt: its desks in turn, and the desks
/// consulted on it (written with each movement, see [`next_stay`]).
fn stays_of(conn: &mut DbConn, object_id: &str) -> QueryResult<Vec<Stay>> {
    let rows: Vec<(String, i64, Option<i64>)> = stays::table
        .filter(stays::object_id.eq(object_id))
        .select((stays::post_id, stays::from_at, stays::until_at))
        .load(conn)?;
    Ok(rows.into_iter().map(|(post_id, from, until)| Stay { post_id, from, until }).collect())
}

/// Applies the access policy to `subject`, whose `stays` holds only the
/// current holder's stay. The full history of desks is loaded only when the
/// cheaper facts do not already grant sight: `may_see` can only grow with more
/// stays, so the shortcut never shows what the full check would hide, and the
/// common cases (the holder, the owning section) cost no scan of a long file.
pub(crate) fn check_sight(
    conn: &mut DbConn,
    viewer: &Viewer,
    mut subject: Subject,
    history: impl FnOnce(&mut DbConn) -> QueryResult<Vec<Stay>>,
) -> Result<Subject, EfileError> {
    let now = now_micros();
    if access::may_see(viewer, &subject, now) {
        return Ok(subject);
    }
    if viewer.clearance < subject.classification {
        return Err(EfileError::NotFound);
    }
    subject.stays = history(conn)?;
    if access::may_see(viewer, &subject, now) { Ok(subject) } else { Err(EfileError::NotFound) }
}

/// What the access policy needs to know about a file, before its history.
fn subject_of(file: &FileRow) -> QueryResult<Subject> {
    Ok(Subject {
        classification: file.clearance()?,
        owning_unit_id: file.section_id.clone(),
        owning_entity_id: file.entity_id.clone(),
        holder_post_id: Some(file.holder_post_id.clone()),
        stays: vec![Stay { post_id: file.holder_post_id.clone(), from: file.held_since, until: None }],
    })
}

/// Loads a file the viewer may see; anything else is `NotFound`.
pub fn visible_file(conn: &mut DbConn, viewer: &Viewer, file_id: &str) -> Result<(FileRow, Subject), EfileError> {
    // On the concrete connection: its statement cache finds the query by
    // type, where `MultiConnection` writes its SQL text again (a file row
    // has 26 columns) on every call (see `store::on_backend`).
    let file = crate::on_backend!(conn, |c| files::table.find(file_id).select(FileRow::as_select()).first(c))
        .optional()?
        .ok_or(EfileError::NotFound)?;
    let subject = check_sight(conn, viewer, subject_of(&file)?, |c| stays_of(c, &file.id))?;
    Ok((file, subject))
}

/// A stored receipt.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = receipt_rows)]
pub struct ReceiptRow {
    pub id: String,
    pub diary_no: String,
    pub entity_id: String,
    pub subject: String,
    pub sender: String,
    pub letter_no: Option<String>,
    pub letter_date: Option<String>,
    pub mode: String,
    pub form: String,
    pub classification: String,
    pub priority: String,
    pub urgency: i32,
    pub due_at: Option<i64>,
    pub status: String,
    pub created_by_post: String,
    pub created_by_user: String,
    pub holder_post_id: String,
    pub last_movement_id: Option<String>,
    /// The post that sent it to its holder (`None` while with its creator).
    pub last_from_post: Option<String>,
    /// When its holder opened it, once they have.
    pub last_opened_at: Option<i64>,
    pub held_since: i64,
    pub file_id: Option<String>,
    pub next_move_seq: i64,
    pub version: i64,
    pub created_at: i64,
}

impl ReceiptRow {
    /// The classification as a value; an unknown stored word is an error.
    pub fn clearance(&self) -> QueryResult<Clearance> {
        crate::store::stored(&self.classification)
    }
}

/// What the access policy needs to know about a receipt, before its history:
/// it belongs to its registry's section.
fn receipt_subject(conn: &mut DbConn, r: &ReceiptRow) -> QueryResult<Subject> {
    let registry_unit: String = posts::table.find(&r.created_by_post).select(posts::org_unit_id).first(conn)?;
    Ok(Subject {
        classification: r.clearance()?,
        owning_unit_id: registry_unit,
        owning_entity_id: Some(r.entity_id.clone()),
        holder_post_id: Some(r.holder_post_id.clone()),
        stays: vec![Stay { post_id: r.holder_post_id.clone(), from: r.held_since, until: None }],
    })
}

/// Loads a receipt the viewer may see, with what the policy knew of it;
/// anything else is `NotFound`.
pub(crate) fn visible_receipt_subject(
    conn: &mut DbConn,
    viewer: &Viewer,
    id: &str,
) -> Result<(ReceiptRow, Subject), EfileError> {
    let r = receipt_rows::table
        .find(id)
        .select(ReceiptRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(EfileError::NotFound)?;
    let base = receipt_subject(conn, &r)?;
    let subject = check_sight(conn, viewer, base, |c| stays_of(c, &r.id))?;
    Ok((r, subject))
}

/// Loads a receipt the viewer may see; anything else is `NotFound`.
pub fn visible_receipt(conn: &mut DbConn, viewer: &Viewer, id: &str) -> Result<ReceiptRow, EfileError> {
    Ok(visible_receipt_subject(conn, viewer, id)?.0)
}

/// A file or receipt at its holder's desk that the holder has not opened
/// yet: found by a read, marked opened by [`mark_opened`] in a write.
#[derive(Debug, Clone)]
pub struct Unopened {
    /// A receipt (`true`) or a file.
    receipt: bool,
    /// The file's or receipt's id.
    id: String,
    /// The movement that brought it.
    movement_id: String,
}

impl Unopened {
    /// What `actor` has not yet opened of something held at `holder`, which
    /// `last_movement_id` brought there and was opened at `opened_at`: only
    /// the holder opens it, and what was created at the desk is its own.
    fn of(
        actor: &Actor,
        receipt: bool,
        id: &str,
        holder: &str,
        last_movement_id: Option<&str>,
        opened_at: Option<i64>,
    ) -> Option<Unopened> {
        let movement_id = last_movement_id.filter(|_| opened_at.is_none() && actor.post == Some(holder))?;
        Some(Unopened { receipt, id: id.to_owned(), movement_id: movement_id.to_owned() })
    }
}

impl FileRow {
    /// What the actor has not yet opened of this file (see [`Unopened`]).
    pub fn unopened_by(&self, actor: &Actor) -> Option<Unopened> {
        let last = self.last_movement_id.as_deref();
        Unopened::of(actor, false, &self.id, &self.holder_post_id, last, self.last_opened_at)
    }
}

impl ReceiptRow {
    /// What the actor has not yet opened of this receipt (see [`Unopened`]).
    pub fn unopened_by(&self, actor: &Actor) -> Option<Unopened> {
        let last = self.last_movement_id.as_deref();
        Unopened::of(actor, true, &self.id, &self.holder_post_id, last, self.last_opened_at)
    }
}

/// Marks the movement that brought something to its holder as opened (the
/// holder looked at it or worked on it): from then on it cannot be recalled.
/// The movement keeps the record; the file's or receipt's row keeps the
/// copy that the inbox shows and a move checks, unless it has moved on
/// since it was read.
pub(crate) fn mark_opened(conn: &mut DbConn, unopened: &Unopened) -> QueryResult<()> {
    let now = now_micros();
    let m = unopened.movement_id.as_str();
    diesel::update(mv::table.find(m)).filter(mv::opened_at.is_null()).set(mv::opened_at.eq(now)).execute(conn)?;
    let mut copy = Sql::new();
    copy.push(if unopened.receipt { "UPDATE receipts" } else { "UPDATE files" });
    copy.push(" SET last_opened_at = ").int(now).push(" WHERE id = ").text(&unopened.id);
    copy.push(" AND last_movement_id = ").text(m).push(" AND last_opened_at IS NULL");
    copy.statement().execute(conn)?;
    Ok(())
}

/// Applies `may_act` to a subject already known visible.
pub(crate) fn check_act(actor: &Actor, subject: &Subject, what: &str) -> Result<(), EfileError> {
    match access::may_act(actor.viewer, actor.post()?, subject, now_micros()) {
        Ok(()) => Ok(()),
        Err(access::Denied::NotFound) => Err(EfileError::NotFound),
        Err(access::Denied::NotHolder) => {
            Err(EfileError::NotHolder(format!("you do not hold this {what} at your acting post")))
        }
    }
}

/// Loads a file the actor may write to (holder at the acting post).
pub fn actionable_file(conn: &mut DbConn, actor: &Actor, file_id: &str) -> Result<(FileRow, Subject), EfileError> {
    let (file, subject) = visible_file(conn, actor.viewer, file_id)?;
    check_act(actor, &subject, "file")?;
    Ok((file, subject))
}

/// Takes the next gap-free serial of `scope` for `year`, inside the caller's
/// transaction: the counter row stays locked until commit, so concurrent
/// callers queue and a rollback gives the number back.
pub fn next_serial(conn: &mut DbConn, scope: &str, year: i32) -> QueryResult<i64> {
    let row = (serials::scope.eq(scope), serials::year.eq(year), serials::last.eq(0i64));
    crate::on_backend!(conn, |c| diesel::insert_into(serials::table).values(row).on_conflict_do_nothing().execute(c))?;
    diesel::update(serials::table.find((scope, year))).set(serials::last.eq(serials::last + 1)).execute(conn)?;
    serials::table.find((scope, year)).select(serials::last).first(conn)
}

/// A post as shown inside other objects.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PostRef {
    /// Its id.
    pub id: String,
    /// Its short code.
    pub code: String,
    /// Its designation (`section_officer`, …).
    pub designation: String,
    /// Its title.
    pub title: String,
    /// The code of its org unit.
    pub org_unit_code: String,
}

/// A user as shown inside other objects.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UserRef {
    /// Their id.
    pub id: String,
    /// Their name, if the user exists.
    pub name: Option<String>,
}

/// The posts and users that a page of rows refers to, loaded in one query
/// whatever the page's length, as [`PostRef`] and [`UserRef`].
#[derive(Default)]
pub struct Refs {
    posts: std::collections::HashMap<String, PostRef>,
    users: std::collections::HashMap<String, String>,
}

/// A row of [`Refs::load`]: `p` (a post: id, code, designation, title, its
/// unit's code) or `u` (a user: id, name).
type RefRow = (String, String, String, Option<String>, Option<String>, Option<String>);

impl Refs {
    /// Loads the named posts and users (absent ones show as `null` / no
    /// name): one `UNION ALL` of the two, so one round trip on PostgreSQL
    /// (every move answers with its posts and mover), written whole so that
    /// it stays prepared.
    pub fn load<'a>(
        conn: &mut DbConn,
        post_ids: impl IntoIterator<Item = Option<&'a str>>,
        user_ids: impl IntoIterator<Item = &'a str>,
    ) -> QueryResult<Refs> {
        let mut refs = Refs::default();
        let mut post_ids: Vec<&str> = post_ids.into_iter().flatten().collect();
        post_ids.sort_unstable();
        post_ids.dedup();
        let mut user_ids: Vec<&str> = user_ids.into_iter().collect();
        user_ids.sort_unstable();
        user_ids.dedup();
        if post_ids.is_empty() && user_ids.is_empty() {
            return Ok(refs);
        }
        let mut query = Sql::new();
        if !post_ids.is_empty() {
            query
                .push(
                    "SELECT 'p', posts.id, posts.code, posts.designation, posts.title, org_units.code \
                     FROM posts INNER JOIN org_units ON org_units.id = posts.org_unit_id WHERE posts.id IN (",
                )
                .texts(&post_ids)
                .push(")");
        }
        if !user_ids.is_empty() {
            if !post_ids.is_empty() {
                query.push(" UNION ALL ");
            }
            query
                .push(
                    "SELECT 'u', users.id, users.name, CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT) \
                     FROM users WHERE users.id IN (",
                )
                .texts(&user_ids)
                .push(")");
        }
        use diesel::sql_types::{Nullable, Text};
        type Row = (Text, Text, Text, Nullable<Text>, Nullable<Text>, Nullable<Text>);
        let query = query.rows::<Row>();
        let rows: Vec<RefRow> = crate::on_backend!(conn, |c| query.load(c))?;
        for row in rows {
            match row {
                (kind, id, name, _, _, _) if kind == "u" => {
                    refs.users.insert(id, name);
                }
                (_, id, code, designation, title, org_unit_code) => {
                    let post = PostRef {
                        id: id.clone(),
                        code,
                        designation: designation.unwrap_or_default(),
                        title: title.unwrap_or_default(),
                        org_unit_code: org_unit_code.unwrap_or_default(),
                    };
                    refs.posts.insert(id, post);
                }
            }
        }
        Ok(refs)
    }

    /// A post, typed.
    pub fn post_ref(&self, id: Option<&str>) -> Option<PostRef> {
        id.and_then(|i| self.posts.get(i)).cloned()
    }

    /// A user, typed.
    pub fn user_ref(&self, id: &str) -> UserRef {
        UserRef { id: id.to_owned(), name: self.users.get(id).cloned() }
    }
}
