//! Public tracking of letters by diary number and code (issue 26), tried as
//! a sender would: over HTTP with no login, from a browser or a script.

use std::io::Read;

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Reply, TestApp, my_post, spawn_app};

fn diarise(app: &TestApp, registry: &str, body: Value) -> Value {
    let r = app.post_as(registry, "/api/v1/receipts", &body);
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

fn enc(s: &str) -> String {
    s.replace('/', "%2F")
}

/// Tracks as a script does (JSON), from `ip`.
fn track(app: &TestApp, diary_no: &str, code: &str, ip: &str) -> Reply {
    app.request(
        "GET",
        &format!("/track/{}?code={}", enc(diary_no), code),
        &[("Accept", "application/json"), ("X-Forwarded-For", ip)],
        None,
    )
}

/// Tracks as a browser does (HTML), from `ip`.
fn track_page(app: &TestApp, diary_no: &str, code: &str, ip: &str) -> Reply {
    app.request(
        "GET",
        &format!("/track/{}?code={}", enc(diary_no), code),
        &[("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"), ("X-Forwarded-For", ip)],
        None,
    )
}

/// Status, body and headers, without the ones that differ by the moment.
fn answer(r: &Reply) -> (u16, String, Vec<(String, String)>) {
    let mut h: Vec<(String, String)> = r
        .headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("date") && !n.eq_ignore_ascii_case("x-request-id"))
        .cloned()
        .collect();
    h.sort();
    (r.status, r.text.clone(), h)
}

both_backends!(a_sender_tracks_a_letter_by_its_code_and_sees_only_stages_and_sections, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let registry = app.login("registry.moitt");
    let so = app.login("so.moitt");
    let so_post = my_post(&app, &so);
    let r = diarise(
        &app,
        &registry,
        json!({"subject": "Pension case of Mr Rahim", "sender": "Abdul Rahim, Lahore", "mode": "post"}),
    );
    let (id, diary_no) = (r["id"].as_str().unwrap().to_owned(), r["diary_no"].as_str().unwrap().to_owned());
    let code = r["tracking"]["code"].as_str().expect("a letter from outside gets a code").to_owned();
    assert_eq!(code.len(), 19, "{code}");
    assert!(r["tracking"]["url"].as_str().unwrap().contains("/track/"), "{r}");
    // Shown once: the receipt itself never shows it again.
    let again = app.get_as(&registry, &format!("/api/v1/receipts/{id}"));
    assert_eq!(again.status, 200);
    assert!(!again.text.contains(&code), "{}", again.text);

    // Diarised: at the registry's section.
    let t = track(&app, &diary_no, &code, "198.51.100.1");
    assert_eq!(t.status, 200, "{}", t.text);
    assert_eq!(t.body["status"], "diarised");
    assert_eq!(t.body["section"], "Receipt & Issue Branch, MoITT");
    assert_eq!(t.header("cache-control"), Some("no-store"));
    // The code may be typed in lower case, without dashes.
    let typed = code.replace('-', "").to_lowercase();
    assert_eq!(track(&app, &diary_no, &typed, "198.51.100.1").status, 200);

    // Forwarded to the section: the section's name, never the officer.
    let m = app.post_as(
        &registry,
        &format!("/api/v1/receipts/{id}/movements"),
        &json!({"action": "forward", "to_post_id": so_post, "remarks": "Please examine"}),
    );
    assert_eq!(m.status, 201, "{}", m.text);
    let t = track(&app, &diary_no, &code, "198.51.100.1");
    assert_eq!(t.body["status"], "with_section", "{}", t.text);
    assert_eq!(t.body["section"], "Administration Section, MoITT");

    // Put up in a file: still no file number, no officer, no subject.
    let f =
        app.post_as(&so, "/api/v1/files", &json!({"subject": "Pension of Mr Rahim", "classification": "unclassified"}));
    assert_eq!(f.status, 201, "{}", f.text);
    let (file_id, file_no) = (f.body["id"].as_str().unwrap(), f.body["file_no"].as_str().unwrap());
    let p =
        app.post_as(&so, &format!("/api/v1/receipts/{id}/movements"), &json!({"action": "put_up", "file_id": file_id}));
    assert_eq!(p.status, 201, "{}", p.text);
    let t = track(&app, &diary_no, &code, "198.51.100.1");
    assert_eq!(t.body["status"], "put_up", "{}", t.text);
    let stages: Vec<&str> = t.body["stages"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["diarised", "with_section", "put_up"], "{}", t.text);
    let page = track_page(&app, &diary_no, &code, "198.51.100.1");
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    for r in [&t, &page] {
        for secret in
            [file_no, file_id, "Pension", "Rahim", "Section Officer", "so.moitt", "Please examine", &so_post, &id]
        {
            assert!(!r.text.contains(secret), "the tracking answer shows {secret:?}: {}", r.text);
        }
    }
    assert!(page.text.contains("Put up in a file"), "{}", page.text);

    // The slip: a PDF with the code as text and as a QR code of the link.
    let slip = r["tracking"]["slip_url"].as_str().unwrap();
    let path = &slip[slip.find("/track/").unwrap()..];
    let resp = ureq::get(&format!("{}{path}", app.base)).set("X-Forwarded-For", "198.51.100.1").call().unwrap();
    assert_eq!(resp.content_type(), "application/pdf");
    let mut pdf = Vec::new();
    resp.into_reader().read_to_end(&mut pdf).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    check_slip(&pdf, &diary_no, &code, r["tracking"]["url"].as_str().unwrap());
});

/// With poppler and zbar installed: the slip's text holds the diary number and
/// code, and its QR code reads back as the tracking link.
fn check_slip(pdf: &[u8], diary_no: &str, code: &str, url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("slip.pdf");
    std::fs::write(&file, pdf).unwrap();
    let Ok(text) = std::process::Command::new("pdftotext").arg(&file).arg("-").output() else {
        eprintln!("skipping the slip's text check: pdftotext (poppler-utils) is not installed");
        return;
    };
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains(diary_no) && text.contains(code), "{text}");
    let png = dir.path().join("slip");
    let made =
        std::process::Command::new("pdftoppm").args(["-png", "-r", "200", "-singlefile"]).arg(&file).arg(&png).status();
    assert!(made.unwrap().success());
    let Ok(read) =
        std::process::Command::new("zbarimg").args(["--quiet", "--raw"]).arg(png.with_extension("png")).output()
    else {
        eprintln!("skipping the slip's QR check: zbarimg (zbar-tools) is not installed");
        return;
    };
    assert_eq!(String::from_utf8_lossy(&read.stdout).trim(), url, "{}", String::from_utf8_lossy(&read.stderr));
}

both_backends!(wrong_codes_unknown_numbers_and_classified_letters_all_look_alike, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    // The registry clerk cleared higher for this test, to diarise a
    // confidential letter.
    {
        use daftar::store::schema::users;
        let mut c = app.db.writer().unwrap();
        diesel::update(users::table.filter(users::username.eq("registry.moitt")))
            .set(users::clearance.eq("confidential"))
            .execute(&mut *c)
            .unwrap();
    }
    let registry = app.login("registry.moitt");
    let open = diarise(&app, &registry, json!({"subject": "RTI request", "sender": "A citizen", "mode": "email"}));
    let diary_no = open["diary_no"].as_str().unwrap();
    let code = open["tracking"]["code"].as_str().unwrap();
    let wrong = if code.starts_with('0') { code.replacen('0', "1", 1) } else { format!("0{}", &code[1..]) };
    let unknown = {
        let (head, serial) = diary_no.rsplit_once('/').unwrap();
        format!("{head}/{:05}", serial.parse::<u32>().unwrap() + 500)
    };
    // A confidential letter gets no code, and tracking it with any code is
    // "no such letter".
    let secret = diarise(
        &app,
        &registry,
        json!({"subject": "Border matter", "sender": "Embassy", "mode": "hand", "classification": "confidential"}),
    );
    assert!(secret["tracking"].is_null(), "{secret}");
    let secret_no = secret["diary_no"].as_str().unwrap();
    // A letter from within the government is not tracked either.
    let internal = diarise(
        &app,
        &registry,
        json!({"subject": "Circular", "sender": "Cabinet Division", "mode": "post", "external": false}),
    );
    assert!(internal["tracking"].is_null(), "{internal}");

    // Each from its own address, so none is slowed down here.
    let ask = |d: &str, c: &str, i: u8| {
        (track(&app, d, c, &format!("203.0.113.{i}")), track_page(&app, d, c, &format!("203.0.113.{}", i + 100)))
    };
    let (wrong_json, wrong_html) = ask(diary_no, &wrong, 1);
    let (unknown_json, unknown_html) = ask(&unknown, code, 2);
    let (secret_json, secret_html) = ask(secret_no, code, 3);
    let (garbage_json, garbage_html) = ask(diary_no, "not-a-code", 4);
    let (internal_json, _) = ask(internal["diary_no"].as_str().unwrap(), code, 5);
    assert_eq!(wrong_json.status, 404, "{}", wrong_json.text);
    assert_eq!(wrong_html.status, 404, "{}", wrong_html.text);
    for other in [&unknown_json, &secret_json, &garbage_json, &internal_json] {
        assert_eq!(answer(other), answer(&wrong_json), "JSON answers differ");
    }
    for other in [&unknown_html, &secret_html, &garbage_html] {
        assert_eq!(answer(other), answer(&wrong_html), "HTML answers differ");
    }
    assert!(!wrong_html.text.contains(diary_no));
});

both_backends!(guessing_codes_from_one_address_is_slowed_down, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let registry = app.login("registry.moitt");
    let r = diarise(&app, &registry, json!({"subject": "Complaint", "sender": "A citizen", "mode": "post"}));
    let diary_no = r["diary_no"].as_str().unwrap();
    let code = r["tracking"]["code"].as_str().unwrap();
    let mut slowed = 0;
    let mut retry_after = None;
    for i in 0..100 {
        let guess = format!("{:016}", 1_000_000_000_000_000u64 + i);
        let t = track(&app, diary_no, &guess, "192.0.2.77");
        match t.status {
            404 => {}
            429 => {
                slowed += 1;
                retry_after = t.header("retry-after").map(str::to_owned);
            }
            s => panic!("unexpected {s}: {}", t.text),
        }
    }
    assert!(slowed >= 90, "only {slowed} of 100 wrong guesses were slowed down");
    assert!(retry_after.is_some_and(|s| s.parse::<u64>().unwrap() >= 1));
    // The guesser's right code waits too; another address is not affected.
    assert_eq!(track(&app, diary_no, code, "192.0.2.77").status, 429);
    assert_eq!(track(&app, diary_no, code, "192.0.2.78").status, 200);
});
