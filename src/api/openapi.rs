//! `GET /api/v1/openapi.json`, generated from the handlers' annotations.

use actix_web::HttpResponse;
use utoipa::OpenApi;

use super::error::{ErrorBody, ErrorDetail};

/// The whole API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Daftar API", description = "Paperless file noting and movement for government."),
    paths(
        super::auth::login,
        super::auth::refresh,
        super::auth::logout,
        super::auth::me,
        super::org::list_units,
        super::org::list_posts
    ),
    components(schemas(ErrorBody, ErrorDetail, crate::org::OrgUnit, crate::org::PostView, crate::org::Holder))
)]
pub struct ApiDoc;

/// Serves the OpenAPI document.
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
