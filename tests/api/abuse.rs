//! What a hostile or careless client tries: parallel PIN guesses, racing
//! signatures, replacing someone's signing key, a desk not yet taken up,
//! administrators reaching outside their entity, links to hidden files.

use serde_json::json;

use crate::admin::{moc_admin, post_id};
use crate::both_backends;
use crate::helpers::{DEMO_PASSWORD, my_post};
use crate::helpers::{TestApp, spawn_app};
use crate::signing::{PIN, note_and_sign};

fn new_file(app: &TestApp, token: &str, body: serde_json::Value) -> String {
    let r = app.post_as(token, "/api/v1/files", &body);
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

fn draft(app: &TestApp, token: &str, file: &str) -> String {
    let r = app.post_as(token, &format!("/api/v1/files/{file}/notes"), &json!({"body": "For orders."}));
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_owned()
}

/// Sends `n` copies of one request at once; returns the statuses.
fn at_once(app: &TestApp, token: &str, path: &str, body: serde_json::Value, n: usize) -> Vec<u16> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n).map(|_| s.spawn(|| app.post_as(token, path, &body).status)).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

both_backends!(parallel_pin_guesses_cannot_pass_the_lock, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let file = new_file(&app, &so, json!({"subject": "PIN guessing"}));
    let note = draft(&app, &so, &file);
    let path = format!("/api/v1/files/{file}/notes/{note}/sign");
    let statuses = at_once(&app, &so, &path, json!({"pin": "000000"}), 12);
    let tried = statuses.iter().filter(|s| **s == 403).count();
    assert!(tried <= daftar::signing::pin::PIN_TRIES as usize, "at most the allowed tries are checked: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == 403 || *s == 429), "{statuses:?}");
    // The key is locked now, even for the right PIN.
    let r = app.post_as(&so, &path, &json!({"pin": PIN}));
    assert_eq!(r.status, 429, "{}", r.text);
});

both_backends!(racing_signatures_of_one_note_sign_it_once, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let file = new_file(&app, &so, json!({"subject": "Double signing"}));
    let note = draft(&app, &so, &file);
    let path = format!("/api/v1/files/{file}/notes/{note}/sign");
    let mut statuses = at_once(&app, &so, &path, json!({"pin": PIN}), 4);
    statuses.sort();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 409 || *s == 404), "no 500: {statuses:?}");
});

both_backends!(a_new_key_supersedes_the_old_one, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let file = new_file(&app, &so, json!({"subject": "Key change"}));
    let old = note_and_sign(&app, &so, &file, "Signed with the demo key.");
    let old_serial = old["signature"]["certificate_serial"].as_str().unwrap().to_owned();

    let r = app.post_as(&so, "/api/v1/me/keys", &json!({"mode": "server", "pin": "135790", "password": DEMO_PASSWORD}));
    assert_eq!(r.status, 201, "{}", r.text);
    let new_serial = r.body["certificate_serial"].as_str().unwrap().to_owned();
    assert_ne!(new_serial, old_serial);
    let r = app.post_as(&so, "/api/v1/me/keys", &json!({"mode": "server", "password": DEMO_PASSWORD}));
    assert_eq!(r.status, 400, "PIN required");

    let note = draft(&app, &so, &file);
    let path = format!("/api/v1/files/{file}/notes/{note}/sign");
    assert_eq!(app.post_as(&so, &path, &json!({"pin": PIN})).status, 403, "the old PIN opens nothing now");
    let r = app.post_as(&so, &path, &json!({"pin": "135790"}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["signature"]["certificate_serial"], new_serial.as_str());
    // The old signature still verifies in the export; the old certificate is
    // marked superseded (revoked as of the new enrolment) in the ledger check.
    let report = app.get_as(&app.login("admin"), "/api/v1/ledger/verify");
    assert_eq!(report.status, 200, "{}", report.text);
    assert_eq!(report.body["ok"], true, "{}", report.text);
});

both_backends!(a_desk_not_yet_taken_up_shows_nothing, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let ds = app.login("ds.moitt");
    let ds_post = my_post(&app, &ds);
    let file = new_file(&app, &so, json!({"subject": "At the DS desk"}));
    note_and_sign(&app, &so, &file, "Submitted.");
    let r = app.post_as(
        &so,
        &format!("/api/v1/files/{file}/movements"),
        &json!({"action": "forward", "to_post_id": ds_post}),
    );
    assert_eq!(r.status, 201, "{}", r.text);

    // The registry clerk is posted to the DS desk from next month.
    let registry = app.login("registry.moitt");
    let clerk = app.get_as(&registry, "/api/v1/me").body["id"].as_str().unwrap().to_owned();
    let next_month = (daftar::clock::today() + chrono::Days::new(30)).to_string();
    let admin = app.login("admin");
    let r = app.post_as(
        &admin,
        &format!("/api/v1/posts/{ds_post}/assignments"),
        &json!({"user_id": clerk, "kind": "regular", "starts_on": next_month, "primary": false}),
    );
    crate::helpers::done(&app, &r);
    let registry = app.login("registry.moitt");
    for path in [
        format!("/api/v1/files/{file}"),
        format!("/api/v1/files/{file}/movements"),
        format!("/api/v1/files/{file}/export"),
    ] {
        assert_eq!(app.get_as(&registry, &path).status, 404, "{path}");
    }
    assert!(!app.get_as(&registry, "/api/v1/sent").text.contains(&file));
});

both_backends!(org_admins_place_only_their_own_people, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let oa = moc_admin(&app);
    let moc_desk = post_id(&app, &oa, "MOC/DS-ADMIN");
    let outsider = app.get_as(&app.login("so.moitt"), "/api/v1/me").body["id"].as_str().unwrap().to_owned();
    let r = app.post_as(
        &oa,
        &format!("/api/v1/posts/{moc_desk}/assignments"),
        &json!({"user_id": outsider, "kind": "additional_charge", "primary": true}),
    );
    assert_eq!(r.status, 403, "an officer of another ministry: {}", r.text);
    let sysadmin = app.get_as(&app.login("admin"), "/api/v1/me").body["id"].as_str().unwrap().to_owned();
    let r = app.post_as(
        &oa,
        &format!("/api/v1/posts/{moc_desk}/assignments"),
        &json!({"user_id": sysadmin, "kind": "acting", "primary": false}),
    );
    assert_eq!(r.status, 403, "the sysadmin: {}", r.text);
    // Outside the administrator's reach answers like an unknown id (no probing).
    let known = app.post_as(&oa, &format!("/api/v1/users/{sysadmin}/disable"), &json!({}));
    let unknown = app.post_as(&oa, "/api/v1/users/0190aaaabbbbccccddddeeeeffff0000/disable", &json!({}));
    assert_eq!((known.status, unknown.status), (404, 404), "{} / {}", known.text, unknown.text);
    assert_eq!(known.body, unknown.body);
    // An officer is not even asked for a password hash.
    let r = app.post_as(
        &app.login("so.moc"),
        "/api/v1/users",
        &json!({"username": "x9", "name": "X", "clearance": "restricted", "password": "long-enough-pw"}),
    );
    assert_eq!(r.status, 403, "{}", r.text);
});

both_backends!(password_guesses_behind_a_session_are_throttled, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let wrong = json!({"current_password": "not-my-password", "new_password": "a-new-long-password"});
    let statuses: Vec<u16> = (0..7).map(|_| app.post_as(&so, "/api/v1/me/password", &wrong).status).collect();
    assert_eq!(&statuses[..5], &[403; 5], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
});

both_backends!(links_show_both_ways_and_only_what_may_be_seen, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let js = app.login("js.moitt");
    let main = new_file(&app, &so, json!({"subject": "Main file"}));
    let old = new_file(&app, &so, json!({"subject": "Old file on the same subject"}));
    let secret = new_file(&app, &js, json!({"subject": "Secret background", "classification": "secret"}));

    // SO merges the old file into the main one.
    let r = app.post_as(&so, &format!("/api/v1/files/{old}/links"), &json!({"file_id": main, "kind": "merged_into"}));
    assert_eq!(r.status, 201, "{}", r.text);
    let old_view = app.get_as(&so, &format!("/api/v1/files/{old}")).body;
    assert_eq!(old_view["status"], "closed", "a merged file is closed");
    let main_view = app.get_as(&so, &format!("/api/v1/files/{main}")).body;
    let links = main_view["links"].as_array().unwrap();
    assert_eq!(links.len(), 1, "{main_view}");
    assert_eq!((links[0]["file_id"].as_str(), links[0]["direction"].as_str()), (Some(old.as_str()), Some("incoming")));
    let timeline = app.get_as(&so, &format!("/api/v1/files/{old}/movements")).body;
    assert!(timeline.to_string().contains("Merged into"), "{timeline}");
    let main_no = main_view["file_no"].as_str().unwrap();
    assert!(!timeline.to_string().contains(main_no), "the remark names no file a reader may not see: {timeline}");

    // JS, holding the main file for a while, refers it to a secret file; SO
    // (restricted) never sees that link, JS does.
    let js_post = my_post(&app, &js);
    let r = app.post_as(
        &so,
        &format!("/api/v1/files/{main}/movements"),
        &json!({"action": "forward", "to_post_id": js_post}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.post_as(&js, &format!("/api/v1/files/{main}/links"), &json!({"file_id": secret, "kind": "reference"}));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["direction"], "outgoing");
    let r = app.post_as(&js, &format!("/api/v1/files/{main}/movements"), &json!({"action": "return"}));
    assert_eq!(r.status, 201, "{}", r.text);
    let main_view = app.get_as(&so, &format!("/api/v1/files/{main}")).body;
    assert!(!main_view.to_string().contains(&secret), "{main_view}");
    assert_eq!(main_view["links"].as_array().unwrap().len(), 1, "{main_view}");
    let js_view = app.get_as(&js, &format!("/api/v1/files/{main}")).body;
    assert!(js_view.to_string().contains(&secret), "the cleared officer sees it: {js_view}");
});

both_backends!(an_org_admin_revokes_within_their_entity, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let oa = moc_admin(&app);
    let serial_of = |user: &str| {
        let token = app.login(user);
        let file = new_file(&app, &token, json!({"subject": "Before revocation"}));
        let note = note_and_sign(&app, &token, &file, "Signed while valid.");
        (token, file, note["signature"]["certificate_serial"].as_str().unwrap().to_owned())
    };
    let (so_moc, file, moc_serial) = serial_of("so.moc");
    let (_, _, moitt_serial) = serial_of("so.moitt");
    let revoke = |serial: &str| app.post_as(&oa, &format!("/api/v1/pki/certificates/{serial}/revoke"), &json!({}));
    assert_eq!(revoke(&moitt_serial).status, 403, "another ministry's officer");
    assert_eq!(revoke(&moc_serial).status, 204);
    assert_eq!(revoke(&moc_serial).status, 409, "already revoked");
    assert_eq!(revoke("00ff").status, 404);
    // Nothing new is signed with it; what it signed before still verifies.
    let note = draft(&app, &so_moc, &file);
    let r = app.post_as(&so_moc, &format!("/api/v1/files/{file}/notes/{note}/sign"), &json!({"pin": PIN}));
    assert_eq!(r.status, 403, "{}", r.text);
    let report = app.get_as(&app.login("admin"), "/api/v1/ledger/verify");
    assert_eq!(report.body["ok"], true, "{}", report.text);
});

both_backends!(unsettled_pin_attempts_heal_into_an_ordinary_lock, |backend| {
    use daftar::store::schema::signing_keys;
    use diesel::prelude::*;
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let file = new_file(&app, &so, json!({"subject": "Dropped requests"}));
    let note = draft(&app, &so, &file);
    let path = format!("/api/v1/files/{file}/notes/{note}/sign");
    let me = app.get_as(&so, "/api/v1/me").body["id"].as_str().unwrap().to_owned();
    let set = |failures: i32, locked_until: Option<i64>| {
        let mut c = app.db.writer().unwrap();
        diesel::update(signing_keys::table.filter(signing_keys::user_id.eq(&me)))
            .set((signing_keys::pin_failures.eq(failures), signing_keys::pin_locked_until.eq(locked_until)))
            .execute(&mut *c)
            .unwrap();
    };
    // Five attempts counted and never settled (clients that hung up mid-check).
    set(daftar::signing::pin::PIN_TRIES, None);
    let r = app.post_as(&so, &path, &json!({"pin": PIN}));
    assert_eq!(r.status, 429, "counted attempts lock like failures: {}", r.text);
    // Once that lock has run out, the right PIN works again.
    set(0, Some(daftar::store::now_micros() - 1));
    let r = app.post_as(&so, &path, &json!({"pin": PIN}));
    assert_eq!(r.status, 200, "{}", r.text);
});

both_backends!(recall_stops_once_the_receiver_has_worked_on_the_file, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let ds = app.login("ds.moitt");
    let ds_post = my_post(&app, &ds);
    let file = new_file(&app, &so, json!({"subject": "Attached, then recalled?"}));
    let moves = format!("/api/v1/files/{file}/movements");
    let r = app.post_as(&so, &moves, &json!({"action": "forward", "to_post_id": ds_post}));
    assert_eq!(r.status, 201, "{}", r.text);
    let (ctype, body) = crate::documents::multipart(
        &[("title", "Comments"), ("kind", "enclosure")],
        Some(("c.pdf", crate::documents::PDF)),
    );
    let (status, doc) =
        crate::documents::post_multipart(&app, &ds, &format!("/api/v1/files/{file}/documents"), &ctype, &body);
    assert_eq!(status, 201, "{doc}");
    let r = app.post_as(&so, &moves, &json!({"action": "recall"}));
    assert_eq!(r.status, 409, "{}", r.text);
});

/// How many wrong guesses one after another get checked within `elapsed`:
/// five free ones, then one more each time the doubling backoff (1 s, 2 s,
/// 4 s …) runs out. On a loaded machine thirty requests at once can take
/// seconds, and then a serial guesser would have had more checks too.
fn serial_checks(elapsed: std::time::Duration) -> usize {
    5 + (elapsed.as_secs_f64() + 1.0).log2().floor() as usize
}

both_backends!(parallel_password_guesses_get_no_more_checks_than_serial_ones, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    // Re-entering the current password: thirty wrong guesses at once.
    let body = json!({"current_password": "not-my-password-at-all", "new_password": "a-new-long-password-1"});
    let started = std::time::Instant::now();
    let statuses = at_once(&app, &so, "/api/v1/me/password", body, 30);
    let checked = statuses.iter().filter(|s| **s == 403).count();
    let allowed = serial_checks(started.elapsed());
    assert!(checked <= allowed, "one after another {allowed} would be checked in that time; at once: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == 403 || *s == 429), "{statuses:?}");
    // Logging in: thirty wrong passwords at once from one address.
    let started = std::time::Instant::now();
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..30)
            .map(|_| s.spawn(|| app.login_reply("ds.moitt", "wrong-password-guess", "198.51.100.7").status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let allowed = serial_checks(started.elapsed());
    assert!(checked <= allowed, "one after another {allowed} would be checked in that time: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
});

both_backends!(a_stolen_token_cannot_replace_the_signing_key, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    // The attacker has only the officer's access token.
    let stolen = app.login("so.moitt");
    let r = app.post_as(&stolen, "/api/v1/me/keys", &json!({"mode": "server", "pin": "999999"}));
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.body["error"]["details"]["fields"]["password"].is_string(), "{}", r.text);
    let guess = json!({"mode": "server", "pin": "999999", "password": "a-guessed-password"});
    let r = app.post_as(&stolen, "/api/v1/me/keys", &guess);
    assert_eq!(r.status, 403, "{}", r.text);
    // Guessing the password this way is throttled like a login.
    let statuses = at_once(&app, &stolen, "/api/v1/me/keys", guess, 12);
    assert!(statuses.contains(&429), "{statuses:?}");
    // The officer's own key and PIN still work.
    let file = new_file(&app, &stolen, json!({"subject": "Still mine"}));
    let note = draft(&app, &stolen, &file);
    let r = app.post_as(&stolen, &format!("/api/v1/files/{file}/notes/{note}/sign"), &json!({"pin": PIN}));
    assert_eq!(r.status, 200, "{}", r.text);
});

/// The id of `user_id`'s signing key in use.
fn active_key(c: &mut daftar::store::DbConn, user_id: &str) -> String {
    use daftar::store::schema::signing_keys;
    use diesel::prelude::*;
    signing_keys::table
        .filter(signing_keys::user_id.eq(user_id))
        .filter(signing_keys::revoked_at.is_null())
        .select(signing_keys::id)
        .first(c)
        .unwrap()
}

both_backends!(attempts_of_a_crashed_server_do_not_lock_the_key_but_live_ones_still_count, |backend| {
    use daftar::store::schema::{pin_reservations, signing_keys};
    use diesel::prelude::*;
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let file = new_file(&app, &so, json!({"subject": "Crashed mid-signature"}));
    let note = draft(&app, &so, &file);
    let path = format!("/api/v1/files/{file}/notes/{note}/sign");
    let me = app.get_as(&so, "/api/v1/me").body["id"].as_str().unwrap().to_owned();
    // Five attempts counted and reserved by a server that then died (as a
    // kill -9 in the middle of PIN checks leaves them), with leases `lease_until`.
    let crashed = |lease_until: i64| {
        let mut c = app.db.writer().unwrap();
        let key = active_key(&mut c, &me);
        diesel::update(signing_keys::table.find(&key))
            .set(signing_keys::pin_failures.eq(daftar::signing::pin::PIN_TRIES))
            .execute(&mut *c)
            .unwrap();
        for _ in 0..daftar::signing::pin::PIN_TRIES {
            diesel::insert_into(pin_reservations::table)
                .values((
                    pin_reservations::id.eq(daftar::store::new_id()),
                    pin_reservations::key_id.eq(&key),
                    pin_reservations::lease_until.eq(lease_until),
                ))
                .execute(&mut *c)
                .unwrap();
        }
    };
    // Still in flight (their lease runs): they count, as parallel guesses must.
    crashed(daftar::store::now_micros() + 60_000_000);
    let r = app.post_as(&so, &path, &json!({"pin": PIN}));
    assert_eq!(r.status, 429, "attempts in flight count: {}", r.text);
    let other = draft(&app, &so, &file);
    // Once the lock has run out and the dead server's leases have lapsed, the
    // right PIN works: the crash cost the officer nothing more.
    {
        let mut c = app.db.writer().unwrap();
        diesel::delete(pin_reservations::table).execute(&mut *c).unwrap();
        diesel::update(signing_keys::table.filter(signing_keys::user_id.eq(&me)))
            .set(signing_keys::pin_locked_until.eq(None::<i64>))
            .execute(&mut *c)
            .unwrap();
    }
    crashed(daftar::store::now_micros() - 1);
    let r = app.post_as(&so, &format!("/api/v1/files/{file}/notes/{other}/sign"), &json!({"pin": PIN}));
    assert_eq!(r.status, 200, "lapsed attempts of a dead server are released: {}", r.text);
});

both_backends!(a_crashed_attempt_gives_no_spare_guess_once_the_count_has_started_again, |backend| {
    use daftar::store::schema::{pin_reservations, signing_keys};
    use diesel::prelude::*;
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let file = new_file(&app, &so, json!({"subject": "Guessing after a crash"}));
    let me = app.get_as(&so, "/api/v1/me").body["id"].as_str().unwrap().to_owned();
    // One attempt counted and reserved by a server that died, its lease
    // running out in two seconds.
    {
        let mut c = app.db.writer().unwrap();
        let key = active_key(&mut c, &me);
        diesel::update(signing_keys::table.find(&key)).set(signing_keys::pin_failures.eq(1)).execute(&mut *c).unwrap();
        diesel::insert_into(pin_reservations::table)
            .values((
                pin_reservations::id.eq(daftar::store::new_id()),
                pin_reservations::key_id.eq(&key),
                pin_reservations::lease_until.eq(daftar::store::now_micros() + 2_000_000),
            ))
            .execute(&mut *c)
            .unwrap();
    }
    let sign = |pin: &str| {
        let note = draft(&app, &so, &file);
        app.post_as(&so, &format!("/api/v1/files/{file}/notes/{note}/sign"), &json!({"pin": pin})).status
    };
    // The officer signs: the count starts again from zero.
    assert_eq!(sign(PIN), 200);
    // A guesser then has five tries, not six: the dead server's attempt,
    // lapsing meanwhile, is not taken off the new count.
    assert_ne!(sign("000000"), 200);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    for _ in 0..4 {
        assert_ne!(sign("000000"), 200);
    }
    assert_eq!(sign(PIN), 429, "five wrong PINs lock the key");
});
