//! Receipts (dak) move like files: due dates, priority, return and recall;
//! their scans are judged by content; and what is put up in a file never
//! sits above the file's classification.

use serde_json::{Value, json};

use crate::both_backends;
use crate::documents::{PNG, multipart, post_multipart};
use crate::helpers::my_post;
use crate::helpers::{TestApp, spawn_app};

fn diarise(app: &TestApp, registry: &str, body: Value) -> String {
    let r = app.post_as(registry, "/api/v1/receipts", &body);
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

both_backends!(receipts_carry_due_dates_and_come_back, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let registry = app.login("registry.moitt");
    let so = app.login("so.moitt");
    let (registry_post, so_post) = (my_post(&app, &registry), my_post(&app, &so));
    let id = diarise(&app, &registry, json!({"subject": "Reminder from PM Office", "sender": "PMO", "mode": "email"}));
    let moves = format!("/api/v1/receipts/{id}/movements");

    // Forwarded with a due date already past and a higher priority: the
    // receiver's inbox shows it first and overdue.
    let routine = diarise(&app, &registry, json!({"subject": "Routine circular", "sender": "CAB", "mode": "post"}));
    let r = app.post_as(
        &registry,
        &format!("/api/v1/receipts/{routine}/movements"),
        &json!({"action": "forward", "to_post_id": so_post}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.post_as(
        &registry,
        &moves,
        &json!({"action": "forward", "to_post_id": so_post, "due_at": "2020-01-01T12:00:00Z",
                "priority": "most_immediate", "remarks": "Reply today"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["priority"], "most_immediate");
    let inbox = app.get_as(&so, "/api/v1/inbox?kind=receipts");
    let items = inbox.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", inbox.text);
    assert_eq!(items[0]["id"], id.as_str(), "most urgent first: {}", inbox.text);
    assert_eq!(items[0]["overdue"], true);
    assert!(items[0]["due_at"].as_str().unwrap().starts_with("2020-01-01T12:00:00"), "{}", inbox.text);
    assert_eq!(items[1]["overdue"], false);

    // Bad fields are named.
    for (body, field) in [
        (json!({"action": "return", "due_at": "tomorrow"}), "due_at"),
        (json!({"action": "return", "priority": "whenever"}), "priority"),
        (json!({"action": "return", "remarks": "a\u{0}b"}), "remarks"),
    ] {
        let r = app.post_as(&so, &moves, &body);
        assert_eq!(r.status, 400, "{}", r.text);
        assert!(r.body["error"]["details"]["fields"][field].is_string(), "{}", r.text);
    }

    // Returned to the registry; the registry recalls nothing it did not send
    // last, and the SO recalls their return until the registry opens it.
    let r = app.post_as(&so, &moves, &json!({"action": "return", "remarks": "Not for this section"}));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["holder_post"]["id"], registry_post.as_str());
    let r = app.post_as(&so, &moves, &json!({"action": "recall"}));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["holder_post"]["id"], so_post.as_str());
    let r = app.post_as(&so, &moves, &json!({"action": "return"}));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(app.get_as(&registry, &format!("/api/v1/receipts/{id}")).status, 200, "opened by the registry");
    let r = app.post_as(&so, &moves, &json!({"action": "recall"}));
    assert_eq!(r.status, 409, "opened: too late to recall: {}", r.text);
});

both_backends!(receipt_scans_are_judged_by_content_and_role, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let registry = app.login("registry.moitt");
    let so = app.login("so.moitt");
    let fields = [("subject", "Scanned letter"), ("sender", "PTA"), ("mode", "post")];
    // An executable named .pdf.
    let (ctype, body) = multipart(&fields, Some(("letter.pdf", b"\x7fELF\x02\x01\x01\x00 payload")));
    let (status, err) = post_multipart(&app, &registry, "/api/v1/receipts", &ctype, &body);
    assert_eq!(status, 415, "{err}");
    assert_eq!(err["error"]["code"], "unsupported_media_type");
    // Someone who may not diarise is refused before anything is stored.
    let (ctype, body) = multipart(&fields, Some(("scan.png", PNG)));
    let (status, err) = post_multipart(&app, &so, "/api/v1/receipts", &ctype, &body);
    assert_eq!(status, 403, "{err}");
    let blobs = app.test_db.dir.path().join("blobs");
    let stored = walk(&blobs);
    assert_eq!(stored, 0, "nothing was stored for a refused or bad upload");
    // And nothing was diarised: the next number is still the first.
    let (status, ok) = post_multipart(&app, &registry, "/api/v1/receipts", &ctype, &body);
    assert_eq!(status, 201, "{ok}");
    assert!(ok["diary_no"].as_str().unwrap().ends_with("/00001"), "{ok}");
});

fn walk(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                usize::from(!e.file_name().to_string_lossy().starts_with('.'))
            }
        })
        .sum()
}

both_backends!(a_receipt_goes_only_into_a_file_cleared_for_it, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let registry = app.login("registry.moitt");
    let ds = app.login("ds.moitt");
    let ds_post = my_post(&app, &ds);
    let id = diarise(
        &app,
        &registry,
        json!({"subject": "Vendor dispute", "sender": "AGPR", "mode": "hand", "classification": "restricted"}),
    );
    let r = app.post_as(
        &registry,
        &format!("/api/v1/receipts/{id}/movements"),
        &json!({"action": "forward", "to_post_id": ds_post}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let plain = app.post_as(&ds, "/api/v1/files", &json!({"subject": "Open file", "classification": "unclassified"}));
    let plain = plain.body["id"].as_str().unwrap().to_owned();
    let r =
        app.post_as(&ds, &format!("/api/v1/receipts/{id}/movements"), &json!({"action": "put_up", "file_id": plain}));
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("restricted"), "{}", r.text);
    let cleared = app.post_as(&ds, "/api/v1/files", &json!({"subject": "Dispute", "classification": "restricted"}));
    let cleared = cleared.body["id"].as_str().unwrap().to_owned();
    let r =
        app.post_as(&ds, &format!("/api/v1/receipts/{id}/movements"), &json!({"action": "put_up", "file_id": cleared}));
    assert_eq!(r.status, 201, "{}", r.text);
    // The receipt names its file only to those who may see the file.
    assert_eq!(r.body["file"]["id"], cleared.as_str());
});

/// As for a file: a recall that crosses the holder's first opening of the
/// receipt is refused (PostgreSQL; see [`crate::helpers::crossing`]).
#[test]
fn a_receipt_recall_that_crosses_the_first_opening_is_refused() {
    let Some(app) = spawn_app(crate::helpers::Backend::Postgres) else { return };
    let registry = app.login("registry.moitt");
    let so = app.login("so.moitt");
    let so_post = my_post(&app, &so);
    let id = diarise(&app, &registry, json!({"subject": "Letter racing its opening", "sender": "PMO", "mode": "post"}));
    let moves = format!("/api/v1/receipts/{id}/movements");
    let r = app.post_as(&registry, &moves, &json!({"action": "forward", "to_post_id": so_post}));
    assert_eq!(r.status, 201, "{}", r.text);
    let (opened, recalled) = crate::helpers::crossing(
        &app,
        "receipts",
        &id,
        || app.get_as(&so, &format!("/api/v1/receipts/{id}")),
        || app.post_as(&registry, &moves, &json!({"action": "recall"})),
    );
    assert_eq!(opened.status, 200, "{}", opened.text);
    assert_eq!((recalled.status, recalled.body["error"]["code"].as_str()), (409, Some("stale")), "{}", recalled.text);
    let r = app.post_as(&registry, &moves, &json!({"action": "recall"}));
    assert_eq!(r.status, 409, "opened: too late to recall: {}", r.text);
    assert_eq!(app.get_as(&so, &format!("/api/v1/receipts/{id}")).body["holder_post"]["id"], so_post.as_str());
}
