//! The "where files wait" page: an entity's desks and sections, what they
//! hold, how long files stay before moving on, week by week, and the ten
//! slowest desks, with two small SVG charts. The same use case and readers
//! as `GET /api/v1/analytics/bottlenecks`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::text::{EN, Text};
use super::{Me, PageError, frame, html, signed_in};
use crate::api::AppState;
use crate::api::analytics::{BottleneckQuery, reports};
use crate::compliance::Entity;
use crate::domain::analytics::{Bottlenecks, Week};

#[derive(Template)]
#[template(path = "analytics.html")]
struct AnalyticsPage<'a> {
    t: &'a Text,
    me: Option<Me>,
    flash: Option<String>,
    idle_seconds: i64,
    from: String,
    to: String,
    /// Every entity the caller may see: code, name, and its headline figures.
    entities: Vec<(String, String, Vec<String>)>,
    /// The entity shown in detail.
    shown: Option<(Entity, Bottlenecks)>,
    trend_svg: String,
    slowest_svg: String,
}

/// A duration in seconds as people read it: `45 s`, `12 min`, `5.5 h`, `3.2 d`.
pub fn duration(seconds: Option<i64>) -> String {
    match seconds {
        None => "—".into(),
        Some(s) if s < 60 => format!("{s} s"),
        Some(s) if s < 3600 => format!("{} min", s / 60),
        Some(s) if s < 86_400 => format!("{:.1} h", s as f64 / 3600.0),
        Some(s) => format!("{:.1} d", s as f64 / 86_400.0),
    }
}

impl AnalyticsPage<'_> {
    fn d(&self, s: &Option<i64>) -> String {
        duration(*s)
    }

    fn secs(&self, s: &i64) -> String {
        duration(Some(*s))
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Weekly median stay as bars, with each week's figure in its title.
fn trend_svg(weeks: &[Week]) -> String {
    let (w, h, gap) = (600.0_f64, 120.0_f64, 4.0_f64);
    let max = weeks.iter().filter_map(|w| w.median_seconds).max().unwrap_or(0).max(1) as f64;
    let bw = if weeks.is_empty() { 0.0 } else { w / weeks.len() as f64 - gap };
    let mut out = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {}\" role=\"img\" aria-label=\"{}\">",
        h + 16.0,
        esc(EN.a_trend)
    );
    for (i, week) in weeks.iter().enumerate() {
        let v = week.median_seconds.unwrap_or(0) as f64;
        let bh = (v / max * h).max(if week.moved > 0 { 1.0 } else { 0.0 });
        let x = i as f64 * (bw + gap);
        out.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{bh:.1}\"><title>{}: {} ({} moved)</title></rect>",
            h - bh,
            esc(&week.from),
            esc(&duration(week.median_seconds)),
            week.moved
        ));
        out.push_str(&format!("<text x=\"{:.1}\" y=\"{}\">{}</text>", x, h + 12.0, esc(&week.from[5..])));
    }
    out.push_str("</svg>");
    out
}

/// The slowest desks as horizontal bars of their median stay.
fn slowest_svg(b: &Bottlenecks) -> String {
    let (w, row) = (600.0_f64, 18.0_f64);
    let label = 200.0;
    let max = b.slowest_desks.iter().map(|d| d.median_seconds).max().unwrap_or(0).max(1) as f64;
    let mut out = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {}\" role=\"img\" aria-label=\"{}\">",
        row * b.slowest_desks.len() as f64 + 2.0,
        esc(EN.a_slowest)
    );
    for (i, d) in b.slowest_desks.iter().enumerate() {
        let y = i as f64 * row;
        let bw = (d.median_seconds as f64 / max * (w - label - 80.0)).max(1.0);
        out.push_str(&format!(
            "<text x=\"0\" y=\"{:.1}\">{}</text><rect x=\"{label}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"{:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            y + 13.0,
            esc(&format!("{} ({})", d.desk.title, d.desk.code)),
            y + 3.0,
            row - 6.0,
            label + bw + 4.0,
            y + 13.0,
            esc(&duration(Some(d.median_seconds)))
        ));
    }
    out.push_str("</svg>");
    out
}

/// `GET /analytics?entity=&from=&to=`.
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<BottleneckQuery>,
) -> Result<HttpResponse, PageError> {
    let caller = signed_in(&req).await?;
    let q = q.into_inner();
    let wanted = q.entity.clone().filter(|e| !e.trim().is_empty());
    let all = BottleneckQuery { entity: None, from: q.from.clone(), to: q.to.clone(), format: None };
    let (flash, status, period, list) = match reports(&state, caller.clone(), &all).await {
        Ok((p, l)) => (None, StatusCode::OK, Some(p), l),
        Err(e) => (Some(e.detail().message), StatusCode::BAD_REQUEST, None, Vec::new()),
    };
    let period = match period {
        Some(p) => p,
        None => crate::analytics::period(None, None).map_err(crate::api::ApiError::from)?,
    };
    let entities = list
        .iter()
        .map(|(e, b)| {
            let f = &b.figures;
            let cells = vec![
                f.held_files.to_string(),
                f.held_receipts.to_string(),
                duration(f.oldest_waiting_seconds),
                f.over_sla.to_string(),
                f.moved.to_string(),
                duration(f.median_seconds),
                duration(f.p90_seconds),
            ];
            (e.code.clone(), e.name.clone(), cells)
        })
        .collect();
    let shown = match wanted {
        Some(code) => list.into_iter().find(|(e, _)| e.code.eq_ignore_ascii_case(code.trim()) || e.id == code),
        None => list.into_iter().next(),
    };
    let (trend, slow) = shown.as_ref().map(|(_, b)| (trend_svg(&b.figures.weeks), slowest_svg(b))).unwrap_or_default();
    let f = frame(&state, &caller, flash).await?;
    let page = AnalyticsPage {
        t: &EN,
        me: f.me,
        flash: f.flash,
        idle_seconds: f.idle_seconds,
        from: period.from.to_string(),
        to: period.to.to_string(),
        entities,
        shown,
        trend_svg: trend,
        slowest_svg: slow,
    };
    Ok(html(status, page.render()))
}
