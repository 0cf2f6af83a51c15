//! The job queue: follow-up work (search indexing, email) enqueued in the same
//! transaction as the change that needs it, so a crash never loses a job and a
//! rolled-back change never runs one. Workers claim jobs with a lease, retry
//! failures with exponential backoff, and dead-letter a job after
//! `max_attempts`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use serde_json::Value;

use crate::store::schema::jobs;
use crate::store::{Db, DbConn, StoreError, new_id, now_micros};

/// Attempts before a job is dead-lettered.
pub const MAX_ATTEMPTS: i32 = 8;
/// How long a claimed job is reserved for its worker.
pub const LEASE: Duration = Duration::from_secs(60);

/// Enqueues a job inside the caller's transaction.
pub fn enqueue(conn: &mut DbConn, kind: &str, payload: &Value) -> QueryResult<String> {
    Ok(enqueue_all(conn, &[(kind, payload)])?.remove(0))
}

/// Enqueues several jobs in one statement; returns their ids in order.
pub fn enqueue_all(conn: &mut DbConn, new: &[(&str, &Value)]) -> QueryResult<Vec<String>> {
    let now = now_micros();
    let ids: Vec<String> = new.iter().map(|_| new_id()).collect();
    let rows: Vec<_> = new
        .iter()
        .zip(&ids)
        .map(|((kind, payload), id)| {
            (
                jobs::id.eq(id.as_str()),
                jobs::kind.eq(*kind),
                jobs::payload.eq(payload.to_string()),
                jobs::status.eq("queued"),
                jobs::attempts.eq(0),
                jobs::max_attempts.eq(MAX_ATTEMPTS),
                jobs::run_at.eq(now),
                jobs::created_at.eq(now),
                jobs::updated_at.eq(now),
            )
        })
        .collect();
    // Multi-row VALUES: each backend's own batch insert (not offered through
    // the multi-backend connection).
    crate::on_backend!(conn, |c| diesel::insert_into(jobs::table).values(&rows).execute(c))?;
    Ok(ids)
}

/// A claimed job.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Job id.
    pub id: String,
    /// Job kind.
    pub kind: String,
    /// Its payload.
    pub payload: Value,
    /// This attempt's number (1 for the first).
    pub attempt: i32,
}

/// Claims one due job of the given kinds: queued and due, or running with an
/// expired lease (its worker died). Of racing workers exactly one wins a job.
pub fn claim(conn: &mut DbConn, kinds: &[&str], now: i64) -> QueryResult<Option<Claimed>> {
    let candidates: Vec<(String, String, String, i32)> = jobs::table
        .filter(jobs::kind.eq_any(kinds))
        .filter(
            jobs::status
                .eq("queued")
                .and(jobs::run_at.le(now))
                .or(jobs::status.eq("running").and(jobs::locked_until.lt(now))),
        )
        .order(jobs::run_at)
        .limit(8)
        .select((jobs::id, jobs::kind, jobs::payload, jobs::attempts))
        .load(conn)?;
    for (id, kind, payload, attempts) in candidates {
        // Claim only if nobody else did since we looked.
        let won = diesel::update(jobs::table.find(&id))
            .filter(jobs::attempts.eq(attempts))
            .filter(jobs::status.eq("queued").or(jobs::locked_until.lt(now)))
            .set((
                jobs::status.eq("running"),
                jobs::attempts.eq(attempts + 1),
                jobs::locked_until.eq(now + LEASE.as_micros() as i64),
                jobs::updated_at.eq(now),
            ))
            .execute(conn)?;
        if won == 1 {
            let payload = serde_json::from_str(&payload).unwrap_or(Value::Null);
            return Ok(Some(Claimed { id, kind, payload, attempt: attempts + 1 }));
        }
    }
    Ok(None)
}

/// Marks a job done.
pub fn complete(conn: &mut DbConn, id: &str) -> QueryResult<()> {
    diesel::update(jobs::table.find(id))
        .set((jobs::status.eq("done"), jobs::locked_until.eq(None::<i64>), jobs::updated_at.eq(now_micros())))
        .execute(conn)
        .map(|_| ())
}

/// Backoff before attempt `n + 1`: 2^n seconds, at most an hour.
pub fn backoff(attempt: i32) -> Duration {
    Duration::from_secs(1u64 << attempt.clamp(0, 12)).min(Duration::from_secs(3600))
}

/// Records a failure: retried later with backoff, or dead after the last attempt.
pub fn fail(conn: &mut DbConn, job: &Claimed, error: &str) -> QueryResult<()> {
    let now = now_micros();
    let max: i32 = jobs::table.find(&job.id).select(jobs::max_attempts).first(conn)?;
    let dead = job.attempt >= max;
    let error: String = error.chars().take(1000).collect();
    diesel::update(jobs::table.find(&job.id))
        .set((
            jobs::status.eq(if dead { "dead" } else { "queued" }),
            jobs::run_at.eq(now + backoff(job.attempt).as_micros() as i64),
            jobs::locked_until.eq(None::<i64>),
            jobs::last_error.eq(error),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Jobs by status, for `/metrics`.
pub fn counts(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    jobs::table.group_by(jobs::status).select((jobs::status, diesel::dsl::count_star())).load(conn)
}

/// A job handler: does the work; an `Err` is retried.
pub type Handler = Arc<dyn Fn(&Db, &Claimed) -> Result<(), String> + Send + Sync>;

/// Runs registered handlers over the queue.
#[derive(Clone, Default)]
pub struct Worker {
    handlers: HashMap<String, Handler>,
}

impl Worker {
    /// Registers the handler of a job kind.
    pub fn register(&mut self, kind: &str, handler: Handler) {
        self.handlers.insert(kind.to_owned(), handler);
    }

    /// Claims and runs one due job; `Ok(false)` when none is due.
    pub fn run_one(&self, db: &Db) -> Result<bool, StoreError> {
        if self.handlers.is_empty() {
            return Ok(false);
        }
        let kinds: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        let job = {
            let mut conn = db.writer()?;
            claim(&mut conn, &kinds, now_micros())?
        };
        let Some(job) = job else { return Ok(false) };
        let outcome = self.handlers[&job.kind](db, &job);
        let mut conn = db.writer()?;
        match outcome {
            Ok(()) => complete(&mut conn, &job.id)?,
            Err(e) => {
                tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempt, error = %e, "job failed");
                fail(&mut conn, &job, &e)?;
            }
        }
        Ok(true)
    }

    /// Runs jobs until none is due.
    pub fn drain(&self, db: &Db) -> Result<usize, StoreError> {
        let mut n = 0;
        while self.run_one(db)? {
            n += 1;
        }
        Ok(n)
    }

    /// Runs forever on a background thread, polling when idle.
    pub fn spawn(self, db: Db) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            loop {
                match self.run_one(&db) {
                    Ok(true) => {}
                    Ok(false) => std::thread::sleep(Duration::from_millis(250)),
                    Err(e) => {
                        tracing::error!(error = %e, "job worker cannot reach the database");
                        std::thread::sleep(Duration::from_secs(2));
                    }
                }
            }
        })
    }
}
