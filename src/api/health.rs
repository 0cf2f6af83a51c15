//! Liveness, readiness and metrics.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{ApiError, AppState};

/// `GET /healthz`: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// How far behind the ledger the search index may be and still be ready.
const READY_LAG: i64 = 1000;

/// `GET /readyz`: the database answers and the search index is built and
/// caught up (`search.lag`: sealed ledger events not applied yet).
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let head = state
        .read(|conn| {
            crate::store::ping(conn)?;
            Ok(crate::search::indexer::head(conn)?)
        })
        .await?;
    let search = match &state.search {
        None => json!({"status": "unavailable"}),
        Some(s) => match s.applied() {
            None => json!({"status": "building", "writer": s.writes()}),
            Some(applied) => json!({"status": if head - applied <= READY_LAG { "ok" } else { "behind" },
                                    "applied": applied, "head": head, "lag": (head - applied).max(0), "writer": s.writes()}),
        },
    };
    let ready = search["status"] == "ok";
    let body = json!({"status": if ready { "ready" } else { "not_ready" }, "database": "ok", "search": search});
    Ok(if ready { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) })
}

/// Whether a request may read `/metrics`: with the configured token, or,
/// when none is configured, straight from this machine.
fn may_read_metrics(state: &AppState, req: &HttpRequest) -> bool {
    match &state.config.metrics_token {
        Some(token) => req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| crate::auth::tokens::same_secret(given, token)),
        None => {
            let forwarded = req.headers().contains_key("x-forwarded-for") || req.headers().contains_key("forwarded");
            !forwarded && req.peer_addr().is_some_and(|a| a.ip().is_loopback())
        }
    }
}

/// `GET /metrics`: Prometheus text format, for the monitoring system only
/// (`metrics_token`, or loopback when none is set).
pub async fn metrics(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if !may_read_metrics(&state, &req) {
        return Err(ApiError::not_found());
    }
    let (jobs, live) = state.read(|c| Ok((crate::jobs::counts(c)?, crate::analytics::live(c)?))).await?;
    let mut text = state.metrics.render(state.db.pool_state());
    text.push_str("# HELP daftar_jobs Jobs waiting or in hand, by status (dead = gave up after max attempts; done jobs are removed and counted in daftar_jobs_processed_total).\n");
    text.push_str("# TYPE daftar_jobs gauge\n");
    for status in ["queued", "running", "dead"] {
        let n = jobs.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
        text.push_str(&format!("daftar_jobs{{status=\"{status}\"}} {n}\n"));
    }
    text.push_str(&crate::analytics::live_metrics(&live));
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(text))
}
