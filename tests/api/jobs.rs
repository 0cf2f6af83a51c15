//! The job queue on a real database: enqueued with the change or not at all,
//! claimed once, retried with backoff, dead-lettered.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use daftar::jobs::{self, Worker};
use daftar::store::{Db, DbConn, now_micros};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{fresh_db, spawn_app};

fn db_for(url: &str) -> Db {
    let db = Db::connect(url, 2, "NORMAL").unwrap();
    db.migrate().unwrap();
    db
}

both_backends!(a_rolled_back_change_leaves_no_job, |backend| {
    let Some(t) = fresh_db(backend) else { return };
    let db = db_for(&t.url);
    let r: Result<(), daftar::store::StoreError> = db.write_tx(|c: &mut DbConn| {
        jobs::enqueue(c, "test.kind", &json!({"n": 1}))?;
        Err(daftar::store::StoreError::Unavailable("the change failed".into()))
    });
    assert!(r.is_err());
    db.write_tx(|c: &mut DbConn| {
        jobs::enqueue(c, "test.kind", &json!({"n": 2})).map_err(daftar::store::StoreError::from)
    })
    .unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut w = Worker::default();
    let s = seen.clone();
    w.register(
        "test.kind",
        Arc::new(move |_, job| {
            s.lock().unwrap().push(job.payload["n"].as_i64().unwrap());
            Ok(())
        }),
    );
    assert_eq!(w.drain(&db).unwrap(), 1);
    assert_eq!(*seen.lock().unwrap(), vec![2]);
    let mut c = db.reader().unwrap();
    assert_eq!(jobs::counts(&mut c).unwrap(), vec![("done".to_owned(), 1)]);
});

both_backends!(failures_retry_then_die, |backend| {
    let Some(t) = fresh_db(backend) else { return };
    let db = db_for(&t.url);
    db.write_tx(|c: &mut DbConn| jobs::enqueue(c, "test.fail", &json!({})).map_err(daftar::store::StoreError::from))
        .unwrap();
    let tries = Arc::new(AtomicUsize::new(0));
    let mut w = Worker::default();
    let t2 = tries.clone();
    w.register(
        "test.fail",
        Arc::new(move |_, _| {
            t2.fetch_add(1, Ordering::SeqCst);
            Err("smtp refused".into())
        }),
    );
    assert!(w.run_one(&db).unwrap());
    // Not due again until its backoff has passed.
    assert!(!w.run_one(&db).unwrap());
    let mut c = db.writer().unwrap();
    // Pretend time passes: claim directly with a clock past every backoff.
    let far = now_micros() + 10 * 3_600_000_000;
    let mut attempts = 1;
    while let Some(job) = jobs::claim(&mut c, &["test.fail"], far + attempts as i64).unwrap() {
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
    db.write_tx(|c: &mut DbConn| jobs::enqueue(c, "test.lease", &json!({})).map_err(daftar::store::StoreError::from))
        .unwrap();
    let mut c = db.writer().unwrap();
    let now = now_micros();
    let first = jobs::claim(&mut c, &["test.lease"], now).unwrap().expect("claimed");
    assert!(jobs::claim(&mut c, &["test.lease"], now).unwrap().is_none(), "leased to the first worker");
    // The first worker dies; after the lease another worker takes the job.
    let later = now + jobs::LEASE.as_micros() as i64 + 1;
    let second = jobs::claim(&mut c, &["test.lease"], later).unwrap().expect("taken over");
    assert_eq!((second.id.as_str(), second.attempt), (first.id.as_str(), 2));
    assert!(jobs::claim(&mut c, &["test.lease"], later).unwrap().is_none());
});

both_backends!(changes_enqueue_their_jobs_and_metrics_show_them, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let r = app.post_as(&so, "/api/v1/files", &json!({"subject": "Indexed"}));
    assert_eq!(r.status, 201);
    let m = app.get("/metrics");
    assert!(m.text.contains("daftar_jobs{status=\"queued\"} 1"), "{}", m.text);
});
