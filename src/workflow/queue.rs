//! The approval queue (SPEC section 3, "Inbox and queues"): what waits on a
//! decision of the caller's posts (every post they hold today, additional
//! charge included), and concurrences asked of those posts; most overdue
//! first, and only what the caller's one sight shows. Bulk approval applies
//! one PIN to many files, each on its own.

use std::collections::HashMap;

use diesel::prelude::*;
use serde::Serialize;

use crate::domain::access::{Sight, Stay, Subject};
use crate::efile::movements::{MoveInput, MovementView};
use crate::efile::{Actor, EfileError, PostRef, Refs};
use crate::signing::pin::Opened;
use crate::store::schema::{concurrences as cc, file_routes, files};
use crate::store::{Db, DbConn, now_micros, prepared, rfc3339, sight};

/// One entry of the queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueItem {
    /// `decision` (a step waits on your post) or `concurrence` (your entity's concurrence is asked).
    pub kind: &'static str,
    /// The file.
    pub file_id: String,
    /// Its number.
    pub file_no: String,
    /// Its subject.
    pub subject: String,
    /// Its classification.
    pub classification: String,
    /// Its priority.
    pub priority: String,
    /// The workflow.
    pub workflow: String,
    /// The step's id.
    pub step: String,
    /// The post it waits on.
    pub waits_on: Option<PostRef>,
    /// Where the file is now (a decision waits while the file was forwarded
    /// elsewhere; it is taken when the file is back on the deciding desk).
    pub now_with: Option<PostRef>,
    /// Since when (RFC 3339).
    pub since: String,
    /// When due.
    pub due_at: String,
    /// Hours waited so far.
    pub waiting_hours: f64,
    /// Hours the SLA allows.
    pub sla_hours: f64,
    /// Whether it is past its SLA.
    pub overdue: bool,
    /// For a concurrence: its id (to answer it).
    pub concurrence_id: Option<String>,
}

/// What the queue shows of a file, and what the sight needs.
#[derive(Queryable, Selectable)]
#[diesel(table_name = files)]
struct FileFacts {
    id: String,
    file_no: String,
    subject: String,
    classification: String,
    priority: String,
    holder_post_id: String,
    held_since: i64,
    section_id: String,
    entity_id: Option<String>,
    workflow_id: Option<String>,
}

struct Waiting {
    kind: &'static str,
    file_id: String,
    hash: String,
    step: i32,
    post: String,
    since: i64,
    due: i64,
    concurrence_id: Option<String>,
}

fn hours(micros: i64) -> f64 {
    (micros as f64 / 3.6e9 * 10.0).round() / 10.0
}

/// The caller's queue, most overdue first: `(items, more)`.
pub fn queue(conn: &mut DbConn, actor: &Actor, offset: i64, limit: i64) -> Result<(Vec<QueueItem>, bool), EfileError> {
    let now = now_micros();
    let mine: Vec<String> = actor.viewer.current_posts(now).into_iter().map(|h| h.post_id.clone()).collect();
    if mine.is_empty() {
        return Ok((Vec::new(), false));
    }
    let decisions: Vec<(String, String, Option<i32>, Option<String>, Option<i64>, Option<i64>)> = file_routes::table
        .filter(file_routes::state.eq("step"))
        .filter(prepared::one_of(file_routes::post_id, &mine))
        .select((
            file_routes::file_id,
            file_routes::hash,
            file_routes::step,
            file_routes::post_id,
            file_routes::step_since,
            file_routes::step_due_at,
        ))
        .load(conn)?;
    let mut waiting: Vec<Waiting> = decisions
        .into_iter()
        .filter_map(|(file_id, hash, step, post, since, due)| {
            Some(Waiting {
                kind: "decision",
                file_id,
                hash,
                step: step?,
                post: post?,
                since: since?,
                due: due?,
                concurrence_id: None,
            })
        })
        .collect();
    let asked: Vec<(String, String, i32, String, i64, i64, String)> = cc::table
        .inner_join(
            file_routes::table.on(file_routes::file_id.eq(cc::file_id).and(file_routes::entry.eq(cc::step_entry))),
        )
        .filter(file_routes::state.eq("step"))
        .filter(cc::status.eq("pending"))
        .filter(prepared::one_of(cc::post_id, &mine))
        .select((cc::id, cc::file_id, cc::step, cc::post_id, cc::asked_at, cc::due_at, file_routes::hash))
        .load(conn)?;
    waiting.extend(asked.into_iter().map(|(id, file_id, step, post, since, due, hash)| Waiting {
        kind: "concurrence",
        file_id,
        hash,
        step,
        post,
        since,
        due,
        concurrence_id: Some(id),
    }));
    // Only what the one sight shows. The
    // sight's predicate is asked first with the stays at hand (the current
    // desk, the consulted one): more stays can only show more, so a yes is
    // final, and only the rest go to the SQL form of the same sight.
    let sight = Sight::of(actor.viewer, now);
    let mut consulted: HashMap<&str, Vec<Stay>> = HashMap::new();
    for w in waiting.iter().filter(|w| w.kind == "concurrence") {
        consulted.entry(w.file_id.as_str()).or_default().push(Stay {
            post_id: w.post.clone(),
            from: w.since,
            until: None,
        });
    }
    let ids: Vec<&str> = waiting.iter().map(|w| w.file_id.as_str()).collect();
    let mut shown: HashMap<String, FileFacts> = HashMap::new();
    let mut unsure: Vec<String> = Vec::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<FileFacts> = files::table
            .filter(prepared::one_of(files::id, chunk))
            .filter(files::status.eq("open"))
            .select(FileFacts::as_select())
            .load(conn)?;
        for f in rows {
            let mut stays = vec![Stay { post_id: f.holder_post_id.clone(), from: f.held_since, until: None }];
            stays.extend(consulted.get(f.id.as_str()).into_iter().flatten().cloned());
            let subject = Subject {
                classification: crate::store::stored(&f.classification)?,
                owning_unit_id: f.section_id.clone(),
                owning_entity_id: f.entity_id.clone(),
                holder_post_id: Some(f.holder_post_id.clone()),
                stays,
            };
            if !sight.sees(&subject) {
                unsure.push(f.id.clone());
            }
            shown.insert(f.id.clone(), f);
        }
    }
    if !unsure.is_empty() {
        let seen = sight::visible_of(conn, &sight, &unsure, &[])?;
        for id in unsure.iter().filter(|id| !seen.contains(*id)) {
            shown.remove(id);
        }
    }
    waiting.retain(|w| shown.contains_key(&w.file_id));
    waiting.sort_by(|a, b| a.due.cmp(&b.due).then_with(|| a.file_id.cmp(&b.file_id)));
    let more = waiting.len() as i64 > offset + limit;
    let page: Vec<Waiting> = waiting.into_iter().skip(offset as usize).take(limit as usize).collect();
    let posts =
        page.iter().flat_map(|w| [Some(w.post.as_str()), shown.get(&w.file_id).map(|f| f.holder_post_id.as_str())]);
    let refs = Refs::load(conn, posts, std::iter::empty::<&str>())?;
    let mut items = Vec::with_capacity(page.len());
    for w in page {
        let Some(f) = shown.get(&w.file_id) else { continue };
        let (file_no, subject, classification, priority) =
            (f.file_no.clone(), f.subject.clone(), f.classification.clone(), f.priority.clone());
        let workflow = f.workflow_id.clone().unwrap_or_default();
        let now_with = refs.post_ref(Some(&f.holder_post_id));
        let wf = super::definition(conn, &w.hash)?;
        let step = wf.steps.get(w.step as usize).map(|s| s.get_ref().id.clone()).unwrap_or_default();
        items.push(QueueItem {
            kind: w.kind,
            file_id: w.file_id,
            file_no,
            subject,
            classification,
            priority,
            workflow,
            step,
            waits_on: refs.post_ref(Some(&w.post)),
            now_with,
            since: rfc3339(w.since),
            due_at: rfc3339(w.due),
            waiting_hours: hours(now - w.since),
            sla_hours: hours(w.due - w.since),
            overdue: w.due < now,
            concurrence_id: w.concurrence_id,
        });
    }
    Ok((items, more))
}

/// How many files one bulk approval may name.
pub const BULK_MAX: usize = 100;

/// Approves each file with the key opened once: each in its own
/// transaction, so one refusal undoes none of the others.
pub fn approve_many(
    db: &Db,
    actor: &Actor,
    file_ids: &[String],
    remarks: Option<&str>,
    note: Option<&str>,
    opened: &Opened,
) -> Vec<(String, Result<MovementView, EfileError>)> {
    file_ids
        .iter()
        .map(|id| {
            let input = MoveInput {
                action: "approve".into(),
                to_post_id: None,
                remarks: remarks.map(str::to_owned),
                due_at: None,
                priority: None,
            };
            let r = crate::efile::movements::move_signed(db, actor, id, input, note, || Ok(Some(opened.clone())));
            (id.clone(), r)
        })
        .collect()
}
