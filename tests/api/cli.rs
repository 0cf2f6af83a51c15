//! The `daftar` binary itself: demo seeding, org import, serve, bad config.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

use daftar::store::Db;
use daftar::store::schema::{org_units, post_assignments, posts, user_roles, users};
use diesel::prelude::*;

use crate::both_backends;
use crate::helpers::{TestDb, fresh_db};

pub(crate) fn daftar(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_daftar"))
        .args(args)
        .current_dir(db.dir.path())
        .env("DAFTAR_DATABASE_URL", &db.url)
        .env("DAFTAR_DATA_DIR", db.dir.path())
        .env("DAFTAR_LOG", "warn")
        .output()
        .expect("run daftar")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every stored row of the org model, as comparable text.
fn snapshot(db: &TestDb) -> Vec<String> {
    let db = Db::connect(&db.url, 1, "NORMAL").unwrap();
    let mut c = db.reader().unwrap();
    let c: &mut daftar::store::DbConn = &mut c;
    let mut rows = Vec::new();
    for (id, code, parent) in org_units::table
        .select((org_units::id, org_units::code, org_units::parent_id))
        .load::<(String, String, Option<String>)>(c)
        .unwrap()
    {
        rows.push(format!("unit {id} {code} {parent:?}"));
    }
    for (id, code, up) in posts::table
        .select((posts::id, posts::code, posts::reports_to))
        .load::<(String, String, Option<String>)>(c)
        .unwrap()
    {
        rows.push(format!("post {id} {code} {up:?}"));
    }
    for (id, name, hash, tv) in users::table
        .select((users::id, users::username, users::password_hash, users::token_version))
        .load::<(String, String, String, i64)>(c)
        .unwrap()
    {
        rows.push(format!("user {id} {name} {hash} {tv}"));
    }
    for (id, post, user) in post_assignments::table
        .select((post_assignments::id, post_assignments::post_id, post_assignments::user_id))
        .load::<(String, String, String)>(c)
        .unwrap()
    {
        rows.push(format!("assignment {id} {post} {user}"));
    }
    for (id, role) in user_roles::table.select((user_roles::id, user_roles::role)).load::<(String, String)>(c).unwrap()
    {
        rows.push(format!("role {id} {role}"));
    }
    rows.sort();
    rows
}

both_backends!(demo_twice_changes_nothing, |backend| {
    let Some(db) = fresh_db(backend) else { return };
    let first = daftar(&db, &["demo"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let out = text(&first.stdout);
    assert!(out.contains("demo government created"), "{out}");
    assert!(out.contains("so.moitt") && out.contains("daftar-demo-2026") && out.contains("246810"), "{out}");
    let before = snapshot(&db);
    assert_eq!(before.iter().filter(|r| r.starts_with("user ")).count(), 22);

    let second = daftar(&db, &["demo"]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(text(&second.stdout).contains("nothing changed"), "{}", text(&second.stdout));
    assert_eq!(snapshot(&db), before);
});

const GOOD_CHART: &str = r#"[[unit]]
code = "GOP"
name = "Government of Pakistan"
kind = "government"

[[unit]]
code = "MOST"
name = "Ministry of Science & Technology"
kind = "ministry"
parent = "GOP"

[[unit]]
code = "ST(Admin)"
name = "Admin Section"
kind = "section"
parent = "MOST"

[[post]]
code = "MOST/SO"
unit = "ST(Admin)"
designation = "section_officer"
title = "Section Officer (Admin)"

[[user]]
username = "so.most"
name = "Section Officer MoST"
clearance = "restricted"
password = "a-long-enough-password"
posts = ["MOST/SO"]
"#;

both_backends!(org_import_is_all_or_nothing, |backend| {
    let Some(db) = fresh_db(backend) else { return };
    // Line 12 starts the bad unit: its kind is misspelt.
    let bad = GOOD_CHART.replace("kind = \"section\"", "kind = \"sektion\"");
    assert_eq!(bad.lines().nth(11), Some("[[unit]]"));
    let path = db.dir.path().join("chart.toml");
    std::fs::write(&path, &bad).unwrap();
    let out = daftar(&db, &["org", "import", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("chart.toml:12:"), "{err}");
    assert!(err.contains("sektion") && err.contains("nothing was imported"), "{err}");
    assert!(snapshot(&db).is_empty(), "a bad row must import nothing");

    // A post naming a unit that does not exist, and a user with a bad clearance.
    let bad =
        GOOD_CHART.replace("unit = \"ST(Admin)\"", "unit = \"ST(Nowhere)\"").replace("\"restricted\"", "\"cosmic\"");
    std::fs::write(&path, &bad).unwrap();
    let out = daftar(&db, &["org", "import", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("chart.toml:18:") && err.contains("ST(Nowhere)"), "{err}");
    assert!(err.contains("chart.toml:24:") && err.contains("cosmic"), "{err}");
    assert!(snapshot(&db).is_empty());

    // Not TOML at all.
    std::fs::write(&path, "[[unit]\ncode = ").unwrap();
    let out = daftar(&db, &["org", "import", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("chart.toml:1:"), "{}", text(&out.stderr));

    std::fs::write(&path, GOOD_CHART).unwrap();
    let out = daftar(&db, &["org", "import", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported 3 units, 1 posts, 1 users"), "{}", text(&out.stdout));
    let rows = snapshot(&db);
    assert_eq!(rows.iter().filter(|r| r.starts_with("unit ")).count(), 3);
    // Importing again is a no-op.
    let out = daftar(&db, &["org", "import", path.to_str().unwrap()]);
    assert!(
        text(&out.stdout).contains("imported 0 units, 0 posts, 0 users (5 already present"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(snapshot(&db), rows);
});

both_backends!(serve_demo_prints_logins_and_serves, |backend| {
    let Some(db) = fresh_db(backend) else { return };
    let mut child = Command::new(env!("CARGO_BIN_EXE_daftar"))
        .args(["serve", "--demo"])
        .current_dir(db.dir.path())
        .env("DAFTAR_DATABASE_URL", &db.url)
        .env("DAFTAR_LISTEN", "127.0.0.1:0")
        .env("DAFTAR_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let port = loop {
        let line = lines.next().expect("server exited early").unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if let Some(rest) = line.split("(port ").nth(1) {
            break rest.trim_end_matches(')').parse::<u16>().unwrap();
        }
    };
    let check = || {
        assert!(printed.contains("secretary.moitt") && printed.contains("daftar-demo-2026"), "{printed}");
        let login: serde_json::Value = ureq::post(&format!("http://127.0.0.1:{port}/api/v1/auth/login"))
            .send_json(serde_json::json!({"username": "secretary.moitt", "password": "daftar-demo-2026"}))
            .unwrap()
            .into_json()
            .unwrap();
        let token = login["access_token"].as_str().unwrap();
        let units = ureq::get(&format!("http://127.0.0.1:{port}/api/v1/org/units?limit=200"))
            .set("Authorization", &format!("Bearer {token}"))
            .call()
            .unwrap()
            .into_string()
            .unwrap();
        assert!(units.contains("\"MOITT\"") && units.contains("\"PTA\""), "{units}");
        let health = ureq::get(&format!("http://127.0.0.1:{port}/healthz")).call().unwrap();
        assert_eq!(health.status(), 200);
    };
    let result = std::panic::catch_unwind(check);
    let _ = child.kill();
    let _ = child.wait();
    result.unwrap();
});

#[test]
fn bad_configuration_is_one_clear_line() {
    let db = fresh_db(crate::helpers::Backend::Sqlite).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_daftar"))
        .arg("migrate")
        .current_dir(db.dir.path())
        .env("DAFTAR_LISTEN", "nowhere")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: ") && err.contains("listen"), "{err}");
    assert!(!err.contains("panicked"));

    std::fs::write(db.dir.path().join("daftar.toml"), "listen = [1, 2]\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_daftar")).arg("migrate").current_dir(db.dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("listen"), "{}", text(&out.stderr));
}

#[test]
fn help_lists_the_commands() {
    let out = Command::new(env!("CARGO_BIN_EXE_daftar")).arg("--help").output().unwrap();
    let help = text(&out.stdout);
    for cmd in ["serve", "migrate", "demo", "org"] {
        assert!(help.contains(cmd), "{help}");
    }
}

both_backends!(user_commands_manage_logins, |backend| {
    let Some(app) = crate::helpers::spawn_app(backend) else { return };
    let run = |args: &[&str], stdin: &str| {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_daftar"))
            .args(args)
            .current_dir(app.test_db.dir.path())
            .env("DAFTAR_DATABASE_URL", &app.test_db.url)
            .env("DAFTAR_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(
        &[
            "user",
            "add",
            "dir2.pta",
            "--name",
            "Director (Licensing) PTA",
            "--clearance",
            "secret",
            "--post",
            "PTA/DIRECTOR-ADMIN",
        ],
        "licensing-password\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let r = app.login_reply("dir2.pta", "licensing-password", "192.0.2.60");
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get_as(&token, "/api/v1/me").body["posts"][0]["designation"], "director");

    let out = run(&["user", "passwd", "dir2.pta"], "short\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("at least 12"), "{}", text(&out.stderr));
    let out = run(&["user", "passwd", "dir2.pta"], "another-long-password\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(app.get_as(&token, "/api/v1/me").status, 401, "passwd ends sessions");
    let token = app.login_reply("dir2.pta", "another-long-password", "192.0.2.60").body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let out = run(&["user", "disable", "dir2.pta"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(app.get_as(&token, "/api/v1/me").status, 401, "disable ends sessions at once");
    assert_eq!(app.login_reply("dir2.pta", "another-long-password", "192.0.2.60").status, 401);
    let out = run(&["user", "disable", "nobody"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("user not found"), "{}", text(&out.stderr));
});

both_backends!(pki_tls_and_ledger_commands, |backend| {
    let Some(db) = fresh_db(backend) else { return };
    // The CA: created once, kept private, never replaced by a second init.
    let out = daftar(&db, &["pki", "init"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("created the deployment CA"), "{}", text(&out.stdout));
    let ca = std::fs::read_to_string(db.dir.path().join("pki/ca.pem")).unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
    let keys: Vec<_> = std::fs::read_dir(db.dir.path().join("pki"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("key"))
        .collect();
    assert!(!keys.is_empty());
    #[cfg(unix)]
    for k in &keys {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(k.metadata().unwrap().permissions().mode() & 0o077, 0, "{:?} is private", k.path());
    }
    let again = daftar(&db, &["pki", "init"]);
    assert!(again.status.success());
    assert!(text(&again.stdout).contains("already exists"), "{}", text(&again.stdout));
    assert_eq!(std::fs::read_to_string(db.dir.path().join("pki/ca.pem")).unwrap(), ca);

    // A development TLS pair that openssl reads.
    let out = daftar(&db, &["tls", "self-signed"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let cert = db.dir.path().join("tls/cert.pem");
    assert!(cert.exists() && db.dir.path().join("tls/key.pem").exists(), "{}", text(&out.stdout));
    if let Ok(o) = Command::new("openssl").args(["x509", "-noout", "-text", "-in"]).arg(&cert).output() {
        assert!(o.status.success());
        assert!(text(&o.stdout).contains("localhost"), "{}", text(&o.stdout));
    }

    // The ledger of the demo government: checkpoint on demand, then verify.
    assert!(daftar(&db, &["demo"]).status.success());
    let out = daftar(&db, &["ledger", "checkpoint"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("checkpoint: "), "{}", text(&out.stdout));
    let out = daftar(&db, &["ledger", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("ledger OK"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("checkpoints checked"), "{}", text(&out.stdout));
});

#[test]
fn an_unknown_database_scheme_is_refused_not_taken_for_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_daftar"))
        .args(["migrate"])
        .current_dir(dir.path())
        .env("DAFTAR_DATABASE_URL", "postgress://postgres@127.0.0.1:5432/daftar")
        .env("DAFTAR_DATA_DIR", dir.path())
        .env("DAFTAR_LOG", "warn")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("database_url") && err.contains("postgress://"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    // Nothing was created in its name.
    let made: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(!made.iter().any(|n| n.to_string_lossy().starts_with("postgress")), "{made:?}");
}
