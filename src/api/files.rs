//! Files, notes, movements, links, the inbox and what was sent (SPEC section 3).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::ErrorCode;
use super::{ApiError, AppState, PageParams};
use crate::efile::{self, Actor, EfileError};

impl From<EfileError> for ApiError {
    fn from(e: EfileError) -> Self {
        match e {
            EfileError::NotFound => ApiError::not_found(),
            EfileError::NotHolder(m) => ApiError::new(ErrorCode::NotHolder, m),
            EfileError::UnsignedNotes => ApiError::new(ErrorCode::UnsignedNotes, e.to_string()),
            EfileError::Stale => ApiError::new(ErrorCode::Stale, e.to_string()),
            EfileError::Conflict(m) => ApiError::new(ErrorCode::Conflict, m),
            EfileError::Invalid(field, m) => ApiError::invalid_field(field, m),
            EfileError::Forbidden(m) => ApiError::forbidden(m),
            EfileError::Signing(e) => e.into(),
            EfileError::Store(e) => e.into(),
        }
    }
}

impl Caller {
    /// The caller as the e-file sees them.
    pub fn actor(&self) -> Actor<'_> {
        Actor { viewer: &self.principal.viewer, post: self.acting_post_id.as_deref() }
    }
}

/// An offset cursor (`"0"`, `"50"`, …) for lists ordered by urgency or time.
pub(super) fn offset_of(page: &PageParams) -> Result<(i64, i64), ApiError> {
    page.offset(super::MAX_OFFSET)
}

/// One page of an offset-paged list, serialised straight from its typed
/// items (no intermediate JSON tree: the inbox is the commonest request).
#[derive(Serialize)]
pub struct Page<T> {
    /// The page's items.
    items: Vec<T>,
    /// The cursor of the next page, if there is one.
    next_cursor: Option<String>,
}

pub(super) fn page<T: Serialize>(items: Vec<T>, more: bool, offset: i64, limit: i64) -> Page<T> {
    Page { items, next_cursor: more.then(|| (offset + limit).to_string()) }
}

/// `POST /files`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFile {
    /// What the file is about.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub subject: String,
    /// Default `unclassified`; at most your clearance.
    pub classification: Option<String>,
    /// `routine` (default), `priority`, `immediate`, `most_immediate`.
    pub priority: Option<String>,
    /// Workflow id (`GET /workflows` lists them): the file starts with you
    /// and is submitted by `approve`.
    pub workflow: Option<String>,
    /// The workflow's declared numeric fields, e.g. `{"amount": 25000000}` (PKR).
    #[schema(value_type = Option<Object>)]
    pub fields: Option<std::collections::BTreeMap<String, f64>>,
    /// Owning section (default: your post's unit).
    pub section_id: Option<String>,
    /// Subject head of the file number (default `1`).
    pub head: Option<String>,
}

/// Opens a new file at your acting post.
#[utoipa::path(post, path = "/api/v1/files", request_body = NewFile,
    responses((status = 201, description = "the file"), (status = 400, body = super::error::ErrorBody),
              (status = 403, description = "a classification above yours, or a section of another entity", body = super::error::ErrorBody),
              (status = 404, description = "no such workflow or section", body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewFile>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let workflow = match (b.workflow.as_deref(), b.fields) {
        (None, None) => None,
        (None, Some(_)) => return Err(ApiError::invalid_field("fields", "are given only with a workflow")),
        (Some(id), fields) => {
            // A workflow named is looked up, like a path's id: none is 404.
            let loaded = state.workflows.iter().find(|w| w.id() == id).ok_or_else(|| {
                ApiError::new(ErrorCode::NotFound, "workflow: no such workflow (GET /api/v1/workflows lists them)")
            })?;
            Some((loaded.clone(), fields.unwrap_or_default()))
        }
    };
    let input = efile::file::NewFile {
        subject: b.subject,
        classification: b.classification,
        priority: b.priority,
        workflow,
        section_id: b.section_id,
        head: b.head,
    };
    let file = state
        .write(move |c| {
            let actor = caller.actor();
            let id = efile::file::create(c, &actor, input)?;
            Ok(efile::file::view(c, &actor, &id)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(file))
}

/// Shows a file; the holder opening it marks it opened.
#[utoipa::path(get, path = "/api/v1/files/{id}", params(("id" = String, Path, description = "file id")),
    responses((status = 200, description = "the file"), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<web::Json<efile::file::FileView>, ApiError> {
    let id = path.into_inner();
    let (file, unopened) = state.read_small(move |c| Ok(efile::file::read(c, &caller.actor(), &id)?)).await?;
    if let Some(u) = unopened {
        state.write(move |c| Ok(efile::mark_opened(c, &u)?)).await?;
    }
    Ok(web::Json(file))
}

/// `POST /files/{id}/notes` and `PATCH …/notes/{note_id}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// Plain text, paragraphs separated by blank lines; Urdu is kept exactly.
    #[schema(
        min_length = 1,
        max_length = 100000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub body: String,
}

/// Adds a draft note (the next paragraph number of the file).
#[utoipa::path(post, path = "/api/v1/files/{id}/notes", request_body = NoteBody, params(("id" = String, Path, description = "file id")),
    responses((status = 201, description = "the note"), (status = 409, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn add_note(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<NoteBody>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let text = body.into_inner().body;
    let note = state.write(move |c| Ok(efile::notes::add(c, &caller.actor(), &id, &text)?)).await?;
    Ok(HttpResponse::Created().json(note))
}

/// Edits your own draft while you hold the file.
#[utoipa::path(patch, path = "/api/v1/files/{id}/notes/{note_id}", request_body = NoteBody,
    params(("id" = String, Path, description = "file id"), ("note_id" = String, Path, description = "note id")),
    responses((status = 200, description = "the note"), (status = 409, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn edit_note(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<NoteBody>,
) -> Result<web::Json<efile::notes::NoteView>, ApiError> {
    let (id, note_id) = path.into_inner();
    let text = body.into_inner().body;
    let note = state.write(move |c| Ok(efile::notes::edit(c, &caller.actor(), &id, &note_id, &text)?)).await?;
    Ok(web::Json(note))
}

/// `POST /files/{id}/movements`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMovement {
    /// `forward`, `return`, `approve`, `refer`, `recall`, `park`, `unpark`, `close`, `reopen`.
    pub action: String,
    /// Destination of forward and refer.
    pub to_post_id: Option<String>,
    /// Remarks for the receiver.
    #[schema(max_length = 5000, pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$")]
    pub remarks: Option<String>,
    /// RFC 3339 due date.
    pub due_at: Option<String>,
    /// New priority.
    pub priority: Option<String>,
    /// Your signing PIN, to sign this movement (otherwise it is signed if your
    /// key is open from signing a note in this session).
    pub pin: Option<String>,
    /// A note to add to the file and sign before it moves: noting and marking
    /// in one step, all or nothing. Needs `pin` or an open signing session.
    #[schema(
        min_length = 1,
        max_length = 100000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    pub note: Option<String>,
}

/// Moves a file. Of simultaneous moves exactly one wins; the others get 409.
#[utoipa::path(post, path = "/api/v1/files/{id}/movements", request_body = NewMovement, params(("id" = String, Path, description = "file id")),
    responses((status = 201, description = "the movement"), (status = 409, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn move_file(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<NewMovement>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let b = body.into_inner();
    let input = efile::movements::MoveInput {
        action: b.action,
        to_post_id: b.to_post_id,
        remarks: b.remarks,
        due_at: b.due_at,
        priority: b.priority,
    };
    let st = state.clone();
    let m = web::block(move || {
        let key = || super::signing::mover_key(&st, &caller, b.pin.as_deref());
        efile::movements::move_signed(&st.db, &caller.actor(), &id, input, b.note.as_deref(), key)
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    Ok(HttpResponse::Created().json(m))
}

/// The file's movements, oldest first: who sent it where, when, and when it was opened.
#[utoipa::path(get, path = "/api/v1/files/{id}/movements", params(("id" = String, Path, description = "file id")),
    responses((status = 200, description = "the timeline"), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn timeline(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<web::Json<Value>, ApiError> {
    let id = path.into_inner();
    let items = state.read(move |c| Ok(efile::movements::timeline(c, &caller.actor(), &id)?)).await?;
    Ok(web::Json(json!({"items": items, "next_cursor": null})))
}

/// `POST /files/{id}/links`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    /// The other file.
    pub file_id: String,
    /// `reference`, `part_file` or `merged_into`.
    pub kind: String,
}

/// Links the file to another one you may see.
#[utoipa::path(post, path = "/api/v1/files/{id}/links", request_body = NewLink, params(("id" = String, Path, description = "file id")),
    responses((status = 201, description = "the link"), (status = 409, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn link(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<NewLink>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let b = body.into_inner();
    let l = state.write(move |c| Ok(efile::file::link(c, &caller.actor(), &id, &b.file_id, &b.kind)?)).await?;
    Ok(HttpResponse::Created().json(l))
}

/// `?kind=` of the inbox.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// `files` or `receipts`; both when absent.
    pub kind: Option<String>,
}

/// What your acting post holds: most urgent first, overdue flagged.
#[utoipa::path(get, path = "/api/v1/inbox", params(InboxQuery, PageParams),
    responses((status = 200, description = "the inbox")), security(("bearer" = [])))]
pub async fn inbox(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<InboxQuery>,
    paging: web::Query<PageParams>,
) -> Result<web::Json<Page<efile::inbox::InboxItem>>, ApiError> {
    let kind = match query.kind.as_deref() {
        None | Some("") => efile::inbox::Kind::All,
        Some("files") => efile::inbox::Kind::Files,
        Some("receipts") => efile::inbox::Kind::Receipts,
        Some(_) => return Err(ApiError::invalid_field("kind", "must be files or receipts")),
    };
    let (offset, limit) = offset_of(&paging)?;
    let (items, more) =
        state.read_small(move |c| Ok(efile::inbox::inbox(c, &caller.actor(), kind, offset, limit)?)).await?;
    Ok(web::Json(page(items, more, offset, limit)))
}

/// What you moved, files and receipts (`kind`), newest first, with where each is now (`now_with`).
#[utoipa::path(get, path = "/api/v1/sent", params(PageParams), responses((status = 200, description = "sent items")), security(("bearer" = [])))]
pub async fn sent(
    state: web::Data<AppState>,
    caller: Caller,
    paging: web::Query<PageParams>,
) -> Result<web::Json<Page<efile::inbox::SentItem>>, ApiError> {
    let (offset, limit) = offset_of(&paging)?;
    let (items, more) = state.read(move |c| Ok(efile::inbox::sent(c, &caller.actor(), offset, limit)?)).await?;
    Ok(web::Json(page(items, more, offset, limit)))
}

/// The signed bundle of a file: a zip that verifies offline (`daftar verify`).
#[utoipa::path(get, path = "/api/v1/files/{id}/export", params(("id" = String, Path, description = "file id")),
    responses((status = 200, description = "application/zip"), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn export(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let (db, ca) = (state.db.clone(), state.ca.clone());
    let (zip, name) = web::block(move || -> Result<(Vec<u8>, String), ApiError> {
        let zip = crate::bundle::export(&db, &ca, &caller.actor(), &id)?;
        Ok((zip, format!("daftar-file-{id}.zip")))
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{name}\"")))
        .insert_header(("Cache-Control", "private, no-store"))
        .body(zip))
}
