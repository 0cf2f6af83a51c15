//! Approval chains (SPEC section 7) as plain types: a workflow is read from
//! its TOML text into typed steps, deciders and conditions (structured
//! predicates, not an expression language), and checked: every problem is
//! reported as `file:line: message`. The routing engine will work over these
//! same types.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use toml::Spanned;

use super::efile::Priority;
use super::org::Clearance;

/// A workflow as declared in `workflows/<id>.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    /// Stable id; the file's name without `.toml`.
    pub id: Spanned<String>,
    /// For people.
    pub name: String,
    /// What it is for, shown with it.
    #[serde(default)]
    pub description: String,
    /// Numeric fields entered when a file is put on the workflow.
    #[serde(default, rename = "field")]
    pub fields: Vec<Field>,
    /// The steps, in order.
    #[serde(rename = "step")]
    pub steps: Vec<Spanned<Step>>,
    /// Where the file goes after the last approval.
    #[serde(default)]
    pub finally: Finally,
}

/// A declared numeric field, e.g. `amount` in PKR.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Its name, as conditions use it.
    pub name: String,
    /// Its unit, for people (`PKR`).
    #[serde(default)]
    pub unit: String,
}

/// One decision on the way.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Its id within the workflow.
    pub id: String,
    /// Who decides.
    pub decider: Spanned<Decider>,
    /// The step applies only when this holds (otherwise it is passed over).
    #[serde(default)]
    pub when: Option<Spanned<Condition>>,
    /// How long the decider has: `"48h"` (clock hours) or `"2d"` (working days).
    pub sla: Spanned<String>,
    /// Where an approval leads: the next step (default) or a named one.
    #[serde(default)]
    pub on_approve: Option<Spanned<String>>,
    /// Where a return leads: `previous` (default) or `originator`.
    #[serde(default)]
    pub on_return: Option<Spanned<String>>,
    /// What happens when the SLA passes, in order: `remind`, `escalate`.
    #[serde(default)]
    pub on_breach: Vec<Spanned<String>>,
    /// Entities that must concur before the step can be approved.
    #[serde(default)]
    pub concurrence: Vec<Spanned<Concurrence>>,
}

/// Who decides a step.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Decider {
    /// The post of this designation in the originator's reporting chain.
    Designation(String),
    /// The post the current holder reports to.
    NextUp(bool),
    /// A post by its code.
    Post(String),
    /// The head of another entity (its secretary or equivalent), by entity code.
    HeadOf(String),
}

/// A structured condition: every part given must hold.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The file is at least this classified.
    pub classification_at_least: Option<String>,
    /// The file's priority is one of these.
    pub priority_in: Option<Vec<String>>,
    /// A declared numeric field…
    pub field: Option<String>,
    /// …is at least this…
    pub at_least: Option<f64>,
    /// …and below this.
    pub below: Option<f64>,
}

/// A concurrence another entity must give.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Concurrence {
    /// The entity, by code (`FIN`).
    pub entity: String,
    /// Needed only when this holds.
    #[serde(default)]
    pub when: Option<Condition>,
    /// How long that entity has.
    pub sla: String,
}

/// Where a file goes after its last approval.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Finally {
    /// Back to the originator, to issue orders.
    #[default]
    Originator,
    /// It stays with the last decider.
    Stay,
}

/// An SLA: clock hours, or working days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sla {
    /// Clock hours.
    Hours(u32),
    /// Working days (the configured week and holidays).
    WorkingDays(u32),
}

impl Sla {
    /// Parses `"48h"` or `"2d"`.
    pub fn parse(s: &str) -> Result<Sla, String> {
        let s = s.trim();
        // The unit is the last character, whatever its width in bytes.
        let (n, unit) = s.split_at(s.char_indices().last().map_or(0, |(i, _)| i));
        let n: u32 =
            n.parse().map_err(|_| format!("SLA `{s}` must be a whole number then h or d, e.g. \"48h\" or \"2d\""))?;
        if n == 0 {
            return Err(format!("SLA `{s}` must be more than zero"));
        }
        match unit {
            "h" => Ok(Sla::Hours(n)),
            "d" => Ok(Sla::WorkingDays(n)),
            _ => Err(format!("SLA `{s}` has unit `{unit}`; use h (hours) or d (working days)")),
        }
    }
}

/// The working week and holidays that `"2d"` SLAs count in, in the
/// deployment's civil time zone.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// Working weekdays, Monday first.
    pub working: [bool; 7],
    /// Gazetted holidays.
    pub holidays: BTreeSet<chrono::NaiveDate>,
    /// The civil time zone, seconds east of UTC.
    pub offset_secs: i32,
}

impl Default for Calendar {
    /// Monday to Friday, no holidays, Pakistan Standard Time.
    fn default() -> Self {
        Calendar {
            working: [true, true, true, true, true, false, false],
            holidays: BTreeSet::new(),
            offset_secs: 5 * 3600,
        }
    }
}

impl Calendar {
    /// Reads `mon`…`sun` and `YYYY-MM-DD` lists.
    pub fn new(days: &[String], holidays: &[String], offset_secs: i32) -> Result<Calendar, String> {
        const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let mut working = [false; 7];
        for d in days {
            let i = NAMES
                .iter()
                .position(|n| d.eq_ignore_ascii_case(n))
                .ok_or_else(|| format!("`{d}` is not a weekday; use mon, tue, wed, thu, fri, sat or sun"))?;
            working[i] = true;
        }
        if !working.contains(&true) {
            return Err("at least one working day is needed".into());
        }
        let holidays = holidays
            .iter()
            .map(|h| {
                chrono::NaiveDate::parse_from_str(h, "%Y-%m-%d").map_err(|_| format!("holiday `{h}` is not YYYY-MM-DD"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Calendar { working, holidays, offset_secs })
    }

    /// Whether a civil date is a working day.
    pub fn is_working(&self, d: chrono::NaiveDate) -> bool {
        use chrono::Datelike;
        self.working[d.weekday().num_days_from_monday() as usize] && !self.holidays.contains(&d)
    }

    /// When an SLA that starts at `since` (UTC µs) runs out: clock hours, or
    /// the same time of day after that many working days (a day that is not
    /// a working day does not count).
    pub fn due(&self, sla: Sla, since: i64) -> i64 {
        const HOUR: i64 = 3_600_000_000;
        const DAY: i64 = 24 * HOUR;
        match sla {
            Sla::Hours(h) => since + i64::from(h) * HOUR,
            Sla::WorkingDays(n) => {
                let offset = i64::from(self.offset_secs) * 1_000_000;
                let date_of =
                    |t: i64| chrono::DateTime::from_timestamp_micros(t + offset).unwrap_or_default().date_naive();
                let mut at = since;
                let mut left = n;
                // Bounded: a year of no working days cannot happen (one is required).
                for _ in 0..(n as usize * 7 + 400) {
                    at += DAY;
                    if self.is_working(date_of(at)) {
                        left -= 1;
                        if left == 0 {
                            break;
                        }
                    }
                }
                at
            }
        }
    }
}

/// What the org chart offers for checking a workflow.
#[derive(Debug, Clone, Default)]
pub struct OrgFacts {
    /// Designations of existing posts.
    pub designations: BTreeSet<String>,
    /// Codes of existing posts.
    pub post_codes: BTreeSet<String>,
    /// Codes of entities.
    pub entity_codes: BTreeSet<String>,
}

/// A problem with a workflow, at a line of its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The 1-based line of a byte offset in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

/// Reads and checks a workflow's TOML text. `file_stem` is its file name
/// without `.toml`; `org`, when given, is checked against (designations and
/// codes that exist).
pub fn parse(text: &str, file_stem: &str, org: Option<&OrgFacts>) -> Result<Workflow, Vec<Problem>> {
    let wf: Workflow = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(1, |s| line_of(text, s.start));
        vec![Problem { line, message: e.message().trim().to_owned() }]
    })?;
    let problems = check(&wf, text, file_stem, org);
    if problems.is_empty() { Ok(wf) } else { Err(problems) }
}

fn check_condition(c: &Condition, fields: &BTreeSet<&str>, line: usize, out: &mut Vec<Problem>) {
    let mut bad = |message: String| out.push(Problem { line, message });
    if let Some(k) = &c.classification_at_least
        && k.parse::<Clearance>().is_err()
    {
        bad(format!("unknown classification `{k}`"));
    }
    for p in c.priority_in.iter().flatten() {
        if p.parse::<Priority>().is_err() {
            bad(format!("unknown priority `{p}`"));
        }
    }
    match (&c.field, c.at_least.is_some() || c.below.is_some()) {
        (Some(f), _) if !fields.contains(f.as_str()) => bad(format!("field `{f}` is not declared in a [[field]]")),
        (Some(_), false) => bad("a `field` needs `at_least` or `below`".into()),
        (None, true) => bad("`at_least` and `below` need a `field`".into()),
        _ => {}
    }
    if let (Some(lo), Some(hi)) = (c.at_least, c.below)
        && lo >= hi
    {
        bad("`at_least` must be below `below`".into());
    }
}

fn check(wf: &Workflow, text: &str, stem: &str, org: Option<&OrgFacts>) -> Vec<Problem> {
    let mut out = Vec::new();
    let at = |span: std::ops::Range<usize>| line_of(text, span.start);
    if wf.id.get_ref() != stem {
        out.push(Problem {
            line: at(wf.id.span()),
            message: format!("id `{}` must match the file name `{stem}`", wf.id.get_ref()),
        });
    }
    if wf.steps.is_empty() {
        out.push(Problem { line: 1, message: "a workflow needs at least one [[step]]".into() });
    }
    let fields: BTreeSet<&str> = wf.fields.iter().map(|f| f.name.as_str()).collect();
    let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, step) in wf.steps.iter().enumerate() {
        let line = at(step.span());
        if ids.insert(step.get_ref().id.as_str(), i).is_some() {
            out.push(Problem { line, message: format!("step id `{}` is used twice", step.get_ref().id) });
        }
    }
    for step in &wf.steps {
        let s = step.get_ref();
        let dline = at(s.decider.span());
        match s.decider.get_ref() {
            Decider::Designation(d) => {
                if org.is_some_and(|o| !o.designations.contains(d)) {
                    out.push(Problem { line: dline, message: format!("no post has the designation `{d}`") });
                }
            }
            Decider::Post(code) => {
                if org.is_some_and(|o| !o.post_codes.contains(code)) {
                    out.push(Problem { line: dline, message: format!("no post has the code `{code}`") });
                }
            }
            Decider::HeadOf(code) => {
                if org.is_some_and(|o| !o.entity_codes.contains(code)) {
                    out.push(Problem { line: dline, message: format!("no entity has the code `{code}`") });
                }
            }
            Decider::NextUp(true) => {}
            Decider::NextUp(false) => {
                out.push(Problem { line: dline, message: "`next_up` can only be true".into() });
            }
        }
        if let Err(m) = Sla::parse(s.sla.get_ref()) {
            out.push(Problem { line: at(s.sla.span()), message: m });
        }
        if let Some(w) = &s.when {
            check_condition(w.get_ref(), &fields, at(w.span()), &mut out);
        }
        if let Some(r) = &s.on_return
            && !matches!(r.get_ref().as_str(), "previous" | "originator")
        {
            out.push(Problem {
                line: at(r.span()),
                message: format!("on_return `{}`: use previous or originator", r.get_ref()),
            });
        }
        for b in &s.on_breach {
            if !matches!(b.get_ref().as_str(), "remind" | "escalate") {
                out.push(Problem {
                    line: at(b.span()),
                    message: format!("on_breach `{}`: use remind or escalate", b.get_ref()),
                });
            }
        }
        for c in &s.concurrence {
            let cl = at(c.span());
            let c = c.get_ref();
            if org.is_some_and(|o| !o.entity_codes.contains(&c.entity)) {
                out.push(Problem { line: cl, message: format!("no entity has the code `{}`", c.entity) });
            }
            if let Err(m) = Sla::parse(&c.sla) {
                out.push(Problem { line: cl, message: m });
            }
            if let Some(w) = &c.when {
                check_condition(w, &fields, cl, &mut out);
            }
        }
        if let Some(target) = &s.on_approve
            && !ids.contains_key(target.get_ref().as_str())
        {
            out.push(Problem {
                line: at(target.span()),
                message: format!("on_approve names no step `{}`", target.get_ref()),
            });
        }
    }
    if out.is_empty() {
        out.extend(check_routes(wf, text, &ids));
    }
    out
}

/// Where an approval of step `i` leads: `Some(j)`, or `None` for the end.
pub fn next_step(wf: &Workflow, i: usize) -> Option<usize> {
    match &wf.steps[i].get_ref().on_approve {
        Some(t) => wf.steps.iter().position(|s| s.get_ref().id == *t.get_ref()),
        None => (i + 1 < wf.steps.len()).then_some(i + 1),
    }
}

/// Every step reachable from the first by approvals, and no approval loop.
fn check_routes(wf: &Workflow, text: &str, ids: &BTreeMap<&str, usize>) -> Vec<Problem> {
    let mut out = Vec::new();
    let at = |i: usize| line_of(text, wf.steps[i].span().start);
    // The approval path from the first step: each step once, or it loops.
    let mut seen = vec![false; wf.steps.len()];
    let mut i = Some(0);
    while let Some(s) = i.filter(|_| !wf.steps.is_empty()) {
        if seen[s] {
            out.push(Problem {
                line: at(s),
                message: format!("approvals loop back to step `{}`", wf.steps[s].get_ref().id),
            });
            return out;
        }
        seen[s] = true;
        i = next_step(wf, s);
    }
    for (id, &s) in ids {
        if !seen[s] {
            out.push(Problem { line: at(s), message: format!("step `{id}` is never reached by approvals") });
        }
    }
    out.sort_by_key(|p| p.line);
    out
}

/// A Mermaid flowchart of the workflow, for the web pages and `daftar workflow graph`.
pub fn mermaid(wf: &Workflow) -> String {
    let mut out = String::from("flowchart TD\n    start([originator])\n");
    let label = |d: &Decider| match d {
        Decider::Designation(x) => x.replace('_', " "),
        Decider::NextUp(_) => "next post up".into(),
        Decider::Post(code) => format!("post {code}"),
        Decider::HeadOf(code) => format!("head of {code}"),
    };
    for (i, s) in wf.steps.iter().enumerate() {
        let s = s.get_ref();
        out.push_str(&format!("    s{i}[\"{}: {} ({})\"]\n", s.id, label(s.decider.get_ref()), s.sla.get_ref()));
        for (k, c) in s.concurrence.iter().enumerate() {
            out.push_str(&format!("    c{i}_{k}{{{{\"concurrence: {}\"}}}} -.-> s{i}\n", c.get_ref().entity));
        }
    }
    out.push_str("    done([");
    out.push_str(match wf.finally {
        Finally::Originator => "back to the originator for orders",
        Finally::Stay => "decided",
    });
    out.push_str("])\n");
    if !wf.steps.is_empty() {
        out.push_str("    start --> s0\n");
    }
    for i in 0..wf.steps.len() {
        match next_step(wf, i) {
            Some(j) => out.push_str(&format!("    s{i} -->|approve| s{j}\n")),
            None => out.push_str(&format!("    s{i} -->|approve| done\n")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "noting"
name = "Noting"

[[field]]
name = "amount"
unit = "PKR"

[[step]]
id = "ds"
decider = { designation = "deputy_secretary" }
sla = "48h"

[[step]]
id = "js"
decider = { next_up = true }
sla = "2d"
when = { field = "amount", at_least = 1000 }
concurrence = [{ entity = "FIN", sla = "3d", when = { field = "amount", at_least = 5000000 } }]
"#;

    fn org() -> OrgFacts {
        OrgFacts {
            designations: ["deputy_secretary".to_owned()].into(),
            post_codes: BTreeSet::new(),
            entity_codes: ["FIN".to_owned()].into(),
        }
    }

    #[test]
    fn a_good_workflow_reads_and_draws() {
        let wf = parse(GOOD, "noting", Some(&org())).unwrap();
        assert_eq!(wf.steps.len(), 2);
        assert_eq!(next_step(&wf, 0), Some(1));
        assert_eq!(next_step(&wf, 1), None);
        let m = mermaid(&wf);
        assert!(m.contains("s0 -->|approve| s1") && m.contains("concurrence: FIN"), "{m}");
    }

    #[test]
    fn problems_name_their_lines() {
        let bad = GOOD.replace("deputy_secretary", "deputy_secratary").replace("\"48h\"", "\"48w\"");
        let p = parse(&bad, "noting", Some(&org())).unwrap_err();
        assert!(p.iter().any(|p| p.line == 11 && p.message.contains("deputy_secratary")), "{p:?}");
        assert!(p.iter().any(|p| p.line == 12 && p.message.contains("unit `w`")), "{p:?}");
        let p = parse(&GOOD.replace("at_least = 1000 }", "at_least = 1000, colour = 1 }"), "noting", None).unwrap_err();
        assert!(p[0].message.contains("colour"), "{p:?}");
        let p = parse(GOOD, "other-name", None).unwrap_err();
        assert!(p[0].message.contains("file name"), "{p:?}");
        let p = parse(
            &GOOD.replace("field = \"amount\", at_least = 1000", "field = \"cost\", at_least = 1000"),
            "noting",
            None,
        )
        .unwrap_err();
        assert!(p[0].message.contains("`cost` is not declared"), "{p:?}");
    }

    #[test]
    fn loops_and_unreachable_steps_are_refused() {
        let looped = GOOD.replace("sla = \"2d\"", "sla = \"2d\"\non_approve = \"ds\"");
        let p = parse(&looped, "noting", None).unwrap_err();
        assert!(p.iter().any(|p| p.message.contains("loop")), "{p:?}");
        let skipped = GOOD.replace("sla = \"48h\"", "sla = \"48h\"\non_approve = \"ds2\"")
            + "\n[[step]]\nid = \"ds2\"\ndecider = { next_up = true }\nsla = \"1d\"\n";
        let p = parse(&skipped, "noting", None).unwrap_err();
        assert!(p.iter().any(|p| p.message.contains("`js` is never reached")), "{p:?}");
    }

    #[test]
    fn slas() {
        assert_eq!(Sla::parse("48h"), Ok(Sla::Hours(48)));
        assert_eq!(Sla::parse("2d"), Ok(Sla::WorkingDays(2)));
        assert!(Sla::parse("0d").is_err() && Sla::parse("d").is_err() && Sla::parse("3w").is_err());
        // A unit of more than one byte is named, not sliced through (found by fuzzing).
        assert!(Sla::parse("3é").unwrap_err().contains("unit `é`"));
        assert!(Sla::parse("é").is_err() && Sla::parse("").is_err());
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros();
        let cal =
            Calendar::new(&["mon", "tue", "wed", "thu", "fri"].map(String::from), &["2026-12-25".into()], 5 * 3600)
                .unwrap();
        // Thursday 10:00 PKT + 2 working days = Monday 10:00.
        assert_eq!(cal.due(Sla::WorkingDays(2), t("2026-12-03T10:00:00+05:00")), t("2026-12-07T10:00:00+05:00"));
        // A holiday (Friday the 25th) does not count either.
        assert_eq!(cal.due(Sla::WorkingDays(1), t("2026-12-24T09:00:00+05:00")), t("2026-12-28T09:00:00+05:00"));
        // Started on a Saturday: Monday is the first day.
        assert_eq!(cal.due(Sla::WorkingDays(1), t("2026-12-05T12:00:00+05:00")), t("2026-12-07T12:00:00+05:00"));
        // Hours are clock hours, weekends included.
        assert_eq!(cal.due(Sla::Hours(48), t("2026-12-04T10:00:00+05:00")), t("2026-12-06T10:00:00+05:00"));
        assert!(Calendar::new(&["someday".into()], &[], 0).is_err());
        assert!(Calendar::new(&["mon".into()], &["25/12/2026".into()], 0).is_err());
    }
}
