//! The job queue: follow-up work (search indexing, email) enqueued in the same
//! transaction as the change that needs it, so a crash never loses a job and a
//! rolled-back change never runs one. A pool of workers, started with the
//! server, claims jobs with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL),
//! retries failures with exponential backoff and dead-letters a job after
//! `max_attempts`. Periodic work (the ledger sealer) is scheduled here too,
//! and exactly one process runs each period however many share the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;
use crate::store::schema::{jobs, schedules};
use crate::store::{Db, DbConn, StoreError, new_id, now_micros};

/// Attempts before a job is dead-lettered.
pub const MAX_ATTEMPTS: i32 = 8;
/// How long a claimed job is reserved for its worker.
pub const LEASE: Duration = Duration::from_secs(60);

/// What to (re)index after a change: the search index reads the current rows
/// of whatever is named.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexTarget {
    /// The file whose number, subject, holder or classification changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// A receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_id: Option<String>,
    /// A note (signed, or the author's draft).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note_id: Option<String>,
    /// A document whose text is to be extracted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
}

/// A movement whose receivers are to be told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovementMail {
    /// The movement.
    pub movement_id: String,
}

/// A document whose text is to be taken out for search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractText {
    /// The document.
    pub document_id: String,
}

/// A reminder that a step or a concurrence is past its SLA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaReminder {
    /// The file.
    pub file_id: String,
    /// Its arrival at the step that is overdue.
    pub entry: Option<i64>,
    /// Or the concurrence that is overdue.
    pub concurrence_id: Option<String>,
}

/// One email to one recipient, composed when its event's recipients were
/// found: sending it is all that is left (retried with backoff for about a
/// day; the same `Message-ID` on every attempt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    /// Stable across retries: receivers can tell a repeat.
    pub message_id: String,
    /// The recipient's user id.
    pub user_id: String,
    /// Their address.
    pub to: String,
    /// Subject line (never a classified file's subject).
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
    /// A one-click unsubscribe address (`List-Unsubscribe`), on digests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribe: Option<String>,
}

/// A notice that is not about a movement: to one user (their password or
/// signing key changed) or to everyone holding a post of an entity (its
/// compliance certificate was issued). Always sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Names the event: with the recipient, the email's job id and Message-ID.
    pub key: String,
    /// One user...
    pub user_id: Option<String>,
    /// ...or the holders of an entity's posts.
    pub entity_id: Option<String>,
    /// The subject line and headline.
    pub headline: String,
    /// A sentence of detail.
    pub line: String,
    /// Where in the web inbox to look (a path: `/keys`).
    pub path: String,
}

/// Every kind of job, with its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Update the search index (`search.index`).
    Index(IndexTarget),
    /// Mail the holders of the post a file or receipt was marked to (`mail.movement`).
    MovementMail(MovementMail),
    /// Remind the holders of an overdue step or concurrence (`mail.sla_reminder`).
    SlaReminder(SlaReminder),
    /// Take a document's text out for search (`search.extract`).
    ExtractText(ExtractText),
    /// Send one email (`mail.send`).
    Email(Email),
    /// Tell a user or an entity's people of an event of theirs (`mail.notice`).
    Notice(Notice),
}

/// Why a stored job could not be read back.
#[derive(Debug, thiserror::Error)]
#[error("job of kind `{kind}` has an unreadable payload: {reason}")]
pub struct BadJob {
    kind: String,
    reason: String,
}

impl Job {
    /// Every kind this version knows how to run.
    pub const KINDS: &'static [&'static str] =
        &["search.index", "mail.movement", "mail.sla_reminder", "search.extract", "mail.send", "mail.notice"];

    /// The stored kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Index(_) => "search.index",
            Job::MovementMail(_) => "mail.movement",
            Job::SlaReminder(_) => "mail.sla_reminder",
            Job::ExtractText(_) => "search.extract",
            Job::Email(_) => "mail.send",
            Job::Notice(_) => "mail.notice",
        }
    }

    /// The stored payload.
    pub fn payload(&self) -> String {
        let v = match self {
            Job::Index(t) => serde_json::to_string(t),
            Job::MovementMail(m) => serde_json::to_string(m),
            Job::SlaReminder(r) => serde_json::to_string(r),
            Job::ExtractText(t) => serde_json::to_string(t),
            Job::Email(e) => serde_json::to_string(e),
            Job::Notice(n) => serde_json::to_string(n),
        };
        v.expect("job payloads are plain structs")
    }

    /// Reads a stored job back.
    pub fn decode(kind: &str, payload: &str) -> Result<Job, BadJob> {
        let bad = |e: serde_json::Error| BadJob { kind: kind.to_owned(), reason: e.to_string() };
        match kind {
            "search.index" => serde_json::from_str(payload).map(Job::Index).map_err(bad),
            "mail.movement" => serde_json::from_str(payload).map(Job::MovementMail).map_err(bad),
            "mail.sla_reminder" => serde_json::from_str(payload).map(Job::SlaReminder).map_err(bad),
            "search.extract" => serde_json::from_str(payload).map(Job::ExtractText).map_err(bad),
            "mail.send" => serde_json::from_str(payload).map(Job::Email).map_err(bad),
            "mail.notice" => serde_json::from_str(payload).map(Job::Notice).map_err(bad),
            other => Err(BadJob { kind: other.to_owned(), reason: "unknown kind".into() }),
        }
    }

    /// A document's text to take out for search.
    pub fn extract_text(document_id: &str) -> Job {
        Job::ExtractText(ExtractText { document_id: document_id.to_owned() })
    }

    /// A reminder of an overdue step (`entry`) or concurrence.
    pub fn sla_reminder(file_id: &str, entry: Option<i64>, concurrence_id: Option<&str>) -> Job {
        Job::SlaReminder(SlaReminder {
            file_id: file_id.to_owned(),
            entry,
            concurrence_id: concurrence_id.map(str::to_owned),
        })
    }

    /// A notice to one user about their own account (always sent); `key` names the event.
    pub fn tell_user(user_id: &str, key: &str, headline: &str, line: &str, path: &str) -> Job {
        Job::Notice(Notice {
            key: key.to_owned(),
            user_id: Some(user_id.to_owned()),
            entity_id: None,
            headline: headline.to_owned(),
            line: line.to_owned(),
            path: path.to_owned(),
        })
    }

    /// A notice to everyone holding a post of an entity.
    pub fn tell_entity(entity_id: &str, key: &str, headline: &str, line: &str, path: &str) -> Job {
        Job::Notice(Notice {
            key: key.to_owned(),
            user_id: None,
            entity_id: Some(entity_id.to_owned()),
            headline: headline.to_owned(),
            line: line.to_owned(),
            path: path.to_owned(),
        })
    }

    /// The receivers of a movement to tell.
    pub fn movement_mail(movement_id: &str) -> Job {
        Job::MovementMail(MovementMail { movement_id: movement_id.to_owned() })
    }
}

/// Enqueues a job inside the caller's transaction.
pub fn enqueue(conn: &mut DbConn, job: &Job) -> QueryResult<String> {
    Ok(enqueue_all(conn, std::slice::from_ref(job))?.remove(0))
}

/// Enqueues a job under an id of the caller's choosing, once: a second
/// enqueue of the same id does nothing (`false`). `max_attempts` sets how
/// long it is retried.
pub fn enqueue_once(conn: &mut DbConn, id: &str, job: &Job, max_attempts: i32) -> QueryResult<bool> {
    let now = now_micros();
    let payload = job.payload();
    let row = (
        jobs::id.eq(id),
        jobs::kind.eq(job.kind()),
        jobs::payload.eq(payload.as_str()),
        jobs::status.eq("queued"),
        jobs::attempts.eq(0),
        jobs::max_attempts.eq(max_attempts),
        jobs::run_at.eq(now),
        jobs::created_at.eq(now),
        jobs::updated_at.eq(now),
    );
    let n =
        crate::on_backend!(conn, |c| diesel::insert_into(jobs::table).values(row).on_conflict_do_nothing().execute(c))?;
    Ok(n == 1)
}

/// Enqueues several jobs in one statement; returns their ids in order.
pub fn enqueue_all(conn: &mut DbConn, new: &[Job]) -> QueryResult<Vec<String>> {
    let now = now_micros();
    let ids: Vec<String> = new.iter().map(|_| new_id()).collect();
    let payloads: Vec<String> = new.iter().map(Job::payload).collect();
    let mut rows: Vec<_> = new
        .iter()
        .zip(&ids)
        .zip(&payloads)
        .map(|((job, id), payload)| {
            (
                jobs::id.eq(id.as_str()),
                jobs::kind.eq(job.kind()),
                jobs::payload.eq(payload.as_str()),
                jobs::status.eq("queued"),
                jobs::attempts.eq(0),
                jobs::max_attempts.eq(MAX_ATTEMPTS),
                jobs::run_at.eq(now),
                jobs::created_at.eq(now),
                jobs::updated_at.eq(now),
            )
        })
        .collect();
    if rows.len() == 1 {
        // One row (a movement's mail): a plain insert, which stays prepared
        // (diesel prepares a batch again on every call).
        diesel::insert_into(jobs::table).values(rows.remove(0)).execute(conn)?;
    } else {
        // Multi-row VALUES: each backend's own batch insert (not offered
        // through the multi-backend connection).
        crate::on_backend!(conn, |c| diesel::insert_into(jobs::table).values(&rows).execute(c))?;
    }
    Ok(ids)
}

/// A claimed job.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Job id.
    pub id: String,
    /// Job kind, as stored.
    pub kind: String,
    /// The job, or why it cannot be read.
    pub job: Result<Job, String>,
    /// This attempt's number (1 for the first).
    pub attempt: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
}

type Candidate = (String, String, String, i32, i32);

/// Claims one due job of the given kinds: queued and due, or running with an
/// expired lease (its worker died). Of racing workers exactly one wins a job:
/// the lease is taken only if the row is still as it was read, and a worker
/// that loses every candidate looks again. Inside a transaction on
/// PostgreSQL, rows another worker is claiming are skipped rather than
/// waited for (`FOR UPDATE SKIP LOCKED`), so there a race is never lost.
pub fn claim(conn: &mut DbConn, kinds: &[&str], now: i64) -> QueryResult<Option<Claimed>> {
    let due = || {
        jobs::status
            .eq("queued")
            .and(jobs::run_at.le(now))
            .or(jobs::status.eq("running").and(jobs::locked_until.lt(now)))
    };
    let cols = (jobs::id, jobs::kind, jobs::payload, jobs::attempts, jobs::max_attempts);
    // Each lost race means another worker took a job: the queue moved on.
    for _ in 0..CLAIM_TRIES {
        let candidates: Vec<Candidate> = match conn {
            DbConn::Postgres(pg) => jobs::table
                .filter(jobs::kind.eq_any(kinds))
                .filter(due())
                .order(jobs::run_at)
                .limit(1)
                .for_update()
                .skip_locked()
                .select(cols)
                .load(pg)?,
            // SQLite has one writer: look, then take the first row still untaken.
            DbConn::Sqlite(_) => jobs::table
                .filter(crate::store::prepared::one_of(jobs::kind, kinds))
                .filter(due())
                .order(jobs::run_at)
                .limit(8)
                .select(cols)
                .load(conn)?,
        };
        if candidates.is_empty() {
            return Ok(None);
        }
        for (id, kind, payload, attempts, max_attempts) in candidates {
            let taken = diesel::update(jobs::table.find(&id))
                .filter(jobs::attempts.eq(attempts))
                .filter(jobs::status.eq("queued").or(jobs::locked_until.lt(now)))
                .set((
                    jobs::status.eq("running"),
                    jobs::attempts.eq(attempts + 1),
                    jobs::locked_until.eq(now + LEASE.as_micros() as i64),
                    jobs::updated_at.eq(now),
                ))
                .execute(conn)?;
            if taken == 1 {
                return Ok(Some(Claimed {
                    job: Job::decode(&kind, &payload).map_err(|e| e.to_string()),
                    id,
                    kind,
                    attempt: attempts + 1,
                    max_attempts,
                }));
            }
        }
    }
    Ok(None)
}

/// How often [`claim`] looks again after losing every candidate to other
/// workers before it reports none (the worker then polls again shortly).
const CLAIM_TRIES: usize = 8;

/// Marks a job done: done jobs are removed, the counters in `/metrics` keep the tally.
pub fn complete(conn: &mut DbConn, id: &str) -> QueryResult<()> {
    diesel::delete(jobs::table.find(id)).execute(conn).map(|_| ())
}

/// Backoff before attempt `n + 1`: 2^n seconds, at most an hour.
pub fn backoff(attempt: i32) -> Duration {
    Duration::from_secs(1u64 << attempt.clamp(0, 12)).min(Duration::from_secs(3600))
}

/// What became of a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// It will be tried again after its backoff.
    Retried,
    /// It gave up (dead-lettered) and stays for an operator to see.
    Dead,
}

/// Records a failure: retried later with backoff, or dead after the last
/// attempt. A job that cannot even be read is dead at once.
pub fn fail(conn: &mut DbConn, job: &Claimed, error: &str) -> QueryResult<Failed> {
    let now = now_micros();
    let dead = job.attempt >= job.max_attempts || job.job.is_err();
    let error: String = error.chars().take(1000).collect();
    diesel::update(jobs::table.find(&job.id))
        .set((
            jobs::status.eq(if dead { "dead" } else { "queued" }),
            jobs::run_at.eq(now + backoff(job.attempt).as_micros() as i64),
            jobs::locked_until.eq(None::<i64>),
            jobs::last_error.eq(error),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(if dead { Failed::Dead } else { Failed::Retried })
}

/// Jobs in the table by status, for `/metrics`.
pub fn counts(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    jobs::table.group_by(jobs::status).select((jobs::status, diesel::dsl::count_star())).load(conn)
}

/// Does a job's work; an `Err` is retried.
pub type Handler = Arc<dyn Fn(&Db, &Job) -> Result<(), String> + Send + Sync>;

/// What the job queue itself does with a job whose work lives elsewhere
/// (the server's handler, in `server.rs`, routes those). Mail has no
/// consumer in this version, so its jobs are done at once rather than left
/// to pile up; `search.index` jobs are obsolete (the index follows the
/// ledger) and are only drained.
pub fn perform(_db: &Db, job: &Job) -> Result<(), String> {
    match job {
        Job::Index(_) => Ok(()),
        Job::MovementMail(_) => Ok(()),
        Job::SlaReminder(_) => Ok(()),
        Job::ExtractText(_) => Err("text extraction needs the server's blob store".into()),
        Job::Email(_) => Err("sending mail needs the server's mailer".into()),
        Job::Notice(_) => Ok(()),
    }
}

/// Runs one handler over the queue.
#[derive(Clone)]
pub struct Worker {
    handler: Handler,
    kinds: Vec<&'static str>,
    metrics: Arc<Metrics>,
}

impl Worker {
    /// A worker running `handler` on the jobs of `kinds`.
    pub fn new(handler: Handler, kinds: &[&'static str], metrics: Arc<Metrics>) -> Worker {
        Worker { handler, kinds: kinds.to_vec(), metrics }
    }

    /// A worker for every known kind, done by `handler`.
    pub fn server(handler: Handler, metrics: Arc<Metrics>) -> Worker {
        Worker::new(handler, Job::KINDS, metrics)
    }

    /// Claims and runs one due job; `Ok(false)` when none is due.
    ///
    /// The claim and the settling each run as a write transaction of their
    /// own (`Db::write_tx`), so on SQLite they join the group commit of the
    /// requests being written at the time instead of holding the single
    /// writer for two commits of their own: with a mail job per movement,
    /// the worker's own commits had made one officer's writes several times
    /// slower (see README, Performance).
    pub fn run_one(&self, db: &Db) -> Result<bool, StoreError> {
        // Claims and settlements commit lazily (`store::lazy_commit`),
        // sparing the disk a flush per job: a crash of the database that
        // loses one only runs its job again after its lease, as the death
        // of a worker already may (jobs run at least once; an email may
        // go twice, with the same Message-ID).
        let job = db.write_tx(|c| {
            crate::store::lazy_commit(c)?;
            claim(c, &self.kinds, now_micros()).map_err(StoreError::from)
        })?;
        let Some(job) = job else { return Ok(false) };
        let outcome = match &job.job {
            Ok(j) => (self.handler)(db, j),
            Err(e) => Err(e.clone()),
        };
        match outcome {
            Ok(()) => {
                db.write_tx(|c| {
                    crate::store::lazy_commit(c)?;
                    complete(c, &job.id).map_err(StoreError::from)
                })?;
                self.metrics.job_done(&job.kind);
            }
            Err(e) => {
                tracing::warn!(job = %job.id, kind = %job.kind, attempt = job.attempt, error = %e, "job failed");
                match db.write_tx(|c| fail(c, &job, &e).map_err(StoreError::from))? {
                    Failed::Retried => self.metrics.job_retried(&job.kind),
                    Failed::Dead => {
                        tracing::error!(job = %job.id, kind = %job.kind, "job dead-lettered after its last attempt");
                        self.metrics.job_dead(&job.kind);
                    }
                }
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

    /// Runs on a background thread until `stop` is set, polling when idle.
    pub fn spawn(self, db: Db, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
        named("daftar-jobs", move || {
            while !stop.load(Ordering::Relaxed) {
                match self.run_one(&db) {
                    Ok(true) => {}
                    Ok(false) => std::thread::sleep(Duration::from_millis(200)),
                    Err(e) => {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        tracing::error!(error = %e, "job worker cannot reach the database");
                        std::thread::sleep(Duration::from_secs(2));
                    }
                }
            }
        })
    }
}

/// Takes period `period` of the schedule `name` for this process: `true` for
/// exactly one caller per period, however many processes share the database.
pub fn claim_period(conn: &mut DbConn, name: &str, period: i64, me: &str) -> QueryResult<bool> {
    let row = (schedules::name.eq(name), schedules::period.eq(-1i64));
    crate::on_backend!(conn, |c| diesel::insert_into(schedules::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(c))?;
    // The row lock makes a second process's update wait and then find the
    // period already taken.
    let won = diesel::update(schedules::table.find(name))
        .filter(schedules::period.lt(period))
        .set((schedules::period.eq(period), schedules::ran_by.eq(me), schedules::ran_at.eq(now_micros())))
        .execute(conn)?;
    Ok(won == 1)
}

/// The work of a schedule's period.
pub type PeriodicWork = Box<dyn Fn(&Db) -> Result<(), String> + Send>;

/// Periodic work: `run` once per `every`, by one process of all that share the database.
pub struct Periodic {
    /// The schedule's name (`ledger.seal`).
    pub name: &'static str,
    /// Its period.
    pub every: Duration,
    /// The work.
    pub run: PeriodicWork,
}

impl Periodic {
    /// Runs on a background thread until `stop` is set.
    pub fn spawn(self, db: Db, metrics: Arc<Metrics>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
        let me = new_id();
        named(&format!("daftar-{}", self.name), move || {
            let every = self.every.as_micros().max(1) as i64;
            while !stop.load(Ordering::Relaxed) {
                let now = now_micros();
                let period = now / every;
                let won = db
                    .writer()
                    .map_err(|e| e.to_string())
                    .and_then(|mut c| claim_period(&mut c, self.name, period, &me).map_err(|e| e.to_string()));
                match won {
                    Ok(true) => {
                        metrics.scheduled_run(self.name);
                        // A fault in one run (a panic) must not end the schedule for this process.
                        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.run)(&db))) {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => tracing::error!(schedule = self.name, error = %e, "scheduled work failed"),
                            Err(_) => tracing::error!(
                                schedule = self.name,
                                "scheduled work panicked; it runs again next period"
                            ),
                        }
                    }
                    Ok(false) => {}
                    Err(e) if !stop.load(Ordering::Relaxed) => {
                        tracing::error!(schedule = self.name, error = %e, "cannot reach the database to schedule work")
                    }
                    Err(_) => break,
                }
                // Sleep to the start of the next period.
                let next = (period + 1) * every;
                std::thread::sleep(Duration::from_micros((next - now_micros()).clamp(1_000, every) as u64));
            }
        })
    }
}

/// Starts a background thread under a name that `top -H`, `ps -L` and
/// profilers show (`daftar-jobs`, `daftar-ledger.seal`, …); like
/// `std::thread::spawn`, panics if the system cannot start a thread.
pub fn named(name: &str, f: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
    // Linux keeps the first 15 bytes of a thread's name.
    std::thread::Builder::new().name(name.to_owned()).spawn(f).expect("cannot start a background thread")
}

/// The background threads of one server: stopped when this is dropped.
pub struct Background {
    stop: Arc<AtomicBool>,
}

impl Background {
    /// Starts `workers` job workers running `handler`, and the periodic work.
    pub fn start(
        db: &Db,
        metrics: &Arc<Metrics>,
        workers: usize,
        handler: Handler,
        periodic: Vec<Periodic>,
    ) -> Background {
        let stop = Arc::new(AtomicBool::new(false));
        for _ in 0..workers {
            Worker::server(handler.clone(), metrics.clone()).spawn(db.clone(), stop.clone());
        }
        for p in periodic {
            p.spawn(db.clone(), metrics.clone(), stop.clone());
        }
        Background { stop }
    }

    /// The flag that stops this background work (for other threads of the server).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_through_their_stored_form() {
        let jobs = [
            Job::extract_text("d1"),
            Job::Index(IndexTarget { note_id: Some("n".into()), file_id: Some("f".into()), ..Default::default() }),
            Job::movement_mail("m1"),
        ];
        for job in jobs {
            assert!(Job::KINDS.contains(&job.kind()));
            assert_eq!(Job::decode(job.kind(), &job.payload()).unwrap(), job);
        }
        assert!(Job::decode("mail.movement", "{}").is_err(), "a missing field is an error");
        assert!(Job::decode("no.such", "{}").is_err());
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(40), Duration::from_secs(3600));
    }
}
