//! The e-file through the real server: opening files, notes, movements, the
//! inbox and timeline, concurrency, and who may see what.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::my_post;
use crate::helpers::{TestApp, spawn_app};

fn create_file(app: &TestApp, token: &str, body: Value) -> Value {
    let r = app.post_as(token, "/api/v1/files", &body);
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

fn forward(app: &TestApp, token: &str, file: &str, to: &str) -> crate::helpers::Reply {
    app.post_as(token, &format!("/api/v1/files/{file}/movements"), &json!({"action": "forward", "to_post_id": to}))
}

both_backends!(files_move_along_the_chain, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let ds = app.login("ds.moitt");
    let js = app.login("js.moitt");
    let (so_post, ds_post, js_post) = (my_post(&app, &so), my_post(&app, &ds), my_post(&app, &js));
    let year = daftar::clock::today().format("%Y").to_string();

    let file = create_file(
        &app,
        &so,
        json!({"subject": "Procurement of laptops for IT wing", "priority": "immediate", "head": "7"}),
    );
    assert_eq!(file["file_no"], format!("No. 7-1/{year}-IT(Admin)"));
    assert_eq!(file["holder_post"]["id"], so_post.as_str());
    assert_eq!(file["section"]["code"], "IT(Admin)");
    assert_eq!(file["status"], "open");
    let id = file["id"].as_str().unwrap().to_owned();
    let second = create_file(&app, &so, json!({"subject": "Second file"}));
    assert_eq!(second["file_no"], format!("No. 1-2/{year}-IT(Admin)"));

    let inbox = app.get_as(&so, "/api/v1/inbox");
    assert_eq!(inbox.body["items"][0]["id"], id.as_str(), "immediate before routine: {}", inbox.text);
    assert_eq!(inbox.body["items"].as_array().unwrap().len(), 2);

    // SO forwards to DS with a due date; DS sees it unopened, then opens it.
    let r = app.post_as(
        &so,
        &format!("/api/v1/files/{id}/movements"),
        &json!({"action": "forward", "to_post_id": ds_post, "remarks": "Please examine", "due_at": "2020-01-01T00:00:00Z"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["action"], "forward");
    let ds_inbox = app.get_as(&ds, "/api/v1/inbox?kind=files");
    let entry = &ds_inbox.body["items"][0];
    assert_eq!(entry["id"], id.as_str());
    assert_eq!(entry["from_post"]["id"], so_post.as_str());
    assert_eq!(entry["opened"], false);
    assert_eq!(entry["overdue"], true);
    assert_eq!(app.get_as(&so, "/api/v1/inbox").body["items"].as_array().unwrap().len(), 1);
    let sent = app.get_as(&so, "/api/v1/sent");
    assert_eq!(sent.body["items"][0]["now_with"]["id"], ds_post.as_str());

    let shown = app.get_as(&ds, &format!("/api/v1/files/{id}"));
    assert_eq!(shown.status, 200);
    assert_eq!(app.get_as(&ds, "/api/v1/inbox").body["items"][0]["opened"], true);

    // Opened: SO can no longer recall it.
    let r = app.post_as(&so, &format!("/api/v1/files/{id}/movements"), &json!({"action": "recall"}));
    assert_eq!(r.status, 409, "{}", r.text);
    // Only the holder moves it.
    let r = forward(&app, &so, &id, &js_post);
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (409, Some("not_holder")), "{}", r.text);

    assert_eq!(forward(&app, &ds, &id, &js_post).status, 201);
    // JS returns it with remarks: it goes back to DS.
    let r = app.post_as(
        &js,
        &format!("/api/v1/files/{id}/movements"),
        &json!({"action": "return", "remarks": "Justify the quantity"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["to_post"]["id"], ds_post.as_str());

    let timeline = app.get_as(&so, &format!("/api/v1/files/{id}/movements"));
    let steps: Vec<(String, String)> = timeline.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (m["action"].as_str().unwrap().to_owned(), m["to_post"]["designation"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("forward".to_owned(), "deputy_secretary".to_owned()),
            ("forward".to_owned(), "joint_secretary".to_owned()),
            ("return".to_owned(), "deputy_secretary".to_owned())
        ]
    );
    let first = &timeline.body["items"][0];
    assert_eq!(first["by_user"]["name"], "Section Officer (Admin-I) MoITT");
    assert!(first["sent_at"].as_str().unwrap().ends_with('Z'));
    assert!(first["opened_at"].is_string());
    assert_eq!(timeline.body["items"][2]["remarks"], "Justify the quantity");

    // Recall before it is opened works for the sender.
    let r = forward(&app, &ds, &id, &js_post);
    assert_eq!(r.status, 201);
    let r = app.post_as(&ds, &format!("/api/v1/files/{id}/movements"), &json!({"action": "recall"}));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(app.get_as(&ds, &format!("/api/v1/files/{id}")).body["holder_post"]["id"], ds_post.as_str());
});

both_backends!(drafts_must_be_signed_before_moving, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let ds_post = my_post(&app, &app.login("ds.moitt"));
    let file = create_file(&app, &so, json!({"subject": "Notes"}));
    let id = file["id"].as_str().unwrap();
    let urdu = "یہ فائل منظوری کے لیے پیش ہے۔\n\nبراہ کرم ملاحظہ فرمائیں۔";
    let r = app.post_as(&so, &format!("/api/v1/files/{id}/notes"), &json!({"body": urdu}));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!((r.body["seq"].as_i64(), r.body["status"].as_str()), (Some(1), Some("draft")));
    assert_eq!(r.body["body"], urdu, "Urdu is returned exactly");
    let note = r.body["id"].as_str().unwrap().to_owned();
    let r = app.post_as(&so, &format!("/api/v1/files/{id}/notes"), &json!({"body": "Para 2"}));
    assert_eq!(r.body["seq"], 2);
    let r = app.request(
        "PATCH",
        &format!("/api/v1/files/{id}/notes/{note}"),
        &[("Authorization", &format!("Bearer {so}")), ("Content-Type", "application/json")],
        Some(&json!({"body": "Edited para 1"}).to_string()),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["body"], "Edited para 1");
    let r = forward(&app, &so, id, &ds_post);
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (409, Some("unsigned_notes")), "{}", r.text);
    // Bad note bodies are 400s.
    for body in [json!({"body": "   "}), json!({"body": "a\u{0}b"}), json!({"text": "x"})] {
        assert_eq!(app.post_as(&so, &format!("/api/v1/files/{id}/notes"), &body).status, 400, "{body}");
    }
});

both_backends!(nobody_sees_what_they_may_not, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let js = app.login("js.moitt");
    let moc = app.login("secretary.moc");
    let it_admin = app.get_as(&so, "/api/v1/me").body["posts"][0]["org_unit"]["id"].as_str().unwrap().to_owned();

    let open = create_file(&app, &so, json!({"subject": "Ordinary file"}));
    let open_id = open["id"].as_str().unwrap();
    // Another ministry: 404, exactly like an id that does not exist.
    let theirs = app.get_as(&moc, &format!("/api/v1/files/{open_id}"));
    let missing = app.get_as(&moc, "/api/v1/files/0000000000000000000000000000dead");
    assert_eq!((theirs.status, missing.status), (404, 404));
    assert_eq!(theirs.body, missing.body);
    assert_eq!(app.get_as(&moc, &format!("/api/v1/files/{open_id}/movements")).status, 404);
    assert_eq!(app.post_as(&moc, &format!("/api/v1/files/{open_id}/notes"), &json!({"body": "x"})).status, 404);
    assert_eq!(forward(&app, &moc, open_id, "anything").status, 404);

    // A secret file of SO's own section, opened by JS: SO cannot see it anywhere.
    let secret =
        create_file(&app, &js, json!({"subject": "Secret matter", "classification": "secret", "section_id": it_admin}));
    let secret_id = secret["id"].as_str().unwrap();
    assert_eq!(secret["section"]["code"], "IT(Admin)");
    assert_eq!(app.get_as(&so, &format!("/api/v1/files/{secret_id}")).status, 404);
    assert_eq!(app.get_as(&so, &format!("/api/v1/files/{secret_id}/movements")).status, 404);
    // Nor can it be sent to a desk whose holder is not cleared for it.
    let so_post = my_post(&app, &so);
    // (The request is well formed; who holds the desk today is what refuses it.)
    let r = forward(&app, &js, secret_id, &so_post);
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.body["error"]["message"].as_str().unwrap().starts_with("to_post_id:"), "{}", r.text);
    let inbox = app.get_as(&so, "/api/v1/inbox");
    assert!(!inbox.text.contains(secret_id));
    // Nobody creates above their own clearance.
    let r = app.post_as(&so, "/api/v1/files", &json!({"subject": "x", "classification": "top_secret"}));
    assert_eq!(r.status, 403);
    // Nor a file owned by another ministry's section; a section that does not exist is 404.
    let comm = app.get_as(&moc, "/api/v1/me").body["posts"][0]["org_unit"]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.post_as(&so, "/api/v1/files", &json!({"subject": "x", "section_id": comm})).status, 403);
    assert_eq!(app.post_as(&so, "/api/v1/files", &json!({"subject": "x", "section_id": "nowhere"})).status, 404);
});

both_backends!(exactly_one_of_many_simultaneous_moves_wins, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let targets: Vec<String> =
        ["ds.moitt", "js.moitt", "secretary.moitt"].iter().map(|u| my_post(&app, &app.login(u))).collect();
    let file = create_file(&app, &so, json!({"subject": "Contended file"}));
    let id = file["id"].as_str().unwrap().to_owned();
    let statuses: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50)
            .map(|i| {
                let (app, so, id, to) = (&app, &so, &id, targets[i % targets.len()].clone());
                s.spawn(move || {
                    let r = forward(app, so, id, &to);
                    (r.status, r.body["error"]["code"].as_str().unwrap_or("").to_owned())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won = statuses.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(won, 1, "{statuses:?}");
    assert!(
        statuses.iter().all(|(s, code)| *s == 201 || (*s == 409 && (code == "stale" || code == "not_holder"))),
        "{statuses:?}"
    );
    let timeline = app.get_as(&so, &format!("/api/v1/files/{id}/movements"));
    assert_eq!(timeline.body["items"].as_array().unwrap().len(), 1);
    let holder = app.get_as(&so, &format!("/api/v1/files/{id}")).body["holder_post"]["id"].as_str().unwrap().to_owned();
    assert!(targets.contains(&holder));
});

both_backends!(concurrent_creations_get_consecutive_serials, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let numbers: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..100)
            .map(|i| {
                let (app, so) = (&app, &so);
                s.spawn(move || {
                    let r = app.post_as(so, "/api/v1/files", &json!({"subject": format!("File {i}")}));
                    assert_eq!(r.status, 201, "{}", r.text);
                    r.body["file_no"].as_str().unwrap().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let serials: HashSet<i64> =
        numbers.iter().map(|n| n.trim_start_matches("No. 1-").split('/').next().unwrap().parse().unwrap()).collect();
    assert_eq!(serials, (1..=100).collect::<HashSet<i64>>(), "{numbers:?}");
});

both_backends!(park_close_reopen_and_links, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let ds = app.login("ds.moitt");
    let ds_post = my_post(&app, &ds);
    let a = create_file(&app, &so, json!({"subject": "Main file"}))["id"].as_str().unwrap().to_owned();
    let b = create_file(&app, &so, json!({"subject": "Part file"}))["id"].as_str().unwrap().to_owned();
    let act = |token: &str, file: &str, action: &str| {
        app.post_as(token, &format!("/api/v1/files/{file}/movements"), &json!({"action": action}))
    };
    assert_eq!(act(&so, &a, "park").status, 201);
    assert_eq!(app.get_as(&so, &format!("/api/v1/files/{a}")).body["status"], "parked");
    assert!(!app.get_as(&so, "/api/v1/inbox").text.contains(&a), "parked files leave the inbox");
    assert_eq!(forward(&app, &so, &a, &ds_post).status, 409, "a parked file does not move");
    assert_eq!(act(&so, &a, "unpark").status, 201);
    // A desk outside the owning section cannot close it.
    assert_eq!(forward(&app, &so, &a, &ds_post).status, 201);
    let r = act(&ds, &a, "close");
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(app.post_as(&ds, &format!("/api/v1/files/{a}/movements"), &json!({"action": "return"})).status, 201);
    assert_eq!(act(&so, &a, "close").status, 201);
    assert_eq!(app.get_as(&so, &format!("/api/v1/files/{a}")).body["status"], "closed");
    assert_eq!(act(&so, &a, "reopen").status, 201);
    assert_eq!(app.get_as(&so, &format!("/api/v1/files/{a}")).body["status"], "open");

    let r = app.post_as(&so, &format!("/api/v1/files/{a}/links"), &json!({"file_id": b, "kind": "part_file"}));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        app.post_as(&so, &format!("/api/v1/files/{a}/links"), &json!({"file_id": b, "kind": "part_file"})).status,
        409
    );
    assert_eq!(
        app.post_as(&so, &format!("/api/v1/files/{a}/links"), &json!({"file_id": a, "kind": "reference"})).status,
        409
    );
    assert_eq!(
        app.post_as(&so, &format!("/api/v1/files/{a}/links"), &json!({"file_id": b, "kind": "cousin"})).status,
        400
    );
    let links = app.get_as(&so, &format!("/api/v1/files/{a}")).body["links"].clone();
    assert_eq!(links[0]["file_id"], b.as_str());
    assert_eq!(links[0]["kind"], "part_file");
    // Unknown actions and malformed bodies are 400s, never 500s.
    assert_eq!(act(&so, &a, "teleport").status, 400);
    assert_eq!(
        app.request(
            "POST",
            &format!("/api/v1/files/{a}/movements"),
            &[("Authorization", &format!("Bearer {so}")), ("Content-Type", "application/json")],
            Some("{")
        )
        .status,
        400
    );
    let r = app.post_as(
        &so,
        &format!("/api/v1/files/{a}/movements"),
        &json!({"action": "forward", "to_post_id": ds_post, "due_at": "tomorrow"}),
    );
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["details"]["fields"]["due_at"].is_string());
});

both_backends!(a_desk_keeps_sight_of_what_passed_it_and_no_more, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let ds = app.login("ds.moitt");
    let js = app.login("js.moitt");
    let secretary = app.login("secretary.moitt");
    let (ds_post, js_post) = (my_post(&app, &ds), my_post(&app, &js));
    let file = create_file(&app, &so, json!({"subject": "Passes the wing"}))["id"].as_str().unwrap().to_owned();
    // DS's wing does not own the file: DS sees it only while and after it passed the desk.
    assert_eq!(app.get_as(&ds, &format!("/api/v1/files/{file}")).status, 404);
    assert_eq!(forward(&app, &so, &file, &ds_post).status, 201);
    assert_eq!(app.get_as(&ds, &format!("/api/v1/files/{file}")).status, 200);
    assert_eq!(forward(&app, &ds, &file, &js_post).status, 201);
    // Moved on: DS still reads it (the desk's history), but cannot act on it.
    assert_eq!(app.get_as(&ds, &format!("/api/v1/files/{file}")).status, 200);
    assert_eq!(app.get_as(&ds, &format!("/api/v1/files/{file}/movements")).status, 200);
    let r = app.post_as(&ds, &format!("/api/v1/files/{file}/notes"), &json!({"body": "late word"}));
    assert_eq!(r.status, 409, "{}", r.text);
    // The Secretary, above them all but never at this desk nor in the section, sees nothing.
    assert_eq!(app.get_as(&secretary, &format!("/api/v1/files/{file}")).status, 404);
    assert!(!app.get_as(&secretary, "/api/v1/inbox").text.contains(&file));
});

both_backends!(urdu_priority_and_referral_through_the_server, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let ds = app.login("ds.moitt");
    let so_fin = app.login("so.fin");
    let (ds_post, fin_post) = (my_post(&app, &ds), my_post(&app, &so_fin));
    let file = create_file(&app, &so, json!({"subject": "بجٹ کی منظوری — Budget approval"}));
    let id = file["id"].as_str().unwrap().to_owned();
    // Urdu with right-to-left and zero-width marks comes back byte for byte, after storage.
    let urdu = "\u{200F}یہ فائل منظوری کے لیے پیش ہے۔\u{200C}\n\n  براہ کرم ملاحظہ فرمائیں۔ (۱۲۳)";
    let note = crate::signing::note_and_sign(&app, &so, &id, urdu);
    let shown = app.get_as(&so, &format!("/api/v1/files/{id}")).body;
    assert_eq!(shown["notes"][0]["body"], note["body"]);
    assert_eq!(shown["notes"][0]["body"].as_str().unwrap().as_bytes(), urdu.trim_end().as_bytes(), "{shown}");
    assert_eq!(shown["subject"], "بجٹ کی منظوری — Budget approval");

    // A movement can raise the priority: the receiver's inbox shows it.
    let r = app.post_as(
        &so,
        &format!("/api/v1/files/{id}/movements"),
        &json!({"action": "forward", "to_post_id": ds_post, "priority": "most_immediate"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["priority"], "most_immediate");
    let inbox = app.get_as(&ds, "/api/v1/inbox").body;
    assert_eq!(inbox["items"][0]["priority"], "most_immediate", "{inbox}");
    assert_eq!(app.get_as(&ds, &format!("/api/v1/files/{id}")).body["priority"], "most_immediate");

    // Referred to Finance for its view, it comes back to the referrer on return.
    let r = app.post_as(
        &ds,
        &format!("/api/v1/files/{id}/movements"),
        &json!({"action": "refer", "to_post_id": fin_post, "remarks": "Finance may see for concurrence"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(app.get_as(&so_fin, &format!("/api/v1/files/{id}")).status, 200, "the referred desk sees it");
    let r = app.post_as(&so_fin, &format!("/api/v1/files/{id}/movements"), &json!({"action": "return"}));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["to_post"]["id"], ds_post.as_str(), "back to the referrer: {}", r.text);
    let actions: Vec<String> = app.get_as(&so, &format!("/api/v1/files/{id}/movements")).body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["forward", "refer", "return"]);
});

both_backends!(clearance_hides_documents_even_within_the_section, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let ds = app.login("ds.moitt");
    let so = app.login("so.moitt");
    let section = app.get_as(&so, "/api/v1/me").body["posts"][0]["org_unit"]["id"].as_str().unwrap().to_owned();
    // The DS opens a confidential file in the SO's own section and attaches a letter.
    let file = create_file(
        &app,
        &ds,
        json!({"subject": "Confidential", "classification": "confidential", "section_id": section}),
    );
    let id = file["id"].as_str().unwrap().to_owned();
    let (ctype, body) = crate::documents::multipart(
        &[("title", "Letter"), ("kind", "enclosure")],
        Some(("a.pdf", crate::documents::PDF)),
    );
    let (status, doc) =
        crate::documents::post_multipart(&app, &ds, &format!("/api/v1/files/{id}/documents"), &ctype, &body);
    assert_eq!(status, 201, "{doc}");
    let doc = doc["id"].as_str().unwrap().to_owned();
    // The restricted SO of that section sees none of it.
    for path in [
        format!("/api/v1/files/{id}"),
        format!("/api/v1/files/{id}/movements"),
        format!("/api/v1/files/{id}/export"),
        format!("/api/v1/documents/{doc}/content"),
    ] {
        assert_eq!(app.get_as(&so, &path).status, 404, "{path}");
    }
    assert!(!app.get_as(&so, "/api/v1/inbox").text.contains(&id));
    // The DS moves it; the DS's sent shows it, nobody else's does.
    let js_post = my_post(&app, &app.login("js.moitt"));
    assert_eq!(forward(&app, &ds, &id, &js_post).status, 201);
    assert!(app.get_as(&ds, "/api/v1/sent").text.contains(&id));
    assert!(!app.get_as(&so, "/api/v1/sent").text.contains(&id));
    assert_eq!(
        app.get_as(&ds, &format!("/api/v1/documents/{doc}/content")).status,
        200,
        "a former holder still reads it"
    );
});

both_backends!(additional_charge_works_for_its_dates_only, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let ds = app.login("ds.moitt");
    let ds_post = my_post(&app, &ds);
    let file = create_file(&app, &so, json!({"subject": "While the DS is on leave"}));
    let id = file["id"].as_str().unwrap().to_owned();
    assert_eq!(forward(&app, &so, &id, &ds_post).status, 201);
    let js = app.login("js.moitt");
    let js_user = app.get_as(&js, "/api/v1/me").body["id"].as_str().unwrap().to_owned();
    let as_ds = |token: &str, path: &str| {
        app.request("GET", path, &[("Authorization", &format!("Bearer {token}")), ("X-Post-Id", &ds_post)], None)
    };
    assert_eq!(as_ds(&js, "/api/v1/inbox").status, 403, "not the JS's desk yet");

    // The JS holds additional charge of the DS desk from today for a week.
    let today = daftar::clock::today();
    let admin = app.login("admin");
    let assign = |starts: chrono::NaiveDate, ends: chrono::NaiveDate| {
        app.post_as(
            &admin,
            &format!("/api/v1/posts/{ds_post}/assignments"),
            &json!({"user_id": js_user, "kind": "additional_charge", "starts_on": starts.to_string(),
                    "ends_on": ends.to_string(), "primary": false}),
        )
    };
    let r = assign(today, today + chrono::Days::new(7));
    crate::helpers::done(&app, &r);
    let js = app.login("js.moitt");
    let inbox = as_ds(&js, "/api/v1/inbox");
    assert_eq!(inbox.status, 200, "{}", inbox.text);
    assert!(inbox.text.contains(&id), "{}", inbox.text);
    let r = app.request(
        "POST",
        &format!("/api/v1/files/{id}/movements"),
        &[("Authorization", &format!("Bearer {js}")), ("X-Post-Id", &ds_post), ("Content-Type", "application/json")],
        Some(&json!({"action": "return", "remarks": "Returned on behalf of DS"}).to_string()),
    );
    assert_eq!(r.status, 201, "acts for the desk: {}", r.text);
    assert_eq!(r.body["by_user"]["id"], js_user.as_str(), "{}", r.text);
    // Without the header the JS acts at their own desk, not the DS's.
    assert!(!app.get_as(&js, "/api/v1/inbox").text.contains(&id));

    // A charge that ended yesterday gives nothing.
    let fin_js = app.login("js.fin");
    let fin_user = app.get_as(&fin_js, "/api/v1/me").body["id"].as_str().unwrap().to_owned();
    let r = app.post_as(
        &admin,
        &format!("/api/v1/posts/{ds_post}/assignments"),
        &json!({"user_id": fin_user, "kind": "acting", "starts_on": (today - chrono::Days::new(10)).to_string(),
                "ends_on": (today - chrono::Days::new(1)).to_string(), "primary": false}),
    );
    crate::helpers::done(&app, &r);
    let fin_js = app.login("js.fin");
    assert_eq!(as_ds(&fin_js, "/api/v1/inbox").status, 403);
});

both_backends!(a_file_worked_on_cannot_be_recalled, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let ds = app.login("ds.moitt");
    let ds_post = my_post(&app, &ds);
    let file = create_file(&app, &so, json!({"subject": "Recall"}));
    let id = file["id"].as_str().unwrap().to_owned();
    let recall = || app.post_as(&so, &format!("/api/v1/files/{id}/movements"), &json!({"action": "recall"}));
    assert_eq!(forward(&app, &so, &id, &ds_post).status, 201);
    assert_eq!(recall().status, 201, "unopened: the sender may recall");
    assert_eq!(forward(&app, &so, &id, &ds_post).status, 201);
    // The DS writes a note without ever opening the file page: that is working on it.
    let r = app.post_as(&ds, &format!("/api/v1/files/{id}/notes"), &json!({"body": "Draft view of the DS"}));
    assert_eq!(r.status, 201, "{}", r.text);
    let r = recall();
    assert_eq!(r.status, 409, "{}", r.text);
});

both_backends!(an_upgraded_database_keeps_who_sent_each_file_and_whether_it_was_opened, |backend| {
    use daftar::store::{revert_migrations, run_migrations};
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let ds = app.login("ds.moitt");
    let (so_post, ds_post) = (my_post(&app, &so), my_post(&app, &ds));
    let id = |v: Value| v["id"].as_str().unwrap().to_owned();
    let opened = id(create_file(&app, &so, json!({"subject": "Opened before the upgrade"})));
    let unopened = id(create_file(&app, &so, json!({"subject": "Not opened at the upgrade"})));
    let own = id(create_file(&app, &ds, json!({"subject": "The deputy secretary's own"})));
    for file in [&opened, &unopened] {
        assert_eq!(forward(&app, &so, file, &ds_post).status, 201);
    }
    assert_eq!(app.get_as(&ds, &format!("/api/v1/files/{opened}")).status, 200);
    // What the DS's inbox says of each file: who sent it, and whether it was opened.
    let lines = || -> Vec<(String, Value, Value)> {
        let inbox = app.get_as(&ds, "/api/v1/inbox?kind=files");
        let mut lines: Vec<_> = inbox.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["id"].as_str().unwrap().to_owned(), i["from_post"]["id"].clone(), i["opened"].clone()))
            .collect();
        lines.sort_by(|a, b| a.0.cmp(&b.0));
        lines
    };
    let before = lines();
    let mut want = vec![
        (opened.clone(), json!(so_post), json!(true)),
        (unopened.clone(), json!(so_post), json!(false)),
        (own.clone(), Value::Null, json!(true)),
    ];
    want.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(before, want);
    // The database as the release before migration 25 left it (no sender or
    // opening kept on the file's row), upgraded: the rows are filled in from
    // the movements.
    {
        let mut conn = app.db.writer().unwrap();
        assert_eq!(revert_migrations(&mut conn, 1).unwrap(), 1);
        assert_eq!(run_migrations(&mut conn).unwrap().len(), 1);
    }
    assert_eq!(lines(), before, "the inbox after the upgrade");
    // A move reads the same: the opened file is past recall, the other is not.
    let recall =
        |file: &str| app.post_as(&so, &format!("/api/v1/files/{file}/movements"), &json!({"action": "recall"}));
    assert_eq!(recall(&opened).status, 409);
    assert_eq!(recall(&unopened).status, 201);
});

/// A recall that crosses the holder's first opening is refused: on
/// PostgreSQL the two can cross (see [`crate::helpers::crossing`]); on
/// SQLite every write transaction runs alone on the one writer.
#[test]
fn a_recall_that_crosses_the_first_opening_is_refused() {
    let Some(app) = spawn_app(crate::helpers::Backend::Postgres) else { return };
    let so = app.login("so.moitt");
    let ds = app.login("ds.moitt");
    let ds_post = my_post(&app, &ds);
    let file = create_file(&app, &so, json!({"subject": "Recall racing the first opening"}));
    let id = file["id"].as_str().unwrap().to_owned();
    assert_eq!(forward(&app, &so, &id, &ds_post).status, 201);
    let moves = format!("/api/v1/files/{id}/movements");
    let (opened, recalled) = crate::helpers::crossing(
        &app,
        "files",
        &id,
        || app.get_as(&ds, &format!("/api/v1/files/{id}")),
        || app.post_as(&so, &moves, &json!({"action": "recall"})),
    );
    assert_eq!(opened.status, 200, "{}", opened.text);
    assert_eq!((recalled.status, recalled.body["error"]["code"].as_str()), (409, Some("stale")), "{}", recalled.text);
    // The file stays with the DS, opened; asked again, the recall is refused.
    let inbox = app.get_as(&ds, "/api/v1/inbox");
    let line = inbox.body["items"].as_array().unwrap().iter().find(|i| i["id"] == id.as_str()).cloned();
    assert_eq!(line.map(|l| l["opened"].clone()), Some(json!(true)), "{}", inbox.text);
    let r = app.post_as(&so, &moves, &json!({"action": "recall"}));
    assert_eq!(r.status, 409, "{}", r.text);
}
