//! Correspondence: documents streamed in and out exactly, judged by content,
//! size-limited without buffering; receipts diarised, forwarded, put up.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{TestApp, spawn_app};

pub(crate) const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
pub(crate) const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR fake scan";

pub(crate) fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "daftar-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/pdf\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub(crate) fn post_multipart(app: &TestApp, token: &str, path: &str, ctype: &str, body: &[u8]) -> (u16, Value) {
    let r = ureq::post(&format!("{}{path}", app.base))
        .set("Authorization", &format!("Bearer {token}"))
        .set("Content-Type", ctype)
        .send_bytes(body);
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let status = resp.status();
    (status, resp.into_json().unwrap_or(Value::Null))
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn new_file(app: &TestApp, token: &str) -> String {
    app.post_as(token, "/api/v1/files", &json!({"subject": "Correspondence"})).body["id"].as_str().unwrap().to_owned()
}

both_backends!(documents_are_kept_byte_for_byte, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let file = new_file(&app, &so);
    let (ctype, body) = multipart(&[("title", "Letter from PTA"), ("kind", "enclosure")], Some(("letter.pdf", PDF)));
    let (status, doc) = post_multipart(&app, &so, &format!("/api/v1/files/{file}/documents"), &ctype, &body);
    assert_eq!(status, 201, "{doc}");
    assert_eq!(doc["sha256"], sha256_hex(PDF));
    assert_eq!((doc["mime"].as_str(), doc["size"].as_u64()), (Some("application/pdf"), Some(PDF.len() as u64)));
    let id = doc["id"].as_str().unwrap();

    let resp = ureq::get(&format!("{}/api/v1/documents/{id}/content", app.base))
        .set("Authorization", &format!("Bearer {so}"))
        .call()
        .unwrap();
    assert_eq!(resp.header("content-type"), Some("application/pdf"));
    assert!(
        resp.header("content-disposition").unwrap().starts_with("attachment"),
        "{:?}",
        resp.header("content-disposition")
    );
    let mut bytes = Vec::new();
    resp.into_reader().read_to_end(&mut bytes).unwrap();
    assert_eq!(bytes, PDF);
    // Asked for inline (the web inbox's link), a PDF is shown, not saved.
    let inline = ureq::get(&format!("{}/api/v1/documents/{id}/content?inline=1", app.base))
        .set("Authorization", &format!("Bearer {so}"))
        .call()
        .unwrap();
    assert!(inline.header("content-disposition").unwrap().starts_with("inline"));

    // The same content again is stored once.
    let (status, again) = post_multipart(&app, &so, &format!("/api/v1/files/{file}/documents"), &ctype, &body);
    assert_eq!(status, 201);
    assert_eq!(again["sha256"], doc["sha256"]);
    let blobs = app.test_db.dir.path().join("blobs");
    let stored: usize = std::fs::read_dir(&blobs)
        .unwrap()
        .filter_map(|d| d.ok())
        .filter(|d| d.file_name() != "tmp")
        .map(|d| std::fs::read_dir(d.path()).unwrap().count())
        .sum();
    assert_eq!(stored, 1);
    assert_eq!(app.get_as(&so, &format!("/api/v1/files/{file}")).body["documents"].as_array().unwrap().len(), 2);

    // An executable named .pdf is refused by its content.
    let (ctype, body) = multipart(
        &[("title", "Invoice"), ("kind", "enclosure")],
        Some(("invoice.pdf", b"\x7fELF\x02\x01\x01\x00 payload")),
    );
    let (status, err) = post_multipart(&app, &so, &format!("/api/v1/files/{file}/documents"), &ctype, &body);
    assert_eq!(status, 415, "{err}");
    assert_eq!(err["error"]["code"], "unsupported_media_type");
    // Not multipart at all.
    let r = app.post_as(&so, &format!("/api/v1/files/{file}/documents"), &json!({"title": "x"}));
    assert_eq!(r.status, 415, "{}", r.text);

    // Nobody outside sees it.
    let moc = app.login("so.moc");
    assert_eq!(app.get_as(&moc, &format!("/api/v1/documents/{id}/content")).status, 404);
    // Only the holder attaches.
    let (ctype, body) = multipart(&[("title", "x"), ("kind", "enclosure")], Some(("a.pdf", PDF)));
    assert_eq!(post_multipart(&app, &moc, &format!("/api/v1/files/{file}/documents"), &ctype, &body).0, 404);
});

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Produces `left` bytes of a PDF-looking body without holding them.
struct Generated {
    left: usize,
    prefix: Vec<u8>,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.len());
            buf[..n].copy_from_slice(&self.prefix[..n]);
            self.prefix.drain(..n);
            return Ok(n);
        }
        let n = self.left.min(buf.len());
        buf[..n].fill(b'A');
        self.left -= n;
        Ok(n)
    }
}

both_backends!(oversized_uploads_are_refused_without_buffering, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let file = new_file(&app, &so);
    let ctype = "multipart/form-data; boundary=b0undary";
    let head =
        b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\n\r\n%PDF-1.4\n".to_vec();
    const SIXTY_MIB: usize = 60 * 1024 * 1024;

    // Declared too large: refused before reading.
    let r = ureq::post(&format!("{}/api/v1/files/{file}/documents", app.base))
        .set("Authorization", &format!("Bearer {so}"))
        .set("Content-Type", ctype)
        .set("Content-Length", &(SIXTY_MIB + head.len()).to_string())
        .send(Generated { left: SIXTY_MIB, prefix: head.clone() });
    match r {
        Err(ureq::Error::Status(413, resp)) => {
            let v: Value = resp.into_json().unwrap();
            assert_eq!(v["error"]["code"], "too_large");
        }
        Err(ureq::Error::Transport(_)) => {} // the server may close while the client still sends
        other => panic!("expected 413, got {:?}", other.map(|r| r.status())),
    }

    // Streamed without a length, to a server in its own process so its memory
    // can be read: it stops at the limit, holding no more than a chunk at a time.
    let mut child = Command::new(env!("CARGO_BIN_EXE_daftar"))
        .arg("serve")
        .current_dir(app.test_db.dir.path())
        .env("DAFTAR_DATABASE_URL", &app.test_db.url)
        .env("DAFTAR_DATA_DIR", app.test_db.dir.path())
        .env("DAFTAR_LISTEN", "127.0.0.1:0")
        .env("DAFTAR_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = loop {
        let line = lines.next().expect("server exited").unwrap();
        if let Some(rest) = line.split("(port ").nth(1) {
            break rest.trim_end_matches(')').parse::<u16>().unwrap();
        }
    };
    let base = format!("http://127.0.0.1:{port}");
    let check = || {
        let login: Value = ureq::post(&format!("{base}/api/v1/auth/login"))
            .send_json(json!({"username": "so.moitt", "password": "daftar-demo-2026"}))
            .unwrap()
            .into_json()
            .unwrap();
        let token = login["access_token"].as_str().unwrap().to_owned();
        let before = rss_kib(child.id());
        let r = ureq::post(&format!("{base}/api/v1/files/{file}/documents"))
            .set("Authorization", &format!("Bearer {token}"))
            .set("Content-Type", ctype)
            .send(Generated { left: SIXTY_MIB, prefix: head.clone() });
        match r {
            Err(ureq::Error::Status(413, _)) | Err(ureq::Error::Transport(_)) => {}
            other => panic!("expected 413, got {:?}", other.map(|r| r.status())),
        }
        let grown_mib = rss_kib(child.id()).saturating_sub(before) / 1024;
        assert!(grown_mib < 20, "the server grew by {grown_mib} MiB for a 60 MiB upload");
    };
    let result = std::panic::catch_unwind(check);
    let _ = child.kill();
    let _ = child.wait();
    result.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let tmp = app.test_db.dir.path().join("blobs/tmp");
    assert_eq!(std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0), 0, "the partial upload was removed");
    assert!(app.get_as(&so, &format!("/api/v1/files/{file}")).body["documents"].as_array().unwrap().is_empty());
});

both_backends!(receipts_are_diarised_forwarded_and_put_up, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let registry = app.login("registry.moitt");
    let so = app.login("so.moitt");
    let so_post = app.get_as(&so, "/api/v1/me").body["posts"][0]["id"].as_str().unwrap().to_owned();
    let year = daftar::clock::today().format("%Y").to_string();

    // Physical receipt (metadata only).
    let r = app.post_as(
        &registry,
        "/api/v1/receipts",
        &json!({"subject": "Request for e-Office data", "sender": "Cabinet Division", "letter_no": "CD-1/2026",
                "letter_date": "2026-11-20", "mode": "courier"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["diary_no"], format!("MOITT/R/{year}/00001"));
    assert_eq!(r.body["form"], "physical");
    let physical = r.body["id"].as_str().unwrap().to_owned();
    // Only the registry diarises.
    let r = app.post_as(&so, "/api/v1/receipts", &json!({"subject": "x", "sender": "y", "mode": "post"}));
    assert_eq!(r.status, 403, "{}", r.text);
    let r = app.post_as(&registry, "/api/v1/receipts", &json!({"subject": "x", "sender": "y", "mode": "pigeon"}));
    assert_eq!(r.status, 400);

    // Electronic receipt with its scan.
    let (ctype, body) =
        multipart(&[("subject", "Scanned letter"), ("sender", "PTA"), ("mode", "post")], Some(("scan.png", PNG)));
    let (status, electronic) = post_multipart(&app, &registry, "/api/v1/receipts", &ctype, &body);
    assert_eq!(status, 201, "{electronic}");
    assert_eq!(electronic["form"], "electronic");
    assert_eq!(electronic["diary_no"], format!("MOITT/R/{year}/00002"));
    assert_eq!(electronic["documents"][0]["mime"], "image/png");
    let electronic = electronic["id"].as_str().unwrap().to_owned();

    // Forwarded to SO, who sees them in the inbox.
    for id in [&physical, &electronic] {
        let r = app.post_as(
            &registry,
            &format!("/api/v1/receipts/{id}/movements"),
            &json!({"action": "forward", "to_post_id": so_post}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let inbox = app.get_as(&so, "/api/v1/inbox?kind=receipts");
    assert_eq!(inbox.body["items"].as_array().unwrap().len(), 2, "{}", inbox.text);
    assert!(inbox.body["items"][0]["diary_no"].is_string());
    // The registry's "sent" shows both, and where each is now.
    let sent = app.get_as(&registry, "/api/v1/sent");
    let items = sent.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", sent.text);
    assert!(items.iter().all(|i| i["kind"] == "receipt" && i["now_with"]["id"] == so_post.as_str()), "{}", sent.text);
    assert_eq!(items[0]["id"], electronic.as_str(), "newest first");

    // SO puts both up in a file.
    let file = new_file(&app, &so);
    for id in [&physical, &electronic] {
        let r = app.post_as(
            &so,
            &format!("/api/v1/receipts/{id}/movements"),
            &json!({"action": "put_up", "file_id": file}),
        );
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["status"], "put_up");
        assert_eq!(r.body["file"]["id"], file.as_str());
    }
    let shown = app.get_as(&so, &format!("/api/v1/files/{file}"));
    assert_eq!(shown.body["receipts"].as_array().unwrap().len(), 2);
    let docs = shown.body["documents"].as_array().unwrap();
    assert_eq!(docs.len(), 1, "the scan joins the correspondence");
    assert_eq!(docs[0]["kind"], "receipt");
    let timeline = app.get_as(&so, &format!("/api/v1/files/{file}/movements"));
    assert_eq!(timeline.body["items"].as_array().unwrap().iter().filter(|m| m["action"] == "put_up").count(), 2);
    assert!(app.get_as(&so, "/api/v1/inbox?kind=receipts").body["items"].as_array().unwrap().is_empty());
    // Once put up, it moves no more; and another ministry sees nothing of it.
    let r = app.post_as(
        &so,
        &format!("/api/v1/receipts/{physical}/movements"),
        &json!({"action": "forward", "to_post_id": so_post}),
    );
    assert_eq!(r.status, 409);
    let moc = app.login("so.moc");
    assert_eq!(app.get_as(&moc, &format!("/api/v1/receipts/{physical}")).status, 404);
});

both_backends!(multipart_bodies_are_bounded_however_they_are_sent, |backend| {
    let Some(app) = crate::helpers::spawn_app_with(backend, |c| c.upload_limit_bytes = 1024 * 1024) else { return };
    let so = app.login("so.moitt");
    let file = new_file(&app, &so);
    let path = format!("/api/v1/files/{file}/documents");
    // Chunked (no Content-Length), so nothing is known before reading.
    let send_chunked = |ctype: &str, body: Vec<u8>| {
        let r = ureq::post(&format!("{}{path}", app.base))
            .set("Authorization", &format!("Bearer {so}"))
            .set("Content-Type", ctype)
            .send(std::io::Cursor::new(body));
        let resp = match r {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        (resp.status(), resp.into_json::<Value>().unwrap_or(Value::Null))
    };
    // Ten thousand small fields: refused at the seventeenth part.
    let many: Vec<(String, String)> = (0..10_000).map(|i| (format!("f{i}"), "x".into())).collect();
    let fields: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (ctype, body) = multipart(&fields, Some(("a.pdf", PDF)));
    let (status, reply) = send_chunked(&ctype, body);
    assert_eq!(status, 400, "{reply}");
    assert!(reply["error"]["details"]["fields"]["fields"].is_string(), "{reply}");
    // A file over the limit, chunked: 413, and nothing is attached.
    let mut big = PDF.to_vec();
    big.resize(3 * 1024 * 1024, b' ');
    let (ctype, body) = multipart(&[("title", "Too big"), ("kind", "enclosure")], Some(("big.pdf", &big)));
    let (status, reply) = send_chunked(&ctype, body);
    assert_eq!(status, 413, "{reply}");
    let f = app.get_as(&so, &format!("/api/v1/files/{file}"));
    assert_eq!(f.body["documents"], json!([]), "{}", f.text);
    // A normal upload still works.
    let (ctype, body) = multipart(&[("title", "Letter"), ("kind", "enclosure")], Some(("a.pdf", PDF)));
    let (status, reply) = send_chunked(&ctype, body);
    assert_eq!(status, 201, "{reply}");
});
