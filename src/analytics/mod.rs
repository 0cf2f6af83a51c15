//! Bottleneck analytics (issue 26): where an entity's files wait. The store
//! side: what each desk holds now (one grouped query over an index of the
//! entity's files), and how long files stayed at each desk before moving on
//! (counters kept as they move, `dwell_counts`, read desk by desk); the
//! figures themselves are `domain::analytics`.
//!
//! Who sees what is the compliance rule (`domain::access::may_see_compliance`):
//! an entity's secretary and auditor see that entity, MoITT's compliance
//! cell every entity; these are counts and durations by desk, never a file.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use diesel::dsl::{count_star, min};
use diesel::prelude::*;

use crate::compliance::{ComplianceError, Entity};
use crate::domain::analytics::{Bottlenecks, DeskInput, DeskRef, Holding, SectionRef, Span, bottlenecks};
use crate::store::schema::{file_routes, files, org_units, posts, receipts};
use crate::store::{DbConn, now_micros};

/// The longest period asked about: a year and a week (53 weekly points).
pub const MAX_DAYS: i64 = 371;

/// The default period: the last twelve weeks, ending today.
pub const DEFAULT_DAYS: i64 = 84;

/// A period of whole days for the analytics: `from`/`to` as given, or the
/// twelve weeks ending today; at most [`MAX_DAYS`].
pub fn period(from: Option<&str>, to: Option<&str>) -> Result<crate::compliance::Period, ComplianceError> {
    let today = crate::clock::today();
    let to_s = to.map(str::to_owned).unwrap_or_else(|| today.to_string());
    let from_s = match from {
        Some(f) => f.to_owned(),
        None => {
            let to_d = NaiveDate::parse_from_str(to_s.trim(), "%Y-%m-%d").unwrap_or(today);
            (to_d - chrono::Duration::days(DEFAULT_DAYS - 1)).to_string()
        }
    };
    let p = crate::compliance::Period::parse(&from_s, &to_s)?;
    if (p.to - p.from).num_days() + 1 > MAX_DAYS {
        return Err(ComplianceError::Invalid("from", format!("the period may be at most {MAX_DAYS} days")));
    }
    Ok(p)
}

/// The entity's desks with their sections, by section and post code.
fn desks(conn: &mut DbConn, entity: &Entity) -> QueryResult<Vec<(DeskRef, SectionRef)>> {
    type Row = (String, String, String, String, String, String, String);
    let rows: Vec<Row> = posts::table
        .inner_join(org_units::table)
        .filter(org_units::entity_id.eq(&entity.id))
        .order((org_units::code, posts::code))
        .select((
            posts::id,
            posts::code,
            posts::designation,
            posts::title,
            org_units::id,
            org_units::code,
            org_units::name,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(post_id, code, designation, title, id, ucode, name)| {
            (DeskRef { post_id, code, designation, title }, SectionRef { id, code: ucode, name })
        })
        .collect())
}

/// What each of the entity's desks holds now.
fn holdings(conn: &mut DbConn, entity: &Entity, now: i64) -> QueryResult<HashMap<String, Holding>> {
    let mut out: HashMap<String, Holding> = HashMap::new();
    let held: Vec<(String, i64, Option<i64>)> = files::table
        .filter(files::entity_id.eq(&entity.id))
        .filter(files::status.ne("closed"))
        .group_by(files::holder_post_id)
        .select((files::holder_post_id, count_star(), min(files::held_since)))
        .load(conn)?;
    for (post, n, since) in held {
        let h = out.entry(post).or_default();
        h.files = n;
        h.oldest_since = since;
    }
    let letters: Vec<(String, i64, Option<i64>)> = receipts::table
        .filter(receipts::entity_id.eq(&entity.id))
        .filter(receipts::status.eq("open"))
        .group_by(receipts::holder_post_id)
        .select((receipts::holder_post_id, count_star(), min(receipts::held_since)))
        .load(conn)?;
    for (post, n, since) in letters {
        let h = out.entry(post).or_default();
        h.receipts = n;
        h.oldest_since = match (h.oldest_since, since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    for (_, post, _) in late_files(conn, Some(&entity.id), now)? {
        out.entry(post).or_default().over_sla += 1;
    }
    Ok(out)
}

/// The files held over SLA now, of one entity or of all: past the due time
/// the sender set, or past the SLA of the workflow step they wait at; a file
/// late both ways is one. Each as (its entity, its holder, its id).
fn late_files(
    conn: &mut DbConn,
    entity: Option<&str>,
    now: i64,
) -> QueryResult<HashSet<(Option<String>, String, String)>> {
    let mut due = files::table
        .filter(files::status.ne("closed"))
        .filter(files::due_at.lt(now))
        .select((files::entity_id, files::holder_post_id, files::id))
        .into_boxed();
    let mut steps = file_routes::table
        .inner_join(files::table.on(files::id.eq(file_routes::file_id)))
        .filter(files::status.ne("closed"))
        .filter(file_routes::state.eq("step"))
        .filter(file_routes::step_due_at.lt(now))
        .select((files::entity_id, files::holder_post_id, files::id))
        .into_boxed();
    if let Some(e) = entity {
        due = due.filter(files::entity_id.eq(e));
        steps = steps.filter(files::entity_id.eq(e));
    }
    let due: Vec<(Option<String>, String, String)> = due.load(conn)?;
    let steps: Vec<(Option<String>, String, String)> = steps.load(conn)?;
    Ok(due.into_iter().chain(steps).collect())
}

const HOUR: i64 = 3_600_000_000;

/// How long files stayed at `post` before moving on, for stays that ended
/// in the hours of `[start, end)`: `(ended, seconds, how many)`, from the
/// counters kept as files move (`dwell_counts`), not from every stay.
fn dwell(conn: &mut DbConn, post: &str, start: i64, end: i64) -> QueryResult<Vec<(i64, i64, i64)>> {
    use crate::store::schema::dwell_counts as d;
    let rows: Vec<(i64, i64, i64)> = d::table
        .filter(d::post_id.eq(post))
        .filter(d::hour.ge(start.div_euclid(HOUR)).and(d::hour.lt((end + HOUR - 1).div_euclid(HOUR))))
        .select((d::hour, d::seconds, d::n))
        .load(conn)?;
    Ok(rows.into_iter().map(|(h, secs, n)| ((h * HOUR).max(start), secs, n)).collect())
}

/// The bottlenecks of `entity` over `period`.
pub fn of_entity(conn: &mut DbConn, entity: &Entity, period: crate::compliance::Period) -> QueryResult<Bottlenecks> {
    let now = now_micros();
    let span = Span { start: period.start(), end: period.end(), now };
    let mut held = holdings(conn, entity, now)?;
    let mut inputs = Vec::new();
    for (desk, section) in desks(conn, entity)? {
        let stays = dwell(conn, &desk.post_id, span.start, span.end)?;
        let holding = held.remove(&desk.post_id).unwrap_or_default();
        inputs.push(DeskInput { desk, section, holding, stays });
    }
    Ok(bottlenecks(&inputs, span, &|t| crate::clock::date_at(t).to_string()))
}

/// The analytics as the API shows them: the period and, per entity, its
/// bottlenecks.
pub fn view(period: crate::compliance::Period, reports: &[(Entity, Bottlenecks)]) -> serde_json::Value {
    serde_json::json!({
        "from": period.from.to_string(),
        "to": period.to.to_string(),
        "entities": reports.iter().map(|(e, b)| {
            let mut v = serde_json::to_value(b).unwrap_or_default();
            v["entity"] = serde_json::json!({"id": e.id, "code": e.code, "name": e.name});
            v
        }).collect::<Vec<_>>(),
    })
}

/// The CSV columns: one row per desk.
pub const CSV_COLUMNS: &[&str] = &[
    "entity",
    "section",
    "desk",
    "designation",
    "title",
    "held_files",
    "held_receipts",
    "oldest_waiting_seconds",
    "over_sla",
    "moved",
    "median_seconds",
    "p90_seconds",
];

/// The analytics as CSV (UTF-8 with BOM, CRLF): one row per desk.
pub fn csv(reports: &[(Entity, Bottlenecks)]) -> String {
    use crate::compliance::report::{csv_text, field};
    let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
    let rows = reports.iter().flat_map(|(e, b)| {
        b.sections.iter().flat_map(move |s| {
            s.desks.iter().map(move |d| {
                let f = &d.figures;
                vec![
                    field(&e.code),
                    field(&s.section.name),
                    field(&d.desk.code),
                    field(&d.desk.designation),
                    field(&d.desk.title),
                    f.held_files.to_string(),
                    f.held_receipts.to_string(),
                    opt(f.oldest_waiting_seconds),
                    f.over_sla.to_string(),
                    f.moved.to_string(),
                    opt(f.median_seconds),
                    opt(f.p90_seconds),
                ]
            })
        })
    });
    csv_text(CSV_COLUMNS, rows)
}

/// Live figures of one entity for operators' dashboards (`/metrics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    /// The entity's code (the only label: a bounded set).
    pub code: String,
    /// Files held now (not closed).
    pub files_held: i64,
    /// Of those, past their due time or workflow SLA.
    pub files_over_sla: i64,
    /// Letters diarised and not yet put up in a file.
    pub receipts_awaiting: i64,
}

/// The live figures of every entity, by code.
pub fn live(conn: &mut DbConn) -> QueryResult<Vec<Live>> {
    let now = now_micros();
    let held: HashMap<Option<String>, i64> = files::table
        .filter(files::status.ne("closed"))
        .group_by(files::entity_id)
        .select((files::entity_id, count_star()))
        .load::<(Option<String>, i64)>(conn)?
        .into_iter()
        .collect();
    let mut over: HashMap<Option<String>, i64> = HashMap::new();
    for (entity, _, _) in late_files(conn, None, now)? {
        *over.entry(entity).or_default() += 1;
    }
    let waiting: HashMap<String, i64> = receipts::table
        .filter(receipts::status.eq("open"))
        .group_by(receipts::entity_id)
        .select((receipts::entity_id, count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    Ok(crate::compliance::entities(conn)?
        .into_iter()
        .map(|e| {
            let key = Some(e.id.clone());
            Live {
                files_held: held.get(&key).copied().unwrap_or(0),
                files_over_sla: over.get(&key).copied().unwrap_or(0),
                receipts_awaiting: waiting.get(&e.id).copied().unwrap_or(0),
                code: e.code,
            }
        })
        .collect())
}

/// The live figures in the Prometheus text format.
pub fn live_metrics(figures: &[Live]) -> String {
    let mut out = String::new();
    let series: [(&str, &str, fn(&Live) -> i64); 3] = [
        ("daftar_entity_files_held", "Files held at a desk of the entity now (not closed).", |l| l.files_held),
        ("daftar_entity_files_over_sla", "Files of the entity held past their due time or workflow step SLA.", |l| {
            l.files_over_sla
        }),
        (
            "daftar_entity_receipts_awaiting_put_up",
            "Letters the entity diarised that are not yet put up in a file.",
            |l| l.receipts_awaiting,
        ),
    ];
    for (name, help, value) in series {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        for l in figures {
            // Entity codes are letters, digits and a few marks; escape anyway.
            let code = l.code.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            out.push_str(&format!("{name}{{entity=\"{code}\"}} {}\n", value(l)));
        }
    }
    out
}
