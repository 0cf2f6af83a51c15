//! Process metrics in the Prometheus text format, kept in atomics so that
//! recording costs nothing measurable on the request path.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Upper bounds (seconds) of the request-duration histogram buckets.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, 5.0];

/// Counters shared by every worker.
#[derive(Default)]
pub struct Metrics {
    by_class: [AtomicU64; 5],
    buckets: [AtomicU64; 10],
    duration_micros: AtomicU64,
    jobs: [AtomicU64; 3],
    mail: [AtomicU64; 3],
    scheduled: std::sync::Mutex<Vec<(&'static str, u64)>>,
    in_flight: AtomicUsize,
}

/// A request being answered; counted in [`Metrics::in_flight`] until dropped.
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

impl Metrics {
    /// Counts a request as being answered until the guard is dropped.
    pub fn started(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Relaxed);
        InFlight(self)
    }

    /// Requests being answered now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Relaxed)
    }

    /// Records one answered request.
    pub fn record(&self, status: u16, micros: u64) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.by_class[class].fetch_add(1, Relaxed);
        self.duration_micros.fetch_add(micros, Relaxed);
        let secs = micros as f64 / 1e6;
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
    }

    fn job(&self, kind: &str, outcome: usize) {
        self.jobs[outcome].fetch_add(1, Relaxed);
        if kind == "mail.send" {
            self.mail[outcome].fetch_add(1, Relaxed);
        }
    }

    /// A job of `kind` finished (for `mail.send`: an email was sent).
    pub fn job_done(&self, kind: &str) {
        self.job(kind, 0);
    }

    /// A job of `kind` failed and will be retried.
    pub fn job_retried(&self, kind: &str) {
        self.job(kind, 1);
    }

    /// A job of `kind` failed for the last time.
    pub fn job_dead(&self, kind: &str) {
        self.job(kind, 2);
    }

    /// This process ran a period of the schedule `name`.
    pub fn scheduled_run(&self, name: &'static str) {
        let mut s = self.scheduled.lock().unwrap_or_else(|p| p.into_inner());
        match s.iter_mut().find(|(n, _)| *n == name) {
            Some((_, c)) => *c += 1,
            None => s.push((name, 1)),
        }
    }

    /// Renders every metric; `pool` is (connections, idle) of the database pool.
    pub fn render(&self, pool: (u32, u32)) -> String {
        let mut out = String::new();
        out.push_str("# HELP daftar_http_requests_total HTTP requests answered, by status class.\n");
        out.push_str("# TYPE daftar_http_requests_total counter\n");
        for (i, c) in self.by_class.iter().enumerate() {
            let _ = writeln!(out, "daftar_http_requests_total{{class=\"{}xx\"}} {}", i + 1, c.load(Relaxed));
        }
        let total: u64 = self.by_class.iter().map(|c| c.load(Relaxed)).sum();
        out.push_str("# HELP daftar_http_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE daftar_http_request_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (b, c) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += c.load(Relaxed);
            let _ = writeln!(out, "daftar_http_request_duration_seconds_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let _ = writeln!(out, "daftar_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {total}");
        let _ = writeln!(
            out,
            "daftar_http_request_duration_seconds_sum {}",
            self.duration_micros.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "daftar_http_request_duration_seconds_count {total}");
        out.push_str("# HELP daftar_db_connections Open database connections (read pool).\n");
        out.push_str("# TYPE daftar_db_connections gauge\n");
        let _ = writeln!(out, "daftar_db_connections {}", pool.0);
        out.push_str("# HELP daftar_db_connections_idle Idle database connections (read pool).\n");
        out.push_str("# TYPE daftar_db_connections_idle gauge\n");
        let _ = writeln!(out, "daftar_db_connections_idle {}", pool.1);
        out.push_str("# HELP daftar_jobs_processed_total Job attempts by this process, by outcome.\n");
        out.push_str("# TYPE daftar_jobs_processed_total counter\n");
        for (outcome, c) in ["done", "retried", "dead"].iter().zip(&self.jobs) {
            let _ = writeln!(out, "daftar_jobs_processed_total{{outcome=\"{outcome}\"}} {}", c.load(Relaxed));
        }
        out.push_str("# HELP daftar_mail_total Emails by this process: sent, retried (an attempt failed), dead.\n");
        out.push_str("# TYPE daftar_mail_total counter\n");
        for (outcome, c) in ["sent", "retried", "dead"].iter().zip(&self.mail) {
            let _ = writeln!(out, "daftar_mail_total{{outcome=\"{outcome}\"}} {}", c.load(Relaxed));
        }
        out.push_str("# HELP daftar_scheduled_runs_total Periods of scheduled work run by this process.\n");
        out.push_str("# TYPE daftar_scheduled_runs_total counter\n");
        for (name, n) in self.scheduled.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let _ = writeln!(out, "daftar_scheduled_runs_total{{schedule=\"{name}\"}} {n}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::default();
        m.record(200, 500);
        m.record(404, 30_000);
        m.record(503, 9_000_000);
        let text = m.render((2, 1));
        assert!(text.contains("daftar_http_requests_total{class=\"2xx\"} 1"));
        assert!(text.contains("daftar_http_requests_total{class=\"4xx\"} 1"));
        assert!(text.contains("daftar_http_request_duration_seconds_bucket{le=\"0.001\"} 1"));
        assert!(text.contains("daftar_http_request_duration_seconds_bucket{le=\"0.05\"} 2"));
        assert!(text.contains("daftar_http_request_duration_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("daftar_db_connections 2"));
    }
}
