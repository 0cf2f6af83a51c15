//! The org model over HTTP: the demo government's units and posts.

use std::collections::HashMap;

use serde_json::Value;

use crate::both_backends;
use crate::helpers::{TestApp, spawn_app};

fn all_units(app: &TestApp) -> Vec<Value> {
    let token = app.login("so.moitt");
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = app.get_as(&token, &format!("/api/v1/org/units?limit=3{cursor}"));
        assert_eq!(r.status, 200, "{}", r.text);
        out.extend(r.body["items"].as_array().unwrap().iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    out
}

both_backends!(demo_units_have_the_right_kinds_and_parents, |backend| {
    let Some(app) = spawn_app(backend) else {
        return;
    };
    let units = all_units(&app);
    let by_id: HashMap<&str, &Value> = units.iter().map(|u| (u["id"].as_str().unwrap(), u)).collect();
    let by_code: HashMap<&str, &Value> = units.iter().map(|u| (u["code"].as_str().unwrap(), u)).collect();
    assert_eq!(by_id.len(), units.len(), "pages must not repeat units");
    let parent_code = |code: &str| -> Option<String> {
        let p = by_code[code]["parent_id"].as_str()?;
        Some(by_id[p]["code"].as_str().unwrap().to_owned())
    };
    for (code, kind, parent) in [
        ("MOITT", "ministry", "GOP"),
        ("MOC", "ministry", "GOP"),
        ("PPOST", "attached_department", "MOC"),
        ("FIN", "division", "GOP"),
        ("CAB", "division", "GOP"),
        ("PTA", "regulator", "MOITT"),
        ("IT(Admin)", "section", "MOITT-ADMIN"),
        ("Comm(Admin)", "section", "MOC-ADMIN"),
        ("Exp(Budget)", "section", "FIN-EXP"),
    ] {
        assert_eq!(by_code[code]["kind"], kind, "{code}");
        assert_eq!(parent_code(code).as_deref(), Some(parent), "{code}");
    }
    assert_eq!(by_code["GOP"]["kind"], "government");
    assert_eq!(parent_code("GOP"), None);
});

both_backends!(posts_are_found_with_their_holders, |backend| {
    let Some(app) = spawn_app(backend) else {
        return;
    };
    let token = app.login("ds.moc");
    let r = app.get_as(&token, "/api/v1/posts?q=section%20officer%20(admin-i)");
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", r.text);
    assert_eq!(items[0]["designation"], "section_officer");
    assert_eq!(items[0]["holder"]["name"], "Section Officer (Admin-I) MoITT");

    // Case-insensitive on both backends, and LIKE wildcards are literal.
    let r = app.get_as(&token, "/api/v1/posts?q=SECRETARY&limit=200");
    let n = r.body["items"].as_array().unwrap().len();
    assert!(n >= 8, "secretaries, joint and deputy secretaries: {n}");
    let r = app.get_as(&token, "/api/v1/posts?q=%25");
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0, "{}", r.text);

    // The chain reports upward: SO -> DS -> JS -> Secretary.
    let r = app.get_as(&token, "/api/v1/posts?limit=200");
    let posts = r.body["items"].as_array().unwrap();
    let by_id: HashMap<&str, &Value> = posts.iter().map(|p| (p["id"].as_str().unwrap(), p)).collect();
    let so = posts.iter().find(|p| p["code"] == "MOITT/SO-ADMIN").unwrap();
    let mut chain = vec![so["designation"].as_str().unwrap()];
    let mut at = so;
    while let Some(up) = at["reports_to"].as_str() {
        at = by_id[up];
        chain.push(at["designation"].as_str().unwrap());
    }
    assert_eq!(chain, ["section_officer", "deputy_secretary", "joint_secretary", "secretary"]);
    let ad = posts.iter().find(|p| p["code"] == "PPOST/AD-ADMIN").unwrap();
    let dir = by_id[ad["reports_to"].as_str().unwrap()];
    assert_eq!(dir["designation"], "director");
    assert_eq!(by_id[dir["reports_to"].as_str().unwrap()]["designation"], "director_general");
});

both_backends!(org_routes_need_a_login, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    for path in ["/api/v1/org/units", "/api/v1/posts?q=so", "/api/v1/me"] {
        let r = app.get(path);
        assert_eq!(r.status, 401, "{path}");
        assert_eq!(r.body["error"]["code"], "unauthenticated");
    }
});
