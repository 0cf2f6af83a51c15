//! `GET /api/v1/analytics/bottlenecks`: where files wait, per desk, section
//! and entity (issue 26). The same readers as the compliance figures: an
//! entity's secretary and auditor for that entity, MoITT's compliance cell
//! for every entity; any other entity answers 404, as an unknown one.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::auth::Caller;
use super::{ApiError, AppState};
use crate::analytics;
use crate::compliance::{self, Entity};
use crate::domain::analytics::Bottlenecks;

/// `?entity=&from=&to=&format=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BottleneckQuery {
    /// Entity code (e.g. `MOITT`) or id; without it, every entity the caller may see.
    pub entity: Option<String>,
    /// First day, YYYY-MM-DD (default: twelve weeks before `to`).
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD (default: today); at most 371 days after `from`.
    pub to: Option<String>,
    /// `json` (default) or `csv` (one row per desk).
    pub format: Option<String>,
}

/// The bottlenecks the caller may see for the period: one entity, or all of
/// theirs.
pub(crate) async fn reports(
    state: &web::Data<AppState>,
    caller: Caller,
    q: &BottleneckQuery,
) -> Result<(compliance::Period, Vec<(Entity, Bottlenecks)>), ApiError> {
    let period = analytics::period(q.from.as_deref(), q.to.as_deref())?;
    let entity = super::compliance::optional_entity(q.entity.as_deref())?;
    let reports = state
        .read(move |c| {
            let viewer = &caller.principal.viewer;
            let entities = match entity {
                Some(code) => vec![compliance::entity_for(c, viewer, &code)?],
                None => compliance::entities_for(c, viewer)?.into_iter().map(|(e, _)| e).collect(),
            };
            let mut out = Vec::with_capacity(entities.len());
            for e in entities {
                let b = analytics::of_entity(c, &e, period)?;
                out.push((e, b));
            }
            Ok(out)
        })
        .await?;
    Ok((period, reports))
}

/// Where files wait: per entity, section and desk, what is held now, the
/// oldest wait, files over SLA, how long files stayed before moving on
/// (median and 90th percentile, in seconds) overall and week by week, and
/// the ten slowest desks (by post, never by person).
#[utoipa::path(get, path = "/api/v1/analytics/bottlenecks", params(BottleneckQuery),
    responses((status = 200, description = "JSON `{from, to, entities: [{entity, held_files, held_receipts, oldest_waiting_seconds, over_sla, moved, median_seconds, p90_seconds, weeks, sections: [{…, desks}], slowest_desks}]}`, or CSV (UTF-8 with BOM) one row per desk"),
              (status = 400, body = super::error::ErrorBody), (status = 401, body = super::error::ErrorBody),
              (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn bottlenecks(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<BottleneckQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    // An empty `format=` (a form's blank choice) is the default.
    let csv = match q.format.as_deref() {
        None | Some("" | "json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid_field("format", "must be json or csv")),
    };
    let (period, reports) = reports(&state, caller, &q).await?;
    Ok(if csv {
        HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"bottlenecks-{}-{}.csv\"", period.from, period.to),
            ))
            .body(analytics::csv(&reports))
    } else {
        HttpResponse::Ok().json(analytics::view(period, &reports))
    })
}
