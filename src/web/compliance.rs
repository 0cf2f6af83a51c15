//! The compliance pages: an entity's secretary (and auditor) see its figures
//! for a period and its certificates, and the secretary issues the
//! certificate with their PIN; MoITT's compliance cell sees every entity
//! ranked, with the consolidated report to download. Same use cases as
//! `api::compliance`; the figures are never typed in here.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::text::{EN, Text};
use super::{Me, PageError, Posted, frame, html, signed_in};
use crate::api::AppState;
use crate::api::auth::Caller;
use crate::blobs::BlobStore;
use crate::compliance::{self, Period, certificate, report};
use crate::domain::compliance::{SCORE_FORMULA, statement};

/// One of the caller's entities as the page shows it.
struct EntityBlock {
    code: String,
    name: String,
    rows: Vec<(&'static str, String)>,
    statement: String,
    certificates: Vec<CertLine>,
    may_issue: bool,
}

struct CertLine {
    id: String,
    version: i32,
    period: String,
    issued: String,
    superseded: bool,
}

struct ReportLine {
    rank: usize,
    code: String,
    name: String,
    adoption: String,
    score: String,
    status: &'static str,
    certificate: Option<String>,
}

#[derive(Template)]
#[template(path = "compliance.html")]
struct CompliancePage<'a> {
    t: &'a Text,
    me: Option<Me>,
    flash: Option<String>,
    idle_seconds: i64,
    csrf: String,
    from: String,
    to: String,
    entities: Vec<EntityBlock>,
    report: Option<Vec<ReportLine>>,
    formula: &'static str,
}

/// `?from=&to=` of the page.
#[derive(Deserialize)]
pub struct PeriodForm {
    from: Option<String>,
    to: Option<String>,
}

/// The certificate form.
#[derive(Deserialize)]
pub struct IssueForm {
    pub(super) csrf: Option<String>,
    entity: String,
    from: String,
    to: String,
    pin: String,
}

fn short(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{v:.1}%"))
}

async fn render(
    state: &web::Data<AppState>,
    caller: Caller,
    period: Period,
    flash: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let viewer = caller.principal.viewer.clone();
    let is_cell = crate::domain::access::is_compliance_cell(&viewer);
    let entities = state
        .read(move |c| {
            let mut blocks = Vec::new();
            // The compliance cell reads the ranked table; the others their own entities.
            let mine = if is_cell { Vec::new() } else { compliance::entities_for(c, &viewer)? };
            for (e, secretary) in mine {
                let m = compliance::metrics_of(c, &e, period)?;
                let certificates = certificate::of_entity(c, &e.code)?
                    .into_iter()
                    .map(|v| CertLine {
                        period: format!("{} to {}", v.from, v.to),
                        issued: super::short_time(&v.issued_at),
                        superseded: v.superseded_by.is_some(),
                        version: v.version,
                        id: v.id,
                    })
                    .collect();
                blocks.push(EntityBlock {
                    statement: statement(&e.name, &m),
                    rows: certificate::metric_rows(&m),
                    code: e.code,
                    name: e.name,
                    certificates,
                    may_issue: secretary,
                });
            }
            Ok(blocks)
        })
        .await?;
    let report = if is_cell {
        let st = state.clone();
        let r = web::block(move || {
            let trusted = certificate::trusted_cas(&st.ca, &st.config);
            report::build(&st.db, &BlobStore::new(&st.config.data_dir), &trusted, period)
        })
        .await
        .map_err(|e| crate::api::ApiError::internal(&e))?
        .map_err(crate::api::ApiError::from)?;
        Some(
            r.items
                .into_iter()
                .map(|l| ReportLine {
                    rank: l.rank,
                    code: l.entity["code"].as_str().unwrap_or_default().to_owned(),
                    name: l.entity["name"].as_str().unwrap_or_default().to_owned(),
                    adoption: short(l.metrics.adoption_pct),
                    score: format!("{:.1}", l.score),
                    status: l.certificate_status,
                    certificate: l.certificate.map(|c| c.id),
                })
                .collect(),
        )
    } else {
        None
    };
    let f = frame(state, &caller, flash).await?;
    let page = CompliancePage {
        t: &EN,
        me: f.me,
        flash: f.flash,
        idle_seconds: f.idle_seconds,
        csrf: caller.csrf.clone().unwrap_or_default(),
        from: period.from.to_string(),
        to: period.to.to_string(),
        entities,
        report,
        formula: SCORE_FORMULA,
    };
    Ok(html(status, page.render()))
}

/// The compliance page for a period (this month so far by default).
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<PeriodForm>,
) -> Result<HttpResponse, PageError> {
    let caller = signed_in(&req).await?;
    match crate::api::compliance::period_of(q.from.as_deref(), q.to.as_deref()) {
        Ok(period) => render(&state, caller, period, None, StatusCode::OK).await,
        Err(e) => {
            let period = crate::api::compliance::period_of(None, None).map_err(crate::api::ApiError::from)?;
            render(
                &state,
                caller,
                period,
                Some(crate::api::ApiError::from(e).detail().message),
                StatusCode::BAD_REQUEST,
            )
            .await
        }
    }
}

/// Issues a certificate from the page's form.
pub async fn issue(state: web::Data<AppState>, posted: Posted<IssueForm>) -> Result<HttpResponse, PageError> {
    let Posted { caller, form } = posted;
    let period = crate::api::compliance::period_of(Some(&form.from), Some(&form.to))
        .or_else(|_| crate::api::compliance::period_of(None, None))
        .map_err(crate::api::ApiError::from)?;
    let outcome = crate::api::compliance::issue_as(
        &state,
        caller.clone(),
        form.entity,
        Some(&form.from),
        Some(&form.to),
        form.pin,
    )
    .await;
    let (flash, status) = match outcome {
        Ok(c) => (
            format!("Certificate issued: version {} for {} to {}. Download it below.", c.version, c.from, c.to),
            StatusCode::OK,
        ),
        Err(e) => (e.detail().message, e.code().status()),
    };
    render(&state, caller, period, Some(flash), status).await
}
