//! Approval chains: the shipped ones check out against the demo government,
//! a broken one is named by file and line and stops the server, and the API
//! lists them with their flowcharts.

use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Reply, TestApp, TestDb, fresh_db, spawn_app, spawn_app_with};
use crate::signing::PIN;

const SHIPPED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/workflows");

fn daftar(db: &TestDb, args: &[&str], workflows: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_daftar"))
        .args(args)
        .current_dir(db.dir.path())
        .env("DAFTAR_DATABASE_URL", &db.url)
        .env("DAFTAR_DATA_DIR", db.dir.path())
        .env("DAFTAR_WORKFLOWS_DIR", workflows)
        .env("DAFTAR_LISTEN", "127.0.0.1:0")
        .env("DAFTAR_LOG", "warn")
        .output()
        .expect("run daftar")
}

/// A copy of the shipped workflows with two mistakes, and the lines they are on.
fn broken_copy(dir: &std::path::Path) -> (usize, usize) {
    for entry in std::fs::read_dir(SHIPPED).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "toml") {
            std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
        }
    }
    let p = dir.join("procurement.toml");
    let text = std::fs::read_to_string(&p).unwrap();
    let typo_line = text.lines().position(|l| l.contains("\"joint_secretary\"")).unwrap() + 1;
    std::fs::write(&p, text.replace("\"joint_secretary\"", "\"joint_secretry\"")).unwrap();
    let n = dir.join("secretariat-noting.toml");
    let text = std::fs::read_to_string(&n).unwrap();
    let step_line = text.lines().position(|l| l.contains("id = \"deputy-secretary\"")).unwrap();
    std::fs::write(&n, text.replace("sla = \"3d\"", "sla = \"3d\"\non_approve = \"deputy-secretary\"")).unwrap();
    (typo_line, step_line)
}

both_backends!(workflows_are_checked_by_file_and_line, |backend| {
    let Some(db) = fresh_db(backend) else { return };
    let out = daftar(&db, &["demo"], SHIPPED);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = daftar(&db, &["workflow", "check", SHIPPED], SHIPPED);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    for id in ["secretariat-noting", "procurement", "summary-for-cabinet"] {
        assert!(stdout.contains(&format!("{id}.toml: ok")), "{stdout}");
    }
    let out = daftar(&db, &["workflow", "graph", "procurement"], SHIPPED);
    let graph = String::from_utf8_lossy(&out.stdout);
    assert!(graph.starts_with("flowchart TD") && graph.contains("concurrence: FIN"), "{graph}");

    let broken = tempfile::tempdir().unwrap();
    let (typo_line, step_line) = broken_copy(broken.path());
    let dir = broken.path().to_str().unwrap();
    let out = daftar(&db, &["workflow", "check", dir], SHIPPED);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("procurement.toml:{typo_line}: no post has the designation `joint_secretry`")),
        "{err}"
    );
    assert!(err.contains("secretariat-noting.toml:") && err.contains("loop back"), "{err}");
    assert!(step_line > 0);
    // The server does not start on them.
    let out = daftar(&db, &["serve"], dir);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid workflows") && err.contains("procurement.toml"), "{err}");
});

both_backends!(the_api_lists_workflows_with_their_flowcharts, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let r = app.get_as(&so, "/api/v1/workflows");
    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&str> = r.body["items"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["procurement", "secretariat-noting", "summary-for-cabinet"]);
    let w = app.get_as(&so, "/api/v1/workflows/secretariat-noting");
    assert_eq!(w.status, 200);
    let steps: Vec<&str> = w.body["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(steps, ["deputy-secretary", "joint-secretary", "secretary"]);
    assert!(w.body["mermaid"].as_str().unwrap().contains("s2 -->|approve| done"));
    assert_eq!(w.body["version"].as_str().unwrap().len(), 64);
    assert_eq!(app.get_as(&so, "/api/v1/workflows/nope").status, 404);
    assert_eq!(app.get("/api/v1/workflows").status, 401);
});

/// Approves the file as `token`, with a signed note; returns the movement.
fn approve(app: &TestApp, token: &str, file: &str, note: &str) -> Reply {
    app.post_as(
        token,
        &format!("/api/v1/files/{file}/movements"),
        &json!({"action": "approve", "note": note, "pin": PIN}),
    )
}

fn holder(app: &TestApp, token: &str, file: &str) -> (String, Value) {
    let f = app.get_as(token, &format!("/api/v1/files/{file}"));
    assert_eq!(f.status, 200, "{}", f.text);
    (f.body["holder_post"]["code"].as_str().unwrap().to_owned(), f.body["workflow"].clone())
}

fn queue_ids(app: &TestApp, token: &str) -> Vec<String> {
    let q = app.get_as(token, "/api/v1/queue");
    assert_eq!(q.status, 200, "{}", q.text);
    q.body["items"].as_array().unwrap().iter().map(|i| i["file_id"].as_str().unwrap().to_owned()).collect()
}

both_backends!(a_noting_file_reaches_the_secretary_by_approve_alone, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let [so, ds, js, sec] = ["so.moitt", "ds.moitt", "js.moitt", "secretary.moitt"].map(|u| app.login(u));
    let r = app.post_as(&so, "/api/v1/files", &json!({"subject": "Leave rules", "workflow": "secretariat-noting"}));
    assert_eq!(r.status, 201, "{}", r.text);
    let file = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["workflow"]["state"], "originator");
    assert_eq!(r.body["workflow"]["version"].as_str().unwrap().len(), 64);
    // Nobody else decides a step that is not theirs; nobody names the destination.
    let r =
        app.post_as(&so, &format!("/api/v1/files/{file}/movements"), &json!({"action": "approve", "to_post_id": "x"}));
    assert_eq!(r.status, 400, "{}", r.text);

    let steps = [
        (&so, "MOITT/DS-ADMIN", "deputy-secretary"),
        (&ds, "MOITT/JS-ADMIN", "joint-secretary"),
        (&js, "MOITT/SECRETARY", "secretary"),
    ];
    for (who, next, step) in steps {
        let r = approve(&app, who, &file, "Submitted for orders, please.");
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["action"], "approve");
        assert!(r.body["signature"].is_object() && r.body["note"]["status"] == "signed", "{}", r.text);
        let (code, wf) = holder(&app, &so, &file);
        assert!(code == next, "at {code}, expected {next}");
        assert_eq!(wf["step"], step);
        assert_eq!(wf["waits_on"]["code"], next);
        assert!(wf["due_at"].is_string() && wf["overdue"] == false, "{wf}");
    }
    // The Secretary sees it in the queue, with its clock.
    let q = app.get_as(&sec, "/api/v1/queue");
    let item = q.body["items"].as_array().unwrap().iter().find(|i| i["file_id"] == file.as_str()).unwrap().clone();
    assert_eq!((item["kind"].as_str(), item["step"].as_str()), (Some("decision"), Some("secretary")));
    assert!(item["sla_hours"].as_f64().unwrap() >= 24.0 && item["overdue"] == false, "{item}");
    assert!(!queue_ids(&app, &js).contains(&file), "no longer waits on the JS");
    // The last approval sends it back to the originator to issue orders.
    let r = approve(&app, &sec, &file, "Approved.");
    assert_eq!(r.status, 201, "{}", r.text);
    let (code, wf) = holder(&app, &so, &file);
    assert_eq!((code.as_str(), wf["state"].as_str()), ("MOITT/SO-ADMIN", Some("done")));
    assert_eq!(approve(&app, &so, &file, "Again").status, 409, "the chain is decided");
    // Every step's note and move verify offline.
    let zip = crate::bundle::export(&app, &so, &file);
    let path = app.test_db.dir.path().join("noting.zip");
    std::fs::write(&path, zip).unwrap();
    let (code, report) = crate::bundle::verify(&path);
    assert_eq!(code, 0, "{report}");
});

both_backends!(finance_must_concur_before_a_large_purchase_moves_on, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let [so, ds, js, sec, fin, moc] =
        ["so.moitt", "ds.moitt", "js.moitt", "secretary.moitt", "secretary.fin", "so.moc"].map(|u| app.login(u));
    let new = |fields: Value| {
        app.post_as(&so, "/api/v1/files", &json!({"subject": "Servers", "workflow": "procurement", "fields": fields}))
    };
    assert_eq!(new(json!({})).status, 400, "amount is required");
    assert_eq!(new(json!({"amount": 5, "colour": 1})).status, 400, "undeclared field");
    assert_eq!(new(json!({"amount": -5})).status, 400);
    let r = app.post_as(&so, "/api/v1/files", &json!({"subject": "x", "workflow": "nope"}));
    assert_eq!(r.status, 404, "an unknown workflow is named like an unknown id: {}", r.text);
    let r = new(json!({"amount": 60_000_000.0}));
    assert_eq!(r.status, 201, "{}", r.text);
    let file = r.body["id"].as_str().unwrap().to_owned();
    // Outsiders see nothing of it, before or during the concurrence.
    assert_eq!(app.get_as(&fin, &format!("/api/v1/files/{file}")).status, 404);
    assert_eq!(approve(&app, &so, &file, "Submitted.").status, 201);
    assert_eq!(approve(&app, &ds, &file, "Recommended.").status, 201);
    let (code, wf) = holder(&app, &js, &file);
    assert_eq!(code, "MOITT/JS-ADMIN");
    let asked = wf["concurrences"].as_array().unwrap();
    assert_eq!(asked.len(), 1, "{wf}");
    assert_eq!((asked[0]["entity"].as_str(), asked[0]["status"].as_str()), (Some("FIN"), Some("pending")));
    assert_eq!(asked[0]["post"]["code"], "FIN/SECRETARY");
    let r = approve(&app, &js, &file, "Approved at my level.");
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("FIN"), "{}", r.text);
    // Finance sees the file while consulted, and the request in its queue.
    let q = app.get_as(&fin, "/api/v1/queue");
    let item = q.body["items"].as_array().unwrap().iter().find(|i| i["file_id"] == file.as_str()).unwrap().clone();
    assert_eq!(item["kind"], "concurrence");
    let cid = item["concurrence_id"].as_str().unwrap().to_owned();
    assert_eq!(app.get_as(&fin, &format!("/api/v1/files/{file}")).status, 200);
    assert_eq!(app.get_as(&moc, &format!("/api/v1/files/{file}")).status, 404);
    let answer = format!("/api/v1/files/{file}/concurrences/{cid}");
    assert_eq!(
        app.post_as(&js, &answer, &json!({"decision": "concur", "pin": PIN})).status,
        409,
        "not asked of the JS"
    );
    assert_eq!(app.post_as(&fin, &answer, &json!({"decision": "maybe", "pin": PIN})).status, 400);
    let r = app.post_as(&fin, &answer, &json!({"decision": "concur", "remarks": "Funds are available.", "pin": PIN}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "concurred");
    assert_eq!(app.post_as(&fin, &answer, &json!({"decision": "concur", "pin": PIN})).status, 409, "answered once");
    // Now the JS may approve; above PKR 10 million the Secretary decides.
    assert_eq!(approve(&app, &js, &file, "Submitted for approval.").status, 201);
    let (code, _) = holder(&app, &so, &file);
    assert_eq!(code, "MOITT/SECRETARY");
    // A return goes one step back, with its remarks.
    let r = app.post_as(
        &sec,
        &format!("/api/v1/files/{file}/movements"),
        &json!({"action": "return", "remarks": "Attach the PPRA advertisement."}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        (r.body["to_post"]["code"].as_str(), r.body["remarks"].as_str()),
        (Some("MOITT/JS-ADMIN"), Some("Attach the PPRA advertisement."))
    );
    let (_, wf) = holder(&app, &js, &file);
    assert_eq!(wf["step"], "joint-secretary");
    // The ledger (the file's declared amount among its events) still verifies.
    let r = app.get_as(&app.login("admin"), "/api/v1/ledger/verify");
    assert!(r.status == 200 && r.body["ok"] == true, "{}", r.text);
    // Finance's signed note is on the note sheet.
    let f = app.get_as(&so, &format!("/api/v1/files/{file}"));
    assert!(
        f.body["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["body"].as_str().unwrap().starts_with("Concurred.") && n["status"] == "signed"),
        "{}",
        f.text
    );
});

both_backends!(bulk_approval_applies_one_pin_to_each_file_on_its_own, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let [so, ds] = ["so.moitt", "ds.moitt"].map(|u| app.login(u));
    let mut files = Vec::new();
    for i in 0..3 {
        let r = app.post_as(
            &so,
            "/api/v1/files",
            &json!({"subject": format!("Case {i}"), "workflow": "secretariat-noting"}),
        );
        let id = r.body["id"].as_str().unwrap().to_owned();
        assert_eq!(approve(&app, &so, &id, "Submitted.").status, 201);
        files.push(id);
    }
    // One the DS does not hold: refused alone.
    let other =
        app.post_as(&so, "/api/v1/files", &json!({"subject": "Not yours"})).body["id"].as_str().unwrap().to_owned();
    let mut ids = files.clone();
    ids.push(other.clone());
    let r = app.post_as(&ds, "/api/v1/queue/approve", &json!({"file_ids": ids, "pin": PIN}));
    assert_eq!(r.status, 200, "{}", r.text);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results.iter().filter(|x| x["ok"] == true).count(), 3, "{}", r.text);
    let refused = results.iter().find(|x| x["file_id"] == other.as_str()).unwrap();
    assert_eq!(refused["ok"], false);
    assert!(refused["error"]["code"].is_string());
    for f in &files {
        assert_eq!(holder(&app, &so, f).0, "MOITT/JS-ADMIN");
    }
    assert_eq!(app.post_as(&ds, "/api/v1/queue/approve", &json!({"file_ids": [], "pin": PIN})).status, 400);
    assert_eq!(
        app.post_as(&ds, "/api/v1/queue/approve", &json!({"file_ids": [files[0]], "pin": "000000"})).status,
        403
    );
});

/// Runs `daftar sla sweep --now T` against the app's database.
fn sweep(app: &TestApp, now: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_daftar"))
        .args(["sla", "sweep", "--now", now])
        .current_dir(app.test_db.dir.path())
        .env("DAFTAR_DATABASE_URL", &app.test_db.url)
        .env("DAFTAR_DATA_DIR", app.test_db.dir.path())
        .env("DAFTAR_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

both_backends!(a_breached_step_is_recorded_reminded_and_escalated_once, |backend| {
    // No job worker: the reminder stays queued to be counted.
    let Some(app) = spawn_app_with(backend, |c| c.jobs.workers = 0) else { return };
    let [so, js] = ["so.moitt", "js.moitt"].map(|u| app.login(u));
    let file = app
        .post_as(&so, "/api/v1/files", &json!({"subject": "Slow case", "workflow": "secretariat-noting"}))
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(approve(&app, &so, &file, "Submitted.").status, 201);
    let later = (chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    // Two sweeps at once, as two server processes would run them.
    let outs: Vec<_> =
        [sweep(&app, &later), sweep(&app, &later)].into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let mut breaches = 0;
    for o in &outs {
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{text}{}", String::from_utf8_lossy(&o.stderr));
        breaches += text.split(": ").nth(1).unwrap().split(' ').next().unwrap().parse::<i32>().unwrap();
    }
    assert_eq!(breaches, 1, "exactly one breach between the two sweeps");
    let again = sweep(&app, &later).wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&again.stdout).contains(": 0 breaches"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    // Escalated to the next post up, which now decides the step.
    let (code, wf) = holder(&app, &so, &file);
    assert_eq!(code, "MOITT/JS-ADMIN");
    assert_eq!(
        (wf["step"].as_str(), wf["waits_on"]["code"].as_str()),
        (Some("deputy-secretary"), Some("MOITT/JS-ADMIN"))
    );
    assert!(queue_ids(&app, &js).contains(&file));
    let t = app.get_as(&so, &format!("/api/v1/files/{file}/movements"));
    let escalations: Vec<&Value> =
        t.body["items"].as_array().unwrap().iter().filter(|m| m["action"] == "escalate").collect();
    assert_eq!(escalations.len(), 1, "{}", t.text);
    // One breach in the ledger, one reminder job.
    let mut c = app.db.reader().unwrap();
    let mut count = |sql: &str| -> i64 {
        use diesel::RunQueryDsl;
        daftar::on_backend!(&mut *c, |b| diesel::sql_query(sql).get_result::<crate::helpers::Count>(b)).unwrap().n
    };
    assert_eq!(count("SELECT COUNT(*) AS n FROM ledger_events WHERE kind = 'sla_breached'"), 1);
    assert_eq!(count("SELECT COUNT(*) AS n FROM jobs WHERE kind = 'mail.sla_reminder'"), 1);
    // The ledger still verifies.
    let r = app.get_as(&app.login("admin"), "/api/v1/ledger/verify");
    assert!(r.status == 200 && r.body["ok"] == true, "{}", r.text);
});

both_backends!(an_escalated_step_still_needs_its_concurrence, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let [so, ds, js, sec, fin] =
        ["so.moitt", "ds.moitt", "js.moitt", "secretary.moitt", "secretary.fin"].map(|u| app.login(u));
    let r = app.post_as(
        &so,
        "/api/v1/files",
        &json!({"subject": "Cloud services", "workflow": "procurement", "fields": {"amount": 90_000_000}}),
    );
    let file = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(approve(&app, &so, &file, "Submitted.").status, 201);
    assert_eq!(approve(&app, &ds, &file, "Recommended.").status, 201);
    assert_eq!(holder(&app, &js, &file).0, "MOITT/JS-ADMIN");
    // The JS sits on it past the step's SLA: it goes up to the Secretary…
    let later = (chrono::Utc::now() + chrono::Duration::days(4)).to_rfc3339();
    let out = sweep(&app, &later).wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (code, wf) = holder(&app, &sec, &file);
    assert_eq!((code.as_str(), wf["step"].as_str()), ("MOITT/SECRETARY", Some("joint-secretary")));
    // …and Finance's concurrence is still awaited there.
    assert_eq!(wf["concurrences"][0]["status"], "pending", "{wf}");
    let r = approve(&app, &sec, &file, "Approved.");
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("FIN"), "{}", r.text);
    let cid = wf["concurrences"][0]["id"].as_str().unwrap();
    let r = app.post_as(
        &fin,
        &format!("/api/v1/files/{file}/concurrences/{cid}"),
        &json!({"decision": "concur", "pin": PIN}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(approve(&app, &sec, &file, "Approved.").status, 201);
});
