//! Compliance routes (SPEC section 3): metrics, certificates, import, the
//! consolidated report, and the register of physical files.

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::ErrorCode;
use super::{ApiError, AppState, PageParams};
use crate::blobs::BlobStore;
use crate::compliance::{self, ComplianceError, Period, certificate, physical, report};

impl From<ComplianceError> for ApiError {
    fn from(e: ComplianceError) -> Self {
        match e {
            ComplianceError::Invalid(field, m) => ApiError::invalid_field(field, m),
            ComplianceError::Forbidden(m) => ApiError::forbidden(m),
            ComplianceError::NotFound => ApiError::not_found(),
            ComplianceError::Conflict(m) => ApiError::new(ErrorCode::Conflict, m),
            ComplianceError::Rejected(reason) => {
                ApiError::new(ErrorCode::Invalid, format!("the certificate was rejected: {reason}"))
                    .with_details(json!({"pdf": reason}))
            }
            ComplianceError::Sign(e) => e.into(),
            ComplianceError::Store(e) => e.into(),
            ComplianceError::Internal(m) => ApiError::internal(&m),
        }
    }
}

/// `?entity=&from=&to=`: the period defaults to this month so far.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// Entity code (e.g. `MOITT`) or id.
    pub entity: String,
    /// First day, YYYY-MM-DD (default: the first of this month).
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD (default: today; not after today, nor before `from`).
    pub to: Option<String>,
}

/// `?entity=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntityQuery {
    /// Entity code (e.g. `MOITT`) or id.
    pub entity: String,
}

/// `?from=&to=&format=`: the period defaults to this month so far.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// First day, YYYY-MM-DD (default: the first of this month).
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD (default: today; not after today, nor before `from`).
    pub to: Option<String>,
    /// `json` (default), `csv` or `pdf`; empty is the default.
    pub format: Option<String>,
}

/// The period asked for, or this month so far.
pub fn period_of(from: Option<&str>, to: Option<&str>) -> Result<Period, ComplianceError> {
    let today = crate::clock::today();
    let first = today.with_day0(0).unwrap_or(today).to_string();
    let today = today.to_string();
    Period::parse(from.unwrap_or(&first), to.unwrap_or(&today))
}

use chrono::Datelike as _;

/// Most characters in an `?entity=` (a code or an id).
pub const MAX_ENTITY_PARAM: usize = 64;

/// An optional `?entity=`: a code or id of at most [`MAX_ENTITY_PARAM`]
/// plain characters, trimmed; blank is absent.
pub(crate) fn optional_entity(given: Option<&str>) -> Result<Option<String>, ApiError> {
    match given {
        Some(e) if e.chars().count() > MAX_ENTITY_PARAM || e.chars().any(char::is_control) => {
            Err(ApiError::invalid_field("entity", "name the entity by code, e.g. MOITT"))
        }
        e => Ok(e.map(str::trim).filter(|e| !e.is_empty()).map(str::to_owned)),
    }
}

fn entity_param(given: Option<&str>) -> Result<String, ApiError> {
    optional_entity(given)?.ok_or_else(|| ApiError::invalid_field("entity", "name the entity by code, e.g. MOITT"))
}

/// An entity's metrics for a period: for `compliance`, the entity's
/// secretary and its auditor (others: 404, as for an unknown entity).
#[utoipa::path(get, path = "/api/v1/compliance/metrics", params(MetricsQuery),
    responses((status = 200, description = "{entity, from, to, e_files, physical_files, adoption_pct, …}"),
              (status = 400, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn metrics(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<MetricsQuery>,
) -> Result<web::Json<serde_json::Value>, ApiError> {
    let code = entity_param(Some(&q.entity))?;
    let period = period_of(q.from.as_deref(), q.to.as_deref())?;
    let v = state
        .read(move |c| {
            let e = compliance::entity_for(c, &caller.principal.viewer, &code)?;
            let m = compliance::metrics_of(c, &e, period)?;
            Ok(compliance::metrics_view(&e, period, &m))
        })
        .await?;
    Ok(web::Json(v))
}

/// `POST /compliance/certificates`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueCertificate {
    /// Entity code or id.
    pub entity: String,
    /// First day, YYYY-MM-DD.
    pub from: String,
    /// Last day, YYYY-MM-DD.
    pub to: String,
    /// The secretary's signing PIN.
    pub pin: String,
}

/// Issues the entity's certificate for the period, signed (PAdES) with the
/// secretary's key: only the entity's administrative secretary may.
#[utoipa::path(post, path = "/api/v1/compliance/certificates", request_body = IssueCertificate,
    responses((status = 201, body = certificate::CertificateView), (status = 400, body = super::error::ErrorBody),
              (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
              (status = 429, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn issue(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<IssueCertificate>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let view = issue_as(&state, caller, b.entity, Some(&b.from), Some(&b.to), b.pin).await?;
    Ok(HttpResponse::Created().json(view))
}

/// Issues a certificate as `caller` (the API's and the web page's one way):
/// the entity's secretary only (checked before the PIN is tried), with the PIN.
pub(crate) async fn issue_as(
    state: &web::Data<AppState>,
    caller: Caller,
    entity: String,
    from: Option<&str>,
    to: Option<&str>,
    pin: String,
) -> Result<certificate::CertificateView, ApiError> {
    let period = period_of(from, to)?;
    let st = state.clone();
    web::block(move || -> Result<certificate::CertificateView, ApiError> {
        let (entity, heads) = {
            let mut c = st.db.reader()?;
            let e = compliance::entity(&mut c, entity.trim())?.ok_or_else(ApiError::not_found)?;
            let heads = compliance::heads_held(&mut c, &caller.principal.viewer, &e)?;
            if heads.is_empty() {
                return Err(ApiError::forbidden(format!(
                    "only the administrative secretary of {} issues its certificate",
                    e.code
                )));
            }
            (e, heads)
        };
        let opened = super::signing::mover_key(&st, &caller, Some(&pin))?
            .ok_or_else(|| ApiError::forbidden("you have no server-mode signing key to use a PIN with"))?;
        let blobs = BlobStore::new(&st.config.data_dir);
        Ok(certificate::issue(&st.db, &st.ca, &blobs, &st.config, caller.user_id(), &heads, &entity, period, &opened)?)
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
}

/// The certificate `id` if the caller may see its entity's compliance.
fn visible_certificate(
    c: &mut crate::store::DbConn,
    caller: &Caller,
    id: &str,
) -> Result<certificate::CertificateView, ApiError> {
    let cert = certificate::get(c, id)?.ok_or_else(ApiError::not_found)?;
    let viewer = &caller.principal.viewer;
    if !crate::domain::access::is_compliance_cell(viewer) {
        compliance::entity_for(c, viewer, cert.entity["code"].as_str().unwrap_or_default())?;
    }
    Ok(cert)
}

/// A certificate's record.
#[utoipa::path(get, path = "/api/v1/compliance/certificates/{id}", params(("id" = String, Path, description = "certificate id")),
    responses((status = 200, body = certificate::CertificateView), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<web::Json<certificate::CertificateView>, ApiError> {
    let id = path.into_inner();
    Ok(web::Json(state.read(move |c| visible_certificate(c, &caller, &id)).await?))
}

/// The signed PDF of a certificate.
#[utoipa::path(get, path = "/api/v1/compliance/certificates/{id}/pdf", params(("id" = String, Path, description = "certificate id")),
    responses((status = 200, content_type = "application/pdf", description = "the signed PDF"), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn pdf(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let cert = state.read(move |c| visible_certificate(c, &caller, &id)).await?;
    let blobs = BlobStore::new(&state.config.data_dir);
    let name = format!(
        "certificate-{}-{}-{}-v{}.pdf",
        cert.entity["code"].as_str().unwrap_or("entity"),
        cert.from,
        cert.to,
        cert.version
    );
    let name: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.()".contains(*c)).collect();
    let bytes = web::block(move || certificate::pdf_of(&blobs, &cert)).await.map_err(|e| ApiError::internal(&e))??;
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"{name}\"")))
        .insert_header(("Cache-Control", "private, no-store"))
        .body(bytes))
}

/// An entity's certificates, newest first.
#[utoipa::path(get, path = "/api/v1/compliance/certificates", params(EntityQuery),
    responses((status = 200, description = "{items: [certificate]}"), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<EntityQuery>,
) -> Result<web::Json<serde_json::Value>, ApiError> {
    let code = entity_param(Some(&q.entity))?;
    let items = state
        .read(move |c| {
            let e = compliance::entity_for(c, &caller.principal.viewer, &code);
            let code = match e {
                Ok(e) => e.code,
                // An entity known only from imported certificates.
                Err(ComplianceError::NotFound)
                    if crate::domain::access::is_compliance_cell(&caller.principal.viewer) =>
                {
                    code
                }
                Err(e) => return Err(e.into()),
            };
            Ok(certificate::of_entity(c, &code)?)
        })
        .await?;
    Ok(web::Json(json!({"items": items, "next_cursor": null})))
}

/// Whether the caller holds the `compliance` role.
fn require_compliance(caller: &Caller) -> Result<(), ApiError> {
    if crate::domain::access::is_compliance_cell(&caller.principal.viewer) {
        Ok(())
    } else {
        Err(ApiError::forbidden("only MoITT's compliance cell (role `compliance`) may do this"))
    }
}

/// Reads a request body of at most `max` bytes.
pub(crate) async fn read_body(req: &HttpRequest, mut payload: web::Payload, max: usize) -> Result<Vec<u8>, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(ApiError::too_large(format!("the body is larger than {} MiB", max / (1024 * 1024))));
    }
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::invalid("the request body could not be read"))?;
        if body.len() + chunk.len() > max {
            return Err(ApiError::too_large(format!("the body is larger than {} MiB", max / (1024 * 1024))));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Imports a certificate signed in another deployment (`Content-Type:
/// application/pdf`): stored if its signature verifies against this
/// deployment's CA or `compliance.trusted_cas`, else 400 with the reason.
#[utoipa::path(post, path = "/api/v1/compliance/certificates/import",
    request_body(content_type = "application/pdf", description = "the signed certificate PDF"),
    responses((status = 201, body = certificate::CertificateView), (status = 400, body = super::error::ErrorBody),
              (status = 403, body = super::error::ErrorBody), (status = 413, body = super::error::ErrorBody),
              (status = 415, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn import(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_compliance(&caller)?;
    let pdf_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/pdf")));
    if !pdf_type {
        return Err(ApiError::unsupported_media_type("send the certificate as Content-Type: application/pdf"));
    }
    let pdf = read_body(&req, payload, certificate::IMPORT_MAX_BYTES).await?;
    let st = state.clone();
    let view = web::block(move || -> Result<_, ApiError> {
        let trusted = certificate::trusted_cas(&st.ca, &st.config);
        let blobs = BlobStore::new(&st.config.data_dir);
        Ok(certificate::import(&st.db, &blobs, &trusted, caller.user_id(), &pdf)?)
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    Ok(HttpResponse::Created().json(view))
}

/// MoITT's consolidated report: one row per entity with metrics,
/// certificate status (`verified`, `missing`, `invalid`), score and rank,
/// the top three named; `format=json|csv|pdf`. The CSV is UTF-8 with a
/// byte-order mark, one header row, CRLF line ends.
#[utoipa::path(get, path = "/api/v1/compliance/consolidated", params(ReportQuery),
    responses((status = 200, description = "the report (JSON, CSV or PDF)"), (status = 400, body = super::error::ErrorBody),
              (status = 403, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn consolidated(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    require_compliance(&caller)?;
    let period = period_of(q.from.as_deref(), q.to.as_deref())?;
    // An empty `format=` (a form's blank choice) is the default.
    let format = q.format.as_deref().filter(|f| !f.is_empty()).unwrap_or("json").to_owned();
    if !["json", "csv", "pdf"].contains(&format.as_str()) {
        return Err(ApiError::invalid_field("format", "must be json, csv or pdf"));
    }
    let st = state.clone();
    let (body, mime) = web::block(move || -> Result<(Vec<u8>, &'static str), ApiError> {
        let trusted = certificate::trusted_cas(&st.ca, &st.config);
        let blobs = BlobStore::new(&st.config.data_dir);
        let r = report::build(&st.db, &blobs, &trusted, period)?;
        Ok(match format.as_str() {
            "csv" => (report::csv(&r).into_bytes(), "text/csv; charset=utf-8"),
            "pdf" => (report::pdf(&r, &st.config.organisation)?, "application/pdf"),
            _ => (serde_json::to_vec(&report::json(&r)).unwrap_or_default(), "application/json"),
        })
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    let ext = match mime {
        "application/pdf" => "pdf",
        "application/json" => "json",
        _ => "csv",
    };
    let mut res = HttpResponse::Ok();
    res.content_type(mime).insert_header(("Cache-Control", "private, no-store"));
    if ext != "json" {
        res.insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"compliance-{}-{}.{ext}\"", period.from, period.to),
        ));
    }
    Ok(res.body(body))
}

/// `POST /compliance/physical-files`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPhysical {
    /// Entity code or id.
    pub entity: String,
    /// 1–1000 files.
    pub files: Vec<physical::NewPhysical>,
}

/// Registers physical files (the entity's registry or org admin), all or none.
#[utoipa::path(post, path = "/api/v1/compliance/physical-files", request_body = RegisterPhysical,
    responses((status = 201, description = "{items: [physical file]}"), (status = 400, body = super::error::ErrorBody),
              (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
              (status = 409, description = "a reference already on the register, or given twice", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn register_physical(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<RegisterPhysical>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let items = state
        .write(move |c| {
            let e = compliance::entity(c, b.entity.trim())?.ok_or_else(ApiError::not_found)?;
            Ok(physical::register(c, &caller.principal.viewer, &e, &b.files)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(json!({"items": items})))
}

/// `?entity=&all=` of the register.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegisterQuery {
    /// Entity code or id.
    pub entity: String,
    /// `true` to include files that have left the register.
    pub all: Option<bool>,
}

/// The register of physical files (those who keep it and those who may see the entity's compliance).
#[utoipa::path(get, path = "/api/v1/compliance/physical-files", params(RegisterQuery, PageParams),
    responses((status = 200, description = "{items, next_cursor}"), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_physical(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<RegisterQuery>,
    paging: web::Query<PageParams>,
) -> Result<web::Json<super::files::Page<physical::Physical>>, ApiError> {
    let (offset, limit) = super::files::offset_of(&paging)?;
    let q = q.into_inner();
    let (items, more) = state
        .read(move |c| {
            let viewer = &caller.principal.viewer;
            let e = compliance::entity(c, q.entity.trim())?.ok_or_else(ApiError::not_found)?;
            if !crate::domain::access::may_keep_register(viewer, &e.id) {
                compliance::entity_for(c, viewer, &e.id)?;
            }
            Ok(physical::list(c, &e, q.all.unwrap_or(false), offset, limit)?)
        })
        .await?;
    Ok(web::Json(super::files::page(items, more, offset, limit)))
}

/// Takes a physical file off the register: digitised (naming its e-file), closed or transferred.
#[utoipa::path(post, path = "/api/v1/compliance/physical-files/{id}/retire", request_body = physical::Retire,
    params(("id" = String, Path, description = "physical file id")),
    responses((status = 200, body = physical::Physical), (status = 400, body = super::error::ErrorBody),
              (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody),
              (status = 409, description = "it has already left the register", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn retire_physical(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<physical::Retire>,
) -> Result<web::Json<physical::Physical>, ApiError> {
    let id = path.into_inner();
    let b = body.into_inner();
    let p = state
        .write(move |c| {
            let e = physical::entity_of(c, &id)?;
            Ok(physical::retire(c, &caller.principal.viewer, &e, &id, &b)?)
        })
        .await?;
    Ok(web::Json(p))
}
