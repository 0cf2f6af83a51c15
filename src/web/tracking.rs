//! `GET /track` and `GET /track/{diary_no}?code=…`: where a letter from
//! outside is, for its sender, without signing in. HTML for people, JSON for
//! `Accept: application/json` (or `format=json`), and the acknowledgement slip
//! for `format=pdf`. An unknown diary number and a wrong code get the same
//! bytes; wrong guesses are slowed per address (the login throttle's rules,
//! in a throttle of their own).

use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::html;
use super::text::{EN, Text};
use crate::api::{ApiError, AppState};
use crate::domain::tracking::Stage;
use crate::tracking::{self, Tracked, slip};

/// The query of a tracking request.
#[derive(Deserialize)]
pub struct TrackQuery {
    diary_no: Option<String>,
    code: Option<String>,
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "track.html")]
struct TrackPage<'a> {
    t: &'a Text,
    me: Option<super::Me>,
    flash: Option<String>,
    idle_seconds: i64,
    unknown: bool,
    found: Option<Tracked>,
    code: String,
}

/// What a stage is called on the page.
pub fn stage_name(t: &Text, s: Stage) -> &'static str {
    match s {
        Stage::Diarised => t.stage_diarised,
        Stage::WithSection => t.stage_with_section,
        Stage::PutUp => t.stage_put_up,
        Stage::Disposed => t.stage_disposed,
    }
}

impl TrackPage<'_> {
    fn stage(&self, s: &Stage) -> &'static str {
        stage_name(self.t, *s)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Html,
    Json,
    Pdf,
}

fn format_of(req: &HttpRequest, asked: Option<&str>) -> Format {
    match asked {
        Some("json") => return Format::Json,
        Some("pdf") => return Format::Pdf,
        Some(_) => return Format::Html,
        None => {}
    }
    let accept = req.headers().get("accept").and_then(|v| v.to_str().ok()).unwrap_or("");
    if accept.contains("application/json") && !accept.contains("text/html") { Format::Json } else { Format::Html }
}

fn page(status: StatusCode, p: TrackPage) -> HttpResponse {
    html(status, p.render())
}

fn blank<'a>() -> TrackPage<'a> {
    TrackPage { t: &EN, me: None, flash: None, idle_seconds: 0, unknown: false, found: None, code: String::new() }
}

/// `GET /track`: the form, or (with `diary_no` and `code`) the answer.
pub async fn form(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<TrackQuery>,
) -> Result<HttpResponse, actix_web::Error> {
    let q = query.into_inner();
    match q.diary_no.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => answer(&state, &req, d.to_owned(), q.code.unwrap_or_default(), q.format).await,
        None => Ok(page(StatusCode::OK, blank())),
    }
}

/// `GET /track/{diary_no}?code=…`.
pub async fn track(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<TrackQuery>,
) -> Result<HttpResponse, actix_web::Error> {
    let q = query.into_inner();
    answer(&state, &req, path.into_inner(), q.code.unwrap_or_default(), q.format).await
}

async fn answer(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    diary_no: String,
    code: String,
    asked: Option<String>,
) -> Result<HttpResponse, actix_web::Error> {
    let format = format_of(req, asked.as_deref());
    let address = crate::api::auth::client_ip(req, state.auth.trust_forwarded_for());
    // One counter per address: wrong codes and unknown numbers alike count.
    let throttle = state.auth.tracking_throttle();
    let attempt = throttle.reserve("track", &address, true, Instant::now()).map_err(ApiError::rate_limited)?;
    let (d, c) = (diary_no.clone(), code.clone());
    let found = state.read(move |conn| Ok(tracking::lookup(conn, &d, &c)?)).await?;
    let Some(found) = found else {
        attempt.failed(Instant::now());
        // The same bytes whatever the number and code were.
        return Ok(match format {
            Format::Json | Format::Pdf => {
                actix_web::ResponseError::error_response(&ApiError::not_found()).map_into_boxed_body()
            }
            Format::Html => page(StatusCode::NOT_FOUND, TrackPage { unknown: true, ..blank() }),
        });
    };
    // A right code neither counts nor forgives earlier wrong ones.
    drop(attempt);
    Ok(match format {
        Format::Json => HttpResponse::Ok().insert_header(("Cache-Control", "no-store")).json(&found),
        Format::Pdf => {
            let link = slip::link(&state.config.public_base_url(), &found.diary_no, &tracked_code(&code));
            let organisation = state.config.organisation.clone();
            let f = found.clone();
            let bytes = web::block(move || {
                slip::pdf(&organisation, &f.office, &f.diary_no, &f.received_on, &tracked_code(&code), &link)
            })
            .await
            .map_err(|e| ApiError::internal(&e))?
            .map_err(|e| ApiError::internal(&e))?;
            HttpResponse::Ok()
                .content_type("application/pdf")
                .insert_header(("Cache-Control", "no-store"))
                .insert_header((
                    "Content-Disposition",
                    format!("inline; filename=\"acknowledgement-{}.pdf\"", found.diary_no.replace('/', "-")),
                ))
                .body(bytes)
        }
        Format::Html => page(StatusCode::OK, TrackPage { code: tracked_code(&code), found: Some(found), ..blank() }),
    })
}

/// The code as printed (four groups), from the code as typed.
fn tracked_code(typed: &str) -> String {
    crate::domain::tracking::normalize(typed)
        .map(|c| c.as_bytes().chunks(4).map(|g| String::from_utf8_lossy(g).into_owned()).collect::<Vec<_>>().join("-"))
        .unwrap_or_default()
}
