//! The approval queue, bulk approval, and answering concurrences (SPEC
//! sections 3 and 7).

use actix_web::web;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::auth::Caller;
use super::{ApiError, AppState, PageParams};
use crate::efile;
use crate::workflow::queue;

/// What waits on a decision of your posts, and concurrences asked of them:
/// `{step, waiting_hours, sla_hours, overdue}`, most overdue first.
#[utoipa::path(get, path = "/api/v1/queue", params(PageParams),
    responses((status = 200, description = "the approval queue")), security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    paging: web::Query<PageParams>,
) -> Result<web::Json<super::files::Page<queue::QueueItem>>, ApiError> {
    let (offset, limit) = super::files::offset_of(&paging)?;
    let (items, more) = state.read(move |c| Ok(queue::queue(c, &caller.actor(), offset, limit)?)).await?;
    Ok(web::Json(super::files::page(items, more, offset, limit)))
}

/// `POST /queue/approve`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkApprove {
    /// The files to approve (at most 100).
    pub file_ids: Vec<String>,
    /// Your signing PIN: opened once, it signs every approval.
    pub pin: String,
    /// Remarks on each movement.
    pub remarks: Option<String>,
    /// A note added and signed on each file before it moves (e.g. "Approved.").
    pub note: Option<String>,
}

/// Approves many files with one PIN. Each is applied on its own: one
/// refusal undoes none of the others; the answer lists each outcome.
#[utoipa::path(post, path = "/api/v1/queue/approve", request_body = BulkApprove,
    responses((status = 200, description = "{results: [{file_id, ok, movement | error}]}"), (status = 403, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn approve(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<BulkApprove>,
) -> Result<web::Json<Value>, ApiError> {
    let b = body.into_inner();
    if b.file_ids.is_empty() || b.file_ids.len() > queue::BULK_MAX {
        return Err(ApiError::invalid_field("file_ids", format!("name 1 to {} files", queue::BULK_MAX)));
    }
    let mut ids = b.file_ids.clone();
    ids.sort();
    ids.dedup();
    if ids.len() != b.file_ids.len() {
        return Err(ApiError::invalid_field("file_ids", "names a file twice"));
    }
    let st = state.clone();
    let results = web::block(move || -> Result<Vec<Value>, ApiError> {
        let opened = super::signing::mover_key(&st, &caller, Some(&b.pin))?
            .ok_or_else(|| ApiError::forbidden("you have no server-mode signing key to use a PIN with"))?;
        let done =
            queue::approve_many(&st.db, &caller.actor(), &b.file_ids, b.remarks.as_deref(), b.note.as_deref(), &opened);
        Ok(done
            .into_iter()
            .map(|(id, r)| match r {
                Ok(m) => json!({"file_id": id, "ok": true, "movement": m}),
                Err(e) => {
                    let e = ApiError::from(e);
                    json!({"file_id": id, "ok": false, "error": e.detail()})
                }
            })
            .collect())
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    Ok(web::Json(json!({"results": results})))
}

/// `POST /files/{id}/concurrences/{cid}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConcurrenceAnswer {
    /// `concur` or `decline`.
    pub decision: String,
    /// What your entity says (required to decline); recorded in the signed note.
    pub remarks: Option<String>,
    /// Your signing PIN: the answer is a signed note on the file.
    pub pin: String,
}

/// Gives (or refuses) a concurrence asked of your acting post.
#[utoipa::path(post, path = "/api/v1/files/{id}/concurrences/{concurrence_id}", request_body = ConcurrenceAnswer,
    params(("id" = String, Path, description = "file id"), ("concurrence_id" = String, Path, description = "concurrence id")),
    responses((status = 200, description = "the concurrence"), (status = 403, description = "a wrong PIN", body = super::error::ErrorBody),
              (status = 409, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn answer(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<ConcurrenceAnswer>,
) -> Result<web::Json<efile::route::ConcurrenceView>, ApiError> {
    let (id, cid) = path.into_inner();
    let b = body.into_inner();
    let concur = match b.decision.as_str() {
        "concur" => true,
        "decline" => false,
        _ => return Err(ApiError::invalid_field("decision", "must be concur or decline")),
    };
    let st = state.clone();
    let view = web::block(move || {
        let key = || super::signing::mover_key(&st, &caller, Some(&b.pin));
        let a = efile::route::Answer { concur, remarks: b.remarks };
        efile::route::answer(&st.db, &caller.actor(), &id, &cid, a, key)
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    Ok(web::Json(view))
}
