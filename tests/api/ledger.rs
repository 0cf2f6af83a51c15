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

/// The columns of a table, as the database has them.
fn columns(app: &TestApp, table: &str) -> Vec<String> {
    use diesel::sql_types::Text;
    #[derive(diesel::QueryableByName)]
    struct Col {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let mut c = app.db.reader().unwrap();
    let c: &mut DbConn = &mut c;
    let sql = match c {
        DbConn::Sqlite(_) => format!("SELECT name FROM pragma_table_info('{table}')"),
        DbConn::Postgres(_) => {
            format!("SELECT column_name AS name FROM information_schema.columns WHERE table_name = '{table}'")
        }
    };
    diesel::sql_query(sql).load::<Col>(c).unwrap().into_iter().map(|c| c.name).collect()
}

both_backends!(every_meaningful_column_is_signed_or_ledgered, |backend| {
    // A movement and a note with every field set; then each column that
    // carries meaning is changed in the database, one at a time, and the
    // ledger check must name it. A new column fails this test until it is
    // covered or declared meaningless below, with the reason.
    let Some(app) = spawn_app(backend) else { return };
    let (file, note) = history(&app);
    let so = app.login("so.moitt");
    let ds = app.login("ds.moitt");
    let me = |t: &str| app.get_as(t, "/api/v1/me").body;
    let (so_me, ds_me) = (me(&so), me(&ds));
    let (ds_user, ds_post) = (ds_me["id"].as_str().unwrap(), ds_me["posts"][0]["id"].as_str().unwrap());
    let so_post = so_me["posts"][0]["id"].as_str().unwrap();
    let other_file =
        app.post_as(&ds, "/api/v1/files", &json!({"subject": "Other"})).body["id"].as_str().unwrap().to_owned();
    let registry = app.login("registry.moitt");
    let receipt =
        app.post_as(&registry, "/api/v1/receipts", &json!({"subject": "Letter", "sender": "PTA", "mode": "post"}));
    assert_eq!(receipt.status, 201, "{}", receipt.text);
    let receipt = receipt.body["id"].as_str().unwrap().to_owned();
    // DS (holding the file) sends it back with remarks, a due date and a priority, signed.
    let body = json!({"action": "forward", "to_post_id": so_post, "remarks": "For orders", "pin": crate::signing::PIN,
                      "due_at": "2030-01-01T00:00:00Z", "priority": "immediate"});
    let m = app.post_as(&ds, &format!("/api/v1/files/{file}/movements"), &body);
    assert_eq!(m.status, 201, "{}", m.text);
    let movement = m.body["id"].as_str().unwrap().to_owned();

    let q = |v: &str| format!("'{v}'");
    let moves: Vec<(&str, String)> = vec![
        ("seq", "99".into()),
        ("action", q("refer")),
        ("from_post_id", q(so_post)),
        ("to_post_id", q(ds_post)),
        ("remarks", q("Approved")),
        ("due_at", "1".into()),
        ("priority", q("routine")),
        ("sent_at", "1".into()),
        ("by_user_id", q(ds_user).replace(ds_user, so_me["id"].as_str().unwrap())),
        ("by_post_id", q(so_post)),
        ("file_id", q(&other_file)),
        ("receipt_id", q(&receipt)),
    ];
    // Not meaningful once written, or the row's own identity.
    let moves_exempt = [
        ("id", "the row's identity: its ledger event and signature name it"),
        ("opened_at", "set later by the receiver; opening is not the mover's act"),
    ];
    let notes: Vec<(&str, String)> = vec![
        ("seq", "99".into()),
        ("body", q("Changed text")),
        ("author_post_id", q(ds_post)),
        ("author_user_id", q(ds_user)),
        ("created_at", "1".into()),
        ("file_id", q(&other_file)),
    ];
    let notes_exempt = [
        ("id", "the row's identity: its ledger events and signature name it"),
        ("status", "draft or signed: the signature row and the note_signed event are the fact"),
        ("updated_at", "when a draft was last edited: drafts are not evidence"),
        ("signed_at", "the signature's own signed_at is what counts, and is signed"),
    ];
    for (table, id, covered, exempt) in
        [("movements", &movement, &moves, &moves_exempt[..]), ("notes", &note, &notes, &notes_exempt[..])]
    {
        let mut cols = columns(&app, table);
        cols.sort();
        let mut known: Vec<String> =
            covered.iter().map(|(c, _)| c.to_string()).chain(exempt.iter().map(|(c, _)| c.to_string())).collect();
        known.sort();
        assert_eq!(cols, known, "{table}: each column is either covered here or declared meaningless with a reason");
        assert_eq!(cli_verify(&app).0, 0, "clean before tampering");
        for (col, value) in covered {
            // Remember, change, check, restore.
            let saved = format!("(SELECT {col} FROM {table} WHERE id = '{id}')");
            raw(&app, "CREATE TABLE IF NOT EXISTS saved_value (v TEXT)");
            raw(&app, "DELETE FROM saved_value");
            raw(&app, &format!("INSERT INTO saved_value (v) SELECT CAST({saved} AS TEXT)"));
            raw(&app, &format!("UPDATE {table} SET {col} = {value} WHERE id = '{id}'"));
            let (code, out) = cli_verify(&app);
            assert_eq!(code, 1, "{table}.{col} changed and nobody noticed: {out}");
            let restore = match *col {
                "seq" | "due_at" | "sent_at" | "created_at" => "CAST((SELECT v FROM saved_value) AS BIGINT)",
                _ => "(SELECT v FROM saved_value)",
            };
            raw(&app, &format!("UPDATE {table} SET {col} = {restore} WHERE id = '{id}'"));
            let (code, out) = cli_verify(&app);
            assert_eq!(code, 0, "{table}.{col} restored: {out}");
        }
    }
});
