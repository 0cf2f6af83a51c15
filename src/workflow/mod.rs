//! The deployment's approval chains: `workflows/*.toml` read, checked
//! against the org chart, and kept for the server (SPEC section 7). The
//! server refuses to start on an invalid one, naming it; `daftar workflow
//! check` reports every problem as `file:line: message`.

pub mod queue;
pub mod sla;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use diesel::prelude::*;
use serde::Serialize;

use crate::domain::org::{Clearance, OrgKind, is_head_designation};
use crate::domain::route::{Chart, Post};
use crate::domain::workflow::{self, Decider, OrgFacts, Workflow};
use crate::store::schema::{org_units, post_assignments, posts, users, workflow_versions};
use crate::store::{DbConn, StoreError, now_micros};

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
    /// Its text, kept by hash for the files put on it.
    pub text: String,
}

impl Loaded {
    /// Its id.
    pub fn id(&self) -> &str {
        self.workflow.id.get_ref()
    }
}

/// Keeps this definition for the files put on it (once per hash).
pub fn register(conn: &mut DbConn, loaded: &Loaded) -> QueryResult<()> {
    let row = (
        workflow_versions::hash.eq(&loaded.hash),
        workflow_versions::workflow_id.eq(loaded.id()),
        workflow_versions::definition.eq(&loaded.text),
        workflow_versions::created_at.eq(now_micros()),
    );
    crate::on_backend!(conn, |c| diesel::insert_into(workflow_versions::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Definitions read back by hash, parsed once per process.
fn cache() -> &'static Mutex<HashMap<String, Arc<Workflow>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Workflow>>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The definition a file was put on, by its hash: the route of a file in
/// flight never changes when its TOML is edited.
pub fn definition(conn: &mut DbConn, hash: &str) -> Result<Arc<Workflow>, StoreError> {
    if let Some(wf) = cache().lock().unwrap_or_else(|p| p.into_inner()).get(hash) {
        return Ok(wf.clone());
    }
    let (id, text): (String, String) = workflow_versions::table
        .find(hash)
        .select((workflow_versions::workflow_id, workflow_versions::definition))
        .first(conn)?;
    // Checked when it was loaded; the org chart is not checked again (a post
    // removed since makes the step's decider unfound, reported when routed).
    let wf = workflow::parse(&text, &id, None).map_err(|p| {
        let why = format!("stored workflow {id} no longer reads: {}", p.first().map_or("", |p| p.message.as_str()));
        StoreError::Query(diesel::result::Error::DeserializationError(why.into()))
    })?;
    let wf = Arc::new(wf);
    cache().lock().unwrap_or_else(|p| p.into_inner()).insert(hash.to_owned(), wf.clone());
    Ok(wf)
}

/// The part of the org chart that routing `wf` from `posts_at` can reach:
/// those posts and everything above them, the posts named by code, and the
/// heads of the entities named, with today's holders' clearances.
pub fn chart_for(conn: &mut DbConn, wf: &Workflow, posts_at: &[&str]) -> Result<Chart, StoreError> {
    let mut want: BTreeSet<String> = posts_at.iter().map(|p| (*p).to_owned()).collect();
    let mut codes = Vec::new();
    let mut entities = Vec::new();
    for s in &wf.steps {
        let s = s.get_ref();
        match s.decider.get_ref() {
            Decider::Post(code) => codes.push(code.clone()),
            Decider::HeadOf(e) => entities.push(e.clone()),
            Decider::Designation(_) | Decider::NextUp(_) => {}
        }
        entities.extend(s.concurrence.iter().map(|c| c.get_ref().entity.clone()));
    }
    if !codes.is_empty() {
        want.extend(posts::table.filter(posts::code.eq_any(&codes)).select(posts::id).load::<String>(conn)?);
    }
    if !entities.is_empty() {
        want.extend(heads_of(conn, &entities)?.into_iter().map(|(_, post)| post));
    }
    let mut chart = Chart::new();
    // Climb: each round loads the posts wanted and asks for their superiors.
    for _ in 0..32 {
        let ids: Vec<String> = want.iter().filter(|id| !chart.contains_key(*id)).cloned().collect();
        if ids.is_empty() {
            break;
        }
        let rows: Vec<(String, String, String, Option<String>, Option<String>)> = posts::table
            .inner_join(org_units::table)
            .filter(posts::id.eq_any(&ids))
            .select((posts::id, posts::code, posts::designation, posts::reports_to, org_units::entity_id))
            .load(conn)?;
        let entity_ids: Vec<String> = rows.iter().filter_map(|r| r.4.clone()).collect();
        let entity_codes: HashMap<String, String> = org_units::table
            .filter(org_units::id.eq_any(&entity_ids))
            .select((org_units::id, org_units::code))
            .load::<(String, String)>(conn)?
            .into_iter()
            .collect();
        let holders = cleared_holders(conn, &ids)?;
        for (id, code, designation, reports_to, entity) in rows {
            let entity_code = entity.and_then(|e| entity_codes.get(&e).cloned());
            if let Some(up) = &reports_to {
                want.insert(up.clone());
            }
            let holders = holders.get(&id).cloned().unwrap_or_default();
            chart.insert(id, Post { code, designation, entity_code, reports_to, holders });
        }
        want.retain(|id| !ids.contains(id) || chart.contains_key(id));
    }
    Ok(chart)
}

/// The head posts (secretary or equivalent) of entities by code: `(entity code, post id)`.
pub fn heads_of(conn: &mut DbConn, entity_codes: &[String]) -> QueryResult<Vec<(String, String)>> {
    let entities: Vec<(String, String)> = org_units::table
        .filter(org_units::code.eq_any(entity_codes))
        .select((org_units::id, org_units::code))
        .load(conn)?;
    let ids: Vec<&String> = entities.iter().map(|(id, _)| id).collect();
    let rows: Vec<(String, String, Option<String>)> = posts::table
        .inner_join(org_units::table)
        .filter(org_units::entity_id.eq_any(&ids))
        .order(posts::code)
        .select((posts::id, posts::designation, org_units::entity_id))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(_, d, _)| is_head_designation(d))
        .filter_map(|(post, _, entity)| {
            entities.iter().find(|(id, _)| Some(id) == entity.as_ref()).map(|(_, code)| (code.clone(), post))
        })
        .collect())
}

/// Clearances of today's holders (regular, acting, additional charge) of each post.
fn cleared_holders(conn: &mut DbConn, post_ids: &[String]) -> QueryResult<HashMap<String, Vec<Clearance>>> {
    let today = crate::org::today();
    let rows: Vec<(String, String)> = post_assignments::table
        .inner_join(users::table)
        .filter(post_assignments::post_id.eq_any(post_ids))
        .filter(post_assignments::starts_on.le(&today))
        .filter(post_assignments::ends_on.is_null().or(post_assignments::ends_on.ge(&today)))
        .filter(users::disabled.eq(false))
        .select((post_assignments::post_id, users::clearance))
        .load(conn)?;
    let mut out: HashMap<String, Vec<Clearance>> = HashMap::new();
    for (post, c) in rows {
        out.entry(post).or_default().push(crate::store::stored(&c)?);
    }
    Ok(out)
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
                loaded.push(Loaded { workflow, path, hash, text });
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
