//! `GET /api/v1/openapi.json`, generated from the handlers' annotations.

use actix_web::HttpResponse;
use utoipa::OpenApi;

use super::error::{ErrorBody, ErrorDetail};

/// The whole API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Daftar API", description = "Paperless file noting and movement for government."),
    paths(
        super::auth::login, super::auth::refresh, super::auth::logout, super::auth::me,
        super::admin::change_password,
        super::org::list_units, super::org::list_posts,
        super::admin::create_unit, super::admin::create_post, super::admin::create_user,
        super::admin::add_assignment, super::admin::end_assignment, super::admin::disable_user,
        super::admin::list_requests, super::admin::decide_request,
        super::files::create, super::files::show, super::files::add_note, super::files::edit_note,
        super::files::move_file, super::files::timeline, super::files::link, super::files::inbox, super::files::sent,
        super::signing::enrol, super::signing::challenge, super::signing::signing_bytes,
        super::signing::movement_signing_bytes, super::signing::sign_movement,
        super::signing::sign_note, super::signing::ca_pem, super::signing::certificate,
        super::documents::upload, super::documents::content, super::receipts::diarise, super::receipts::show,
        super::receipts::move_receipt, super::ledger::verify, super::ledger::checkpoint,
        super::signing::revoke, super::files::export, super::workflows::list, super::workflows::show,
        super::queue::list, super::queue::approve, super::queue::answer, super::search::search,
        super::compliance::metrics, super::compliance::issue, super::compliance::list, super::compliance::show,
        super::compliance::pdf, super::compliance::import, super::compliance::consolidated,
        super::compliance::register_physical, super::compliance::list_physical, super::compliance::retire_physical,
        super::notifications::show, super::notifications::update, super::analytics::bottlenecks,
    ),
    components(schemas(
        ErrorBody, ErrorDetail, crate::org::OrgUnit, crate::org::PostView, crate::org::Holder,
        crate::org::MyPost, crate::org::UnitRef, super::auth::Me, super::auth::LoginRequest,
        super::auth::RefreshRequest, super::auth::LogoutRequest, super::auth::TokenResponse, super::admin::NewUnit, super::admin::NewPost,
        super::admin::NewUser, super::admin::NewAssignment, super::admin::PasswordChange, super::admin::Decision,
        super::files::NewFile, super::files::NoteBody, super::files::NewMovement, super::files::NewLink,
        super::signing::Enrol, super::signing::SignRequest, super::signing::MovementSignature, super::receipts::ReceiptBody, super::receipts::ReceiptMovement,
        super::queue::BulkApprove, super::queue::ConcurrenceAnswer,
        super::compliance::IssueCertificate, super::compliance::RegisterPhysical,
        crate::compliance::certificate::CertificateView, crate::compliance::physical::NewPhysical,
        crate::compliance::physical::Physical, crate::compliance::physical::Retire,
        super::notifications::Notifications,
    )),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme the protected routes name.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// Serves the OpenAPI document.
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
