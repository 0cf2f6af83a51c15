//! The approval chains, for the web pages and integrators (SPEC section 7).

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::auth::Caller;
use super::{ApiError, AppState};

/// Every workflow, with its steps and a Mermaid flowchart.
#[utoipa::path(get, path = "/api/v1/workflows", responses((status = 200, description = "{items: [workflow]}")),
    security(("bearer" = [])))]
pub async fn list(state: web::Data<AppState>, _caller: Caller) -> HttpResponse {
    let items: Vec<_> = state.workflows.iter().map(|w| w.view()).collect();
    HttpResponse::Ok().json(json!({"items": items, "next_cursor": null}))
}

/// One workflow.
#[utoipa::path(get, path = "/api/v1/workflows/{id}", params(("id" = String, Path, description = "workflow id")),
    responses((status = 200, description = "the workflow"), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn show(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let found = state.workflows.iter().find(|w| *w.workflow.id.get_ref() == id).ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(found.view()))
}
