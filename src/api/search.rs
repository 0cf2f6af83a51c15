//! `GET /search` (SPEC section 3): full text, only what the caller may see.

use actix_web::web;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use super::auth::Caller;
use super::error::ErrorCode;
use super::{ApiError, AppState, PageParams};
use crate::domain::access::Sight;
use crate::domain::org::Clearance;
use crate::search::query::{self, Params, QueryError, Results};

/// `?q=&kind=&status=&classification=&org_unit=&from=&to=`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words (all must match), `"a phrase"`, `OR`, `-word`, `prefix*`; Urdu or English; a file or diary number as written.
    pub q: Option<String>,
    /// `file`, `note`, `document`, `receipt`.
    pub kind: Option<String>,
    /// `open`, `parked`, `closed` (files), or a receipt's status.
    pub status: Option<String>,
    /// Only this classification.
    pub classification: Option<String>,
    /// Only items of this org unit (its id).
    pub org_unit: Option<String>,
    /// From this date (`YYYY-MM-DD`, civil) or time (RFC 3339).
    pub from: Option<String>,
    /// Up to (not including) this date or time.
    pub to: Option<String>,
}

/// The furthest a search pages.
pub const MAX_OFFSET: i64 = 10_000;

fn when(field: &'static str, v: &str) -> Result<i64, ApiError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp_micros());
    }
    let d = crate::domain::org::parse_date(v)
        .map_err(|_| ApiError::invalid_field(field, "must be a date (YYYY-MM-DD) or an RFC 3339 time"))?;
    Ok(crate::clock::day_start(d))
}

/// A text parameter: at most `max` characters (as given), no control
/// characters; trimmed, and blank is absent.
fn short(field: &'static str, v: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
    match v {
        Some(s) if s.chars().count() > max || s.chars().any(char::is_control) => {
            Err(ApiError::invalid_field(field, format!("must be at most {max} plain characters")))
        }
        other => Ok(other.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())),
    }
}

/// Searches files, notes, receipts and documents; `total` and `facets`
/// count only what you may see.
#[utoipa::path(get, path = "/api/v1/search", params(SearchQuery, PageParams),
    responses((status = 200, description = "{total, items, facets, next_cursor}"), (status = 400, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn search(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<SearchQuery>,
    paging: web::Query<PageParams>,
) -> Result<web::Json<Results>, ApiError> {
    let q = query.into_inner();
    let text = short("q", q.q, 1000)?.ok_or_else(|| ApiError::invalid_field("q", "is required"))?;
    let kind = short("kind", q.kind, 20)?;
    if let Some(k) = &kind
        && !["file", "note", "document", "receipt"].contains(&k.as_str())
    {
        return Err(ApiError::invalid_field("kind", "must be file, note, document or receipt"));
    }
    let classification = short("classification", q.classification, 20)?;
    if let Some(c) = &classification {
        c.parse::<Clearance>().map_err(|e| ApiError::invalid_field("classification", e.to_string()))?;
    }
    let (offset, limit) = paging.offset(MAX_OFFSET)?;
    let (offset, limit) = (offset as usize, limit as usize);
    let params = Params {
        q: text,
        kind,
        status: short("status", q.status, 20)?,
        classification,
        org_unit: short("org_unit", q.org_unit, 100)?,
        from: q.from.as_deref().map(|v| when("from", v)).transpose()?,
        to: q.to.as_deref().map(|v| when("to", v)).transpose()?,
        limit,
        offset,
    };
    let index = state
        .search
        .clone()
        .ok_or_else(|| ApiError::new(ErrorCode::Unavailable, "search is unavailable on this server; try again"))?;
    let results = state
        .read(move |c| {
            let sight = Sight::of(&caller.principal.viewer, crate::store::now_micros());
            query::search(&index, c, &sight, &params).map_err(|e| match e {
                QueryError::Syntax { message, position } => ApiError::invalid_field("q", message)
                    .with_details(json!({"fields": {"q": "does not parse"}, "position": position})),
                QueryError::Index(e) => ApiError::unavailable(&e),
            })
        })
        .await?;
    Ok(web::Json(results))
}
