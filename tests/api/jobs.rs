//! The job queue on a real database: enqueued with the change or not at all,
//! claimed once, retried with backoff, dead-lettered; the server's own workers
//! do what requests enqueue, and periodic work runs once per period however
//! many servers share the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use daftar::jobs::{self, Job, Worker};
use daftar::metrics::Metrics;
use daftar::store::{Db, DbConn, now_micros};

use crate::both_backends;
use crate::helpers::{Backend, fresh_db, postgres_url, spawn_app, spawn_app_on};

fn db_for(url: &str) -> Db {
    let db = Db::connect(url, 2, "NORMAL").unwrap();
    db.migrate().unwrap();
    db
}

fn enqueue(db: &Db, job: Job) {
    db.write_tx(|c: &mut DbConn| jobs::enqueue(c, &job).map_err(daftar::store::StoreError::from)).unwrap();
}

both_backends!(a_rolled_back_change_leaves_no_job, |backend| {
    let Some(t) = fresh_db(backend) else { return };
    let db = db_for(&t.url);
    let r: Result<(), daftar::store::StoreError> = db.write_tx(|c: &mut DbConn| {
        jobs::enqueue(c, &Job::extract_text("one"))?;
        Err(daftar::store::StoreError::Unavailable("the change failed".into()))
    });
    assert!(r.is_err());
    enqueue(&db, Job::extract_text("two"));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    let metrics = Arc::new(Metrics::default());
    let w = Worker::new(
        Arc::new(move |_, job| {
            s.lock().unwrap().push(job.clone());
            Ok(())
        }),
        Job::KINDS,
        metrics.clone(),
    );
    assert_eq!(w.drain(&db).unwrap(), 1);
    assert_eq!(*seen.lock().unwrap(), vec![Job::extract_text("two")]);
    let mut c = db.reader().unwrap();
    assert!(jobs::counts(&mut c).unwrap().is_empty(), "done jobs leave the table");
    assert!(metrics.render((0, 0)).contains("daftar_jobs_processed_total{outcome=\"done\"} 1"));
});

both_backends!(failures_retry_then_die, |backend| {
    let Some(t) = fresh_db(backend) else { return };
    let db = db_for(&t.url);
    enqueue(&db, Job::movement_mail("m1"));
    let tries = Arc::new(AtomicUsize::new(0));
    let t2 = tries.clone();
    let metrics = Arc::new(Metrics::default());
    let w = Worker::new(
        Arc::new(move |_, _| {
            t2.fetch_add(1, Ordering::SeqCst);
            Err("smtp refused".into())
        }),
        Job::KINDS,
        metrics.clone(),
    );
    assert!(w.run_one(&db).unwrap());
    // Not due again until its backoff has passed.
    assert!(!w.run_one(&db).unwrap());
    assert!(metrics.render((0, 0)).contains("daftar_jobs_processed_total{outcome=\"retried\"} 1"));
    let mut c = db.writer().unwrap();
    // Pretend time passes: claim directly with a clock past every backoff.
    let far = now_micros() + 10 * 3_600_000_000;
    let mut attempts = 1;
    while let Some(job) = jobs::claim(&mut c, Job::KINDS, far + attempts as i64).unwrap() {
        attempts += 1;
        assert_eq!(job.attempt, attempts);
        jobs::fail(&mut c, &job, "smtp refused").unwrap();
        assert!(attempts <= jobs::MAX_ATTEMPTS);
    }
    assert_eq!(attempts, jobs::MAX_ATTEMPTS, "dead after the last attempt");
    assert_eq!(jobs::counts(&mut c).unwrap(), vec![("dead".to_owned(), 1)]);
    assert_eq!(tries.load(Ordering::SeqCst), 1);
});

both_backends!(an_abandoned_lease_is_taken_over_once, |backend| {
    let Some(t) = fresh_db(backend) else { return };
    let db = db_for(&t.url);
    enqueue(&db, Job::extract_text("f"));
    let mut c = db.writer().unwrap();
    let now = now_micros();
    let first = jobs::claim(&mut c, Job::KINDS, now).unwrap().expect("claimed");
    assert!(jobs::claim(&mut c, Job::KINDS, now).unwrap().is_none(), "leased to the first worker");
    // The first worker dies; after the lease another worker takes the job.
    let later = now + jobs::LEASE.as_micros() as i64 + 1;
    let second = jobs::claim(&mut c, Job::KINDS, later).unwrap().expect("taken over");
    assert_eq!((second.id.as_str(), second.attempt), (first.id.as_str(), 2));
    assert!(jobs::claim(&mut c, Job::KINDS, later).unwrap().is_none());
});

both_backends!(racing_workers_each_job_runs_once, |backend| {
    let Some(t) = fresh_db(backend) else { return };
    let db = db_for(&t.url);
    for i in 0..40 {
        enqueue(&db, Job::extract_text(&format!("f{i}")));
    }
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (db, s) = (db.clone(), seen.clone());
            std::thread::spawn(move || {
                let w = Worker::new(
                    Arc::new(move |_, job| {
                        s.lock().unwrap().push(job.clone());
                        Ok(())
                    }),
                    Job::KINDS,
                    Arc::new(Metrics::default()),
                );
                w.drain(&db).unwrap()
            })
        })
        .collect();
    let done: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(done, 40);
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_by_key(|j| format!("{j:?}"));
    seen.dedup();
    assert_eq!(seen.len(), 40, "no job ran twice");
});

/// The value of a metric line in Prometheus text, 0 if absent.
fn metric(text: &str, name: &str) -> u64 {
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok())).unwrap_or(0)
}

both_backends!(the_servers_own_workers_do_what_requests_enqueue, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let r = app.post_as(&so, "/api/v1/files", &serde_json::json!({"subject": "Marked on"}));
    assert_eq!(r.status, 201);
    let ds = app.login("ds.moitt");
    let to = crate::helpers::my_post(&app, &ds);
    let path = format!("/api/v1/files/{}/movements", r.body["id"].as_str().unwrap());
    let r = app.post_as(&so, &path, &serde_json::json!({"action": "forward", "to_post_id": to}));
    assert_eq!(r.status, 201);
    // Marking the file on enqueues its mail job; the server's worker takes it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let m = app.get("/metrics").text;
        let done = metric(&m, "daftar_jobs_processed_total{outcome=\"done\"}");
        if done >= 1 && metric(&m, "daftar_jobs{status=\"queued\"}") == 0 {
            assert_eq!(metric(&m, "daftar_jobs{status=\"dead\"}"), 0, "{m}");
            break;
        }
        assert!(Instant::now() < deadline, "the job was never done:\n{m}");
        std::thread::sleep(Duration::from_millis(100));
    }
});

both_backends!(the_ledger_is_sealed_by_the_server_itself, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    assert_eq!(app.post_as(&so, "/api/v1/files", &serde_json::json!({"subject": "Sealed"})).status, 201);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut c = app.db.reader().unwrap();
        use daftar::store::schema::ledger_events as le;
        use diesel::prelude::*;
        let pending: i64 = le::table.filter(le::position.is_null()).count().get_result(&mut c).unwrap();
        if pending == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{pending} events never sealed");
        std::thread::sleep(Duration::from_millis(100));
    }
});

#[test]
fn two_servers_on_one_postgres_run_each_sealer_period_once() {
    if postgres_url().is_none() {
        return;
    }
    let period = Duration::from_millis(100);
    let adjust = move |c: &mut daftar::config::Config| c.jobs.seal_every_ms = period.as_millis() as u64;
    let a = crate::helpers::spawn_app_with(Backend::Postgres, adjust).unwrap();
    let b = spawn_app_on(&a, adjust);
    let name = "daftar_scheduled_runs_total{schedule=\"ledger.seal\"}";
    let runs = || metric(&a.get("/metrics").text, name) + metric(&b.get("/metrics").text, name);
    // Counted from when both serve: runs of the first before the second
    // started are not in the window.
    let before = runs();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let after = runs();
    let periods = (started.elapsed().as_millis() / period.as_millis()) as u64 + 2;
    let ran = after - before;
    assert!(ran >= 5, "the sealer hardly ran: {ran} runs in 3 s");
    assert!(ran <= periods, "{ran} runs in at most {periods} periods: some period ran twice");
}

both_backends!(workers_racing_outside_a_transaction_still_each_get_a_job, |backend| {
    // Without a transaction PostgreSQL's row lock ends with the SELECT, so
    // two claimers may pick the same row: one takes it, and the other must
    // look again rather than report an empty queue while jobs are due.
    let Some(t) = fresh_db(backend) else { return };
    let db = db_for(&t.url);
    for i in 0..60 {
        enqueue(&db, Job::extract_text(&format!("f{i}")));
    }
    let now = now_micros();
    let claimed: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut c = db.writer().unwrap();
                    let mut mine = Vec::new();
                    while let Some(job) = jobs::claim(&mut c, Job::KINDS, now).unwrap() {
                        mine.push(job.id);
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut unique = claimed.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), claimed.len(), "a job was claimed twice");
    assert_eq!(claimed.len(), 60, "every due job was claimed");
});

both_backends!(the_server_names_a_postgresql_without_autovacuum, |backend| {
    // The job queue deletes a row per job and every movement updates its
    // file and stay: without autovacuum their dead rows slow every read,
    // so the operator is told at start. SQLite has nothing to say.
    let Some(t) = fresh_db(backend) else { return };
    let db = db_for(&t.url);
    let mut c = db.reader().unwrap();
    let warnings = daftar::store::server_warnings(&mut c).unwrap();
    let autovacuum_off = match &mut *c {
        DbConn::Postgres(pg) => {
            use diesel::RunQueryDsl;
            #[derive(diesel::QueryableByName)]
            struct Shown {
                #[diesel(sql_type = diesel::sql_types::Text)]
                autovacuum: String,
            }
            let shown: Vec<Shown> = diesel::sql_query("SHOW autovacuum").load(pg).unwrap();
            shown[0].autovacuum == "off"
        }
        DbConn::Sqlite(_) => false,
    };
    assert_eq!(
        warnings.iter().any(|w| w.contains("autovacuum = off")),
        autovacuum_off,
        "warnings {warnings:?} against autovacuum off: {autovacuum_off}"
    );
});
