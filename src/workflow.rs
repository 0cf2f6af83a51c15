//! The deployment's approval chains: `workflows/*.toml` read, checked
//! against the org chart, and kept for the server (SPEC section 7). The
//! server refuses to start on an invalid one, naming it; `daftar workflow
//! check` reports every problem as `file:line: message`.

use std::path::{Path, PathBuf};

use diesel::prelude::*;
use serde::Serialize;

use crate::domain::org::OrgKind;
use crate::domain::workflow::{self, OrgFacts, Workflow};
use crate::store::DbConn;
use crate::store::schema::{org_units, posts};

/// A workflow as loaded, with where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The workflow.
    pub workflow: Workflow,
    /// Its file.
    pub path: PathBuf,
    /// SHA-256 of its text: recorded when a file is put on it, so an edit
    /// changes the route of new files only.
    pub hash: String,
}

/// What the org chart offers for checking workflows.
pub fn org_facts(conn: &mut DbConn) -> QueryResult<OrgFacts> {
    let designations = posts::table.select(posts::designation).distinct().load::<String>(conn)?;
    let post_codes = posts::table.select(posts::code).load::<String>(conn)?;
    let units = org_units::table.select((org_units::code, org_units::kind)).load::<(String, String)>(conn)?;
    Ok(OrgFacts {
        designations: designations.into_iter().collect(),
        post_codes: post_codes.into_iter().collect(),
        entity_codes: units
            .into_iter()
            .filter(|(_, kind)| kind.parse::<OrgKind>().is_ok_and(OrgKind::is_entity))
            .map(|(code, _)| code)
            .collect(),
    })
}

/// Reads every `*.toml` in `dir`, in name order. `Err` lists every problem
/// of every file as `file:line: message`.
pub fn load_dir(dir: &Path, org: Option<&OrgFacts>) -> Result<Vec<Loaded>, Vec<String>> {
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => {
            entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "toml")).collect()
        }
        Err(e) => return Err(vec![format!("{}: cannot read the workflows directory: {e}", dir.display())]),
    };
    paths.sort();
    let mut loaded = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        match workflow::parse(&text, &stem, org) {
            Ok(workflow) => {
                let hash = crate::domain::canonical::sha256_hex(text.as_bytes());
                loaded.push(Loaded { workflow, path, hash });
            }
            Err(ps) => problems.extend(ps.into_iter().map(|p| format!("{}:{}: {}", path.display(), p.line, p.message))),
        }
    }
    if problems.is_empty() { Ok(loaded) } else { Err(problems) }
}

/// A workflow as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowView {
    /// Its id.
    pub id: String,
    /// For people.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Its steps, in order.
    pub steps: Vec<StepView>,
    /// SHA-256 of its definition.
    pub version: String,
    /// A Mermaid flowchart of it.
    pub mermaid: String,
}

/// A step as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    /// Its id.
    pub id: String,
    /// Who decides, in words.
    pub decider: String,
    /// Its SLA as declared.
    pub sla: String,
    /// Entities whose concurrence it may need.
    pub concurrence: Vec<String>,
}

impl Loaded {
    /// The view the API serialises.
    pub fn view(&self) -> WorkflowView {
        use crate::domain::workflow::Decider;
        let wf = &self.workflow;
        WorkflowView {
            id: wf.id.get_ref().clone(),
            name: wf.name.clone(),
            description: wf.description.clone(),
            steps: wf
                .steps
                .iter()
                .map(|s| {
                    let s = s.get_ref();
                    StepView {
                        id: s.id.clone(),
                        decider: match s.decider.get_ref() {
                            Decider::Designation(d) => format!("designation {d} in the originator's chain"),
                            Decider::NextUp(_) => "the next post up".into(),
                            Decider::Post(c) => format!("post {c}"),
                            Decider::HeadOf(c) => format!("head of {c}"),
                        },
                        sla: s.sla.get_ref().clone(),
                        concurrence: s.concurrence.iter().map(|c| c.get_ref().entity.clone()).collect(),
                    }
                })
                .collect(),
            version: self.hash.clone(),
            mermaid: workflow::mermaid(wf),
        }
    }
}
