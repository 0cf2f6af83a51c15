//! Two `daftar serve` processes on one PostgreSQL database, as behind any
//! HTTP load balancer (issue 25): a move made through one is seen through
//! the other at once, a session ended on one is refused by the other, each
//! job runs once, and periodic work runs once per period. Each process keeps
//! its own search index, as each machine of a deployment does.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{Backend, TestApp, fresh_db, my_post, serve_process};

fn metric(text: &str, name: &str) -> u64 {
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok())).unwrap_or(0)
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn two_server_processes_on_one_postgres_act_as_one() {
    let Some(db) = fresh_db(Backend::Postgres) else {
        eprintln!("skipping the two-server test: DAFTAR_TEST_POSTGRES_URL is not set");
        return;
    };
    let index = |n: &str| db.dir.path().join(format!("search-{n}")).display().to_string();
    let env = |n: &str| {
        vec![
            ("DAFTAR_SEARCH__INDEX_DIR", index(n)),
            ("DAFTAR_JOBS__SEAL_EVERY_MS", "200".to_owned()),
            ("DAFTAR_AUTH__TRUST_FORWARDED_FOR", "true".to_owned()),
        ]
    };
    let (a, pa) = serve_process(&db, &env("a"));
    let _a = Killed(a);
    let (b, pb) = serve_process(&db, &env("b"));
    let _b = Killed(b);
    let a = TestApp::remote(format!("http://127.0.0.1:{pa}"), &db);
    let b = TestApp::remote(format!("http://127.0.0.1:{pb}"), &db);

    // A move made through one is in the other's inbox at once.
    let so = a.login("so.moitt");
    let ds = b.login("ds.moitt");
    let ds_post = my_post(&b, &ds);
    let f = a.post_as(&so, "/api/v1/files", &json!({"subject": "Seen by both servers"}));
    assert_eq!(f.status, 201, "{}", f.text);
    let id = f.body["id"].as_str().unwrap().to_owned();
    let m =
        a.post_as(&so, &format!("/api/v1/files/{id}/movements"), &json!({"action": "forward", "to_post_id": ds_post}));
    assert_eq!(m.status, 201, "{}", m.text);
    let inbox = b.get_as(&ds, "/api/v1/inbox");
    assert!(inbox.text.contains(&id), "the other server does not show the move: {}", inbox.text);
    // ... and acting on it there is seen back through the first.
    let back = b.post_as(&ds, &format!("/api/v1/files/{id}/movements"), &json!({"action": "return"}));
    assert_eq!(back.status, 201, "{}", back.text);
    assert!(a.get_as(&so, "/api/v1/inbox").text.contains(&id));

    // A session ended through one is refused by the other at once.
    let login = b.login_reply("js.moitt", crate::helpers::DEMO_PASSWORD, "192.0.2.50");
    let (token, refresh) = (
        login.body["access_token"].as_str().unwrap().to_owned(),
        login.body["refresh_token"].as_str().unwrap().to_owned(),
    );
    assert_eq!(a.get_as(&token, "/api/v1/me").status, 200);
    let out = b.post_as(&token, "/api/v1/auth/logout", &json!({"refresh_token": refresh}));
    assert_eq!(out.status, 204, "{}", out.text);
    assert_eq!(a.get_as(&token, "/api/v1/me").status, 401, "the other server still honours an ended session");

    // Each job runs once: movement mail enqueued through both servers is
    // sent once per movement, by one of them or the other.
    let mails = || {
        let name = "daftar_mail_total{outcome=\"sent\"}";
        metric(&a.get("/metrics").text, name) + metric(&b.get("/metrics").text, name)
    };
    let drained = || {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let queued = |app: &TestApp| {
                let t = app.get("/metrics").text;
                metric(&t, "daftar_jobs{status=\"queued\"}") + metric(&t, "daftar_jobs{status=\"running\"}")
            };
            if queued(&a) == 0 && queued(&b) == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "the job queue did not drain");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    drained();
    let before = mails();
    let mut files = Vec::new();
    for (i, app) in [&a, &b].into_iter().cycle().take(20).enumerate() {
        let f = app.post_as(&so, "/api/v1/files", &json!({"subject": format!("Mail once {i}")}));
        let fid = f.body["id"].as_str().unwrap().to_owned();
        let m = app.post_as(
            &so,
            &format!("/api/v1/files/{fid}/movements"),
            &json!({"action": "forward", "to_post_id": ds_post}),
        );
        assert_eq!(m.status, 201, "{}", m.text);
        files.push(fid);
    }
    drained();
    assert_eq!(mails() - before, 20, "twenty movements, twenty mails: no job ran twice or not at all");

    // Periodic work (the ledger sealer, every 200 ms) runs once per period
    // between them.
    let name = "daftar_scheduled_runs_total{schedule=\"ledger.seal\"}";
    let runs = || metric(&a.get("/metrics").text, name) + metric(&b.get("/metrics").text, name);
    let before = runs();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let ran = runs() - before;
    let periods = (started.elapsed().as_millis() / 200) as u64 + 2;
    assert!(ran >= 5, "the sealer hardly ran: {ran} runs in 3 s");
    assert!(ran <= periods, "{ran} runs in at most {periods} periods: some period ran twice");
}
