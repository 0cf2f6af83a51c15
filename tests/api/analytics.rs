//! Bottleneck analytics (issue 26): a history with known waits, and the
//! figures a secretary, MoITT and an operator's Prometheus read over HTTP.
//! The past is written into the database as the test's fixture (stays that
//! ended days ago cannot be made in real time: they are counted as the
//! server counts them); the present is made over HTTP, and everything
//! asserted is read as a client reads it.

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{TestApp, my_post, spawn_app};

const S: i64 = 1_000_000;

/// Files that stayed at `post` `secs` seconds each and moved on `ended_ago`
/// seconds ago, as the server counts them when files move (`dwell_counts`).
fn past_stays(app: &TestApp, post: &str, ended_ago: i64, secs: &[i64]) {
    use daftar::store::schema::dwell_counts as d;
    let hour = (daftar::store::now_micros() - ended_ago * S).div_euclid(3_600 * S);
    let mut c = app.db.writer().unwrap();
    for s in secs {
        diesel::insert_into(d::table)
            .values((d::post_id.eq(post), d::hour.eq(hour), d::seconds.eq(s), d::n.eq(1i64)))
            .execute(&mut *c)
            .unwrap();
    }
}

fn desk<'a>(entity: &'a Value, code: &str) -> &'a Value {
    entity["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["desks"].as_array().unwrap())
        .find(|d| d["code"] == code)
        .unwrap_or_else(|| panic!("no desk {code}"))
}

fn metric(text: &str, name: &str) -> Option<i64> {
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
}

both_backends!(bottlenecks_report_the_waits_the_history_implies, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let ds = app.login("ds.moitt");
    let js = app.login("js.moitt");
    let (so_post, ds_post, js_post) = (my_post(&app, &so), my_post(&app, &ds), my_post(&app, &js));
    // Known waits: at the DS, three files stayed 10 min, 20 min and an
    // hour and moved on within the hour; at the JS, two stayed 2 hours and a
    // day and moved on two weeks ago.
    past_stays(&app, &ds_post, 600, &[600, 1200, 3600]);
    past_stays(&app, &js_post, 14 * 86_400, &[7200, 86_400]);
    // Held now: one file at the SO, one at the DS past its due date.
    for subject in ["Stays with the SO", "Sent on, overdue"] {
        let r = app.post_as(&so, "/api/v1/files", &json!({"subject": subject}));
        assert_eq!(r.status, 201, "{}", r.text);
        if subject.starts_with("Sent") {
            let id = r.body["id"].as_str().unwrap();
            let m = app.post_as(
                &so,
                &format!("/api/v1/files/{id}/movements"),
                &json!({"action": "forward", "to_post_id": ds_post, "due_at": "2020-01-01T00:00:00Z"}),
            );
            assert_eq!(m.status, 201, "{}", m.text);
        }
    }

    let secretary = app.login("secretary.moitt");
    let r = app.get_as(&secretary, "/api/v1/analytics/bottlenecks?entity=MOITT");
    assert_eq!(r.status, 200, "{}", r.text);
    let e = &r.body["entities"][0];
    assert_eq!(e["entity"]["code"], "MOITT");
    let d = desk(e, "MOITT/DS-ADMIN");
    assert_eq!(
        (d["moved"].as_i64(), d["median_seconds"].as_i64(), d["p90_seconds"].as_i64()),
        (Some(3), Some(1200), Some(3600)),
        "{d}"
    );
    assert_eq!((d["held_files"].as_i64(), d["over_sla"].as_i64()), (Some(1), Some(1)), "{d}");
    let j = desk(e, "MOITT/JS-ADMIN");
    assert_eq!(
        (j["moved"].as_i64(), j["median_seconds"].as_i64(), j["p90_seconds"].as_i64()),
        (Some(2), Some(7200), Some(86_400)),
        "{j}"
    );
    assert_eq!(j["held_files"], 0);
    let s = desk(e, "MOITT/SO-ADMIN");
    assert_eq!((s["held_files"].as_i64(), s["over_sla"].as_i64()), (Some(1), Some(0)), "{s}");
    // The SO's own stay of the file it sent on: a second or less.
    assert_eq!(s["moved"], 1);
    assert!(s["median_seconds"].as_i64().unwrap() <= 1, "{s}");
    // Twelve weeks; the JS's two in the week two weeks back, the rest in the last.
    let weeks = e["weeks"].as_array().unwrap();
    assert_eq!(weeks.len(), 12, "{}", r.text);
    assert_eq!(weeks[11]["moved"], 4, "{}", r.text);
    assert_eq!(weeks[9]["moved"], 2, "{}", r.text);
    assert_eq!(weeks[9]["median_seconds"], 7200);
    assert_eq!((e["held_files"].as_i64(), e["over_sla"].as_i64(), e["moved"].as_i64()), (Some(2), Some(1), Some(6)));
    // The slowest desks, by post and never by person.
    let slow: Vec<&str> = e["slowest_desks"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(slow[..2], ["MOITT/JS-ADMIN", "MOITT/DS-ADMIN"], "{}", r.text);
    for name in ["js.moitt", "ds.moitt", "@demo.daftar.gov.pk"] {
        assert!(!r.text.contains(name), "names a person: {name}");
    }

    // CSV: one row per desk, the same figures.
    let csv = app.get_as(&secretary, "/api/v1/analytics/bottlenecks?entity=MOITT&format=csv");
    assert_eq!(csv.status, 200);
    assert!(csv.text.starts_with('\u{feff}'));
    let row = csv.text.lines().find(|l| l.contains("MOITT/DS-ADMIN")).unwrap();
    assert!(row.ends_with(",1,0,0,1,3,1200,3600"), "{row}");

    // Bad periods are named.
    for q in ["from=2026-13-01", "from=2020-01-01", "format=xml", "to=2999-01-01"] {
        let r = app.get_as(&secretary, &format!("/api/v1/analytics/bottlenecks?entity=MOITT&{q}"));
        assert_eq!(r.status, 400, "{q}: {}", r.text);
    }

    // Operators: live figures per entity on /metrics.
    let m = app.get("/metrics").text;
    assert_eq!(metric(&m, "daftar_entity_files_held{entity=\"MOITT\"}"), Some(2), "{m}");
    assert_eq!(metric(&m, "daftar_entity_files_over_sla{entity=\"MOITT\"}"), Some(1), "{m}");
    assert_eq!(metric(&m, "daftar_entity_receipts_awaiting_put_up{entity=\"MOITT\"}"), Some(0), "{m}");
    assert_eq!(metric(&m, "daftar_entity_files_held{entity=\"MOC\"}"), Some(0), "{m}");
    let _ = so_post;
});

both_backends!(only_the_entitys_secretary_auditor_and_moitt_see_its_bottlenecks, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let path = "/api/v1/analytics/bottlenecks?entity=MOITT";
    // MoC's officer and MoC's secretary: as if MoITT did not exist.
    for user in ["so.moc", "secretary.moc", "so.moitt"] {
        let t = app.login(user);
        let r = app.get_as(&t, path);
        assert_eq!(r.status, 404, "{user}: {}", r.text);
        let nobody = app.get_as(&t, "/api/v1/analytics/bottlenecks?entity=NOSUCH");
        assert_eq!((nobody.status, nobody.text.clone()), (r.status, r.text.clone()), "{user}");
    }
    let moc = app.login("secretary.moc");
    let mine = app.get_as(&moc, "/api/v1/analytics/bottlenecks");
    let codes: Vec<&str> =
        mine.body["entities"].as_array().unwrap().iter().map(|e| e["entity"]["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["MOC"], "{}", mine.text);
    let officer = app.login("so.moc");
    let none = app.get_as(&officer, "/api/v1/analytics/bottlenecks");
    assert_eq!(none.body["entities"], json!([]), "{}", none.text);
    // MoITT's compliance cell sees every entity.
    let cell = app.login("compliance.moitt");
    let all = app.get_as(&cell, "/api/v1/analytics/bottlenecks");
    assert_eq!(all.status, 200, "{}", all.text);
    assert!(all.body["entities"].as_array().unwrap().len() >= 5, "{}", all.text);
    assert_eq!(app.get("/api/v1/analytics/bottlenecks").status, 401);
});
