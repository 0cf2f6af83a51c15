//! The SLA clock: a sweep finds steps and concurrences past their SLA,
//! records each breach once in the ledger, enqueues its reminder once, and
//! escalates as the step declares: the file goes to the next post up held
//! by someone cleared for it, which then decides the step with a fresh SLA.
//! "Once" holds with several server processes on one database: a breach is
//! a row keyed by the file and its arrival at the step, inserted by exactly
//! one sweep.

use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::domain::access::Viewer;
use crate::domain::efile::Action;
use crate::domain::org::Clearance;
use crate::efile::movements::Step;
use crate::efile::route::{Position, RouteRow};
use crate::efile::{Actor, EfileError};
use crate::jobs;
use crate::ledger;
use crate::store::schema::{concurrences as cc, file_routes, files, sla_breaches, users};
use crate::store::{Db, DbConn, new_id};

/// The user escalations are recorded as made by: the SLA clock itself,
/// disabled, holding no post, so it can never sign in or see anything.
pub const SLA_CLOCK_USER: &str = "sla-clock";
/// Its username: with a space, which no username a person is given may
/// have, so nobody can take it first.
const SLA_CLOCK_USERNAME: &str = "sla clock";

/// What one sweep did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Sweep {
    /// Step breaches recorded.
    pub breaches: usize,
    /// Files escalated to the next post up.
    pub escalated: usize,
    /// Reminders enqueued.
    pub reminders: usize,
    /// Concurrences found overdue.
    pub concurrences_overdue: usize,
    /// Breaches that could not be recorded this time (logged; tried again next sweep).
    pub failed: usize,
}

/// Runs one sweep as of `now` (UTC µs).
pub fn sweep(db: &Db, now: i64) -> Result<Sweep, EfileError> {
    let mut out = Sweep::default();
    loop {
        let due: Vec<RouteRow> = {
            let mut c = db.reader()?;
            let breached = sla_breaches::table
                .filter(sla_breaches::file_id.eq(file_routes::file_id))
                .filter(sla_breaches::step_entry.eq(file_routes::entry));
            file_routes::table
                .filter(file_routes::state.eq("step"))
                .filter(file_routes::step_due_at.lt(now))
                .filter(diesel::dsl::not(diesel::dsl::exists(breached)))
                .order(file_routes::step_due_at)
                .limit(200)
                .select(RouteRow::as_select())
                .load(&mut c)?
        };
        if due.is_empty() {
            break;
        }
        let mut progressed = false;
        for r in due {
            // One file's trouble (a move racing the sweep, say) neither stops
            // the sweep nor undoes the others; it is tried again next time.
            match db.write_tx(|c| breach(c, &r, now)) {
                Ok(Some((reminded, escalated))) => {
                    progressed = true;
                    out.breaches += 1;
                    out.reminders += usize::from(reminded);
                    out.escalated += usize::from(escalated);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(file = %r.file_id, error = %e, "SLA breach not recorded this sweep");
                    out.failed += 1;
                }
            }
        }
        if !progressed {
            // Another process recorded them first, or the rest failed.
            break;
        }
    }
    let overdue: Vec<(String, String)> = {
        let mut c = db.reader()?;
        cc::table
            .filter(cc::status.eq("pending"))
            .filter(cc::breached_at.is_null())
            .filter(cc::due_at.lt(now))
            .select((cc::id, cc::file_id))
            .load(&mut c)?
    };
    for (id, file_id) in overdue {
        let won = db.write_tx(|c| -> Result<bool, EfileError> {
            let n = diesel::update(cc::table.find(&id))
                .filter(cc::breached_at.is_null())
                .filter(cc::status.eq("pending"))
                .set(cc::breached_at.eq(now))
                .execute(c)?;
            if n == 1 {
                ledger::append(
                    c,
                    ledger::Event {
                        kind: "concurrence_overdue",
                        actor_user: None,
                        actor_post: None,
                        file_id: Some(&file_id),
                        receipt_id: None,
                        payload: json!({"concurrence_id": id, "at": now}),
                    },
                )?;
                jobs::enqueue(c, &jobs::Job::sla_reminder(&file_id, None, Some(&id)))?;
            }
            Ok(n == 1)
        });
        match won {
            Ok(true) => {
                out.concurrences_overdue += 1;
                out.reminders += 1;
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(concurrence = %id, error = %e, "overdue concurrence not recorded this sweep");
                out.failed += 1;
            }
        }
    }
    Ok(out)
}

/// Records one breach, in its own transaction: `None` if another sweep
/// recorded it first or the file has moved on; else (reminded, escalated).
fn breach(c: &mut DbConn, seen: &RouteRow, now: i64) -> Result<Option<(bool, bool)>, EfileError> {
    let Some(r) = crate::efile::route::route_of(c, &seen.file_id)? else { return Ok(None) };
    let (Position::Step(step), Some(post), Some(due)) = (Position::of(&r), r.post_id.clone(), r.step_due_at) else {
        return Ok(None);
    };
    if r.entry != seen.entry || due >= now {
        return Ok(None);
    }
    let row = (
        sla_breaches::file_id.eq(&r.file_id),
        sla_breaches::step_entry.eq(r.entry),
        sla_breaches::step.eq(step as i32),
        sla_breaches::post_id.eq(&post),
        sla_breaches::due_at.eq(due),
        sla_breaches::recorded_at.eq(now),
    );
    let inserted = crate::on_backend!(c, |b| diesel::insert_into(sla_breaches::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(b))?;
    if inserted != 1 {
        return Ok(None);
    }
    let wf = super::definition(c, &r.hash)?;
    let s = wf.steps[step].get_ref();
    let acts: Vec<&str> = s.on_breach.iter().map(|a| a.get_ref().as_str()).collect();
    ledger::append(
        c,
        ledger::Event {
            kind: "sla_breached",
            actor_user: None,
            actor_post: None,
            file_id: Some(&r.file_id),
            receipt_id: None,
            payload: json!({"workflow": r.workflow_id, "step": s.id, "entry": r.entry, "post_id": post,
                            "due_at": due, "at": now, "on_breach": acts}),
        },
    )?;
    let reminded = acts.contains(&"remind");
    if reminded {
        jobs::enqueue(c, &jobs::Job::sla_reminder(&r.file_id, Some(r.entry), None))?;
    }
    let escalated = acts.contains(&"escalate") && escalate(c, &r, step, &post, now)?;
    Ok(Some((reminded, escalated)))
}

/// Moves the file from the deciding desk to the next post up held by
/// someone cleared for it, which decides the step from now on. Only a file
/// that is open and on the deciding desk moves.
fn escalate(c: &mut DbConn, r: &RouteRow, step: usize, post: &str, now: i64) -> Result<bool, EfileError> {
    let file: crate::efile::FileRow =
        files::table.find(&r.file_id).select(crate::efile::FileRow::as_select()).first(c)?;
    if file.status != "open" || file.holder_post_id != post {
        return Ok(false);
    }
    let wf = super::definition(c, &r.hash)?;
    let chart = super::chart_for(c, &wf, &[post])?;
    let facts = crate::efile::route::facts(&file, r)?;
    let Some(up) = crate::domain::route::escalate(&chart, post, &facts) else { return Ok(false) };
    ensure_clock_user(c)?;
    let viewer =
        Viewer { user_id: SLA_CLOCK_USER.into(), clearance: Clearance::TopSecret, roles: vec![], held: vec![] };
    let actor = Actor { viewer: &viewer, post: Some(post) };
    let movement_id = new_id();
    let updated = diesel::update(files::table.find(&file.id))
        .filter(files::version.eq(file.version))
        .set((
            files::holder_post_id.eq(&up),
            files::last_movement_id.eq(&movement_id),
            files::last_from_post.eq(post),
            files::last_opened_at.eq(None::<i64>),
            files::held_since.eq(now),
            files::next_move_seq.eq(file.next_move_seq + 1),
            files::version.eq(file.version + 1),
            files::updated_at.eq(now),
        ))
        .execute(c)?;
    if updated != 1 {
        return Err(EfileError::Stale);
    }
    let remarks =
        format!("Escalated by the SLA clock: the step `{}` was not decided in time", wf.steps[step].get_ref().id);
    let step_row = Step {
        file_id: Some(&file.id),
        receipt_id: None,
        seq: file.next_move_seq,
        action: Action::Escalate,
        to_post: Some(&up),
        remarks: Some(&remarks),
        due_at: None,
        priority: None,
    };
    crate::efile::movements::record(c, &actor, &movement_id, step_row)?;
    let due = crate::efile::route::step_due(&wf, step, now);
    let moved = RouteRow {
        post_id: Some(up.clone()),
        step_since: Some(now),
        step_due_at: Some(due),
        entry: r.entry + 1,
        ..r.clone()
    };
    crate::efile::route::set_route(c, &moved)?;
    // The step is the same: concurrences asked for it still stand (and still
    // must be given) for the post it now waits on.
    diesel::update(cc::table)
        .filter(cc::file_id.eq(&r.file_id))
        .filter(cc::step_entry.eq(r.entry))
        .set(cc::step_entry.eq(moved.entry))
        .execute(c)?;
    diesel::update(sla_breaches::table.find((&r.file_id, r.entry)))
        .set(sla_breaches::escalated_to.eq(&up))
        .execute(c)?;
    jobs::enqueue(c, &jobs::Job::movement_mail(&movement_id))?;
    Ok(true)
}

/// Creates the SLA clock's user row once (disabled; no password opens it).
fn ensure_clock_user(c: &mut DbConn) -> QueryResult<()> {
    let row = (
        users::id.eq(SLA_CLOCK_USER),
        users::username.eq(SLA_CLOCK_USERNAME),
        users::name.eq("SLA clock (Daftar)"),
        users::password_hash.eq("!"),
        users::clearance.eq(Clearance::Unclassified.as_str()),
        users::disabled.eq(true),
        users::token_version.eq(0i64),
        users::created_at.eq(crate::store::now_micros()),
    );
    crate::on_backend!(c, |b| diesel::insert_into(users::table).values(row).on_conflict_do_nothing().execute(b))?;
    // Whatever stopped the insert, the row by that id must be there.
    users::table.find(SLA_CLOCK_USER).select(users::id).first::<String>(c).map(|_| ())
}

/// The schedule every server runs: one process of all sharing the database
/// sweeps each period.
pub fn periodic(every: std::time::Duration) -> jobs::Periodic {
    jobs::Periodic {
        name: "sla.sweep",
        every,
        run: Box::new(move |db| {
            let s = sweep(db, crate::store::now_micros()).map_err(|e| e.to_string())?;
            if s.breaches + s.concurrences_overdue > 0 {
                tracing::info!(breaches = s.breaches, escalated = s.escalated, "SLA sweep");
            }
            Ok(())
        }),
    }
}
