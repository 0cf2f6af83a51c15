//! `GET/PUT /me/notifications`: how the caller hears of files and receipts
//! marked to their post (`immediately`, a daily `digest`, or `off`); mail
//! about their own account is always sent.

use actix_web::web;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::auth::Caller;
use super::{ApiError, AppState};
use crate::mail::{PREFERENCES, preference, set_preference};

/// The caller's email preference.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notifications {
    /// `immediately`, `digest` (one email a day) or `off`.
    pub marked: String,
}

/// How the caller hears of files and receipts marked to them.
#[utoipa::path(get, path = "/api/v1/me/notifications", responses((status = 200, body = Notifications),
    (status = 401, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn show(state: web::Data<AppState>, caller: Caller) -> Result<web::Json<Notifications>, ApiError> {
    let marked = state.read(move |c| Ok(preference(c, caller.user_id())?)).await?;
    Ok(web::Json(Notifications { marked }))
}

/// Changes how the caller hears of files and receipts marked to them.
#[utoipa::path(put, path = "/api/v1/me/notifications", request_body = Notifications,
    responses((status = 200, body = Notifications), (status = 400, body = super::error::ErrorBody),
              (status = 401, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<Notifications>,
) -> Result<web::Json<Notifications>, ApiError> {
    let marked = body.into_inner().marked;
    set_as(&state, caller.user_id().to_owned(), marked).await.map(web::Json)
}

/// Sets `user_id`'s preference (the API's and the web page's one way).
pub(crate) async fn set_as(
    state: &web::Data<AppState>,
    user_id: String,
    marked: String,
) -> Result<Notifications, ApiError> {
    if !PREFERENCES.contains(&marked.as_str()) {
        return Err(ApiError::invalid_field("marked", "must be immediately, digest or off"));
    }
    let m = marked.clone();
    state.write(move |c| Ok(set_preference(c, &user_id, &m)?)).await?;
    Ok(Notifications { marked })
}
