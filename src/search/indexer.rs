//! Keeping the index in step with the database by following the ledger.
//! Every change appends a ledger event naming the file or receipt it
//! touched, in its own transaction; the indexer reads events as they
//! appear (sealed ones by position, and ones not sealed yet), rebuilds the
//! items of each object they name from the database, and commits with the
//! last sealed position as the commit's payload. Nothing waits on a
//! transaction: what the indexer reads is committed, and whatever commits
//! later appears as a later event.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use tantivy::schema::TantivyDocument;
use tantivy::{IndexWriter, Term};

use super::{Fields, Search, SearchError};
use crate::store::schema::{document_texts, documents, files, ledger_events, notes, posts, receipts, stays};
use crate::store::{Db, DbConn, StoreError};

impl From<StoreError> for SearchError {
    fn from(e: StoreError) -> Self {
        SearchError(e.to_string())
    }
}

impl From<diesel::result::Error> for SearchError {
    fn from(e: diesel::result::Error) -> Self {
        SearchError(e.to_string())
    }
}

/// An object whose items are (re)built together.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Object {
    /// A file: its own item, its notes and its documents.
    File(String),
    /// A receipt: its item and its documents not put up in a file.
    Receipt(String),
}

/// Who may see an object's items, as index terms.
fn principals(conn: &mut DbConn, id: &str, unit: &str, entity: Option<&str>) -> QueryResult<Vec<String>> {
    let mut posts: Vec<String> = stays::table.filter(stays::object_id.eq(id)).select(stays::post_id).load(conn)?;
    posts.sort();
    posts.dedup();
    let mut who: Vec<String> = posts.into_iter().map(|p| format!("post:{p}")).collect();
    who.push(format!("unit:{unit}"));
    if let Some(e) = entity {
        who.push(format!("entity:{e}"));
    }
    Ok(who)
}

/// What every item of one object shares.
pub(crate) struct Common<'a> {
    pub(crate) obj: &'a str,
    pub(crate) file_id: Option<&'a str>,
    pub(crate) receipt_id: Option<&'a str>,
    pub(crate) number: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) entity: Option<&'a str>,
    pub(crate) section: &'a str,
    pub(crate) status: &'a str,
    pub(crate) class: &'a str,
    pub(crate) who: &'a [String],
}

pub(crate) fn item(
    f: &Fields,
    c: &Common<'_>,
    key: String,
    kind: &str,
    body: &str,
    vis: &str,
    at: i64,
) -> TantivyDocument {
    let mut d = TantivyDocument::default();
    d.add_text(f.key, key);
    d.add_text(f.obj, c.obj);
    d.add_text(f.kind, kind);
    if let Some(id) = c.file_id {
        d.add_text(f.file_id, id);
    }
    if let Some(id) = c.receipt_id {
        d.add_text(f.receipt_id, id);
    }
    d.add_text(f.number, c.number);
    d.add_text(f.subject, c.subject);
    d.add_text(f.body, body);
    if let Some(e) = c.entity {
        d.add_text(f.entity, e);
    }
    d.add_text(f.section, c.section);
    d.add_text(f.status, c.status);
    d.add_text(f.class, c.class);
    for w in c.who {
        d.add_text(f.who, w);
    }
    d.add_text(f.vis, vis);
    d.add_u64(f.year, crate::clock::year_at(at).max(0) as u64);
    d.add_i64(f.date, at);
    d
}

/// The items of one object as the database has them now (none if it is gone).
pub fn items_of(conn: &mut DbConn, f: &Fields, obj: &Object) -> Result<Vec<TantivyDocument>, SearchError> {
    let mut out = Vec::new();
    match obj {
        Object::File(id) => {
            type Row = (String, String, String, String, String, Option<String>, i64);
            let row: Option<Row> = files::table
                .find(id)
                .select((
                    files::file_no,
                    files::subject,
                    files::classification,
                    files::status,
                    files::section_id,
                    files::entity_id,
                    files::created_at,
                ))
                .first(conn)
                .optional()?;
            let Some((number, subject, class, status, section, entity, created)) = row else { return Ok(out) };
            let who = principals(conn, id, &section, entity.as_deref())?;
            let c = Common {
                obj: id,
                file_id: Some(id),
                receipt_id: None,
                number: &number,
                subject: &subject,
                entity: entity.as_deref(),
                section: &section,
                status: &status,
                class: &class,
                who: &who,
            };
            out.push(item(f, &c, format!("f:{id}"), "file", "", "public", created));
            let ns: Vec<(String, String, String, String, i64)> = notes::table
                .filter(notes::file_id.eq(id))
                .select((notes::id, notes::body, notes::status, notes::author_user_id, notes::created_at))
                .load(conn)?;
            for (nid, body, st, author, at) in ns {
                let vis = if st == "signed" { "public".to_owned() } else { format!("u:{author}") };
                out.push(item(f, &c, format!("n:{nid}"), "note", &body, &vis, at));
            }
            for (did, body, at) in documents_of(conn, Box::new(documents::file_id.eq(id.clone())))? {
                out.push(item(f, &c, format!("d:{did}"), "document", &body, "public", at));
            }
        }
        Object::Receipt(id) => {
            type Row = (String, String, String, Option<String>, String, String, String, String, i64);
            let row: Option<Row> = receipts::table
                .find(id)
                .select((
                    receipts::diary_no,
                    receipts::subject,
                    receipts::sender,
                    receipts::letter_no,
                    receipts::classification,
                    receipts::status,
                    receipts::entity_id,
                    receipts::created_by_post,
                    receipts::created_at,
                ))
                .first(conn)
                .optional()?;
            let Some((number, subject, sender, letter_no, class, status, entity, by_post, created)) = row else {
                return Ok(out);
            };
            let unit: String = posts::table.find(&by_post).select(posts::org_unit_id).first(conn)?;
            let who = principals(conn, id, &unit, Some(&entity))?;
            let c = Common {
                obj: id,
                file_id: None,
                receipt_id: Some(id),
                number: &number,
                subject: &subject,
                entity: Some(&entity),
                section: &unit,
                status: &status,
                class: &class,
                who: &who,
            };
            let body = format!("{sender} {}", letter_no.unwrap_or_default());
            out.push(item(f, &c, format!("r:{id}"), "receipt", &body, "public", created));
            let of_receipt = documents::receipt_id.eq(id.clone()).and(documents::file_id.is_null());
            for (did, body, at) in documents_of(conn, Box::new(of_receipt))? {
                out.push(item(f, &c, format!("d:{did}"), "document", &body, "public", at));
            }
        }
    }
    Ok(out)
}

type DocumentFilter = Box<
    dyn diesel::expression::BoxableExpression<
            documents::table,
            <DbConn as diesel::Connection>::Backend,
            SqlType = diesel::sql_types::Nullable<diesel::sql_types::Bool>,
        >,
>;

/// Documents matching `which`: id, searchable text (title, file name, and
/// the text taken out of it, if any), when attached.
fn documents_of(conn: &mut DbConn, which: DocumentFilter) -> QueryResult<Vec<(String, String, i64)>> {
    let rows: Vec<(String, String, Option<String>, i64)> = documents::table
        .filter(which)
        .select((documents::id, documents::title, documents::filename, documents::created_at))
        .load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let texts: std::collections::HashMap<String, String> = document_texts::table
        .filter(document_texts::document_id.eq_any(&ids))
        .select((document_texts::document_id, document_texts::text))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    Ok(rows
        .into_iter()
        .map(|(id, title, name, at)| {
            let text = texts.get(&id).map(String::as_str).unwrap_or("");
            let body = format!("{title} {}\n{text}", name.unwrap_or_default());
            (id, body, at)
        })
        .collect())
}

/// Replaces an object's items in the index with what the database has.
fn rebuild(conn: &mut DbConn, s: &Search, w: &mut IndexWriter, obj: &Object) -> Result<(), SearchError> {
    let id = match obj {
        Object::File(id) | Object::Receipt(id) => id,
    };
    w.delete_term(Term::from_field_text(s.fields.obj, id));
    for d in items_of(conn, &s.fields, obj)? {
        w.add_document(d)?;
    }
    Ok(())
}

fn commit(s: &Search, w: &mut IndexWriter, applied: i64) -> Result<(), SearchError> {
    let mut prepared = w.prepare_commit()?;
    prepared.set_payload(&applied.to_string());
    prepared.commit()?;
    s.reader.reload()?;
    Ok(())
}

/// The highest sealed ledger position.
pub fn head(conn: &mut DbConn) -> QueryResult<i64> {
    Ok(ledger_events::table.select(diesel::dsl::max(ledger_events::position)).first::<Option<i64>>(conn)?.unwrap_or(0))
}

/// Builds the whole index from the database (a new index, or `daftar search
/// reindex`): every file and receipt, then the ledger position it is good to.
pub fn build_all(db: &Db, s: &Search) -> Result<usize, SearchError> {
    let mut conn = db.reader()?;
    let start = head(&mut conn)?;
    let file_ids: Vec<String> = files::table.select(files::id).order(files::id).load(&mut *conn)?;
    let receipt_ids: Vec<String> = receipts::table.select(receipts::id).order(receipts::id).load(&mut *conn)?;
    let objects: Vec<Object> =
        file_ids.into_iter().map(Object::File).chain(receipt_ids.into_iter().map(Object::Receipt)).collect();
    let n = objects.len();
    s.with_writer(|w| -> Result<(), SearchError> {
        w.delete_all_documents()?;
        for obj in &objects {
            rebuild(&mut conn, s, w, obj)?;
        }
        // Events after `start` are applied again by the tail: rebuilding is idempotent.
        commit(s, w, start)
    })
    .ok_or_else(|| SearchError("another process owns the index".into()))??;
    Ok(n)
}

/// What the tail has seen of events not sealed yet.
#[derive(Default)]
pub struct Tail {
    seen: HashSet<String>,
}

impl Tail {
    /// Applies what the ledger has that the index has not: `Ok(true)` if
    /// there was anything.
    pub fn step(&mut self, db: &Db, s: &Search) -> Result<bool, SearchError> {
        let Some(applied) = s.applied() else {
            build_all(db, s)?;
            return Ok(true);
        };
        let mut conn = db.reader()?;
        let sealed: Vec<(String, Option<i64>, Option<String>, Option<String>)> = ledger_events::table
            .filter(ledger_events::position.gt(applied))
            .order(ledger_events::position)
            .limit(SEALED_PER_STEP)
            .select((ledger_events::id, ledger_events::position, ledger_events::file_id, ledger_events::receipt_id))
            .load(&mut *conn)?;
        let unsealed: Vec<(String, Option<String>, Option<String>)> = ledger_events::table
            .filter(ledger_events::position.is_null())
            .limit(5000)
            .select((ledger_events::id, ledger_events::file_id, ledger_events::receipt_id))
            .load(&mut *conn)?;
        let fresh: Vec<_> = unsealed.into_iter().filter(|(id, _, _)| !self.seen.contains(id)).collect();
        if sealed.is_empty() && fresh.is_empty() {
            if self.seen.len() > 100_000 {
                self.seen.clear();
            }
            return Ok(false);
        }
        let mut dirty: BTreeSet<Object> = BTreeSet::new();
        let mut mark = |file: &Option<String>, receipt: &Option<String>| {
            if let Some(f) = file {
                dirty.insert(Object::File(f.clone()));
            }
            if let Some(r) = receipt {
                dirty.insert(Object::Receipt(r.clone()));
            }
        };
        // A sealed event already applied while it was unsealed needs nothing more.
        for (id, _, f, r) in &sealed {
            if !self.seen.remove(id) {
                mark(f, r);
            }
        }
        for (_, f, r) in &fresh {
            mark(f, r);
        }
        let new_applied = sealed.last().and_then(|e| e.1).unwrap_or(applied);
        s.with_writer(|w| -> Result<(), SearchError> {
            for obj in &dirty {
                rebuild(&mut conn, s, w, obj)?;
            }
            commit(s, w, new_applied)
        })
        .ok_or_else(|| SearchError("another process owns the index".into()))??;
        self.seen.extend(fresh.into_iter().map(|(id, _, _)| id));
        Ok(true)
    }
}

/// Sealed events applied per step (at most one step per
/// [`MIN_COMMIT_GAP`]). A step marks the files and receipts they name and
/// rebuilds each once, so a large batch costs little more than a small one
/// when events come many per file; 2,000 capped catching up at 10,000
/// events a second, 21 minutes after a scale-1 seed (17 million events).
const SEALED_PER_STEP: i64 = 20_000;

/// The shortest time between two commits of the index.
const MIN_COMMIT_GAP: Duration = Duration::from_millis(200);

/// Runs the tail on a thread until `stop`: the writer if this process can
/// take it, otherwise a reader that takes over if the writer goes.
pub fn spawn(db: Db, s: Arc<Search>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    crate::jobs::named("daftar-indexer", move || {
        let mut tail = Tail::default();
        let mut last_commit =
            std::time::Instant::now().checked_sub(MIN_COMMIT_GAP).unwrap_or_else(std::time::Instant::now);
        while !stop.load(Ordering::Relaxed) {
            if !s.writes() && !s.take_writer() {
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
            // Under a stream of changes, commits are batched: at most one
            // per MIN_COMMIT_GAP, each taking everything that came meanwhile.
            if let Some(wait) = MIN_COMMIT_GAP.checked_sub(last_commit.elapsed()) {
                std::thread::sleep(wait);
            }
            match tail.step(&db, &s) {
                Ok(true) => last_commit = std::time::Instant::now(),
                Ok(false) => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => {
                    tracing::warn!(error = %e, "search indexing failed; retrying");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        }
    })
}
