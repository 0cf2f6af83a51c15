//! Liveness, readiness and metrics.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{ApiError, AppState};

/// `GET /healthz`: the process answers.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.read(|conn| crate::store::ping(conn).map_err(ApiError::from)).await?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready", "database": "ok"})))
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let jobs = state.read(|c| Ok(crate::jobs::counts(c)?)).await?;
    let mut text = state.metrics.render(state.db.pool_state());
    text.push_str("# HELP daftar_jobs Jobs waiting or in hand, by status (dead = gave up after max attempts; done jobs are removed and counted in daftar_jobs_processed_total).\n");
    text.push_str("# TYPE daftar_jobs gauge\n");
    for status in ["queued", "running", "dead"] {
        let n = jobs.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
        text.push_str(&format!("daftar_jobs{{status=\"{status}\"}} {n}\n"));
    }
    Ok(HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(text))
}
