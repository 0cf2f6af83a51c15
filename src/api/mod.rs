//! The HTTP API (SPEC section 3): routing, shared state, request ids, logs and
//! metrics. One file per resource; handlers call the application modules.

pub mod admin;
pub mod analytics;
pub mod auth;
pub mod compliance;
pub mod constraints;
pub mod documents;
pub mod error;
pub mod files;
pub mod health;
pub mod ledger;
pub mod notifications;
pub mod openapi;
pub mod org;
pub mod queue;
pub mod receipts;
pub mod search;
pub mod signing;
pub mod workflows;

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub use error::ApiError;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{Db, DbConn};

/// The most requests in flight at which [`AppState::read_small`] still reads
/// on the HTTP worker.
pub const INLINE_READS_UP_TO: usize = 32;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The configuration in effect.
    pub config: Arc<Config>,
    /// Process metrics.
    pub metrics: Arc<Metrics>,
    /// Token keys, login throttle, session lifetimes.
    pub auth: Arc<auth::AuthState>,
    /// The deployment CA.
    pub ca: Arc<crate::pki::Ca>,
    /// The approval chains, as loaded at start.
    pub workflows: Arc<Vec<crate::workflow::Loaded>>,
    /// This process's search index (`None` if it could not be opened).
    pub search: Option<Arc<crate::search::Search>>,
    /// Officers' keys unsealed for their signing sessions.
    pub signing_sessions: Arc<crate::auth::session::Sessions>,
    /// The key-wrapping key that, with a PIN, opens a sealed signing key.
    pub pin_wrap: crate::signing::keys::PinWrap,
}

impl AppState {
    /// Runs a blocking read on the database thread pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    {
        let db = self.db.clone();
        web::block(move || db.read_tx(f)).await.map_err(|e| ApiError::internal(&e))?
    }

    /// A read that an index bounds to a page (an inbox, a file): on SQLite,
    /// run here on the HTTP worker when a reader is free now and the server
    /// is not busy, because the hop to the thread pool and back costs more
    /// CPU than such a read (a fifth of the server's CPU under a load of
    /// inbox views went to those thread switches). Otherwise, and always on
    /// PostgreSQL, whose every statement is a network round trip, as
    /// [`AppState::read`].
    ///
    /// Busy means more than [`INLINE_READS_UP_TO`] requests in flight. A
    /// read done here goes ahead of every request waiting for this worker:
    /// with 1,000 sessions at full speed, reads done here took the workers
    /// from the writes and searches waiting on them (their p95 went from
    /// under 1 s to 3–4 s). With at most that many in flight, a waiting
    /// request waits behind at most that many reads of a fraction of a
    /// millisecond each.
    pub async fn read_small<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    {
        let f = if self.may_read_here(Here::Page) {
            match self.db.read_now(f) {
                Ok(done) => return done,
                Err(f) => f,
            }
        } else {
            f
        };
        self.read(f).await
    }

    /// Whether a read of size `here` may run on the HTTP worker now rather
    /// than on the thread pool (it still needs a reader free now): the one
    /// place that decides it, for [`AppState::read_small`] and the caller's
    /// `auth_epoch` read.
    pub fn may_read_here(&self, here: Here) -> bool {
        self.db.backend() == crate::store::Backend::Sqlite
            && match here {
                Here::OneRow => true,
                Here::Page => self.metrics.in_flight() <= INLINE_READS_UP_TO,
            }
    }
}

/// How much a read done on the HTTP worker reads ([`AppState::may_read_here`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Here {
    /// One row by its primary key, a few microseconds: done on the worker
    /// even when busy, since a hop to the pool would cost more than the
    /// read delays those waiting behind it.
    OneRow,
    /// A page bounded by an index, a fraction of a millisecond: on the
    /// worker only while at most [`INLINE_READS_UP_TO`] requests are in
    /// flight.
    Page,
}

impl AppState {
    /// Runs `f` in one write transaction on the database thread pool: all of it
    /// commits, or none of it. The ledger events it appends are written
    /// together at its end ([`crate::ledger::batched`]).
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, ApiError> + Send + 'static,
    {
        let db = self.db.clone();
        web::block(move || db.write_tx(|c| crate::ledger::batched(c, f))).await.map_err(|e| ApiError::internal(&e))?
    }
}

/// `?limit=&cursor=` of every list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Rows per page, 1–200 (default 50). Read as text so that a bad value
    /// is answered naming `limit`, not with the query parser's words.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page (its shape, per list, is in
    /// the API document: [`KEY_CURSOR`] or an offset).
    pub cursor: Option<String>,
}

/// The cursor of lists ordered by id: the last id of the previous page.
pub const KEY_CURSOR: &str = "^[0-9A-Za-z_-]{0,100}$";

/// The furthest offset a list ordered by urgency or time pages to.
pub const MAX_OFFSET: i64 = 10_000_000;

/// The shape of an offset cursor of at most `max` (a power of ten): the
/// offset in plain decimal, or empty for the first page.
pub fn offset_cursor_pattern(max: i64) -> String {
    format!("^(?:0|[1-9][0-9]{{0,{}}}|{max})?$", max.to_string().len() - 2)
}

impl PageParams {
    /// The validated limit.
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit.as_deref().map(|l| l.trim().parse::<i64>()) {
            None => Ok(50),
            Some(Ok(n @ 1..=200)) => Ok(n),
            Some(_) => Err(ApiError::invalid_field("limit", "must be a whole number between 1 and 200")),
        }
    }

    /// The validated limit and key cursor ([`KEY_CURSOR`]).
    pub fn validated(self) -> Result<(i64, Option<String>), ApiError> {
        let limit = self.limit()?;
        let key = |c: &String| c.len() <= 100 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if self.cursor.as_ref().is_some_and(|c| !key(c)) {
            return Err(ApiError::invalid_field("cursor", "is not a cursor from this list"));
        }
        Ok((limit, self.cursor))
    }

    /// The validated offset cursor (at most `max`; empty or absent is 0) and limit.
    pub fn offset(&self, max: i64) -> Result<(i64, i64), ApiError> {
        let limit = self.limit()?;
        let offset = match self.cursor.as_deref() {
            None | Some("") => 0,
            Some(c) => Some(c)
                .filter(|c| {
                    c.len() <= 20 && c.bytes().all(|b| b.is_ascii_digit()) && (*c == "0" || !c.starts_with('0'))
                })
                .and_then(|c| c.parse::<i64>().ok())
                .filter(|o| *o <= max)
                .ok_or_else(|| ApiError::invalid_field("cursor", "is not a cursor from this list"))?,
        };
        Ok((offset, limit))
    }
}

/// The list envelope: `{items, next_cursor}`.
#[derive(Serialize, ToSchema)]
pub struct List<T> {
    /// This page.
    pub items: Vec<T>,
    /// Pass as `?cursor=` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Mounts every route on an actix `App`.
pub fn configure(cfg: &mut web::ServiceConfig, state: AppState) {
    let json_limit = state.config.json_limit_bytes;
    cfg.app_data(web::Data::new(state))
        .app_data(web::JsonConfig::default().limit(json_limit).error_handler(error::json_error))
        .app_data(web::QueryConfig::default().error_handler(error::query_error))
        .app_data(web::PathConfig::default().error_handler(error::path_error))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics))
        .service(
            web::scope("/api/v1")
                .route("/openapi.json", web::get().to(openapi::openapi_json))
                .route("/auth/login", web::post().to(auth::login))
                .route("/auth/refresh", web::post().to(auth::refresh))
                .route("/auth/resume", web::get().to(auth::resume))
                .route("/auth/logout", web::post().to(auth::logout))
                // The commonest reads first: routes are tried in order, and
                // each with a path parameter costs a regex match.
                .route("/inbox", web::get().to(files::inbox))
                .route("/queue", web::get().to(queue::list))
                .route("/search", web::get().to(search::search))
                .route("/sent", web::get().to(files::sent))
                .route("/files/{id}", web::get().to(files::show))
                .route("/me", web::get().to(auth::me))
                .route("/me/password", web::post().to(admin::change_password))
                .route("/me/notifications", web::get().to(notifications::show))
                .route("/me/notifications", web::put().to(notifications::update))
                .route("/users", web::post().to(admin::create_user))
                .route("/users/{id}/disable", web::post().to(admin::disable_user))
                .route("/posts/{id}/assignments", web::post().to(admin::add_assignment))
                .route("/assignments/{id}", web::delete().to(admin::end_assignment))
                .route("/admin/requests", web::get().to(admin::list_requests))
                .route("/admin/requests/{id}", web::post().to(admin::decide_request))
                .route("/org/units", web::post().to(admin::create_unit))
                .route("/posts", web::post().to(admin::create_post))
                .route("/files", web::post().to(files::create))
                .route("/files/{id}/notes", web::post().to(files::add_note))
                .route("/files/{id}/notes/{note_id}", web::patch().to(files::edit_note))
                .route("/files/{id}/notes/{note_id}/sign", web::post().to(signing::sign_note))
                .route("/me/keys", web::post().to(signing::enrol))
                .route("/me/keys/challenge", web::get().to(signing::challenge))
                .route("/files/{id}/notes/{note_id}/signing-bytes", web::get().to(signing::signing_bytes))
                .route(
                    "/files/{id}/movements/{movement_id}/signing-bytes",
                    web::get().to(signing::movement_signing_bytes),
                )
                .route("/files/{id}/movements/{movement_id}/sign", web::post().to(signing::sign_movement))
                .route("/pki/ca.pem", web::get().to(signing::ca_pem))
                .route("/pki/certificates/{serial}", web::get().to(signing::certificate))
                .route("/pki/certificates/{serial}/revoke", web::post().to(signing::revoke))
                .route("/files/{id}/movements", web::post().to(files::move_file))
                .route("/files/{id}/movements", web::get().to(files::timeline))
                .route("/files/{id}/links", web::post().to(files::link))
                .route("/files/{id}/export", web::get().to(files::export))
                .route("/files/{id}/documents", web::post().to(documents::upload))
                .route("/documents/{id}/content", web::get().to(documents::content))
                .route("/receipts", web::post().to(receipts::diarise))
                .route("/receipts/{id}", web::get().to(receipts::show))
                .route("/receipts/{id}/movements", web::post().to(receipts::move_receipt))
                .route("/ledger/verify", web::get().to(ledger::verify))
                .route("/ledger/checkpoints", web::post().to(ledger::checkpoint))
                .route("/queue/approve", web::post().to(queue::approve))
                .route("/files/{id}/concurrences/{concurrence_id}", web::post().to(queue::answer))
                .route("/workflows", web::get().to(workflows::list))
                .route("/workflows/{id}", web::get().to(workflows::show))
                .route("/org/units", web::get().to(org::list_units))
                .route("/posts", web::get().to(org::list_posts))
                .route("/analytics/bottlenecks", web::get().to(analytics::bottlenecks))
                .route("/compliance/metrics", web::get().to(compliance::metrics))
                .route("/compliance/certificates", web::post().to(compliance::issue))
                .route("/compliance/certificates", web::get().to(compliance::list))
                .route("/compliance/certificates/import", web::post().to(compliance::import))
                .route("/compliance/certificates/{id}", web::get().to(compliance::show))
                .route("/compliance/certificates/{id}/pdf", web::get().to(compliance::pdf))
                .route("/compliance/consolidated", web::get().to(compliance::consolidated))
                .route("/compliance/physical-files", web::post().to(compliance::register_physical))
                .route("/compliance/physical-files", web::get().to(compliance::list_physical))
                .route("/compliance/physical-files/{id}/retire", web::post().to(compliance::retire_physical)),
        )
        .default_service(web::to(not_found));
}

/// Anything no route answered: 405 with `Allow` when the path is one of the
/// API's (as the OpenAPI document lists them) and only the method is wrong,
/// else 404.
async fn not_found(req: actix_web::HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    match openapi::methods_of(req.path()) {
        Some(allow) => Err(ApiError::method_not_allowed(allow)),
        None => Err(ApiError::not_found()),
    }
}

/// Whether a request path carries a percent-encoded control character.
fn has_encoded_control(path: &str) -> bool {
    let b = path.as_bytes();
    b.iter().any(|c| c.is_ascii_control())
        || b.windows(3).any(|w| {
            w[0] == b'%'
                && std::str::from_utf8(&w[1..])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .is_some_and(|v| v < 0x20 || v == 0x7f)
        })
}

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A new request id: a UUIDv7 (time-ordered, like the stored ids) whose
/// other bits come from a generator per thread, seeded once from the OS. A
/// request id must be unique, not unguessable; [`crate::store::new_id`]
/// asks the OS for randomness each time, a system call that was 2% of the
/// server's CPU when made for every request.
fn request_id() -> String {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(u64::from_le_bytes(uuid::Uuid::now_v7().as_bytes()[8..].try_into().unwrap_or([1; 8])));
    }
    // splitmix64: every state gives a different output, whatever the seed.
    let next = || {
        STATE.with(|s| {
            let x = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
            s.set(x);
            let z = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        })
    };
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
    let mut rest = [0u8; 10];
    rest[..8].copy_from_slice(&next().to_le_bytes());
    rest[8..].copy_from_slice(&next().to_le_bytes()[..2]);
    uuid::Builder::from_unix_timestamp_millis(millis as u64, &rest).into_uuid().simple().to_string()
}

/// Gives every request an id (kept from the client if sane), logs one line per
/// request with it, and feeds the metrics.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
    let started = Instant::now();
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_owned)
        .unwrap_or_else(request_id);
    let metrics = req.app_data::<web::Data<AppState>>().map(|s| s.metrics.clone());
    let (method, path) = (req.method().to_string(), req.path().to_owned());
    // Instrument the future rather than entering the span: a guard held across
    // an await would leak the span into whatever else runs on this thread.
    let span = tracing::info_span!("request", request_id = %id);
    // No id or name contains control characters: such a path names nothing
    // (and must not reach the database, which may refuse the bytes).
    let _in_flight = metrics.as_deref().map(Metrics::started);
    let mut res = if has_encoded_control(req.path()) {
        let e = ApiError::not_found();
        req.into_response(actix_web::ResponseError::error_response(&e)).map_into_right_body()
    } else {
        tracing::Instrument::instrument(next.call(req), span.clone()).await?.map_into_left_body()
    };
    let micros = started.elapsed().as_micros() as u64;
    let status = res.status().as_u16();
    if let Some(m) = &metrics {
        m.record(status, micros);
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    span.in_scope(|| tracing::info!(%method, %path, status, micros, "request"));
    Ok(res)
}
