//! Full-text search through the real server: found soon after writing, in
//! Urdu whichever variant is typed, by file number as written; never a hit,
//! or a count, the caller may not see; and an index that catches up by
//! itself after its server was killed.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{TestApp, my_post, spawn_app};
use crate::signing::note_and_sign;

fn search(app: &TestApp, token: &str, q: &str) -> Value {
    let url = format!("/api/v1/search?q={}", urlencode(q));
    let r = app.get_as(token, &url);
    assert_eq!(r.status, 200, "{q}: {}", r.text);
    r.body
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Polls until `q` finds something for `token`; the time it took.
fn found_within(app: &TestApp, token: &str, q: &str, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if search(app, token, q)["total"].as_u64().unwrap_or(0) > 0 {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn new_file(app: &TestApp, token: &str, subject: &str) -> Value {
    let r = app.post_as(token, "/api/v1/files", &json!({"subject": subject}));
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

both_backends!(a_signed_note_is_found_by_its_words_soon_after, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let file = new_file(&app, &so, "Broadband for tehsil offices");
    let id = file["id"].as_str().unwrap();
    note_and_sign(&app, &so, id, "The zebracrossing survey of fibre routes is attached for approval.");
    let took = found_within(&app, &so, "zebracrossing", Duration::from_secs(10)).expect("the note is found");
    eprintln!("found {took:?} after signing");
    let r = search(&app, &so, "zebracrossing");
    let hit = &r["items"][0];
    assert_eq!((hit["kind"].as_str(), hit["file_id"].as_str()), (Some("note"), Some(id)));
    assert!(hit["snippet"].as_str().unwrap().contains("<b>zebracrossing</b>"), "{hit}");
    assert_eq!(r["facets"]["kind"]["note"], 1, "{r}");
    // English stemming: surveys / routing find survey / routes.
    assert!(search(&app, &so, "zebracrossing surveys")["total"].as_u64() >= Some(1));
    // The file by its number, as written.
    let no = file["file_no"].as_str().unwrap();
    let r = search(&app, &so, &format!("\"{no}\""));
    assert!(r["items"].as_array().unwrap().iter().any(|h| h["kind"] == "file" && h["file_id"] == id), "{no}: {r}");
    // Bad syntax is a 400 that says where.
    let r = app.get_as(&so, &format!("/api/v1/search?q={}", urlencode("\"unclosed")));
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["error"]["details"]["position"], 0, "{}", r.text);
    assert_eq!(app.get_as(&so, "/api/v1/search").status, 400, "q is required");
    assert_eq!(app.get_as(&so, "/api/v1/search?q=x&kind=memo").status, 400);
    assert_eq!(app.get("/api/v1/search?q=x").status, 401);
});

both_backends!(urdu_is_found_whichever_variant_is_typed, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let file = new_file(&app, &so, "ڈاک خانہ جات کی ڈیجیٹل کاری");
    let id = file["id"].as_str().unwrap();
    // Typed on an Urdu keyboard: keheh, Farsi yeh, heh goal.
    note_and_sign(&app, &so, id, "پاکستان کی حکومت نے ای آفس کا حکم دیا ہے۔");
    assert!(found_within(&app, &so, "حکومت", Duration::from_secs(10)).is_some());
    // Searched with Arabic kaf and yeh, with diacritics, with tatweel.
    for q in ["پاكستان", "حُکومت", "حكومـت", "پاکستان كي"] {
        let r = search(&app, &so, q);
        assert!(r["items"].as_array().unwrap().iter().any(|h| h["file_id"] == id), "{q} did not find the note: {r}");
    }
    // Arabic heh in the subject's خانہ still finds it.
    assert!(search(&app, &so, "خانه")["total"].as_u64() >= Some(1));
});

both_backends!(search_shows_and_counts_only_what_may_be_seen, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let [so, ds, moc] = ["so.moitt", "ds.moitt", "so.moc"].map(|u| app.login(u));
    let file = new_file(&app, &so, "Quokkaville connectivity");
    let id = file["id"].as_str().unwrap();
    note_and_sign(&app, &so, id, "Signed quokkaville paragraph.");
    // A draft: only its author finds it.
    let r = app.post_as(&so, &format!("/api/v1/files/{id}/notes"), &json!({"body": "Draft quokkaville musing."}));
    assert_eq!(r.status, 201);
    assert!(found_within(&app, &so, "musing", Duration::from_secs(10)).is_some());
    let mine = search(&app, &so, "quokkaville");
    assert_eq!(mine["total"], 3, "file, signed note and own draft: {mine}");
    // Another ministry: nothing, not even a count.
    let theirs = search(&app, &moc, "quokkaville");
    assert_eq!((theirs["total"].as_u64(), theirs["items"].as_array().unwrap().len()), (Some(0), 0), "{theirs}");
    assert!(theirs["facets"]["kind"].as_object().unwrap().is_empty());
    // The DS sees it once it is marked to them, but not the SO's draft.
    let before = search(&app, &ds, "quokkaville");
    assert_eq!(before["total"], 0, "{before}");
    // A file marked to the DS: found by the DS from then on.
    let clean = new_file(&app, &so, "Quokkaville second file");
    let cid = clean["id"].as_str().unwrap();
    let ds_post = my_post(&app, &ds);
    let r = app.post_as(
        &so,
        &format!("/api/v1/files/{cid}/movements"),
        &json!({"action": "forward", "to_post_id": ds_post}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = search(&app, &ds, "quokkaville");
        if r["total"] == 1 {
            assert_eq!(r["items"][0]["file_id"], cid, "{r}");
            break;
        }
        assert!(Instant::now() < deadline, "the DS never found the file marked to them: {r}");
        std::thread::sleep(Duration::from_millis(50));
    }
});

/// A `daftar serve --demo` process over `db`, with its index in `index`.
fn serve(db: &crate::helpers::TestDb, index: &std::path::Path) -> (std::process::Child, u16) {
    crate::helpers::serve_process(db, &[("DAFTAR_SEARCH__INDEX_DIR", index.display().to_string())])
}

fn remote(port: u16, db: &crate::helpers::TestDb) -> TestApp {
    TestApp::remote(format!("http://127.0.0.1:{port}"), db)
}

both_backends!(an_index_catches_up_by_itself_after_its_server_was_killed, |backend| {
    let Some(db) = crate::helpers::fresh_db(backend) else { return };
    let (mine, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut a, port) = serve(&db, mine.path());
    let app = remote(port, &db);
    let so = app.login("so.moitt");
    let file = new_file(&app, &so, "Before the crash");
    note_and_sign(&app, &so, file["id"].as_str().unwrap(), "An alphaquill paragraph.");
    assert!(found_within(&app, &so, "alphaquill", Duration::from_secs(10)).is_some());
    a.kill().unwrap();
    a.wait().unwrap();
    // While it is down, another server (with an index of its own) records a note.
    let (mut b, port_b) = serve(&db, other.path());
    let app_b = remote(port_b, &db);
    let so_b = app_b.login("so.moitt");
    let file = new_file(&app_b, &so_b, "While it was down");
    note_and_sign(&app_b, &so_b, file["id"].as_str().unwrap(), "A betaquill paragraph.");
    assert!(found_within(&app_b, &so_b, "betaquill", Duration::from_secs(10)).is_some());
    b.kill().unwrap();
    b.wait().unwrap();
    // The first comes back on its own index: it catches up from the ledger.
    let (mut a, port) = serve(&db, mine.path());
    let app = remote(port, &db);
    let so = app.login("so.moitt");
    let caught_up = found_within(&app, &so, "betaquill", Duration::from_secs(20));
    let before = search(&app, &so, "alphaquill")["total"].clone();
    a.kill().unwrap();
    a.wait().unwrap();
    assert!(caught_up.is_some(), "the note written while the server was down was never found");
    assert_eq!(before, 1);
});

/// A one-page PDF whose text layer says `text`.
fn pdf_with_text(text: &str) -> Vec<u8> {
    use lopdf::content::{Content, Operation};
    use lopdf::{Document, Object, Stream, dictionary};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {"Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Courier"});
    let resources_id = doc.add_object(dictionary! {"Font" => dictionary! {"F1" => font_id}});
    let content = Content {
        operations: vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 12.into()]),
            Operation::new("Td", vec![72.into(), 700.into()]),
            Operation::new("Tj", vec![Object::string_literal(text)]),
            Operation::new("ET", vec![]),
        ],
    };
    let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
    let page_id = doc.add_object(dictionary! {"Type" => "Page", "Parent" => pages_id, "Contents" => content_id});
    let pages = dictionary! {
        "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1, "Resources" => resources_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    };
    doc.objects.insert(pages_id, Object::Dictionary(pages));
    let catalog_id = doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => pages_id});
    doc.trailer.set("Root", catalog_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

both_backends!(the_text_of_an_attached_pdf_is_found, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let file = new_file(&app, &so, "Tender documents");
    let id = file["id"].as_str().unwrap();
    let pdf = pdf_with_text("Bid security of the narwhalcorp consortium");
    let (ctype, body) =
        crate::documents::multipart(&[("title", "Bid evaluation"), ("kind", "enclosure")], Some(("bid.pdf", &pdf)));
    let (status, doc) =
        crate::documents::post_multipart(&app, &so, &format!("/api/v1/files/{id}/documents"), &ctype, &body);
    assert_eq!(status, 201, "{doc}");
    // The title at once; the text once the worker has taken it out.
    assert!(found_within(&app, &so, "evaluation", Duration::from_secs(10)).is_some());
    assert!(
        found_within(&app, &so, "narwhalcorp", Duration::from_secs(20)).is_some(),
        "the PDF's text was never found"
    );
    let r = search(&app, &so, "narwhalcorp");
    assert_eq!((r["items"][0]["kind"].as_str(), r["items"][0]["file_id"].as_str()), (Some("document"), Some(id)));
    // A file that is not a PDF at all, labelled as one, is refused or indexed by name only: never a 500.
    assert_eq!(app.get_as(&so, "/api/v1/search?q=consortium").status, 200);
});

#[test]
fn the_search_benchmark_runs_at_a_small_size() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_daftar"))
        .args(["bench", "search"])
        .env("DAFTAR_BENCH_NOTES", "2000")
        .env("DAFTAR_BENCH_ROUNDS", "1")
        .env("DAFTAR_LOG", "warn")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("| Daftar (tantivy) |") && text.contains("| SQLite FTS5 |"), "{text}");
}
