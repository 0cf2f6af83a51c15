//! Organisation administration (SPEC section 3, "Organisation"): `org_admin`
//! within their entity, `sysadmin` anywhere.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::auth::Caller;
use super::{ApiError, AppState};
use crate::org::admin::{self, Actor, AdminError, AssignmentInput, PostInput, UnitInput, UserInput};
use crate::org::requests;

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid(field, msg) => ApiError::invalid_field(field, msg),
            AdminError::Forbidden(msg) => ApiError::forbidden(msg),
            AdminError::NotFound(_) => ApiError::not_found(),
            AdminError::Conflict(msg) => ApiError::new(super::error::ErrorCode::Conflict, msg),
            AdminError::Store(e) => e.into(),
        }
    }
}

fn created(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Created().json(body)
}

/// `POST /org/units`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUnit {
    /// Short code, unique.
    pub code: String,
    /// Name.
    pub name: String,
    /// `ministry`, `division`, … `section`.
    pub kind: String,
    /// The unit above.
    pub parent_id: Option<String>,
}

/// Creates an org unit (entities need a sysadmin).
#[utoipa::path(post, path = "/api/v1/org/units", request_body = NewUnit,
    responses((status = 201), (status = 400, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
              (status = 404, description = "no such parent unit", body = super::error::ErrorBody),
              (status = 409, description = "the code is taken, or this kind cannot sit under the parent's", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_unit(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewUnit>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let echo = json!({"code": b.code.trim(), "name": b.name.trim(), "kind": b.kind, "parent_id": b.parent_id});
    let input = UnitInput { code: b.code, name: b.name, kind: b.kind, parent_id: b.parent_id };
    let id = state.write(move |c| Ok(admin::create_unit(c, Actor::User(&caller.principal), input)?)).await?;
    Ok(created(with_id(id, echo)))
}

/// `POST /posts`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPost {
    /// Short code, unique.
    pub code: String,
    /// The unit it sits in.
    pub org_unit_id: String,
    /// e.g. `section_officer`.
    pub designation: String,
    /// e.g. "Section Officer (Admin-II)".
    pub title: String,
    /// The post above.
    pub reports_to: Option<String>,
}

/// Creates a post in a unit of the caller's entity.
#[utoipa::path(post, path = "/api/v1/posts", request_body = NewPost,
    responses((status = 201), (status = 400, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
              (status = 404, description = "no such unit or `reports_to` post", body = super::error::ErrorBody),
              (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create_post(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewPost>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let echo = json!({"code": b.code.trim(), "org_unit_id": b.org_unit_id, "designation": b.designation.trim(),
        "title": b.title.trim(), "reports_to": b.reports_to});
    let input = PostInput {
        code: b.code,
        org_unit_id: b.org_unit_id,
        designation: b.designation,
        title: b.title,
        reports_to: b.reports_to,
    };
    let id = state.write(move |c| Ok(admin::create_post(c, Actor::User(&caller.principal), input)?)).await?;
    Ok(created(with_id(id, echo)))
}

fn with_id(id: String, echo: serde_json::Value) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert("id".into(), id.into());
    if let serde_json::Value::Object(rest) = echo {
        o.extend(rest);
    }
    serde_json::Value::Object(o)
}

/// `POST /users`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Full name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// `unclassified` … `top_secret` (at most the caller's own).
    pub clearance: String,
    /// Initial password, at least 12 characters.
    pub password: String,
    /// `role` or `role:ENTITY_CODE`.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Creates a user.
#[utoipa::path(post, path = "/api/v1/users", request_body = NewUser,
    responses((status = 201), (status = 400, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
              (status = 404, description = "a role names no entity", body = super::error::ErrorBody),
              (status = 409, body = super::error::ErrorBody), (status = 202, description = "accepted for a second administrator's approval (four eyes): `{request}`")),
    security(("bearer" = [])))]
pub async fn create_user(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewUser>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    // Only administrators get as far as the (costly) password hashing.
    if !admin::actor_admins_anything(Actor::User(&caller.principal)) {
        return Err(ApiError::forbidden("you may not create users"));
    }
    let pw = b.password.clone();
    let hash = web::block(move || admin::hash_new_password(&pw)).await.map_err(|e| ApiError::internal(&e))??;
    let input = UserInput {
        username: b.username,
        name: b.name,
        email: b.email,
        clearance: b.clearance,
        password: b.password,
        roles: b.roles,
    };
    let echo = json!({"username": input.username.trim().to_lowercase(), "name": input.name.trim(), "clearance": input.clearance, "roles": input.roles});
    let change = requests::Change::User { input, password_hash: hash };
    let outcome = state.write(move |c| Ok(requests::submit(c, Actor::User(&caller.principal), change)?)).await?;
    Ok(submitted(outcome, echo))
}

/// 201 with the new row, or 202 with the request that waits for a second
/// administrator.
fn submitted(outcome: requests::Submitted, echo: Value) -> HttpResponse {
    match outcome {
        requests::Submitted::Done(id) => created(with_id(id, echo)),
        requests::Submitted::Pending(request) => HttpResponse::Accepted().json(json!({"request": request})),
    }
}

/// Pending requests for a second administrator (four eyes on privilege).
#[utoipa::path(get, path = "/api/v1/admin/requests",
    responses((status = 200, description = "{items: [request]}"), (status = 403, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_requests(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let items = state.read(move |c| Ok(requests::pending(c, Actor::User(&caller.principal))?)).await?;
    Ok(HttpResponse::Ok().json(json!({"items": items, "next_cursor": null})))
}

/// `POST /admin/requests/{id}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// `approve` or `reject`.
    pub decision: String,
}

/// Approves (the change is made, as you) or rejects a pending request: by an
/// administrator of its scope who neither asked for it nor benefits from it.
#[utoipa::path(post, path = "/api/v1/admin/requests/{id}", request_body = Decision,
    params(("id" = String, Path, description = "request id")),
    responses((status = 200, description = "the decided request"), (status = 403, body = super::error::ErrorBody),
              (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn decide_request(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Decision>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let approve = match body.into_inner().decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(ApiError::invalid_field("decision", "must be approve or reject")),
    };
    let request = state.write(move |c| Ok(requests::decide(c, Actor::User(&caller.principal), &id, approve)?)).await?;
    Ok(HttpResponse::Ok().json(request))
}

/// `POST /posts/{id}/assignments`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAssignment {
    /// The user.
    pub user_id: String,
    /// `regular`, `additional_charge` or `acting`.
    pub kind: String,
    /// First day, `YYYY-MM-DD` (default today).
    pub starts_on: Option<String>,
    /// Last day, if it ends.
    pub ends_on: Option<String>,
    /// Make this the user's primary post.
    #[serde(default)]
    pub primary: bool,
}

/// Assigns a user to a post (regular, additional charge or acting, with dates).
#[utoipa::path(post, path = "/api/v1/posts/{id}/assignments", request_body = NewAssignment,
    params(("id" = String, Path, description = "post id")),
    responses((status = 201), (status = 400, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody),
              (status = 404, body = super::error::ErrorBody), (status = 202, description = "accepted for a second administrator's approval (four eyes): `{request}`")),
    security(("bearer" = [])))]
pub async fn add_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<NewAssignment>,
) -> Result<HttpResponse, ApiError> {
    let post_id = path.into_inner();
    let b = body.into_inner();
    let echo = json!({"post_id": post_id, "user_id": b.user_id, "kind": b.kind, "starts_on": b.starts_on, "ends_on": b.ends_on, "primary": b.primary});
    let input = AssignmentInput {
        user_id: b.user_id,
        kind: b.kind,
        starts_on: b.starts_on,
        ends_on: b.ends_on,
        primary: b.primary,
    };
    let change = requests::Change::Assignment { post_id, input };
    let outcome = state.write(move |c| Ok(requests::submit(c, Actor::User(&caller.principal), change)?)).await?;
    Ok(submitted(outcome, echo))
}

/// Ends an assignment (as of yesterday; history is kept).
#[utoipa::path(delete, path = "/api/v1/assignments/{id}", params(("id" = String, Path, description = "assignment id")),
    responses((status = 204), (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn end_assignment(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    state.write(move |c| Ok(admin::end_assignment(c, Actor::User(&caller.principal), &id)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Disables a user; every session of theirs ends at once.
#[utoipa::path(post, path = "/api/v1/users/{id}/disable", params(("id" = String, Path, description = "user id")),
    responses((status = 204), (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
              (status = 409, description = "your own account", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn disable_user(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    state.write(move |c| Ok(admin::disable_user(c, Actor::User(&caller.principal), &id)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /me/password`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password in use.
    pub current_password: String,
    /// The new one, at least 12 characters.
    pub new_password: String,
}

/// Changes the caller's password; every session of theirs ends, this one too.
#[utoipa::path(post, path = "/api/v1/me/password", request_body = PasswordChange,
    responses((status = 204), (status = 400, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn change_password(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let user_id = caller.user_id().to_owned();
    // Guesses at the current password are throttled like logins, each
    // counted before the slow check, so parallel guesses gain nothing.
    let st = state.clone();
    let uid = user_id.clone();
    let hash = web::block(move || -> Result<String, ApiError> {
        crate::auth::login::reauthenticate(&st.db, st.auth.throttle(), &uid, &b.current_password)
            .map_err(|e| super::auth::reauth_error(e, "current password is wrong"))?;
        Ok(admin::hash_new_password(&b.new_password)?)
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    state.write(move |c| Ok(admin::set_password(c, Actor::Operator, &user_id, &hash)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}
