//! The routing engine of approval chains (SPEC section 7): where a file on a
//! workflow goes on approval, return or start, decided from plain facts
//! about the file and the org chart at one moment. A vacant desk, or one
//! whose holders are not cleared for the file, is passed over upward; a file
//! is never routed to someone who may not see it.

use std::collections::BTreeMap;

use super::workflow::{Condition, Decider, Workflow, next_step};
use crate::domain::efile::Priority;
use crate::domain::org::{Clearance, is_head_designation};

/// A post as routing sees it.
#[derive(Debug, Clone)]
pub struct Post {
    /// Its code.
    pub code: String,
    /// Its designation.
    pub designation: String,
    /// The entity it belongs to.
    pub entity_code: Option<String>,
    /// The post it reports to.
    pub reports_to: Option<String>,
    /// Clearances of those who hold it now (regular, acting or additional charge).
    pub holders: Vec<Clearance>,
}

/// The org chart at one moment, posts by id.
pub type Chart = BTreeMap<String, Post>;

/// What routing needs to know about a file.
#[derive(Debug, Clone)]
pub struct FileFacts {
    /// The post that put it on the workflow.
    pub originator: String,
    /// The post that holds it now.
    pub holder: String,
    /// Its classification.
    pub classification: Clearance,
    /// Its priority.
    pub priority: Priority,
    /// Its declared numeric fields.
    pub fields: BTreeMap<String, f64>,
}

/// Why a file cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// No post fits the step's decider.
    NoDecider(String),
    /// The decider and every post above it are vacant or not cleared for the file.
    NoClearedHolder(String),
}

/// Where a decision sends the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// To the decider of this step, at this post.
    Step {
        /// The step's index.
        step: usize,
        /// The post.
        post: String,
    },
    /// The chain is done: to this post (the originator, to issue orders).
    Done {
        /// The post.
        post: String,
    },
}

/// Whether a condition holds for the file.
pub fn holds(c: &Condition, file: &FileFacts) -> bool {
    let class = c.classification_at_least.as_deref().and_then(|k| k.parse::<Clearance>().ok());
    if class.is_some_and(|k| file.classification < k) {
        return false;
    }
    if let Some(ps) = &c.priority_in
        && !ps.iter().any(|p| p.parse::<Priority>().is_ok_and(|p| p == file.priority))
    {
        return false;
    }
    if let Some(f) = &c.field {
        let Some(v) = file.fields.get(f) else { return false };
        if c.at_least.is_some_and(|lo| *v < lo) || c.below.is_some_and(|hi| *v >= hi) {
            return false;
        }
    }
    true
}

fn applies(wf: &Workflow, i: usize, file: &FileFacts) -> bool {
    wf.steps[i].get_ref().when.as_ref().is_none_or(|w| holds(w.get_ref(), file))
}

/// The first step that applies at or after step `from` along approvals.
fn applicable_from(wf: &Workflow, from: Option<usize>, file: &FileFacts) -> Option<usize> {
    let mut i = from;
    let mut guard = 0;
    while let Some(s) = i {
        if applies(wf, s, file) {
            return Some(s);
        }
        i = next_step(wf, s);
        guard += 1;
        if guard > wf.steps.len() {
            return None;
        }
    }
    None
}

/// The posts above `post`, nearest first.
fn chain<'a>(chart: &'a Chart, post: &str) -> impl Iterator<Item = &'a str> + 'a {
    let mut at = chart.get(post).and_then(|p| p.reports_to.as_deref());
    let mut steps = 0;
    std::iter::from_fn(move || {
        let here = at?;
        steps += 1;
        if steps > chart.len() {
            return None;
        }
        at = chart.get(here).and_then(|p| p.reports_to.as_deref());
        Some(here)
    })
}

/// The post a decider names, before vacancies are skipped.
fn named(chart: &Chart, d: &Decider, file: &FileFacts) -> Option<String> {
    match d {
        // Above the originator in their reporting chain.
        Decider::Designation(want) => chain(chart, &file.originator)
            .find(|p| chart.get(*p).is_some_and(|p| p.designation == *want))
            .map(str::to_owned),
        Decider::NextUp(_) => chart.get(&file.holder).and_then(|p| p.reports_to.clone()),
        Decider::Post(code) => chart.iter().find(|(_, p)| p.code == *code).map(|(id, _)| id.clone()),
        Decider::HeadOf(entity) => chart
            .iter()
            .find(|(_, p)| p.entity_code.as_deref() == Some(entity) && is_head_designation(&p.designation))
            .map(|(id, _)| id.clone()),
    }
}

/// `post`, or the nearest post above it held now by someone cleared for
/// the file: a vacant desk, or one whose holders may not see the file, is
/// passed over upward.
fn cleared(chart: &Chart, post: &str, file: &FileFacts) -> Option<String> {
    let ok = |p: &str| chart.get(p).is_some_and(|p| p.holders.iter().any(|c| *c >= file.classification));
    std::iter::once(post).chain(chain(chart, post)).find(|p| ok(p)).map(str::to_owned)
}

fn decider_post(wf: &Workflow, step: usize, chart: &Chart, file: &FileFacts) -> Result<String, RouteError> {
    let s = wf.steps[step].get_ref();
    let post = named(chart, s.decider.get_ref(), file).ok_or_else(|| RouteError::NoDecider(s.id.clone()))?;
    cleared(chart, &post, file).ok_or_else(|| RouteError::NoClearedHolder(s.id.clone()))
}

/// The post a concurrence of `entity` is asked of: its head, or the nearest
/// post above it held by someone cleared for the file.
pub fn head_of(chart: &Chart, entity: &str, file: &FileFacts) -> Result<String, RouteError> {
    let post = named(chart, &Decider::HeadOf(entity.to_owned()), file)
        .ok_or_else(|| RouteError::NoDecider(format!("concurrence of {entity}")))?;
    cleared(chart, &post, file).ok_or_else(|| RouteError::NoClearedHolder(format!("concurrence of {entity}")))
}

/// Where an overdue decision escalates: the nearest post above `post` held
/// by someone cleared for the file (`None`: nobody above).
pub fn escalate(chart: &Chart, post: &str, file: &FileFacts) -> Option<String> {
    let up = chart.get(post)?.reports_to.as_deref()?;
    cleared(chart, up, file)
}

/// Where a file starts: the first step that applies.
pub fn start(wf: &Workflow, chart: &Chart, file: &FileFacts) -> Result<Route, RouteError> {
    match applicable_from(wf, (!wf.steps.is_empty()).then_some(0), file) {
        Some(step) => Ok(Route::Step { step, post: decider_post(wf, step, chart, file)? }),
        None => Ok(Route::Done { post: file.originator.clone() }),
    }
}

/// Where an approval at `step` sends the file.
pub fn approve(wf: &Workflow, step: usize, chart: &Chart, file: &FileFacts) -> Result<Route, RouteError> {
    match applicable_from(wf, next_step(wf, step), file) {
        Some(next) => Ok(Route::Step { step: next, post: decider_post(wf, next, chart, file)? }),
        None => Ok(Route::Done { post: file.originator.clone() }),
    }
}

/// Where a return at `step` sends the file: the step before it that
/// applied (or the originator), or straight to the originator when the
/// step says so.
pub fn give_back(wf: &Workflow, step: usize, chart: &Chart, file: &FileFacts) -> Result<Route, RouteError> {
    let to_originator = wf.steps[step].get_ref().on_return.as_ref().is_some_and(|r| r.get_ref() == "originator");
    // The applicable steps before this one along approvals.
    let mut path = Vec::new();
    let mut i = applicable_from(wf, Some(0), file);
    while let Some(s) = i.filter(|s| *s != step) {
        path.push(s);
        i = applicable_from(wf, next_step(wf, s), file);
        if path.len() > wf.steps.len() {
            break;
        }
    }
    match path.last() {
        Some(prev) if !to_originator => Ok(Route::Step { step: *prev, post: decider_post(wf, *prev, chart, file)? }),
        _ => Ok(Route::Done { post: file.originator.clone() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(code: &str, designation: &str, up: Option<&str>, holders: &[Clearance]) -> (String, Post) {
        (
            code.to_owned(),
            Post {
                code: code.to_owned(),
                designation: designation.to_owned(),
                entity_code: Some(if code.starts_with("FIN") { "FIN" } else { "MOITT" }.to_owned()),
                reports_to: up.map(str::to_owned),
                holders: holders.to_vec(),
            },
        )
    }

    fn chart() -> Chart {
        use Clearance::*;
        [
            post("SO", "section_officer", Some("DS"), &[Restricted]),
            post("DS", "deputy_secretary", Some("JS"), &[Confidential]),
            post("JS", "joint_secretary", Some("SEC"), &[Secret]),
            post("SEC", "secretary", None, &[TopSecret]),
            post("FIN-SEC", "secretary", None, &[TopSecret]),
        ]
        .into_iter()
        .collect()
    }

    fn file(class: Clearance, amount: f64) -> FileFacts {
        FileFacts {
            originator: "SO".into(),
            holder: "SO".into(),
            classification: class,
            priority: Priority::Routine,
            fields: [("amount".to_owned(), amount)].into(),
        }
    }

    fn procurement() -> Workflow {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/workflows/procurement.toml")).unwrap();
        crate::domain::workflow::parse(&text, "procurement", None).unwrap()
    }

    #[test]
    fn approvals_climb_the_chain_and_end_with_the_originator() {
        let wf = procurement();
        let (c, f) = (chart(), file(Clearance::Restricted, 20_000_000.0));
        assert_eq!(start(&wf, &c, &f), Ok(Route::Step { step: 0, post: "DS".into() }));
        assert_eq!(approve(&wf, 0, &c, &f), Ok(Route::Step { step: 1, post: "JS".into() }));
        assert_eq!(approve(&wf, 1, &c, &f), Ok(Route::Step { step: 2, post: "SEC".into() }));
        assert_eq!(approve(&wf, 2, &c, &f), Ok(Route::Done { post: "SO".into() }));
        // A small purchase stops at the JS: the Secretary's step does not apply.
        let small = file(Clearance::Restricted, 500_000.0);
        assert_eq!(approve(&wf, 1, &c, &small), Ok(Route::Done { post: "SO".into() }));
    }

    #[test]
    fn returns_go_one_applicable_step_back() {
        let wf = procurement();
        let (c, f) = (chart(), file(Clearance::Restricted, 20_000_000.0));
        assert_eq!(give_back(&wf, 2, &c, &f), Ok(Route::Step { step: 1, post: "JS".into() }));
        assert_eq!(give_back(&wf, 0, &c, &f), Ok(Route::Done { post: "SO".into() }));
    }

    #[test]
    fn vacant_or_uncleared_desks_are_passed_over_upward() {
        let wf = procurement();
        let mut c = chart();
        c.get_mut("DS").unwrap().holders.clear();
        let f = file(Clearance::Restricted, 20_000_000.0);
        assert_eq!(start(&wf, &c, &f), Ok(Route::Step { step: 0, post: "JS".into() }), "vacant DS");
        // A secret file skips the confidential DS too.
        let secret = file(Clearance::Secret, 20_000_000.0);
        assert_eq!(start(&wf, &chart(), &secret), Ok(Route::Step { step: 0, post: "JS".into() }));
        // Nobody cleared up the chain: refused, never routed below.
        let ts = file(Clearance::TopSecret, 20_000_000.0);
        let mut c = chart();
        c.get_mut("SEC").unwrap().holders = vec![Clearance::Secret];
        assert_eq!(start(&wf, &c, &ts), Err(RouteError::NoClearedHolder("deputy-secretary".into())));
    }

    #[test]
    fn deciders_by_post_head_of_entity_and_next_up() {
        let text = r#"
id = "t"
name = "T"
[[step]]
id = "up"
decider = { next_up = true }
sla = "1d"
[[step]]
id = "fin"
decider = { head_of = "FIN" }
sla = "1d"
when = { classification_at_least = "confidential", priority_in = ["immediate"] }
[[step]]
id = "sec"
decider = { post = "SEC" }
sla = "1d"
[[step]]
id = "nobody"
decider = { designation = "chairman" }
sla = "1d"
"#;
        let wf = crate::domain::workflow::parse(text, "t", None).unwrap();
        let c = chart();
        let mut f = file(Clearance::Restricted, 0.0);
        assert_eq!(start(&wf, &c, &f), Ok(Route::Step { step: 0, post: "DS".into() }));
        // The FIN step applies only to confidential, immediate files.
        assert_eq!(approve(&wf, 0, &c, &f), Ok(Route::Step { step: 2, post: "SEC".into() }));
        f.classification = Clearance::Confidential;
        f.priority = Priority::Immediate;
        assert_eq!(approve(&wf, 0, &c, &f), Ok(Route::Step { step: 1, post: "FIN-SEC".into() }));
        assert_eq!(approve(&wf, 2, &c, &f), Err(RouteError::NoDecider("nobody".into())));
    }
}
