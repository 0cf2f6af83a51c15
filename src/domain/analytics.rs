//! Where files wait (issue 26): from what each desk holds now and how long
//! each file stayed at each desk before it moved on, the figures per desk,
//! section and entity, the weekly trend, and the slowest desks. Pure: the
//! store reads the stays and holdings, this decides what they say.

use serde::Serialize;

/// A week in microseconds.
pub const WEEK: i64 = 7 * 86_400 * 1_000_000;

/// How many of the slowest desks are named.
pub const SLOWEST: usize = 10;

/// A desk (post) as the figures name it: by post, never by person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeskRef {
    /// The post's id.
    pub post_id: String,
    /// Its code.
    pub code: String,
    /// Its designation.
    pub designation: String,
    /// Its title (`Deputy Secretary (Admin)`).
    pub title: String,
}

/// A section (the post's unit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionRef {
    /// The unit's id.
    pub id: String,
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
}

/// What a desk holds now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holding {
    /// Files held (not closed).
    pub files: i64,
    /// Letters held (not yet put up).
    pub receipts: i64,
    /// Since when the longest-held of them has been there (µs).
    pub oldest_since: Option<i64>,
    /// Files held past their due time or their workflow step's SLA.
    pub over_sla: i64,
}

impl Holding {
    fn add(&mut self, o: &Holding) {
        self.files += o.files;
        self.receipts += o.receipts;
        self.over_sla += o.over_sla;
        self.oldest_since = match (self.oldest_since, o.oldest_since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// One desk's input: what it holds now, and the stays at it that ended in
/// the period, counted as `(ended at µs, seconds at the desk, how many)`
/// (see [`dwell_bucket`] for the seconds' resolution).
#[derive(Debug, Clone)]
pub struct DeskInput {
    /// The desk.
    pub desk: DeskRef,
    /// Its section.
    pub section: SectionRef,
    /// What it holds now.
    pub holding: Holding,
    /// Stays that ended in the period.
    pub stays: Vec<(i64, i64, i64)>,
}

/// One week of the trend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Week {
    /// First day of the week (`YYYY-MM-DD`).
    pub from: String,
    /// Files that moved on from a desk that week.
    pub moved: i64,
    /// Their median stay, in seconds.
    pub median_seconds: Option<i64>,
    /// Their 90th-percentile stay, in seconds.
    pub p90_seconds: Option<i64>,
}

/// The figures of a desk, a section or an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Figures {
    /// Files held now.
    pub held_files: i64,
    /// Letters held now.
    pub held_receipts: i64,
    /// How long the longest-held file or letter has waited, in seconds.
    pub oldest_waiting_seconds: Option<i64>,
    /// Files held now past their due time or SLA.
    pub over_sla: i64,
    /// Files that moved on in the period.
    pub moved: i64,
    /// Median stay of those, in seconds.
    pub median_seconds: Option<i64>,
    /// 90th-percentile stay, in seconds.
    pub p90_seconds: Option<i64>,
    /// The same, week by week.
    pub weeks: Vec<Week>,
}

/// A desk's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeskFigures {
    /// The desk.
    #[serde(flatten)]
    pub desk: DeskRef,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// A section's figures, with its desks'.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionFigures {
    /// The section.
    #[serde(flatten)]
    pub section: SectionRef,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
    /// Its desks.
    pub desks: Vec<DeskFigures>,
}

/// One of the slowest desks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlowDesk {
    /// The desk.
    #[serde(flatten)]
    pub desk: DeskRef,
    /// Its section's name.
    pub section: String,
    /// Files that moved on from it in the period.
    pub moved: i64,
    /// Their median stay, in seconds.
    pub median_seconds: i64,
    /// Their 90th-percentile stay, in seconds.
    pub p90_seconds: i64,
}

/// An entity's bottlenecks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bottlenecks {
    /// The entity's own figures.
    #[serde(flatten)]
    pub figures: Figures,
    /// Per section, each with its desks.
    pub sections: Vec<SectionFigures>,
    /// The desks with the longest median stay (at most [`SLOWEST`]).
    pub slowest_desks: Vec<SlowDesk>,
}

/// The period being looked at, in µs (end exclusive), and now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Start of the period.
    pub start: i64,
    /// End of the period (exclusive).
    pub end: i64,
    /// Now, for how long things have waited.
    pub now: i64,
}

impl Span {
    fn weeks(&self) -> usize {
        ((self.end - self.start).max(0) as usize).div_ceil(WEEK as usize)
    }
}

/// The nearest-rank `p`-th percentile of counted values sorted by value.
fn weighted_percentile(sorted: &[(i64, i64)], total: i64, p: i64) -> Option<i64> {
    if total <= 0 {
        return None;
    }
    let rank = (p * total + 99) / 100;
    let mut seen = 0;
    for &(v, n) in sorted {
        seen += n;
        if seen >= rank.max(1) {
            return Some(v);
        }
    }
    sorted.last().map(|l| l.0)
}

/// Counted values: how many, median, 90th percentile.
fn spread(mut values: Vec<(i64, i64)>) -> (i64, Option<i64>, Option<i64>) {
    values.sort_unstable();
    let total: i64 = values.iter().map(|v| v.1).sum();
    (total, weighted_percentile(&values, total, 50), weighted_percentile(&values, total, 90))
}

fn figures(holding: &Holding, stays: &[(i64, i64, i64)], span: Span, day: &dyn Fn(i64) -> String) -> Figures {
    let mut weekly: Vec<Vec<(i64, i64)>> = vec![Vec::new(); span.weeks()];
    for &(ended, secs, n) in stays {
        if ended >= span.start && ended < span.end {
            let w = ((ended - span.start) / WEEK) as usize;
            if let Some(v) = weekly.get_mut(w) {
                v.push((secs, n));
            }
        }
    }
    let weeks = weekly
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let (moved, median, p90) = spread(v);
            Week { from: day(span.start + i as i64 * WEEK), moved, median_seconds: median, p90_seconds: p90 }
        })
        .collect();
    let (moved, median, p90) = spread(stays.iter().map(|s| (s.1, s.2)).collect());
    Figures {
        held_files: holding.files,
        held_receipts: holding.receipts,
        oldest_waiting_seconds: holding.oldest_since.map(|s| (span.now - s).max(0) / 1_000_000),
        over_sla: holding.over_sla,
        moved,
        median_seconds: median,
        p90_seconds: p90,
        weeks,
    }
}

/// The resolution a stay's length is counted at: to the second under ten
/// minutes, to the minute under a day, to the hour beyond (rounded down).
/// Short waits are exact; long ones, whose seconds nobody reads, take few
/// counters. (Migration 19 applies the same rule in SQL to past stays.)
pub fn dwell_bucket(seconds: i64) -> i64 {
    let s = seconds.max(0);
    if s < 600 {
        s
    } else if s < 86_400 {
        s / 60 * 60
    } else {
        s / 3600 * 3600
    }
}

/// How many whole seconds a stay from `from` to `until` (µs) lasted.
pub fn stay_seconds(from: i64, until: i64) -> i64 {
    (until - from).max(0) / 1_000_000
}

/// The bottlenecks of one entity from its desks: figures per desk, section
/// (desks grouped by their unit, in the order given) and the whole entity,
/// and the slowest desks by median stay (then 90th percentile, then code).
/// `day` names the day a µs instant falls on.
pub fn bottlenecks(desks: &[DeskInput], span: Span, day: &dyn Fn(i64) -> String) -> Bottlenecks {
    let mut sections: Vec<(SectionRef, Holding, Vec<(i64, i64, i64)>, Vec<DeskFigures>)> = Vec::new();
    let mut total = Holding::default();
    let mut all_stays = Vec::new();
    let mut slow = Vec::new();
    for d in desks {
        let f = figures(&d.holding, &d.stays, span, day);
        if let (Some(median), Some(p90)) = (f.median_seconds, f.p90_seconds) {
            slow.push(SlowDesk {
                desk: d.desk.clone(),
                section: d.section.name.clone(),
                moved: f.moved,
                median_seconds: median,
                p90_seconds: p90,
            });
        }
        let i = match sections.iter().position(|s| s.0.id == d.section.id) {
            Some(i) => i,
            None => {
                sections.push((d.section.clone(), Holding::default(), Vec::new(), Vec::new()));
                sections.len() - 1
            }
        };
        let s = &mut sections[i];
        s.1.add(&d.holding);
        s.2.extend_from_slice(&d.stays);
        s.3.push(DeskFigures { desk: d.desk.clone(), figures: f });
        total.add(&d.holding);
        all_stays.extend_from_slice(&d.stays);
    }
    slow.sort_by(|a, b| {
        b.median_seconds
            .cmp(&a.median_seconds)
            .then(b.p90_seconds.cmp(&a.p90_seconds))
            .then(a.desk.code.cmp(&b.desk.code))
    });
    slow.truncate(SLOWEST);
    Bottlenecks {
        figures: figures(&total, &all_stays, span, day),
        sections: sections
            .into_iter()
            .map(|(section, holding, stays, desks)| SectionFigures {
                section,
                figures: figures(&holding, &stays, span, day),
                desks,
            })
            .collect(),
        slowest_desks: slow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000;
    const S: i64 = 1_000_000;

    fn desk(code: &str, section: &str, holding: Holding, stays: Vec<(i64, i64, i64)>) -> DeskInput {
        DeskInput {
            desk: DeskRef {
                post_id: format!("p-{code}"),
                code: code.into(),
                designation: code.into(),
                title: code.into(),
            },
            section: SectionRef { id: format!("u-{section}"), code: section.into(), name: section.into() },
            holding,
            stays,
        }
    }

    fn day(t: i64) -> String {
        format!("d{}", t / (86_400 * S))
    }

    #[test]
    fn dwell_times_are_exact_seconds_and_percentiles_are_nearest_rank() {
        assert_eq!(stay_seconds(0, 90 * S + 999_999), 90);
        assert_eq!(stay_seconds(10, 5), 0);
        let span = Span { start: 0, end: WEEK, now: WEEK };
        // Ten stays of 1..=10 minutes.
        let stays: Vec<(i64, i64, i64)> = (1..=10).map(|m| (m * H, m * 60, 1)).collect();
        let b = bottlenecks(&[desk("SO", "Admin", Holding::default(), stays)], span, &day);
        assert_eq!(b.figures.moved, 10);
        assert_eq!(b.figures.median_seconds, Some(300));
        assert_eq!(b.figures.p90_seconds, Some(540));
        assert_eq!(b.figures.weeks.len(), 1);
        assert_eq!(b.figures.weeks[0].moved, 10);
    }

    #[test]
    fn counted_stays_weigh_as_many_stays() {
        let span = Span { start: 0, end: WEEK, now: WEEK };
        // 8 stays of 60 s and 2 of 3600 s, counted; the same as ten listed.
        let counted = vec![(H, 60, 8), (2 * H, 3600, 2)];
        let listed: Vec<(i64, i64, i64)> = (0..10).map(|i| (H + i, if i < 8 { 60 } else { 3600 }, 1)).collect();
        let (a, b) = (
            bottlenecks(&[desk("SO", "A", Holding::default(), counted)], span, &day),
            bottlenecks(&[desk("SO", "A", Holding::default(), listed)], span, &day),
        );
        assert_eq!((a.figures.moved, a.figures.median_seconds, a.figures.p90_seconds), (10, Some(60), Some(3600)));
        assert_eq!(
            (a.figures.moved, a.figures.median_seconds, a.figures.p90_seconds),
            (b.figures.moved, b.figures.median_seconds, b.figures.p90_seconds)
        );
    }

    #[test]
    fn waits_are_counted_to_the_second_under_ten_minutes() {
        assert_eq!(dwell_bucket(-5), 0);
        assert_eq!(dwell_bucket(599), 599);
        assert_eq!(dwell_bucket(601), 600);
        assert_eq!(dwell_bucket(3599), 3540);
        assert_eq!(dwell_bucket(86_399), 86_340);
        assert_eq!(dwell_bucket(90_061), 90_000);
    }

    #[test]
    fn holdings_add_up_and_the_oldest_wait_is_counted_from_now() {
        let span = Span { start: 0, end: 2 * WEEK, now: 2 * WEEK };
        let a = Holding { files: 3, receipts: 1, oldest_since: Some(2 * WEEK - 50 * H), over_sla: 1 };
        let b = Holding { files: 2, receipts: 0, oldest_since: Some(2 * WEEK - 10 * H), over_sla: 2 };
        let c = Holding { files: 7, receipts: 4, oldest_since: Some(2 * WEEK - 99 * H), over_sla: 0 };
        let r = bottlenecks(
            &[desk("SO", "Admin", a, vec![]), desk("AO", "Admin", b, vec![]), desk("DS", "Budget", c, vec![])],
            span,
            &day,
        );
        assert_eq!((r.figures.held_files, r.figures.held_receipts, r.figures.over_sla), (12, 5, 3));
        assert_eq!(r.figures.oldest_waiting_seconds, Some(99 * 3600));
        assert_eq!(r.sections.len(), 2);
        assert_eq!(r.sections[0].figures.held_files, 5);
        assert_eq!(r.sections[0].figures.oldest_waiting_seconds, Some(50 * 3600));
        assert_eq!(r.sections[0].desks.len(), 2);
        assert_eq!(r.sections[1].figures.over_sla, 0);
        // Nothing moved: no medians, no slow desks.
        assert_eq!(r.figures.median_seconds, None);
        assert!(r.slowest_desks.is_empty());
    }

    #[test]
    fn weeks_split_the_period_and_the_last_may_be_short() {
        let span = Span { start: 0, end: 2 * WEEK + 86_400 * S, now: 3 * WEEK };
        let stays = vec![(H, 10, 1), (WEEK + H, 20, 1), (WEEK + 2 * H, 40, 1), (2 * WEEK + H, 7, 1)];
        let r = bottlenecks(&[desk("SO", "Admin", Holding::default(), stays)], span, &day);
        let w: Vec<(String, i64, Option<i64>)> =
            r.figures.weeks.iter().map(|w| (w.from.clone(), w.moved, w.median_seconds)).collect();
        assert_eq!(w, vec![("d0".into(), 1, Some(10)), ("d7".into(), 2, Some(20)), ("d14".into(), 1, Some(7))]);
    }

    #[test]
    fn the_slowest_desks_are_ranked_by_median_then_p90_and_at_most_ten() {
        let span = Span { start: 0, end: WEEK, now: WEEK };
        let mut desks: Vec<DeskInput> =
            (0..12).map(|i| desk(&format!("D{i:02}"), "S", Holding::default(), vec![(H, 100 + i, 1)])).collect();
        // Same median as D11 but a longer tail: ranked above it.
        desks.push(desk("ZZ", "S", Holding::default(), vec![(H, 111, 1), (H, 1, 1), (H, 5000, 1)]));
        let r = bottlenecks(&desks, span, &day);
        let codes: Vec<&str> = r.slowest_desks.iter().map(|d| d.desk.code.as_str()).collect();
        assert_eq!(codes, vec!["ZZ", "D11", "D10", "D09", "D08", "D07", "D06", "D05", "D04", "D03"]);
        assert_eq!(r.slowest_desks[0].p90_seconds, 5000);
        assert_eq!(r.slowest_desks[0].moved, 3);
    }
}
