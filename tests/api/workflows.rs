//! Approval chains: the shipped ones check out against the demo government,
//! a broken one is named by file and line and stops the server, and the API
//! lists them with their flowcharts.

use std::process::{Command, Output};

use crate::both_backends;
use crate::helpers::{TestDb, fresh_db, spawn_app};

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
