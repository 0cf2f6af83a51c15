//! The compliance metrics (SPEC section 3): what an entity's figures for a
//! period are, how the certificate words them, and how MoITT scores and
//! ranks entities. Pure arithmetic over counts the application layer reads
//! from the database; the README's "Compliance metrics" section states the
//! same formulas for readers.

use serde::{Deserialize, Serialize};

/// What is counted for one entity and period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// E-files of the entity open at some time in the period.
    pub e_files: i64,
    /// Physical files on the entity's register at some time in the period.
    pub physical_files: i64,
    /// Receipts diarised in the period, and how many of them electronically.
    pub receipts: i64,
    /// Of `receipts`, those that arrived with their scan (electronic).
    pub e_receipts: i64,
    /// People who held a post of the entity during the period.
    pub users: i64,
    /// Of `users`, those who moved a file or receipt in the period.
    pub active_users: i64,
    /// Notes written on the entity's files in the period.
    pub notes: i64,
    /// Of `notes`, those signed.
    pub signed_notes: i64,
    /// Each disposal in the period, in microseconds: a file opened → closed,
    /// a receipt diarised → put up in a file.
    pub disposals: Vec<i64>,
    /// For each file closed in the period, the movements it made before.
    pub movements_before_close: Vec<i64>,
    /// Workflow steps and concurrences of the entity that passed their SLA
    /// in the period while still waiting.
    pub over_sla: i64,
}

/// The figures SPEC section 3 names. Percentages are rounded *down* to one
/// decimal, so 100 % appears only when it is exact; `None` where nothing was
/// there to measure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// E-files in the period.
    pub e_files: i64,
    /// Physical files on the register in the period.
    pub physical_files: i64,
    /// 100 × e_files / (e_files + physical_files).
    pub adoption_pct: Option<f64>,
    /// 100 × electronic receipts / receipts diarised.
    pub e_receipts_pct: Option<f64>,
    /// 100 × active users / users holding a post.
    pub active_users_pct: Option<f64>,
    /// 100 × signed notes / notes written.
    pub signed_notes_pct: Option<f64>,
    /// Median disposal time, hours (one decimal).
    pub median_disposal_hours: Option<f64>,
    /// 90th percentile disposal time, hours (one decimal).
    pub p90_disposal_hours: Option<f64>,
    /// Mean movements of a file before it was closed (two decimals).
    pub avg_movements_per_file: Option<f64>,
    /// Steps and concurrences that went past their SLA in the period.
    pub pending_over_sla: i64,
}

/// `100 × part / whole`, rounded down to one decimal; `None` for an empty whole.
pub fn pct(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| ((part.clamp(0, whole) as i128 * 1000) / whole as i128) as f64 / 10.0)
}

/// The nearest-rank `p`-th percentile (0 < p ≤ 100) of `values`.
pub fn percentile(values: &[i64], p: u32) -> Option<i64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    percentile_sorted(&sorted, p)
}

/// [`percentile`] of values already sorted ascending.
pub fn percentile_sorted(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

fn hours(micros: i64) -> f64 {
    (micros as f64 / 3_600_000_000.0 * 10.0).round() / 10.0
}

/// The metrics of `counts`.
pub fn metrics(c: &Counts) -> Metrics {
    let avg = (!c.movements_before_close.is_empty()).then(|| {
        let sum: i64 = c.movements_before_close.iter().sum();
        (sum as f64 / c.movements_before_close.len() as f64 * 100.0).round() / 100.0
    });
    Metrics {
        e_files: c.e_files,
        physical_files: c.physical_files,
        adoption_pct: pct(c.e_files, c.e_files + c.physical_files),
        e_receipts_pct: pct(c.e_receipts, c.receipts),
        active_users_pct: pct(c.active_users, c.users),
        signed_notes_pct: pct(c.signed_notes, c.notes),
        median_disposal_hours: percentile(&c.disposals, 50).map(hours),
        p90_disposal_hours: percentile(&c.disposals, 90).map(hours),
        avg_movements_per_file: avg,
        pending_over_sla: c.over_sla.max(0),
    }
}

/// Whether figures read from elsewhere (an imported certificate) could
/// have come from [`metrics`]: percentages within 0–100, counts not
/// negative, adoption exactly what the file counts give.
pub fn plausible(m: &Metrics) -> Result<(), String> {
    let pcts = [m.adoption_pct, m.e_receipts_pct, m.active_users_pct, m.signed_notes_pct];
    if pcts.iter().flatten().any(|p| !(0.0..=100.0).contains(p)) {
        return Err("a percentage is outside 0 to 100".into());
    }
    if m.e_files < 0 || m.physical_files < 0 || m.pending_over_sla < 0 {
        return Err("a count is negative".into());
    }
    let times = [m.median_disposal_hours, m.p90_disposal_hours, m.avg_movements_per_file];
    if times.iter().flatten().any(|t| !t.is_finite() || *t < 0.0) {
        return Err("a time or average is negative or not a number".into());
    }
    if m.adoption_pct != pct(m.e_files, m.e_files.saturating_add(m.physical_files)) {
        return Err("the adoption percentage does not follow from the file counts".into());
    }
    Ok(())
}

fn shown(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.1}%"))
}

/// The certificate's statement of adoption, worded by the figures: full
/// adoption is claimed only when every file was electronic.
pub fn statement(entity: &str, m: &Metrics) -> String {
    let files = match m.adoption_pct {
        None => format!("{entity} handled no files in this period, so adoption cannot be certified from the figures."),
        Some(a) if m.physical_files == 0 => format!(
            "All {} files that {entity} handled in this period were electronic: e-Office is fully adopted for files ({a:.1}%).",
            m.e_files
        ),
        Some(a) => {
            let degree = if a >= 90.0 {
                "has largely adopted"
            } else if a >= 50.0 {
                "has partly adopted"
            } else {
                "has not yet adopted"
            };
            format!(
                "{entity} {degree} e-Office: {a:.1}% of the files it handled in this period were electronic, and {} physical files remain on its register.",
                m.physical_files
            )
        }
    };
    format!(
        "{files} Receipts received electronically: {}. Notes signed: {}. Officers active on the system: {}.",
        shown(m.e_receipts_pct),
        shown(m.signed_notes_pct),
        shown(m.active_users_pct)
    )
}

/// The efficiency-and-timeliness score, as printed in the report.
pub const SCORE_FORMULA: &str = "score = 0.40 x adoption% + 0.10 x e-receipts% + 0.10 x signed-notes% + 0.10 x active-users% \
+ 0.15 x speed% + 0.15 x within-SLA%, where speed% = 100 if the median disposal is at most 72 hours, else \
100 x 72 / median hours (0 if nothing was disposed of), and within-SLA% = 100 x (1 - over-SLA / e-files), \
at least 0 (0 with no e-files). A figure with nothing to measure counts as 0, so an entity with no activity scores 0.";

/// The score of `m` (one decimal), per [`SCORE_FORMULA`].
pub fn score(m: &Metrics) -> f64 {
    let or0 = |v: Option<f64>| v.unwrap_or(0.0);
    let speed = match m.median_disposal_hours {
        None => 0.0,
        Some(h) if h <= 72.0 => 100.0,
        Some(h) => 100.0 * 72.0 / h,
    };
    let within =
        if m.e_files > 0 { (100.0 * (1.0 - m.pending_over_sla as f64 / m.e_files as f64)).max(0.0) } else { 0.0 };
    let s = 0.40 * or0(m.adoption_pct)
        + 0.10 * or0(m.e_receipts_pct)
        + 0.10 * or0(m.signed_notes_pct)
        + 0.10 * or0(m.active_users_pct)
        + 0.15 * speed
        + 0.15 * within;
    (s * 10.0).round() / 10.0
}

/// Ranks (1 = best) of entities given as (code, score, adoption): by score,
/// then adoption, then code, so equal figures rank the same way every time.
pub fn ranks(rows: &[(String, f64, Option<f64>)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        let (ra, rb) = (&rows[a], &rows[b]);
        rb.1.total_cmp(&ra.1).then(rb.2.unwrap_or(-1.0).total_cmp(&ra.2.unwrap_or(-1.0))).then(ra.0.cmp(&rb.0))
    });
    let mut rank = vec![0; rows.len()];
    for (place, i) in order.into_iter().enumerate() {
        rank[i] = place + 1;
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    #[test]
    fn percentages_round_down_and_need_a_whole() {
        assert_eq!(pct(1, 3), Some(33.3));
        assert_eq!(pct(2, 3), Some(66.6));
        assert_eq!(pct(9999, 10000), Some(99.9));
        assert_eq!(pct(5, 5), Some(100.0));
        assert_eq!(pct(0, 0), None);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn metrics_of_counts() {
        let c = Counts {
            e_files: 9,
            physical_files: 1,
            receipts: 4,
            e_receipts: 3,
            users: 5,
            active_users: 4,
            notes: 8,
            signed_notes: 6,
            disposals: vec![2 * HOUR, 4 * HOUR, 30 * HOUR],
            movements_before_close: vec![3, 4],
            over_sla: 2,
        };
        let m = metrics(&c);
        assert_eq!(m.adoption_pct, Some(90.0));
        assert_eq!(m.e_receipts_pct, Some(75.0));
        assert_eq!(m.active_users_pct, Some(80.0));
        assert_eq!(m.signed_notes_pct, Some(75.0));
        assert_eq!(m.median_disposal_hours, Some(4.0));
        assert_eq!(m.p90_disposal_hours, Some(30.0));
        assert_eq!(m.avg_movements_per_file, Some(3.5));
        assert_eq!(m.pending_over_sla, 2);
        // 0.4×90 + 0.1×75 + 0.1×75 + 0.1×80 + 0.15×100 + 0.15×100×(1 − 2/9)
        assert_eq!(score(&m), 85.7);
        assert_eq!(score(&metrics(&Counts::default())), 0.0);
    }

    #[test]
    fn imported_figures_must_be_ones_metrics_could_give() {
        let good = metrics(&Counts { e_files: 3, physical_files: 1, ..Counts::default() });
        assert!(plausible(&good).is_ok());
        let mut bad = good.clone();
        bad.adoption_pct = Some(100.0);
        assert!(plausible(&bad).is_err());
        bad = good.clone();
        bad.e_receipts_pct = Some(1e300);
        assert!(plausible(&bad).is_err());
        bad = good;
        bad.pending_over_sla = -1;
        assert!(plausible(&bad).is_err());
    }

    #[test]
    fn the_statement_claims_only_what_the_figures_show() {
        let mut m = metrics(&Counts { e_files: 999, physical_files: 1, ..Counts::default() });
        let s = statement("MoITT", &m);
        assert!(s.contains("largely adopted") && s.contains("99.9%") && !s.contains("fully"), "{s}");
        m = metrics(&Counts { e_files: 12, ..Counts::default() });
        assert!(statement("MoITT", &m).contains("fully adopted"));
        m = metrics(&Counts { e_files: 1, physical_files: 3, ..Counts::default() });
        assert!(statement("MoITT", &m).contains("not yet adopted"));
        m = metrics(&Counts::default());
        assert!(statement("MoITT", &m).contains("cannot be certified"));
    }

    #[test]
    fn ranks_break_ties_the_same_way_every_time() {
        let rows = vec![
            ("B".to_owned(), 50.0, Some(60.0)),
            ("A".to_owned(), 50.0, Some(60.0)),
            ("C".to_owned(), 70.0, None),
            ("D".to_owned(), 50.0, Some(80.0)),
        ];
        assert_eq!(ranks(&rows), vec![4, 3, 1, 2]);
    }
}
