//! The ledger: verified clean, and every kind of tampering named.

use std::process::Command;

use daftar::store::DbConn;
use diesel::RunQueryDsl;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{TestApp, spawn_app};
use crate::signing::note_and_sign;

/// A file with two signed notes, forwarded once; returns (file id, note id).
fn history(app: &TestApp) -> (String, String) {
    let so = app.login("so.moitt");
    let ds = app.login("ds.moitt");
    let ds_post = app.get_as(&ds, "/api/v1/me").body["posts"][0]["id"].as_str().unwrap().to_owned();
    let file = app.post_as(&so, "/api/v1/files", &json!({"subject": "Ledger"})).body["id"].as_str().unwrap().to_owned();
    let n1 = note_and_sign(app, &so, &file, "First paragraph.");
    note_and_sign(app, &so, &file, "Second paragraph.");
    let r = app.post_as(
        &so,
        &format!("/api/v1/files/{file}/movements"),
        &json!({"action": "forward", "to_post_id": ds_post}),
    );
    assert_eq!(r.status, 201);
    (file, n1["id"].as_str().unwrap().to_owned())
}

fn cli_verify(app: &TestApp) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_daftar"))
        .args(["ledger", "verify"])
        .current_dir(app.test_db.dir.path())
        .env("DAFTAR_DATABASE_URL", &app.test_db.url)
        .env("DAFTAR_DATA_DIR", app.test_db.dir.path())
        .env("DAFTAR_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

fn raw(app: &TestApp, sql: &str) {
    let mut c = app.db.writer().unwrap();
    let c: &mut DbConn = &mut c;
    diesel::sql_query(sql).execute(c).unwrap();
}

both_backends!(a_clean_ledger_verifies_with_a_signed_checkpoint, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    history(&app);
    let admin = app.login("admin");
    let cp = app.post_as(&admin, "/api/v1/ledger/checkpoints", &json!({}));
    assert_eq!(cp.status, 201, "{}", cp.text);
    assert!(cp.body["size"].as_i64().unwrap() > 5);
    let r = app.get_as(&admin, "/api/v1/ledger/verify");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["ok"], true, "{}", r.text);
    assert!(r.body["entries"].as_i64().unwrap() >= cp.body["size"].as_i64().unwrap());
    assert_eq!(r.body["checkpoint"]["root_hash"], cp.body["root_hash"]);
    let (code, out) = cli_verify(&app);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ledger OK"), "{out}");
    // Officers do not verify the ledger.
    assert_eq!(app.get_as(&app.login("so.moitt"), "/api/v1/ledger/verify").status, 403);
});

both_backends!(an_edited_note_is_named, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let (_, note) = history(&app);
    assert_eq!(cli_verify(&app).0, 0);
    raw(&app, &format!("UPDATE notes SET body = 'First paragraph!' WHERE id = '{note}'"));
    let (code, out) = cli_verify(&app);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("TAMPERED") && out.contains(&note), "{out}");
    let r = app.get_as(&app.login("admin"), "/api/v1/ledger/verify");
    assert_eq!(r.body["ok"], false);
    assert!(r.body["first_bad_seq"].is_number());
});

both_backends!(a_deleted_movement_is_named, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let (file, _) = history(&app);
    // The attacker removes the movement and its signature.
    raw(
        &app,
        &format!(
            "DELETE FROM movement_signatures WHERE movement_id IN (SELECT id FROM movements WHERE file_id = '{file}')"
        ),
    );
    raw(&app, &format!("UPDATE files SET last_movement_id = NULL WHERE id = '{file}'"));
    raw(&app, &format!("DELETE FROM movements WHERE file_id = '{file}'"));
    let (code, out) = cli_verify(&app);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("movement") && out.contains("missing or altered"), "{out}");
});

both_backends!(swapped_ledger_rows_are_named, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    history(&app);
    let (code, out) = cli_verify(&app);
    assert_eq!(code, 0, "{out}");
    raw(&app, "UPDATE ledger_events SET position = -1 WHERE position = 3");
    raw(&app, "UPDATE ledger_events SET position = 3 WHERE position = 4");
    raw(&app, "UPDATE ledger_events SET position = 4 WHERE position = -1");
    let (code, out) = cli_verify(&app);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("entry 3"), "{out}");
});

both_backends!(a_checkpoint_is_signed_at_least_daily, |backend| {
    use daftar::store::schema::ledger_checkpoints;
    use diesel::prelude::*;
    let Some(app) = spawn_app(backend) else { return };
    let ca = daftar::pki::Ca::init(app.test_db.dir.path(), "Government of Pakistan").unwrap();
    let day = chrono::Duration::hours(24);
    // The first round signs one if there is none; the next, a second later, does not.
    daftar::ledger::tick(&app.db, &ca, day).unwrap();
    assert!(daftar::ledger::tick(&app.db, &ca, day).unwrap().is_none(), "a fresh checkpoint is not re-signed");
    // A day later, a new one is signed, covering everything sealed since.
    note_and_sign(&app, &app.login("so.moitt"), &new_file_id(&app), "After the checkpoint.");
    {
        let mut c = app.db.writer().unwrap();
        diesel::update(ledger_checkpoints::table)
            .set(ledger_checkpoints::at.eq(ledger_checkpoints::at - 25 * 3_600_000_000i64))
            .execute(&mut *c)
            .unwrap();
    }
    let cp = daftar::ledger::tick(&app.db, &ca, day).unwrap().expect("a day-old checkpoint is renewed");
    let entries: i64 = {
        let mut c = app.db.reader().unwrap();
        daftar::store::schema::ledger_events::table.count().get_result(&mut *c).unwrap()
    };
    assert_eq!(cp.size, entries, "the new checkpoint covers every event");
});

fn new_file_id(app: &TestApp) -> String {
    let so = app.login("so.moitt");
    app.post_as(&so, "/api/v1/files", &json!({"subject": "Checkpoint"})).body["id"].as_str().unwrap().to_owned()
}
