//! `GET /org/units` and `GET /posts`.

use actix_web::web;
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::Caller;
use super::{ApiError, AppState, List, PageParams};
use crate::org::{self, OrgUnit, PostView};

/// Lists the org units of the government tree.
#[utoipa::path(get, path = "/api/v1/org/units", params(PageParams),
    responses((status = 200, body = List<OrgUnit>), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn list_units(
    state: web::Data<AppState>,
    _caller: Caller,
    page: web::Query<PageParams>,
) -> Result<web::Json<List<OrgUnit>>, ApiError> {
    let (limit, cursor) = page.into_inner().validated()?;
    let page = state.read(move |c| Ok(org::list_units(c, cursor.as_deref(), limit)?)).await?;
    Ok(web::Json(List { items: page.items, next_cursor: page.next_cursor }))
}

/// `?q=` of `GET /posts`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PostQuery {
    /// Text to find in the post's code, title or designation.
    pub q: Option<String>,
}

/// Finds posts (desks) by code, title or designation, with today's holder.
#[utoipa::path(get, path = "/api/v1/posts", params(PostQuery, PageParams),
    responses((status = 200, body = List<PostView>), (status = 400, body = super::error::ErrorBody),
        (status = 401, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn list_posts(
    state: web::Data<AppState>,
    _caller: Caller,
    query: web::Query<PostQuery>,
    page: web::Query<PageParams>,
) -> Result<web::Json<List<PostView>>, ApiError> {
    let (limit, cursor) = page.into_inner().validated()?;
    let q = query.into_inner().q;
    if q.as_ref().is_some_and(|q| q.chars().count() > 100 || q.chars().any(char::is_control)) {
        return Err(ApiError::invalid_field("q", "must be plain text of at most 100 characters"));
    }
    let page =
        state.read(move |c| Ok(org::search_posts(c, q.as_deref(), cursor.as_deref(), limit, &org::today())?)).await?;
    Ok(web::Json(List { items: page.items, next_cursor: page.next_cursor }))
}
