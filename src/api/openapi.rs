//! `GET /api/v1/openapi.json`, generated from the handlers' annotations.

use actix_web::HttpResponse;
use utoipa::OpenApi;

use super::error::{ErrorBody, ErrorDetail};

/// The whole API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "Daftar API", description = "Paperless file noting and movement for government."),
    paths(
        super::auth::login, super::auth::refresh, super::auth::resume, super::auth::logout, super::auth::me,
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
    modifiers(&BearerAuth, &ErrorStatuses, &Vocabularies)
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

/// Declares on every operation the error statuses the server's common
/// checks can answer, with the error envelope as their body: 401 and 403
/// where a bearer token is required (403: an `X-Post-Id` the caller does not
/// hold, or no post to act at), 400 where parameters or a body are read, 404
/// where a path names something, 413 and 415 where a body is sent, and 503
/// everywhere (the database out of reach). Statuses particular to a route
/// are declared on the route itself.
struct ErrorStatuses;

impl utoipa::Modify for ErrorStatuses {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::content::ContentBuilder;
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{Ref, RefOr, ResponseBuilder};
        let components = api.components.get_or_insert_with(Default::default);
        components.responses.insert(
            "Error".into(),
            RefOr::T(
                ResponseBuilder::new()
                    .description("An error: `{error: {code, message, details}}` (see the `code` list in the README)")
                    .content(
                        "application/json",
                        ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                    )
                    .build(),
            ),
        );
        for item in api.paths.paths.values_mut() {
            for op in
                [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
            {
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let params = op.parameters.as_deref().unwrap_or_default();
                let in_path = params.iter().any(|p| p.parameter_in == ParameterIn::Path);
                let body = op.request_body.is_some();
                let mut codes = vec!["503"];
                if secured {
                    codes.extend(["401", "403"]);
                }
                if body || !params.is_empty() {
                    codes.push("400");
                }
                if in_path {
                    codes.push("404");
                }
                if body {
                    codes.extend(["413", "415"]);
                }
                for code in codes {
                    op.responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name("Error")));
                }
            }
        }
    }
}

/// Lists, on the request fields that take a word of a closed vocabulary,
/// the words the server accepts (the domain's own lists, so the document and
/// the server cannot drift apart); an optional field also takes `null`.
struct Vocabularies;

impl utoipa::Modify for Vocabularies {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use crate::domain::efile::{Action, LinkKind, Priority, ReceiptMode};
        use crate::domain::org::{AssignmentKind, Clearance, OrgKind};
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::Schema;
        fn words<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
            all.iter().map(|t| name(*t)).collect()
        }
        let priority = words(Priority::ALL, Priority::as_str);
        let clearance = words(Clearance::ALL, Clearance::as_str);
        // Not put_up (receipts only), create or escalate (made by Daftar itself).
        let file_actions: Vec<&str> = words(Action::ALL, Action::as_str)
            .into_iter()
            .filter(|a| !matches!(*a, "put_up" | "create" | "escalate"))
            .collect();
        let fields: Vec<(&str, &str, Vec<&str>)> = vec![
            ("NewFile", "priority", priority.clone()),
            ("NewFile", "classification", clearance.clone()),
            ("NewMovement", "action", file_actions),
            ("NewMovement", "priority", priority.clone()),
            ("ReceiptBody", "mode", words(ReceiptMode::ALL, ReceiptMode::as_str)),
            ("ReceiptBody", "classification", clearance.clone()),
            ("ReceiptBody", "priority", priority.clone()),
            ("ReceiptMovement", "action", vec!["forward", "return", "recall", "put_up"]),
            ("ReceiptMovement", "priority", priority),
            ("NewUser", "clearance", clearance),
            ("NewUnit", "kind", words(OrgKind::ALL, OrgKind::as_str)),
            ("NewAssignment", "kind", words(AssignmentKind::ALL, AssignmentKind::as_str)),
            ("NewLink", "kind", words(LinkKind::ALL, LinkKind::as_str)),
            ("Decision", "decision", vec!["approve", "reject"]),
            ("ConcurrenceAnswer", "decision", vec!["concur", "decline"]),
            ("Notifications", "marked", vec!["immediately", "digest", "off"]),
            ("Enrol", "mode", vec!["server", "client"]),
            ("LoginRequest", "session", vec!["api", "web"]),
            ("Retire", "how", vec!["digitised", "closed", "transferred"]),
        ];
        let Some(components) = api.components.as_mut() else { return };
        for (schema, field, allowed) in fields {
            let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema) else { continue };
            let optional = !object.required.iter().any(|r| r == field);
            if let Some(RefOr::T(Schema::Object(property))) = object.properties.get_mut(field) {
                let mut values: Vec<serde_json::Value> = allowed.into_iter().map(Into::into).collect();
                if optional {
                    values.push(serde_json::Value::Null);
                }
                property.enum_values = Some(values);
            }
        }
    }
}

/// The API's paths as templates (`/api/v1/files/{id}`), split into
/// segments, with the methods each answers (`GET, POST`).
fn routes() -> &'static [(Vec<String>, String)] {
    static ROUTES: std::sync::OnceLock<Vec<(Vec<String>, String)>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| {
        let doc = ApiDoc::openapi();
        doc.paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods: Vec<&str> = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter(|m| m.1)
                .map(|m| m.0)
                .collect();
                (path.split('/').map(str::to_owned).collect(), methods.join(", "))
            })
            .collect()
    })
}

/// The methods `path` answers, if it is one of the API's paths.
pub fn methods_of(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    routes()
        .iter()
        .find(|(template, _)| {
            template.len() == segments.len()
                && template.iter().zip(&segments).all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
        })
        .map(|(_, methods)| methods.clone())
}

/// The OpenAPI document: generated from the handlers' annotations, with
/// what the server checks beyond the types stated ([`super::constraints`]).
pub fn document() -> &'static serde_json::Value {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        super::constraints::refine(&mut doc);
        doc
    })
}

/// Serves the OpenAPI document.
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(document())
}
