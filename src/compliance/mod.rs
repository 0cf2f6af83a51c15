//! Compliance (SPEC section 3): each entity's adoption metrics for a period,
//! read from the database and never typed in; the register of physical
//! files they are measured against ([`physical`]); certificates the entity's
//! administrative secretary signs ([`certificate`]); and MoITT's
//! consolidated report ([`report`]). Who may see what is
//! [`crate::domain::access::may_see_compliance`].

pub mod certificate;
pub mod pdf;
pub mod physical;
pub mod report;

use chrono::NaiveDate;
use diesel::dsl::count_star;
use diesel::prelude::*;
use serde::Serialize;

use crate::domain::access::{Viewer, is_head, may_see_compliance};
use crate::domain::compliance::{Counts, Metrics, metrics};
use crate::signing::SignError;
use crate::store::schema::{
    concurrences, file_routes, files, movements, notes, org_units, physical_files, post_assignments, posts, receipts,
    sla_breaches,
};
use crate::store::{DbConn, StoreError, now_micros};

/// Why a compliance request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ComplianceError {
    /// A field is wrong.
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
    /// Not the caller's to do.
    #[error("{0}")]
    Forbidden(String),
    /// No such thing (or not the caller's to see).
    #[error("not found")]
    NotFound,
    /// A version already taken by a concurrent issue.
    #[error("{0}")]
    Conflict(String),
    /// A certificate that does not verify, and why.
    #[error("{0}")]
    Rejected(String),
    /// Signing failed (no key, wrong PIN, locked key).
    #[error(transparent)]
    Sign(#[from] SignError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Of ours.
    #[error("{0}")]
    Internal(String),
}

impl From<diesel::result::Error> for ComplianceError {
    fn from(e: diesel::result::Error) -> Self {
        ComplianceError::Store(e.into())
    }
}

/// An entity: the unit that reports compliance.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Entity {
    /// Its id.
    pub id: String,
    /// Its short code (`MOITT`).
    pub code: String,
    /// Its name.
    pub name: String,
}

/// Every entity of the deployment, by code.
pub fn entities(conn: &mut DbConn) -> QueryResult<Vec<Entity>> {
    let rows: Vec<(String, String, String, Option<String>)> = org_units::table
        .select((org_units::id, org_units::code, org_units::name, org_units::entity_id))
        .order(org_units::code)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(id, _, _, e)| e.as_deref() == Some(id.as_str()))
        .map(|(id, code, name, _)| Entity { id, code, name })
        .collect())
}

/// The entity named by code or id; `None` if there is none (or the unit is not an entity).
pub fn entity(conn: &mut DbConn, code_or_id: &str) -> QueryResult<Option<Entity>> {
    let row: Option<(String, String, String, Option<String>)> = org_units::table
        .filter(org_units::code.eq(code_or_id).or(org_units::id.eq(code_or_id)))
        .select((org_units::id, org_units::code, org_units::name, org_units::entity_id))
        .first(conn)
        .optional()?;
    Ok(row.filter(|(id, _, _, e)| e.as_deref() == Some(id.as_str())).map(|(id, code, name, _)| Entity {
        id,
        code,
        name,
    }))
}

/// A reporting period: whole civil days `from` to `to`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
}

impl Period {
    /// Parses `YYYY-MM-DD` dates: `from` ≤ `to`, and the period begun.
    pub fn parse(from: &str, to: &str) -> Result<Period, ComplianceError> {
        let day = |field: &'static str, s: &str| {
            crate::domain::org::parse_date(s)
                .map_err(|_| ComplianceError::Invalid(field, "must be a date, YYYY-MM-DD".into()))
        };
        let (from, to) = (day("from", from)?, day("to", to)?);
        let first = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default();
        if from < first {
            return Err(ComplianceError::Invalid("from", "must be in 2000 or later".into()));
        }
        if from > to {
            return Err(ComplianceError::Invalid("to", "must not be before `from`".into()));
        }
        if to > crate::clock::today() {
            return Err(ComplianceError::Invalid(
                "to",
                "must not be after today: figures are of what has happened".into(),
            ));
        }
        Ok(Period { from, to })
    }

    /// When it begins (µs).
    pub fn start(&self) -> i64 {
        crate::clock::day_start(self.from)
    }

    /// When it ends (µs, exclusive): the start of the day after `to`.
    pub fn end(&self) -> i64 {
        crate::clock::day_start(self.to.succ_opt().unwrap_or(self.to))
    }
}

/// The entity's head posts: those of its own unit (not of a wing or
/// department under it) whose designation is secretary, director general,
/// chairman or managing director.
pub fn head_posts(conn: &mut DbConn, entity: &Entity) -> QueryResult<Vec<String>> {
    let rows: Vec<(String, String)> = posts::table
        .filter(posts::org_unit_id.eq(&entity.id))
        .order(posts::code)
        .select((posts::id, posts::designation))
        .load(conn)?;
    Ok(rows.into_iter().filter(|(_, d)| crate::domain::org::is_head_designation(d)).map(|(id, _)| id).collect())
}

/// Of the entity's head posts, those `viewer` holds now (empty: not its secretary).
pub fn heads_held(conn: &mut DbConn, viewer: &Viewer, entity: &Entity) -> QueryResult<Vec<String>> {
    let now = now_micros();
    Ok(head_posts(conn, entity)?.into_iter().filter(|h| is_head(viewer, std::slice::from_ref(h), now)).collect())
}

/// The entity `code_or_id`, if `viewer` may see its compliance figures; a
/// missing entity and one not theirs to see both answer `NotFound`.
pub fn entity_for(conn: &mut DbConn, viewer: &Viewer, code_or_id: &str) -> Result<Entity, ComplianceError> {
    let e = entity(conn, code_or_id)?.ok_or(ComplianceError::NotFound)?;
    let heads = head_posts(conn, &e)?;
    if may_see_compliance(viewer, &e.id, &heads, now_micros()) { Ok(e) } else { Err(ComplianceError::NotFound) }
}

/// The entities whose compliance `viewer` may see, each with whether they
/// are its administrative secretary now (`compliance` sees every entity).
pub fn entities_for(conn: &mut DbConn, viewer: &Viewer) -> QueryResult<Vec<(Entity, bool)>> {
    let now = now_micros();
    let mut out = Vec::new();
    for e in entities(conn)? {
        let h = head_posts(conn, &e)?;
        if may_see_compliance(viewer, &e.id, &h, now) {
            let secretary = is_head(viewer, &h, now);
            out.push((e, secretary));
        }
    }
    Ok(out)
}

/// Whether `viewer` is the entity's administrative secretary now.
pub fn is_secretary(conn: &mut DbConn, viewer: &Viewer, entity: &Entity) -> QueryResult<bool> {
    Ok(is_head(viewer, &head_posts(conn, entity)?, now_micros()))
}

/// Reads what the metrics count for `entity` over `period`. Each figure is
/// one indexed query; only the disposals of the period come back as rows.
pub fn counts(conn: &mut DbConn, entity: &Entity, period: Period) -> QueryResult<Counts> {
    let (start, end) = (period.start(), period.end());
    let e = entity.id.as_str();
    // Files open now (an index-only count); those closed since the period
    // began are read from their close movements below (a closed file's notes
    // may still change, so its last update says nothing of its closing).
    let still_open: i64 = files::table
        .filter(files::entity_id.eq(e))
        .filter(files::created_at.lt(end))
        .filter(files::status.ne("closed"))
        .select(count_star())
        .first(conn)?;
    let (from, to) = (period.from.to_string(), period.to.to_string());
    let physical_files: i64 = physical_files::table
        .filter(physical_files::entity_id.eq(e))
        .filter(physical_files::opened_on.le(&to))
        .filter(physical_files::retired_at.is_null().or(physical_files::retired_at.ge(start)))
        .select(count_star())
        .first(conn)?;
    let by_form: Vec<(String, i64)> = receipts::table
        .filter(receipts::entity_id.eq(e))
        .filter(receipts::created_at.ge(start).and(receipts::created_at.lt(end)))
        .group_by(receipts::form)
        .select((receipts::form, count_star()))
        .load(conn)?;
    let receipts_n = by_form.iter().map(|(_, n)| n).sum();
    let e_receipts = by_form.iter().filter(|(f, _)| f == "electronic").map(|(_, n)| n).sum();

    // People who held a post of the entity at some time in the period.
    let holders: Vec<String> = post_assignments::table
        .inner_join(posts::table.inner_join(org_units::table))
        .filter(org_units::entity_id.eq(e))
        .filter(post_assignments::starts_on.le(&to))
        .filter(post_assignments::ends_on.is_null().or(post_assignments::ends_on.ge(&from)))
        .select(post_assignments::user_id)
        .distinct()
        .load(conn)?;
    // Of them, who moved something at one of the entity's posts in the
    // period: one probe per person on their movements by time.
    let entity_posts: Vec<String> =
        posts::table.inner_join(org_units::table).filter(org_units::entity_id.eq(e)).select(posts::id).load(conn)?;
    let mut active = 0;
    for user in &holders {
        let acted: Option<String> = movements::table
            .filter(movements::by_user_id.eq(user))
            .filter(movements::sent_at.ge(start).and(movements::sent_at.lt(end)))
            .filter(movements::by_post_id.eq_any(&entity_posts))
            .select(movements::id)
            .first(conn)
            .optional()?;
        active += i64::from(acted.is_some());
    }

    let by_status: Vec<(String, i64)> = notes::table
        .inner_join(files::table.on(files::id.eq(notes::file_id)))
        .filter(files::entity_id.eq(e))
        .filter(notes::created_at.ge(start).and(notes::created_at.lt(end)))
        .group_by(notes::status)
        .select((notes::status, count_star()))
        .load(conn)?;
    let notes_n = by_status.iter().map(|(_, n)| n).sum();
    let signed_notes = by_status.iter().filter(|(s, _)| s == "signed").map(|(_, n)| n).sum();

    // Files closed since the period began were open in it: the closed
    // files created before its end whose ids the close movements since its
    // start name (an IN over the (action, sent_at) index).
    let closed_since: i64 = files::table
        .filter(files::entity_id.eq(e))
        .filter(files::status.eq("closed"))
        .filter(files::created_at.lt(end))
        .filter(
            files::id.nullable().eq_any(
                movements::table
                    .filter(movements::action.eq("close"))
                    .filter(movements::sent_at.ge(start))
                    .select(movements::file_id),
            ),
        )
        .select(count_star())
        .first(conn)?;
    let e_files = still_open + closed_since;
    // The closes in the period are its disposals.
    let closes: Vec<(i64, i64, i64)> = movements::table
        .inner_join(files::table.on(files::id.nullable().eq(movements::file_id)))
        .filter(movements::action.eq("close"))
        .filter(movements::sent_at.ge(start).and(movements::sent_at.lt(end)))
        .filter(files::entity_id.eq(e))
        .select((movements::sent_at, files::created_at, movements::seq))
        .load(conn)?;
    let put_ups: Vec<(i64, i64)> = movements::table
        .inner_join(receipts::table.on(receipts::id.nullable().eq(movements::receipt_id)))
        .filter(movements::action.eq("put_up"))
        .filter(movements::sent_at.ge(start).and(movements::sent_at.lt(end)))
        .filter(receipts::entity_id.eq(e))
        .select((movements::sent_at, receipts::created_at))
        .load(conn)?;
    let mut disposals: Vec<i64> = closes.iter().map(|(at, created, _)| at - created).collect();
    disposals.extend(put_ups.iter().map(|(at, created)| at - created));

    Ok(Counts {
        e_files,
        physical_files,
        receipts: receipts_n,
        e_receipts,
        users: holders.len() as i64,
        active_users: active,
        notes: notes_n,
        signed_notes,
        disposals,
        movements_before_close: closes.iter().map(|(_, _, seq)| seq - 1).collect(),
        over_sla: over_sla(conn, entity, start, end)?,
    })
}

/// Workflow steps of the entity's files and concurrences asked of the
/// entity that passed their SLA in `[start, end)` while still waiting: the
/// breaches the SLA clock recorded, the steps overdue now that it has not
/// swept yet, and concurrences answered late or not at all.
fn over_sla(conn: &mut DbConn, entity: &Entity, start: i64, end: i64) -> QueryResult<i64> {
    let now = now_micros();
    let recorded: Vec<(String, i64)> = sla_breaches::table
        .inner_join(files::table.on(files::id.eq(sla_breaches::file_id)))
        .filter(files::entity_id.eq(&entity.id))
        .filter(sla_breaches::due_at.ge(start).and(sla_breaches::due_at.lt(end)))
        .select((sla_breaches::file_id, sla_breaches::step_entry))
        .load(conn)?;
    let waiting: Vec<(String, i64)> = file_routes::table
        .inner_join(files::table.on(files::id.eq(file_routes::file_id)))
        .filter(files::entity_id.eq(&entity.id))
        .filter(file_routes::state.eq("step"))
        .filter(file_routes::step_due_at.ge(start).and(file_routes::step_due_at.lt(end.min(now))))
        .select((file_routes::file_id, file_routes::entry))
        .load(conn)?;
    let recorded_set: std::collections::HashSet<&(String, i64)> = recorded.iter().collect();
    let unswept = waiting.iter().filter(|w| !recorded_set.contains(w)).count() as i64;
    let late_concurrences: i64 = concurrences::table
        .filter(concurrences::entity_code.eq(&entity.code))
        .filter(concurrences::due_at.ge(start).and(concurrences::due_at.lt(end.min(now))))
        .filter(
            concurrences::answered_at
                .is_null()
                .and(concurrences::status.eq("pending"))
                .or(concurrences::answered_at.gt(concurrences::due_at.nullable())),
        )
        .select(count_star())
        .first(conn)?;
    Ok(recorded.len() as i64 + unswept + late_concurrences)
}

/// The metrics of `entity` over `period`.
pub fn metrics_of(conn: &mut DbConn, entity: &Entity, period: Period) -> QueryResult<Metrics> {
    Ok(metrics(&counts(conn, entity, period)?))
}

/// The metrics as the API shows them (SPEC section 3).
pub fn metrics_view(entity: &Entity, period: Period, m: &Metrics) -> serde_json::Value {
    let mut v = serde_json::to_value(m).unwrap_or_default();
    v["entity"] = serde_json::json!({"id": entity.id, "code": entity.code, "name": entity.name});
    v["from"] = period.from.to_string().into();
    v["to"] = period.to.to_string().into();
    v
}
