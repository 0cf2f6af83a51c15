//! A file's place on its approval chain (SPEC section 7): where an approval
//! or a return by the step's decider sends it, the step clock it arrives
//! with, and the concurrences another entity gives before a step can be
//! approved. The decisions themselves are the pure routing engine's
//! ([`crate::domain::route`]); this module loads its facts and writes its
//! answers inside the movement's transaction.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use super::{Actor, EfileError, FileRow, PostRef, Refs, invalid, visible_file};
use crate::domain::efile::{Action, Priority};
use crate::domain::route::{self, FileFacts, Route, RouteError};
use crate::domain::workflow::{Sla, Workflow};
use crate::ledger;
use crate::signing::pin::Opened;
use crate::store::schema::{concurrences as cc, file_routes, stays};
use crate::store::{Db, DbConn, new_id, now_micros, rfc3339};

/// Where a file on a workflow stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// With its originator: not yet submitted, or returned to them.
    Originator,
    /// A step's decision is awaited.
    Step(usize),
    /// Every step is decided.
    Done,
}

impl Position {
    /// The stored word.
    pub fn state(self) -> &'static str {
        match self {
            Position::Originator => "originator",
            Position::Step(_) => "step",
            Position::Done => "done",
        }
    }

    /// Where a file on a workflow stands.
    pub fn of(route: &RouteRow) -> Position {
        match (route.state.as_str(), route.step) {
            ("step", Some(i)) if i >= 0 => Position::Step(i as usize),
            ("done", _) => Position::Done,
            _ => Position::Originator,
        }
    }
}

/// A file's place on its workflow, as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = file_routes)]
pub struct RouteRow {
    pub file_id: String,
    pub workflow_id: String,
    pub hash: String,
    pub fields: String,
    pub state: String,
    pub step: Option<i32>,
    pub post_id: Option<String>,
    pub step_since: Option<i64>,
    pub step_due_at: Option<i64>,
    pub entry: i64,
}

/// The file's place on its workflow, if it is on one.
pub fn route_of(conn: &mut DbConn, file_id: &str) -> QueryResult<Option<RouteRow>> {
    file_routes::table.find(file_id).select(RouteRow::as_select()).first(conn).optional()
}

/// Puts a new file on a workflow: with its originator, to be submitted by
/// an approval.
pub fn start(conn: &mut DbConn, file_id: &str, workflow_id: &str, hash: &str, fields: &str) -> QueryResult<()> {
    diesel::insert_into(file_routes::table)
        .values((
            file_routes::file_id.eq(file_id),
            file_routes::workflow_id.eq(workflow_id),
            file_routes::hash.eq(hash),
            file_routes::fields.eq(fields),
            file_routes::state.eq(Position::Originator.state()),
            file_routes::entry.eq(0i64),
        ))
        .execute(conn)
        .map(|_| ())
}

/// What a workflow decision does to a file.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The post it goes to.
    pub to_post: String,
    /// Where it stands on arrival.
    pub arrives: Position,
    /// The definition it follows.
    pub workflow: std::sync::Arc<Workflow>,
    /// The part of the org chart it was routed over (it also holds the heads
    /// of every entity the workflow may ask to concur).
    pub chart: route::Chart,
}

/// The facts the engine routes a file by.
pub fn facts(file: &FileRow, route: &RouteRow) -> Result<FileFacts, EfileError> {
    let fields: BTreeMap<String, f64> = serde_json::from_str(&route.fields)
        .map_err(|e| EfileError::Store(diesel::result::Error::DeserializationError(Box::new(e)).into()))?;
    Ok(FileFacts {
        originator: file.created_by_post.clone(),
        holder: file.holder_post_id.clone(),
        classification: file.clearance()?,
        priority: crate::store::stored::<Priority>(&file.priority)?,
        fields,
    })
}

fn route_error(e: RouteError) -> EfileError {
    match e {
        RouteError::NoDecider(step) => {
            EfileError::Conflict(format!("no post in the org chart decides the step `{step}`; ask your administrator"))
        }
        RouteError::NoClearedHolder(step) => EfileError::Conflict(format!(
            "nobody cleared for this file holds the post that decides `{step}`, or any post above it"
        )),
    }
}

/// Resolves a workflow decision: an approval, or a return by the post the
/// current step waits on. `None`: not a workflow decision (a free move).
pub fn decide(
    conn: &mut DbConn,
    file: &FileRow,
    route: Option<&RouteRow>,
    action: Action,
    mover: &str,
) -> Result<Option<Decision>, EfileError> {
    let Some(route) = route else { return Ok(None) };
    let position = Position::of(route);
    let at_step = match position {
        Position::Step(i) => Some(i).filter(|_| route.post_id.as_deref() == Some(mover)),
        _ => None,
    };
    let decision = match action {
        Action::Approve => true,
        Action::Return if at_step.is_some() => false,
        _ => return Ok(None),
    };
    let wf = crate::workflow::definition(conn, &route.hash)?;
    let facts = facts(file, route)?;
    let chart = crate::workflow::chart_for(conn, &wf, &[&file.created_by_post, &file.holder_post_id])?;
    let routed = match (decision, position, at_step) {
        (true, Position::Done, _) => {
            return Err(EfileError::Conflict(
                "every step of the workflow is decided; issue orders or close the file".into(),
            ));
        }
        (true, Position::Originator, _) => route::start(&wf, &chart, &facts),
        (true, Position::Step(_), None) => {
            let waits = route.post_id.as_deref().unwrap_or("");
            let refs = Refs::load(conn, [Some(waits)], std::iter::empty::<&str>())?;
            let who = refs.post_ref(Some(waits)).map_or_else(|| waits.to_owned(), |p| p.code);
            return Err(EfileError::Conflict(format!("this step awaits the decision of {who}")));
        }
        (true, Position::Step(_), Some(i)) => {
            check_concurred(conn, route)?;
            route::approve(&wf, i, &chart, &facts)
        }
        (false, _, Some(i)) => route::give_back(&wf, i, &chart, &facts),
        (false, _, None) => return Ok(None),
    }
    .map_err(route_error)?;
    let (to_post, arrives) = match routed {
        Route::Step { step, post } => (post, Position::Step(step)),
        Route::Done { post } if decision && at_step.is_some() => (post, Position::Done),
        Route::Done { post } => (post, Position::Originator),
    };
    Ok(Some(Decision { to_post, arrives, workflow: wf, chart }))
}

/// Refuses an approval while a concurrence of the current step is awaited or was refused.
fn check_concurred(conn: &mut DbConn, route: &RouteRow) -> Result<(), EfileError> {
    let open: Vec<(String, String, i64)> = cc::table
        .filter(cc::file_id.eq(&route.file_id))
        .filter(cc::step_entry.eq(route.entry))
        .filter(cc::status.ne("concurred"))
        .select((cc::entity_code, cc::status, cc::due_at))
        .load(conn)?;
    match open.first() {
        None => Ok(()),
        Some((entity, status, _)) if status == "declined" => Err(EfileError::Conflict(format!(
            "{entity} did not concur; return the file, or revise the case and ask again"
        ))),
        Some((entity, _, due)) => Err(EfileError::Conflict(format!(
            "this step cannot be approved before {entity} concurs (due {})",
            rfc3339(*due)
        ))),
    }
}

/// The step clock of a decision: since `now`, due when the step's SLA runs out.
pub(crate) fn step_due(wf: &Workflow, step: usize, now: i64) -> i64 {
    let sla = Sla::parse(wf.steps[step].get_ref().sla.get_ref()).unwrap_or(Sla::WorkingDays(1));
    crate::clock::calendar().due(sla, now)
}

/// Records where a decision leaves the file: its position, the post the
/// next step waits on and that step's clock; asks the concurrences the step
/// needs; one ledger event says all of it.
pub fn arrive(
    conn: &mut DbConn,
    actor: &Actor,
    file: &FileRow,
    route: &RouteRow,
    d: &Decision,
    now: i64,
) -> Result<(), EfileError> {
    let (step, post, due) = match d.arrives {
        Position::Step(i) => (Some(i as i32), Some(d.to_post.clone()), Some(step_due(&d.workflow, i, now))),
        _ => (None, None, None),
    };
    let arrived = RouteRow {
        state: d.arrives.state().to_owned(),
        step,
        post_id: post.clone(),
        step_since: step.map(|_| now),
        step_due_at: due,
        entry: route.entry + 1,
        ..route.clone()
    };
    set_route(conn, &arrived)?;
    let mut asked = Vec::new();
    if let Position::Step(i) = d.arrives {
        let moved = FileRow { holder_post_id: d.to_post.clone(), ..file.clone() };
        asked = ask_concurrences(conn, &moved, &arrived, &d.workflow, &d.chart, i, now)?;
    }
    let from_step = match Position::of(route) {
        Position::Step(i) => Some(d.workflow.steps[i].get_ref().id.clone()),
        _ => None,
    };
    let to_step = match d.arrives {
        Position::Step(i) => Some(d.workflow.steps[i].get_ref().id.clone()),
        _ => None,
    };
    let actor_post = actor.post()?.to_owned();
    ledger::append(
        conn,
        ledger::Event {
            kind: "workflow_step",
            actor_user: Some(actor.user()),
            actor_post: Some(&actor_post),
            file_id: Some(&file.id),
            receipt_id: None,
            payload: json!({"workflow": route.workflow_id, "hash": route.hash, "from_step": from_step,
                            "to_step": to_step, "state": d.arrives.state(), "post_id": post, "due_at": due,
                            "entry": arrived.entry, "concurrences": asked}),
        },
    )?;
    Ok(())
}

/// Writes where a file stands on its workflow.
pub(crate) fn set_route(conn: &mut DbConn, r: &RouteRow) -> QueryResult<()> {
    diesel::update(file_routes::table.find(&r.file_id))
        .set((
            file_routes::state.eq(&r.state),
            file_routes::step.eq(r.step),
            file_routes::post_id.eq(&r.post_id),
            file_routes::step_since.eq(r.step_since),
            file_routes::step_due_at.eq(r.step_due_at),
            file_routes::entry.eq(r.entry),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Asks the concurrences step `step` needs for this file, each of the head
/// of its entity (passed over upward if vacant or not cleared), in parallel.
fn ask_concurrences(
    conn: &mut DbConn,
    file: &FileRow,
    route: &RouteRow,
    wf: &Workflow,
    chart: &route::Chart,
    step: usize,
    now: i64,
) -> Result<Vec<serde_json::Value>, EfileError> {
    let facts = facts(file, route)?;
    let needed: Vec<_> = wf.steps[step]
        .get_ref()
        .concurrence
        .iter()
        .map(|c| c.get_ref())
        .filter(|c| c.when.as_ref().is_none_or(|w| route::holds(w, &facts)))
        .collect();
    if needed.is_empty() {
        return Ok(Vec::new());
    }
    let mut asked = Vec::new();
    for c in needed {
        let post = route::head_of(chart, &c.entity, &facts).map_err(route_error)?;
        let sla = Sla::parse(&c.sla).unwrap_or(Sla::WorkingDays(1));
        let due = crate::clock::calendar().due(sla, now);
        let id = new_id();
        diesel::insert_into(cc::table)
            .values((
                cc::id.eq(&id),
                cc::file_id.eq(&file.id),
                cc::step_entry.eq(route.entry),
                cc::step.eq(step as i32),
                cc::entity_code.eq(&c.entity),
                cc::post_id.eq(&post),
                cc::status.eq("pending"),
                cc::asked_at.eq(now),
                cc::due_at.eq(due),
            ))
            .execute(conn)?;
        // The consulted desk sees the file while it is consulted.
        diesel::insert_into(stays::table)
            .values((
                stays::id.eq(new_id()),
                stays::object_id.eq(&file.id),
                stays::kind.eq("consult"),
                stays::post_id.eq(&post),
                stays::from_at.eq(now),
            ))
            .execute(conn)?;
        asked.push(json!({"id": id, "entity": c.entity, "post_id": post, "due_at": due}));
    }
    Ok(asked)
}

/// A concurrence as the file and the queue show it.
#[derive(Debug, Clone, Serialize)]
pub struct ConcurrenceView {
    /// Its id.
    pub id: String,
    /// The entity asked (`FIN`).
    pub entity: String,
    /// The post asked.
    pub post: Option<PostRef>,
    /// `pending`, `concurred` or `declined`.
    pub status: String,
    /// When asked.
    pub asked_at: String,
    /// When due.
    pub due_at: String,
    /// When answered.
    pub answered_at: Option<String>,
    /// The signed note that answered it.
    pub note_id: Option<String>,
}

type ConcurrenceRow = (String, String, String, String, i64, i64, Option<i64>, Option<String>);

fn select_concurrence()
-> (cc::id, cc::entity_code, cc::post_id, cc::status, cc::asked_at, cc::due_at, cc::answered_at, cc::note_id) {
    (cc::id, cc::entity_code, cc::post_id, cc::status, cc::asked_at, cc::due_at, cc::answered_at, cc::note_id)
}

fn render(refs: &Refs, r: ConcurrenceRow) -> ConcurrenceView {
    ConcurrenceView {
        id: r.0,
        entity: r.1,
        post: refs.post_ref(Some(&r.2)),
        status: r.3,
        asked_at: rfc3339(r.4),
        due_at: rfc3339(r.5),
        answered_at: r.6.map(rfc3339),
        note_id: r.7,
    }
}

/// The concurrences of the step a file is at now.
pub fn current_concurrences(conn: &mut DbConn, route: &RouteRow) -> Result<Vec<ConcurrenceView>, EfileError> {
    let rows: Vec<ConcurrenceRow> = cc::table
        .filter(cc::file_id.eq(&route.file_id))
        .filter(cc::step_entry.eq(route.entry))
        .order(cc::entity_code)
        .select(select_concurrence())
        .load(conn)?;
    let refs = Refs::load(conn, rows.iter().map(|r| Some(r.2.as_str())), std::iter::empty::<&str>())?;
    Ok(rows.into_iter().map(|r| render(&refs, r)).collect())
}

/// `POST /files/{id}/concurrences/{cid}`.
pub struct Answer {
    /// Concur, or not.
    pub concur: bool,
    /// What the consulted entity says, recorded on the note sheet.
    pub remarks: Option<String>,
}

/// Answers a concurrence addressed to the actor's acting post: a note saying
/// so is added to the file and signed with the PIN given, the concurrence is
/// settled and the consulted desk's stay with the file ends; all in one
/// transaction, or nothing.
pub fn answer(
    db: &Db,
    actor: &Actor,
    file_id: &str,
    concurrence_id: &str,
    a: Answer,
    key: impl FnOnce() -> Result<Option<Opened>, crate::signing::SignError>,
) -> Result<ConcurrenceView, EfileError> {
    let remarks = super::check_remarks(a.remarks.as_deref())?;
    let body = match (&remarks, a.concur) {
        (Some(r), true) => format!("Concurred.\n\n{r}"),
        (None, true) => "Concurred.".to_owned(),
        (Some(r), false) => format!("Not concurred.\n\n{r}"),
        (None, false) => return Err(invalid("remarks", "say why the concurrence is refused")),
    };
    let post = actor.post()?.to_owned();
    let check = |c: &mut DbConn| -> Result<(), EfileError> {
        visible_file(c, actor.viewer, file_id)?;
        let (to, status, entry): (String, String, i64) = cc::table
            .find(concurrence_id)
            .filter(cc::file_id.eq(file_id))
            .select((cc::post_id, cc::status, cc::step_entry))
            .first(c)
            .optional()?
            .ok_or(EfileError::NotFound)?;
        if to != post {
            return Err(EfileError::NotHolder("the concurrence is asked of another post".into()));
        }
        if status != "pending" {
            return Err(EfileError::Conflict(format!("the concurrence is already answered ({status})")));
        }
        // Only while the file is at the step that asked it (a return, or the
        // chain moving on, leaves it unanswered for good).
        let current = route_of(c, file_id)?.is_some_and(|r| r.entry == entry && Position::of(&r) != Position::Done);
        if !current {
            return Err(EfileError::Conflict("the file is no longer at the step that asked this concurrence".into()));
        }
        Ok(())
    };
    check(&mut *db.reader()?)?;
    let Some(opened) = key()?.filter(|k| k.by_pin) else {
        return Err(EfileError::Forbidden("a concurrence is a signed note: send your pin".into()));
    };
    db.write_tx(|c| {
        check(c)?;
        let (mut file, _) = visible_file(c, actor.viewer, file_id)?;
        let draft = super::notes::insert_draft(c, actor, &mut file, &body)?;
        let signature = crate::signing::notes::sign_note(c, &opened.key, Some(&opened.open), None, &draft.id)?;
        super::notes::mark_signed(c, actor, file_id, &draft.id, signature)?;
        let now = now_micros();
        let status = if a.concur { "concurred" } else { "declined" };
        diesel::update(cc::table.find(concurrence_id))
            .set((
                cc::status.eq(status),
                cc::answered_at.eq(now),
                cc::answered_by.eq(actor.user()),
                cc::note_id.eq(&draft.id),
                cc::remarks.eq(&remarks),
            ))
            .execute(c)?;
        diesel::update(stays::table)
            .filter(stays::object_id.eq(file_id))
            .filter(stays::kind.eq("consult"))
            .filter(stays::post_id.eq(&post))
            .filter(stays::until_at.is_null())
            .set(stays::until_at.eq(now))
            .execute(c)?;
        ledger::append(
            c,
            ledger::Event {
                kind: "concurrence_answered",
                actor_user: Some(actor.user()),
                actor_post: Some(&post),
                file_id: Some(file_id),
                receipt_id: None,
                payload: json!({"concurrence_id": concurrence_id, "status": status, "note_id": draft.id}),
            },
        )?;
        let row: ConcurrenceRow = cc::table.find(concurrence_id).select(select_concurrence()).first(c)?;
        let refs = Refs::load(c, [Some(row.2.as_str())], std::iter::empty::<&str>())?;
        Ok(render(&refs, row))
    })
}
