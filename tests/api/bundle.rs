//! File bundles: exported, verified offline by `daftar verify` and by plain
//! openssl; tampering and revoked certificates are caught.

use std::process::Command;

use serde_json::json;

use crate::both_backends;
use crate::helpers::my_post;
use crate::helpers::{TestApp, spawn_app};
use crate::signing::{PIN, note_and_sign};

pub fn export(app: &TestApp, token: &str, file: &str) -> Vec<u8> {
    let resp = ureq::get(&format!("{}/api/v1/files/{file}/export", app.base))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(resp.header("content-type"), Some("application/zip"));
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut out).unwrap();
    out
}

pub fn verify(path: &std::path::Path) -> (i32, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_daftar")).arg("verify").arg(path).env("DAFTAR_LOG", "warn").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

both_backends!(a_file_signed_by_three_officers_verifies_offline, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let ds = app.login("ds.moitt");
    let js = app.login("js.moitt");
    let file = app.post_as(&so, "/api/v1/files", &json!({"subject": "Bundle"})).body["id"].as_str().unwrap().to_owned();
    note_and_sign(&app, &so, &file, "Put up for orders. یہ فائل منظوری کے لیے پیش ہے۔");
    assert_eq!(
        app.post_as(
            &so,
            &format!("/api/v1/files/{file}/movements"),
            &json!({"action": "forward", "to_post_id": my_post(&app, &ds)})
        )
        .status,
        201
    );
    note_and_sign(&app, &ds, &file, "Recommended.");
    assert_eq!(
        app.post_as(
            &ds,
            &format!("/api/v1/files/{file}/movements"),
            &json!({"action": "forward", "to_post_id": my_post(&app, &js)})
        )
        .status,
        201
    );
    note_and_sign(&app, &js, &file, "Approved.");

    let zip = export(&app, &js, &file);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.zip");
    std::fs::write(&path, &zip).unwrap();
    let (code, out) = verify(&path);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("bundle is valid"), "{out}");
    assert_eq!(out.matches("OK   note").count(), 3, "{out}");
    assert_eq!(out.matches("OK   movement").count(), 2, "the two forwards were signed by their movers: {out}");

    // Each note verifies with plain openssl, as the README shows.
    if Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success())
        && Command::new("unzip").arg("-v").output().is_ok()
    {
        let x = dir.path().join("x");
        std::fs::create_dir_all(&x).unwrap();
        let unzip = Command::new("unzip").arg("-q").arg(&path).current_dir(&x).status().unwrap();
        assert!(unzip.success());
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(x.join("manifest.json")).unwrap()).unwrap();
        for n in manifest["notes"].as_array().unwrap() {
            let serial = n["certificate_serial"].as_str().unwrap();
            let seq = n["seq"].as_i64().unwrap();
            let v = Command::new("openssl")
                .args(["dgst", "-sha256", "-verify", &format!("certs/{serial}-pubkey.pem"), "-signature"])
                .arg(format!("notes/note-{seq}.sig"))
                .arg(format!("notes/note-{seq}.json"))
                .current_dir(&x)
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&v.stdout).trim(), "Verified OK", "note {seq}");
        }
    }

    // One flipped byte of a note is caught, and the note is named.
    let needle = b"\"body_sha256\":\"";
    let at = zip.windows(needle.len()).position(|w| w == needle).unwrap() + needle.len();
    let mut bad = zip.clone();
    bad[at] = if bad[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&path, &bad).unwrap();
    let (code, out) = verify(&path);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("BAD  note 1"), "{out}");
    // Not a bundle at all.
    std::fs::write(&path, b"hello").unwrap();
    assert_eq!(verify(&path).0, 1);
    // Nobody else exports it.
    assert_eq!(app.get_as(&app.login("so.moc"), &format!("/api/v1/files/{file}/export")).status, 404);
});

both_backends!(revoked_certificates_sign_nothing_new, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let file =
        app.post_as(&so, "/api/v1/files", &json!({"subject": "Revocation"})).body["id"].as_str().unwrap().to_owned();
    let n1 = note_and_sign(&app, &so, &file, "Signed while the certificate was good.");
    let serial = n1["signature"]["certificate_serial"].as_str().unwrap().to_owned();
    // Only an administrator revokes; an officer cannot.
    let path = format!("/api/v1/pki/certificates/{serial}/revoke");
    assert_eq!(app.post_as(&app.login("ds.moitt"), &path, &json!({})).status, 403);
    let admin = app.login("admin");
    assert_eq!(app.post_as(&admin, &path, &json!({})).status, 204);
    assert_eq!(app.post_as(&admin, &path, &json!({})).status, 409);

    let note =
        app.post_as(&so, &format!("/api/v1/files/{file}/notes"), &json!({"body": "After revocation"})).body["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let r = app.post_as(&so, &format!("/api/v1/files/{file}/notes/{note}/sign"), &json!({"pin": PIN}));
    assert_eq!(r.status, 403, "{}", r.text);

    // The note signed before the revocation still verifies.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bundle.zip");
    std::fs::write(&path, export(&app, &so, &file)).unwrap();
    let (code, out) = verify(&path);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("OK   note 1"), "{out}");
});

/// The text of one member of a bundle.
fn member(bundle: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bundle)).unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut out).unwrap();
    out
}

both_backends!(a_bundle_carries_no_trace_of_others_drafts, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let ds = app.login("ds.moitt");
    let file = app.post_as(&so, "/api/v1/files", &json!({"subject": "Drafts"})).body["id"].as_str().unwrap().to_owned();
    note_and_sign(&app, &so, &file, "Submitted.");
    let moves = format!("/api/v1/files/{file}/movements");
    assert_eq!(app.post_as(&so, &moves, &json!({"action": "forward", "to_post_id": my_post(&app, &ds)})).status, 201);
    // DS drafts a short note and does not sign it yet.
    let draft = app.post_as(&ds, &format!("/api/v1/files/{file}/notes"), &json!({"body": "No."}));
    let draft = draft.body["id"].as_str().unwrap().to_owned();

    let theirs = export(&app, &so, &file);
    let entries = member(&theirs, "ledger/entries.jsonl");
    assert!(!entries.contains(&draft), "SO's bundle names DS's draft: {entries}");
    assert!(entries.contains("note_signed"), "{entries}");
    // What is left still proves itself against the signed checkpoint.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("so.zip");
    std::fs::write(&path, &theirs).unwrap();
    let (code, out) = verify(&path);
    assert_eq!(code, 0, "{out}");
    // The author's own bundle has it.
    let own = export(&app, &ds, &file);
    assert!(member(&own, "ledger/entries.jsonl").contains(&draft));
});
