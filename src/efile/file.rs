//! Opening files, showing them, and linking them.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::Serialize;
use serde_json::json;

use super::documents::DocumentView;
use super::notes::NoteView;
use super::{Actor, EfileError, FileRow, PostRef, Refs, Unopened, UserRef, invalid, visible_file};
use crate::domain::efile::{FileStatus, LinkKind, file_no, parse_head};
use crate::domain::org::parse_text;
use crate::ledger;
use crate::store::schema::{file_links, files, org_units, posts, receipts};
use crate::store::{DbConn, new_id, now_micros, rfc3339};

/// `POST /files`.
pub struct NewFile {
    /// What the file is about.
    pub subject: String,
    /// Default `unclassified`; at most the creator's clearance.
    pub classification: Option<String>,
    /// Default `routine`.
    pub priority: Option<String>,
    /// The workflow to put it on, as loaded by the server, with its declared fields.
    pub workflow: Option<(crate::workflow::Loaded, BTreeMap<String, f64>)>,
    /// Owning section; default the acting post's unit.
    pub section_id: Option<String>,
    /// Subject head of the file number; default `1`.
    pub head: Option<String>,
}

/// Opens a file at the acting post; returns its id.
pub fn create(conn: &mut DbConn, actor: &Actor, input: NewFile) -> Result<String, EfileError> {
    let post = actor.post()?.to_owned();
    let subject = parse_text(&input.subject, 500).map_err(|e| invalid("subject", e))?;
    let classification = super::parse_classification(actor, input.classification.as_deref())?;
    let priority = super::parse_priority(input.priority.as_deref())?;
    let head = parse_head(input.head.as_deref().unwrap_or("1")).map_err(|e| invalid("head", e))?;
    if let Some((loaded, fields)) = &input.workflow {
        check_fields(&loaded.workflow, fields)?;
    }
    let post_unit: String = posts::table.find(&post).select(posts::org_unit_id).first(conn)?;
    let section_id = input.section_id.clone().unwrap_or(post_unit.clone());
    let (section_code, entity): (String, Option<String>) = org_units::table
        .find(&section_id)
        .select((org_units::code, org_units::entity_id))
        .first(conn)
        .optional()?
        .ok_or(EfileError::NotFound)?;
    let my_entity: Option<String> = org_units::table.find(&post_unit).select(org_units::entity_id).first(conn)?;
    if entity != my_entity {
        return Err(EfileError::Forbidden("section_id: must be a unit of your own entity".into()));
    }
    let now = now_micros();
    let year = crate::clock::year_at(now);
    let serial = super::next_serial(conn, &format!("file:{section_id}"), year)?;
    let id = new_id();
    let number = file_no(&head, serial, year, &section_code);
    diesel::insert_into(files::table)
        .values((
            files::id.eq(&id),
            files::file_no.eq(&number),
            files::head.eq(&head),
            files::serial.eq(serial),
            files::year.eq(year),
            files::subject.eq(&subject),
            files::classification.eq(classification.as_str()),
            files::priority.eq(priority.as_str()),
            files::urgency.eq(priority as i32),
            files::status.eq(FileStatus::Open.as_str()),
            files::section_id.eq(&section_id),
            files::entity_id.eq(&entity),
            files::created_by_post.eq(&post),
            files::created_by_user.eq(actor.user()),
            files::holder_post_id.eq(&post),
            files::held_since.eq(now),
            files::workflow_id.eq(input.workflow.as_ref().map(|(w, _)| w.id())),
            files::created_at.eq(now),
            files::updated_at.eq(now),
        ))
        .execute(conn)?;
    super::first_stay(conn, &id, "file", &post, now)?;
    // On a workflow: the definition is kept by hash, and the ledger says which.
    let workflow = match &input.workflow {
        Some((loaded, fields)) => {
            crate::workflow::register(conn, loaded)?;
            let fields_json = serde_json::to_string(fields).unwrap_or_else(|_| "{}".into());
            super::route::start(conn, &id, loaded.id(), &loaded.hash, &fields_json)?;
            // Canonical ledger payloads carry no floats: the values as decimal text.
            let as_text: BTreeMap<&String, String> = fields
                .iter()
                .map(|(k, v)| (k, if v.fract() == 0.0 && v.abs() < 1e15 { format!("{v:.0}") } else { v.to_string() }))
                .collect();
            Some(json!({"id": loaded.id(), "hash": loaded.hash, "fields": as_text}))
        }
        None => None,
    };
    ledger::append(
        conn,
        ledger::Event {
            kind: "file_created",
            actor_user: Some(actor.user()),
            actor_post: Some(&post),
            file_id: Some(&id),
            receipt_id: None,
            payload: json!({"file_no": number, "subject": subject, "classification": classification.as_str(),
                            "priority": priority.as_str(), "section_id": section_id, "workflow": workflow}),
        },
    )?;
    Ok(id)
}

/// Checks the declared numeric fields given for a workflow: each declared
/// one present, nothing else, each a finite number not below zero.
fn check_fields(wf: &crate::domain::workflow::Workflow, fields: &BTreeMap<String, f64>) -> Result<(), EfileError> {
    for name in fields.keys() {
        if !wf.fields.iter().any(|f| f.name == *name) {
            return Err(invalid("fields", format!("`{name}` is not a field of the workflow {}", wf.id.get_ref())));
        }
    }
    for f in &wf.fields {
        match fields.get(&f.name) {
            None => return Err(invalid("fields", format!("`{}` ({}) is required by this workflow", f.name, f.unit))),
            Some(v) if !v.is_finite() || *v < 0.0 => {
                return Err(invalid("fields", format!("`{}` must be a number, zero or more", f.name)));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A file as `GET /files/{id}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FileView {
    /// Its id.
    pub id: String,
    /// Its Secretariat number.
    pub file_no: String,
    /// What it is about.
    pub subject: String,
    /// Its classification.
    pub classification: String,
    /// Its priority.
    pub priority: String,
    /// `open`, `parked` or `closed`.
    pub status: String,
    /// The owning section.
    pub section: UnitRef,
    /// The post that holds it now.
    pub holder_post: Option<PostRef>,
    /// Since when (RFC 3339).
    pub held_since: String,
    /// When it is due, if set.
    pub due_at: Option<String>,
    /// Who opened it.
    pub created_by: CreatedBy,
    /// Its workflow and step, if it is on one.
    pub workflow: Option<WorkflowRef>,
    /// The note sheet as the reader sees it (others' drafts hidden).
    pub notes: Vec<NoteView>,
    /// The correspondence.
    pub documents: Vec<DocumentView>,
    /// Receipts put up in it.
    pub receipts: Vec<ReceiptRef>,
    /// Links to files the reader may see, both ways.
    pub links: Vec<LinkView>,
    /// Changes with every change (for optimistic concurrency).
    pub version: i64,
    /// When it was opened.
    pub created_at: String,
}

/// An org unit as shown inside other objects.
#[derive(Debug, Clone, Serialize)]
pub struct UnitRef {
    /// Its id.
    pub id: String,
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: String,
}

/// Who opened a file.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedBy {
    /// At which post.
    pub post: Option<PostRef>,
    /// Which officer.
    pub user: UserRef,
}

/// A file's place on its workflow.
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowRef {
    /// The workflow's id.
    pub id: String,
    /// SHA-256 of the definition the file follows (the one it was put on).
    pub version: String,
    /// `originator` (to be submitted by an approval), `step` or `done`.
    pub state: String,
    /// The id of the step whose decision is awaited.
    pub step: Option<String>,
    /// Its position in the workflow, from 0.
    pub step_index: Option<i32>,
    /// The post whose decision it awaits.
    pub waits_on: Option<PostRef>,
    /// Since when (RFC 3339).
    pub since: Option<String>,
    /// When the step is due.
    pub due_at: Option<String>,
    /// Whether the step is past its SLA.
    pub overdue: bool,
    /// The declared fields given when the file was put on it.
    pub fields: BTreeMap<String, f64>,
    /// The concurrences of the current step.
    pub concurrences: Vec<super::route::ConcurrenceView>,
}

/// The file's place on its workflow, if it is on one.
pub fn workflow_of(conn: &mut DbConn, file_id: &str) -> Result<Option<WorkflowRef>, EfileError> {
    let Some(r) = super::route::route_of(conn, file_id)? else { return Ok(None) };
    let wf = crate::workflow::definition(conn, &r.hash)?;
    let step = r.step.and_then(|i| wf.steps.get(i as usize)).map(|s| s.get_ref().id.clone());
    let refs = Refs::load(conn, [r.post_id.as_deref()], std::iter::empty::<&str>())?;
    let concurrences = super::route::current_concurrences(conn, &r)?;
    Ok(Some(WorkflowRef {
        id: r.workflow_id.clone(),
        version: r.hash.clone(),
        state: r.state.clone(),
        step,
        step_index: r.step,
        waits_on: refs.post_ref(r.post_id.as_deref()),
        since: r.step_since.map(rfc3339),
        due_at: r.step_due_at.map(rfc3339),
        overdue: r.step_due_at.is_some_and(|d| d < now_micros()),
        fields: serde_json::from_str(&r.fields).unwrap_or_default(),
        concurrences,
    }))
}

/// A receipt put up in a file.
#[derive(Debug, Clone, Serialize)]
pub struct ReceiptRef {
    /// Its id.
    pub id: String,
    /// Its diary number.
    pub diary_no: String,
    /// Its subject.
    pub subject: String,
    /// `electronic` or `physical`.
    pub form: String,
}

/// A link as a file shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LinkView {
    /// The other file.
    pub file_id: String,
    /// `reference`, `part_file` or `merged_into`.
    pub kind: String,
    /// The other file's number.
    pub file_no: String,
    /// `outgoing` (this file refers to the other) or `incoming`.
    pub direction: &'static str,
    /// When linked.
    pub linked_at: String,
}

/// The file as `GET /files/{id}` shows it to `actor`. The holder opening it
/// marks the movement that brought it as opened.
pub fn view(conn: &mut DbConn, actor: &Actor, file_id: &str) -> Result<FileView, EfileError> {
    let (view, unopened) = read(conn, actor, file_id)?;
    if let Some(u) = &unopened {
        super::mark_opened(conn, u)?;
    }
    Ok(view)
}

/// Shows a file without writing: the view, and what the actor has not
/// opened of it if they hold it (to be marked with [`super::mark_opened`]
/// in a write). So a file is read on a reader connection, and only its
/// first opening costs a write.
pub fn read(conn: &mut DbConn, actor: &Actor, file_id: &str) -> Result<(FileView, Option<Unopened>), EfileError> {
    let (file, _) = visible_file(conn, actor.viewer, file_id)?;
    Ok((render(conn, actor, &file)?, file.unopened_by(actor)))
}

/// Renders a file with its notes (others' drafts hidden), documents, receipts and links.
pub fn render(conn: &mut DbConn, actor: &Actor, file: &FileRow) -> Result<FileView, EfileError> {
    let notes = super::notes::sheet(conn, &file.id, actor.user())?;
    let documents = super::documents::of_file(conn, &file.id)?;
    let put_up: Vec<(String, String, String, String)> = crate::on_backend!(conn, |c| receipts::table
        .filter(receipts::file_id.eq(&file.id))
        .select((receipts::id, receipts::diary_no, receipts::subject, receipts::form))
        .load(c))?;
    let receipts =
        put_up.into_iter().map(|(id, diary_no, subject, form)| ReceiptRef { id, diary_no, subject, form }).collect();
    let links = links_of(conn, actor, &file.id)?;
    let (id, code, name, kind): (String, String, String, String) = crate::on_backend!(conn, |c| org_units::table
        .find(&file.section_id)
        .select((org_units::id, org_units::code, org_units::name, org_units::kind))
        .first(c))?;
    let refs = Refs::load(
        conn,
        [Some(file.holder_post_id.as_str()), Some(file.created_by_post.as_str())],
        [file.created_by_user.as_str()],
    )?;
    Ok(FileView {
        id: file.id.clone(),
        file_no: file.file_no.clone(),
        subject: file.subject.clone(),
        classification: file.classification.clone(),
        priority: file.priority.clone(),
        status: file.status.clone(),
        section: UnitRef { id, code, name, kind },
        holder_post: refs.post_ref(Some(&file.holder_post_id)),
        held_since: rfc3339(file.held_since),
        due_at: file.due_at.map(rfc3339),
        created_by: CreatedBy {
            post: refs.post_ref(Some(&file.created_by_post)),
            user: refs.user_ref(&file.created_by_user),
        },
        workflow: if file.workflow_id.is_some() { workflow_of(conn, &file.id)? } else { None },
        notes,
        documents,
        receipts,
        links,
        version: file.version,
        created_at: rfc3339(file.created_at),
    })
}

fn link_view(other: &FileRow, kind: &str, direction: &'static str, at: i64) -> LinkView {
    LinkView {
        file_id: other.id.clone(),
        kind: kind.to_owned(),
        file_no: other.file_no.clone(),
        direction,
        linked_at: rfc3339(at),
    }
}

/// The file's links both ways (`outgoing`: this file refers to, is a part of
/// or was merged into the other; `incoming`: the reverse), each only if the
/// viewer may see the other file.
fn links_of(conn: &mut DbConn, actor: &Actor, file_id: &str) -> Result<Vec<LinkView>, EfileError> {
    let rows: Vec<(String, String, String, i64)> = crate::on_backend!(conn, |c| file_links::table
        .filter(file_links::file_id.eq(file_id).or(file_links::other_file_id.eq(file_id)))
        .order(file_links::created_at)
        .select((file_links::file_id, file_links::other_file_id, file_links::kind, file_links::created_at))
        .load(c))?;
    let mut links = Vec::with_capacity(rows.len());
    for (from, to, kind, at) in rows {
        let (other, direction) = if from == file_id { (to, "outgoing") } else { (from, "incoming") };
        match visible_file(conn, actor.viewer, &other) {
            Ok((f, _)) => links.push(link_view(&f, &kind, direction, at)),
            Err(EfileError::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(links)
}

/// The id of the file with this number, as written (the caller checks sight).
pub fn id_by_number(conn: &mut DbConn, file_no: &str) -> QueryResult<Option<String>> {
    files::table.filter(files::file_no.eq(file_no)).select(files::id).first(conn).optional()
}

/// Links a file the actor holds to another file the actor may see. Merging
/// (`merged_into`) also closes the file: its notes continue in the other.
pub fn link(
    conn: &mut DbConn,
    actor: &Actor,
    file_id: &str,
    other_id: &str,
    kind: &str,
) -> Result<LinkView, EfileError> {
    let kind: LinkKind = kind.parse().map_err(|e| invalid("kind", e))?;
    let (file, _) = super::actionable_file(conn, actor, file_id)?;
    if file_id == other_id {
        return Err(EfileError::Conflict("file_id: a file cannot be linked to itself".into()));
    }
    let (other, _) = visible_file(conn, actor.viewer, other_id)?;
    let exists = file_links::table
        .filter(file_links::file_id.eq(file_id))
        .filter(file_links::other_file_id.eq(other_id))
        .filter(file_links::kind.eq(kind.as_str()))
        .count()
        .get_result::<i64>(conn)?;
    if exists > 0 {
        return Err(EfileError::Conflict("the files are already linked so".into()));
    }
    if kind == LinkKind::MergedInto && (file.status != "open" || other.status != "open") {
        return Err(EfileError::Conflict("only an open file can be merged, and only into an open file".into()));
    }
    let now = now_micros();
    diesel::insert_into(file_links::table)
        .values((
            file_links::id.eq(new_id()),
            file_links::file_id.eq(file_id),
            file_links::other_file_id.eq(other_id),
            file_links::kind.eq(kind.as_str()),
            file_links::by_user_id.eq(actor.user()),
            file_links::created_at.eq(now),
        ))
        .execute(conn)?;
    let post = actor.post()?.to_owned();
    ledger::append(
        conn,
        ledger::Event {
            kind: "file_linked",
            actor_user: Some(actor.user()),
            actor_post: Some(&post),
            file_id: Some(file_id),
            receipt_id: None,
            payload: json!({"other_file_id": other_id, "kind": kind.as_str()}),
        },
    )?;
    if kind == LinkKind::MergedInto {
        let close = super::movements::MoveInput {
            action: "close".into(),
            to_post_id: None,
            // Not the other file's number: a reader of this file may not see
            // that one (its links show it to those who may).
            remarks: Some("Merged into another file".into()),
            due_at: None,
            priority: None,
        };
        super::movements::move_file(conn, actor, file_id, close)?;
    } else {
        diesel::update(files::table.find(file_id))
            .set((files::version.eq(file.version + 1), files::updated_at.eq(now)))
            .execute(conn)?;
    }
    Ok(link_view(&other, kind.as_str(), "outgoing", now))
}
