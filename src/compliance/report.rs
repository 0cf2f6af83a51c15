//! MoITT's consolidated report: every entity with its metrics for a period,
//! the status of its certificate for exactly that period, the efficiency
//! and timeliness score ([`crate::domain::compliance::SCORE_FORMULA`]) and
//! its rank, the top three named; as JSON, CSV (UTF-8 with a byte-order mark
//! so spreadsheet programs read names correctly, one header row, CRLF line
//! ends) or a PDF with a bar chart of adoption drawn as vector graphics.

use serde::Serialize;
use serde_json::{Value, json};

use super::certificate::{self, CertificateView};
use super::pdf::{HEIGHT, MARGIN, Pages, WIDTH};
use super::{ComplianceError, Period};
use crate::blobs::BlobStore;
use crate::domain::compliance::{Metrics, SCORE_FORMULA, ranks, score};
use crate::store::{Db, now_micros, rfc3339};

/// One entity's line.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// 1 = best.
    pub rank: usize,
    /// `{code, name}` (and `id` for an entity of this deployment).
    pub entity: Value,
    /// The figures: computed here for this deployment's entities, as
    /// certified for entities known only from an imported certificate.
    pub metrics: Metrics,
    /// Per the formula.
    pub score: f64,
    /// `verified`, `missing` or `invalid`.
    pub certificate_status: &'static str,
    /// The certificate considered, if any.
    pub certificate: Option<CertificateView>,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// First day.
    pub from: String,
    /// Last day.
    pub to: String,
    /// When it was made.
    pub generated_at: String,
    /// How the score is computed.
    pub score_formula: &'static str,
    /// Best first.
    pub items: Vec<Line>,
}

/// Builds the report for `period`.
pub fn build(db: &Db, blobs: &BlobStore, trusted: &[Vec<u8>], period: Period) -> Result<Report, ComplianceError> {
    let mut c = db.reader()?;
    let mut lines = Vec::new();
    for e in super::entities(&mut c)? {
        let metrics = super::metrics_of(&mut c, &e, period)?;
        let cert = certificate::current(&mut c, &e.code, period)?;
        let entity = json!({"id": e.id, "code": e.code, "name": e.name});
        lines.push((entity, metrics, cert));
    }
    for (code, name) in certificate::imported_entities(&mut c, period)? {
        if let Some(cert) = certificate::current(&mut c, &code, period)? {
            let metrics: Option<Metrics> = serde_json::from_value(cert.metrics.clone()).ok();
            if let Some(metrics) = metrics {
                lines.push((json!({"code": code, "name": name}), metrics, Some(cert)));
            }
        }
    }
    drop(c);
    let scored: Vec<(String, f64, Option<f64>)> = lines
        .iter()
        .map(|(e, m, _)| (e["code"].as_str().unwrap_or_default().to_owned(), score(m), m.adoption_pct))
        .collect();
    let order = ranks(&scored);
    let mut items: Vec<Line> = lines
        .into_iter()
        .zip(order)
        .zip(scored)
        .map(|(((entity, metrics, cert), rank), (_, score, _))| Line {
            rank,
            entity,
            metrics,
            score,
            certificate_status: cert.as_ref().map_or("missing", |c| certificate::status(blobs, c, trusted)),
            certificate: cert,
        })
        .collect();
    items.sort_by_key(|l| l.rank);
    Ok(Report {
        from: period.from.to_string(),
        to: period.to.to_string(),
        generated_at: rfc3339(now_micros()),
        score_formula: SCORE_FORMULA,
        items,
    })
}

/// The report as JSON: the report plus `top_three`.
pub fn json(r: &Report) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    v["top_three"] = r
        .items
        .iter()
        .take(3)
        .map(|l| json!({"rank": l.rank, "code": l.entity["code"], "name": l.entity["name"], "score": l.score}))
        .collect();
    v
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "rank",
    "entity_code",
    "entity_name",
    "e_files",
    "physical_files",
    "adoption_pct",
    "e_receipts_pct",
    "active_users_pct",
    "signed_notes_pct",
    "median_disposal_hours",
    "p90_disposal_hours",
    "avg_movements_per_file",
    "pending_over_sla",
    "score",
    "certificate_status",
    "certificate_id",
];

/// A CSV field: quoted when it must be, and never read as a formula.
pub(crate) fn field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

fn num(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The report as CSV (UTF-8 with BOM, CRLF).
pub fn csv(r: &Report) -> String {
    csv_text(
        CSV_COLUMNS,
        r.items.iter().map(|l| {
            let m = &l.metrics;
            vec![
                l.rank.to_string(),
                field(l.entity["code"].as_str().unwrap_or_default()),
                field(l.entity["name"].as_str().unwrap_or_default()),
                m.e_files.to_string(),
                m.physical_files.to_string(),
                num(m.adoption_pct),
                num(m.e_receipts_pct),
                num(m.active_users_pct),
                num(m.signed_notes_pct),
                num(m.median_disposal_hours),
                num(m.p90_disposal_hours),
                num(m.avg_movements_per_file),
                m.pending_over_sla.to_string(),
                l.score.to_string(),
                l.certificate_status.to_owned(),
                l.certificate.as_ref().map(|c| c.id.clone()).unwrap_or_default(),
            ]
        }),
    )
}

/// A CSV document as spreadsheets open it: UTF-8 with a byte-order mark,
/// one header row, CRLF line ends; `rows` hold fields already made safe
/// with [`field`] where they are text.
pub(crate) fn csv_text(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut out = String::from("\u{feff}");
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for cells in rows {
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

fn short(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

/// The report as a PDF: the top three, a bar chart of adoption by entity,
/// the table, and the formula.
pub fn pdf(r: &Report, organisation: &str) -> Result<Vec<u8>, ComplianceError> {
    let mut p = Pages::new();
    let right = WIDTH - MARGIN;
    let mut y = HEIGHT - MARGIN;
    p.text(MARGIN, y, 10.0, true, &organisation.to_uppercase());
    y -= 28.0;
    p.text(MARGIN, y, 18.0, true, "Consolidated e-Office Compliance Report");
    y -= 18.0;
    p.text(MARGIN, y, 11.0, false, &format!("Period {} to {}; generated {}", r.from, r.to, r.generated_at));
    y -= 26.0;
    p.text(MARGIN, y, 12.0, true, "The three most efficient and timely entities");
    for l in r.items.iter().take(3) {
        y -= 16.0;
        p.text(
            MARGIN + 10.0,
            y,
            11.0,
            false,
            &format!(
                "{}. {} ({}), score {:.1}",
                l.rank,
                l.entity["name"].as_str().unwrap_or(""),
                l.entity["code"].as_str().unwrap_or(""),
                l.score
            ),
        );
    }
    y -= 30.0;
    p.text(MARGIN, y, 12.0, true, "Adoption by entity (% of files electronic)");
    y -= 10.0;
    // The chart: one horizontal bar per entity, on a 0–100 axis.
    let (label_w, value_w) = (110.0, 40.0);
    let (x0, x1) = (MARGIN + label_w, right - value_w);
    let bar_h = 11.0;
    let mut top = y;
    let axis = |p: &mut Pages, top: f32, bottom: f32| {
        for tick in [0, 25, 50, 75, 100] {
            let x = x0 + (x1 - x0) * tick as f32 / 100.0;
            p.line(x, top, x, bottom, if tick == 0 { 0.8 } else { 0.2 });
            p.text(x - 6.0, bottom - 11.0, 7.5, false, &tick.to_string());
        }
    };
    for l in &r.items {
        if y - bar_h - 6.0 < MARGIN + 20.0 {
            axis(&mut p, top, y);
            p.page();
            y = HEIGHT - MARGIN;
            top = y;
        }
        y -= bar_h + 6.0;
        p.text(MARGIN, y + 2.0, 8.5, false, l.entity["code"].as_str().unwrap_or(""));
        let a = l.metrics.adoption_pct.unwrap_or(0.0) as f32;
        let colour = if a >= 90.0 {
            (0.13, 0.47, 0.30)
        } else if a >= 50.0 {
            (0.80, 0.55, 0.10)
        } else {
            (0.70, 0.20, 0.20)
        };
        p.bar(x0, y, (x1 - x0) * a.clamp(0.0, 100.0) / 100.0, bar_h, colour);
        p.text(x1 + 4.0, y + 2.0, 8.5, false, &short(l.metrics.adoption_pct));
    }
    axis(&mut p, top, y - 4.0);

    // The table.
    p.page();
    let cols: [(&str, f32); 9] = [
        ("Rank", MARGIN),
        ("Entity", MARGIN + 30.0),
        ("Adopt%", MARGIN + 190.0),
        ("eRcpt%", MARGIN + 232.0),
        ("Signed%", MARGIN + 274.0),
        ("Active%", MARGIN + 318.0),
        ("Median h", MARGIN + 362.0),
        ("Score", MARGIN + 408.0),
        ("Certificate", MARGIN + 440.0),
    ];
    let header = |p: &mut Pages, y: f32| {
        for (name, x) in cols {
            p.text(x, y, 8.5, true, name);
        }
        p.line(MARGIN, y - 4.0, right, y - 4.0, 0.4);
    };
    let mut y = HEIGHT - MARGIN;
    p.text(MARGIN, y, 12.0, true, "Entities by rank");
    y -= 22.0;
    header(&mut p, y);
    for l in &r.items {
        if y < MARGIN + 30.0 {
            p.page();
            y = HEIGHT - MARGIN;
            header(&mut p, y);
        }
        y -= 14.0;
        let m = &l.metrics;
        let name = l.entity["name"].as_str().unwrap_or("");
        let name = if name.chars().count() > 34 {
            format!("{}...", name.chars().take(32).collect::<String>())
        } else {
            name.to_owned()
        };
        let cells = [
            l.rank.to_string(),
            name,
            short(m.adoption_pct),
            short(m.e_receipts_pct),
            short(m.signed_notes_pct),
            short(m.active_users_pct),
            short(m.median_disposal_hours),
            format!("{:.1}", l.score),
            l.certificate_status.to_owned(),
        ];
        for ((_, x), cell) in cols.iter().zip(cells) {
            p.text(*x, y, 8.5, false, &cell);
        }
    }
    y -= 28.0;
    if y < MARGIN + 80.0 {
        p.page();
        y = HEIGHT - MARGIN;
    }
    p.text(MARGIN, y, 10.0, true, "How the score is computed");
    p.paragraph(MARGIN, y - 14.0, 8.5, right - MARGIN, SCORE_FORMULA);
    let title = format!("Consolidated e-Office Compliance Report {} to {}", r.from, r.to);
    let (mut doc, _) = p.finish(&title, None).map_err(ComplianceError::Internal)?;
    let mut out = Vec::new();
    doc.save_to(&mut out).map_err(|e| ComplianceError::Internal(format!("pdf: {e}")))?;
    Ok(out)
}
