//! The register of physical files: what an entity still keeps on paper, so
//! that adoption is measured against it honestly. A physical file stays on
//! the register until it is retired: digitised (naming the e-file that
//! replaces it), closed, or transferred out.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ComplianceError, Entity};
use crate::domain::access::{Viewer, may_keep_register};
use crate::ledger;
use crate::store::schema::{files, physical_files};
use crate::store::{DbConn, new_id, now_micros, rfc3339};

/// At most this many files are registered by one request.
pub const BATCH_MAX: usize = 1000;

/// A physical file to register.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPhysical {
    /// Its number on the paper file (unique within the entity), 1–100 characters.
    pub reference: String,
    /// Its subject, 1–500 characters.
    pub subject: String,
    /// When the paper file was opened (YYYY-MM-DD; default today).
    pub opened_on: Option<String>,
}

/// A physical file on the register.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Physical {
    /// Its id.
    pub id: String,
    /// The entity's code.
    pub entity: String,
    /// Its number on paper.
    pub reference: String,
    /// Its subject.
    pub subject: String,
    /// When it was opened.
    pub opened_on: String,
    /// When it was entered in the register.
    pub registered_at: String,
    /// When it left the register, if it has.
    pub retired_at: Option<String>,
    /// `digitised`, `closed` or `transferred`.
    pub retired_how: Option<String>,
    /// The e-file that replaced it (digitised).
    pub e_file_id: Option<String>,
}

type Row = (String, String, String, String, i64, Option<i64>, Option<String>, Option<String>);

fn view(entity: &Entity, r: Row) -> Physical {
    Physical {
        id: r.0,
        entity: entity.code.clone(),
        reference: r.1,
        subject: r.2,
        opened_on: r.3,
        registered_at: rfc3339(r.4),
        retired_at: r.5.map(rfc3339),
        retired_how: r.6,
        e_file_id: r.7,
    }
}

macro_rules! row_columns {
    () => {
        (
            physical_files::id,
            physical_files::reference,
            physical_files::subject,
            physical_files::opened_on,
            physical_files::registered_at,
            physical_files::retired_at,
            physical_files::retired_how,
            physical_files::e_file_id,
        )
    };
}

fn check(field: &'static str, value: &str, max: usize) -> Result<String, ComplianceError> {
    crate::domain::org::parse_text(value, max)
        .map_err(|_| ComplianceError::Invalid(field, format!("must be 1 to {max} characters of plain text")))
}

/// Registers physical files of `entity`, all or none.
pub fn register(
    conn: &mut DbConn,
    viewer: &Viewer,
    entity: &Entity,
    items: &[NewPhysical],
) -> Result<Vec<Physical>, ComplianceError> {
    if !may_keep_register(viewer, &entity.id) {
        return Err(ComplianceError::Forbidden("only the entity's registry or org admin keeps its register".into()));
    }
    if items.is_empty() || items.len() > BATCH_MAX {
        return Err(ComplianceError::Invalid("files", format!("give 1 to {BATCH_MAX} files")));
    }
    let today = crate::clock::today();
    let now = now_micros();
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for item in items {
        let reference = check("reference", &item.reference, 100)?;
        let subject = check("subject", &item.subject, 500)?;
        let opened = match item.opened_on.as_deref() {
            None => today,
            Some(d) => crate::domain::org::parse_date(d).ok().filter(|d| *d <= today).ok_or_else(|| {
                ComplianceError::Invalid("opened_on", "must be a date, YYYY-MM-DD, not in the future".into())
            })?,
        };
        let taken: i64 = physical_files::table
            .filter(physical_files::entity_id.eq(&entity.id))
            .filter(physical_files::reference.eq(&reference))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Err(ComplianceError::Conflict(format!("reference: {reference} is already on the register")));
        }
        if !seen.insert(reference.clone()) {
            return Err(ComplianceError::Conflict(format!("reference: {reference} is given twice")));
        }
        let id = new_id();
        diesel::insert_into(physical_files::table)
            .values((
                physical_files::id.eq(&id),
                physical_files::entity_id.eq(&entity.id),
                physical_files::reference.eq(&reference),
                physical_files::subject.eq(&subject),
                physical_files::opened_on.eq(opened.to_string()),
                physical_files::registered_at.eq(now),
                physical_files::registered_by.eq(&viewer.user_id),
            ))
            .execute(conn)?;
        out.push(view(entity, (id, reference, subject, opened.to_string(), now, None, None, None)));
    }
    ledger::append(
        conn,
        ledger::Event {
            kind: "physical_files_registered",
            actor_user: Some(&viewer.user_id),
            actor_post: None,
            file_id: None,
            receipt_id: None,
            payload: json!({"entity": entity.code, "ids": out.iter().map(|p| &p.id).collect::<Vec<_>>(),
                            "references": out.iter().map(|p| &p.reference).collect::<Vec<_>>()}),
        },
    )?;
    Ok(out)
}

/// How a physical file leaves the register.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Retire {
    /// `digitised`, `closed` or `transferred`.
    pub how: String,
    /// For `digitised`: the e-file (of the same entity) that replaces it.
    pub e_file_id: Option<String>,
}

/// Takes a physical file off the register (once).
pub fn retire(
    conn: &mut DbConn,
    viewer: &Viewer,
    entity: &Entity,
    id: &str,
    how: &Retire,
) -> Result<Physical, ComplianceError> {
    if !may_keep_register(viewer, &entity.id) {
        return Err(ComplianceError::Forbidden("only the entity's registry or org admin keeps its register".into()));
    }
    let row: Row = physical_files::table
        .filter(physical_files::id.eq(id))
        .filter(physical_files::entity_id.eq(&entity.id))
        .select(row_columns!())
        .first(conn)
        .optional()?
        .ok_or(ComplianceError::NotFound)?;
    if row.5.is_some() {
        return Err(ComplianceError::Conflict("this file has already left the register".into()));
    }
    match (how.how.as_str(), &how.e_file_id) {
        ("digitised", Some(f)) => {
            let same: i64 = files::table
                .filter(files::id.eq(f))
                .filter(files::entity_id.eq(&entity.id))
                .count()
                .get_result(conn)?;
            // The e-file named is looked up, like a path's id: none is 404.
            if same == 0 {
                return Err(ComplianceError::NotFound);
            }
        }
        ("digitised", None) => {
            return Err(ComplianceError::Invalid("e_file_id", "name the e-file that replaces it".into()));
        }
        ("closed" | "transferred", None) => {}
        ("closed" | "transferred", Some(_)) => {
            return Err(ComplianceError::Invalid("e_file_id", "is given only for a digitised file".into()));
        }
        _ => return Err(ComplianceError::Invalid("how", "must be digitised, closed or transferred".into())),
    }
    let now = now_micros();
    diesel::update(physical_files::table.find(id))
        .set((
            physical_files::retired_at.eq(now),
            physical_files::retired_how.eq(&how.how),
            physical_files::e_file_id.eq(&how.e_file_id),
        ))
        .execute(conn)?;
    ledger::append(
        conn,
        ledger::Event {
            kind: "physical_file_retired",
            actor_user: Some(&viewer.user_id),
            actor_post: None,
            file_id: how.e_file_id.as_deref(),
            receipt_id: None,
            payload: json!({"entity": entity.code, "id": id, "reference": row.1, "how": how.how}),
        },
    )?;
    Ok(view(entity, (row.0, row.1, row.2, row.3, row.4, Some(now), Some(how.how.clone()), how.e_file_id.clone())))
}

/// The entity whose register holds physical file `id`.
pub fn entity_of(conn: &mut DbConn, id: &str) -> Result<Entity, ComplianceError> {
    let entity_id: String = physical_files::table
        .find(id)
        .select(physical_files::entity_id)
        .first(conn)
        .optional()?
        .ok_or(ComplianceError::NotFound)?;
    super::entity(conn, &entity_id)?.ok_or(ComplianceError::NotFound)
}

/// The register, newest first: those still on it, or all.
pub fn list(
    conn: &mut DbConn,
    entity: &Entity,
    all: bool,
    offset: i64,
    limit: i64,
) -> Result<(Vec<Physical>, bool), ComplianceError> {
    let mut q = physical_files::table.filter(physical_files::entity_id.eq(&entity.id)).into_boxed();
    if !all {
        q = q.filter(physical_files::retired_at.is_null());
    }
    let mut rows: Vec<Row> = q
        .order((physical_files::registered_at.desc(), physical_files::id.desc()))
        .select(row_columns!())
        .offset(offset)
        .limit(limit + 1)
        .load(conn)?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    Ok((rows.into_iter().map(|r| view(entity, r)).collect(), more))
}
