//! Backup and restore from the command line, as an operator runs them: a
//! backup taken while officers work restores, into an empty deployment,
//! everything acknowledged before it began, with its ledger verified and its
//! documents byte for byte; a damaged backup is refused and restores nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::both_backends;
use crate::documents::{PDF, multipart, post_multipart};
use crate::helpers::{TestApp, TestDb, fresh_db, my_post, serve_process, spawn_app};

fn daftar(db: &TestDb, args: &[&str]) -> (bool, String) {
    let out = crate::cli::daftar(db, args);
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

both_backends!(a_backup_taken_under_load_restores_everything_acknowledged_before_it, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let app = Arc::new(app);
    let so = app.login("so.moitt");
    let ds_post = my_post(&app, &app.login("ds.moitt"));
    // A document, so that blobs are carried too.
    let file = app.post_as(&so, "/api/v1/files", &json!({"subject": "With an enclosure"})).body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (ctype, body) = multipart(&[("title", "Enclosure"), ("kind", "enclosure")], Some(("e.pdf", PDF)));
    let (status, doc) = post_multipart(&app, &so, &format!("/api/v1/files/{file}/documents"), &ctype, &body);
    assert_eq!(status, 201, "{doc}");
    // Officers at work: files opened and forwarded, each acknowledged (201) recorded.
    let (stop, acked) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(vec![file.clone()])));
    let load = {
        let (app, so, to, stop, acked) = (app.clone(), so.clone(), ds_post.clone(), stop.clone(), acked.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let r = app.post_as(&so, "/api/v1/files", &json!({"subject": format!("Under load {i}")}));
                assert_eq!(r.status, 201, "{}", r.text);
                let id = r.body["id"].as_str().unwrap().to_owned();
                let r = app.post_as(
                    &so,
                    &format!("/api/v1/files/{id}/movements"),
                    &json!({"action": "forward", "to_post_id": to}),
                );
                assert_eq!(r.status, 201, "{}", r.text);
                acked.lock().unwrap().push(id);
                i += 1;
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < 10 {
        assert!(Instant::now() < deadline, "the load did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let before: Vec<String> = acked.lock().unwrap().clone();
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().join("b1");
    let (ok, out) = daftar(&app.test_db, &["backup", dir.to_str().unwrap()]);
    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    assert!(ok, "{out}");
    assert!(dir.join("manifest.json").exists());

    // Restored into an empty deployment: ledger verified, everything acknowledged before the backup there.
    let Some(target) = fresh_db(backend) else { return };
    let (ok, out) = daftar(&target, &["restore", dir.to_str().unwrap()]);
    assert!(ok && out.contains("ledger verified"), "{out}");
    let (ok, out) = daftar(&target, &["ledger", "verify"]);
    assert!(ok, "{out}");
    let (mut server, port) = serve_process(&target, &[]);
    let restored = TestApp::remote(format!("http://127.0.0.1:{port}"), &target);
    let so2 = restored.login("so.moitt");
    for id in &before {
        let r = restored.get_as(&so2, &format!("/api/v1/files/{id}"));
        assert_eq!(r.status, 200, "file {id} acknowledged before the backup is missing: {}", r.text);
    }
    let content = ureq::get(&format!("{}/api/v1/documents/{}/content", restored.base, doc["id"].as_str().unwrap()))
        .set("Authorization", &format!("Bearer {so2}"))
        .call()
        .unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut content.into_reader(), &mut bytes).unwrap();
    assert_eq!(bytes, PDF, "the document comes back byte for byte");
    server.kill().unwrap();
    server.wait().unwrap();
    // Restoring over a deployment is refused.
    let (ok, out) = daftar(&target, &["restore", dir.to_str().unwrap()]);
    assert!(!ok && out.contains("empty"), "{out}");

    // One changed byte: refused, and nothing restored.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let db_file = dir.join(manifest["database"].as_str().unwrap());
    let mut data = std::fs::read(&db_file).unwrap();
    let at = data.len() / 2;
    data[at] ^= 0x01;
    std::fs::write(&db_file, data).unwrap();
    let Some(other) = fresh_db(backend) else { return };
    let (ok, out) = daftar(&other, &["restore", dir.to_str().unwrap()]);
    assert!(!ok && out.contains("damaged"), "{out}");
    assert!(!other.dir.path().join("pki").exists(), "nothing is restored from a damaged backup");
});
