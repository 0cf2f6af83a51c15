//! Organisation administration: scoping, sessions ending on disable and
//! password change, and CSRF on cookie sessions.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{DEMO_PASSWORD, TestApp, spawn_app};

pub(crate) fn unit_id(app: &TestApp, token: &str, code: &str) -> String {
    let r = app.get_as(token, "/api/v1/org/units?limit=200");
    r.body["items"].as_array().unwrap().iter().find(|u| u["code"] == code).unwrap()["id"].as_str().unwrap().to_owned()
}

pub(crate) fn post_id(app: &TestApp, token: &str, code: &str) -> String {
    let r = app.get_as(token, "/api/v1/posts?limit=200");
    r.body["items"].as_array().unwrap().iter().find(|p| p["code"] == code).unwrap()["id"].as_str().unwrap().to_owned()
}

/// The sysadmin creates an org_admin for MOC, who creates a desk and an officer.
pub(crate) fn moc_admin(app: &TestApp) -> String {
    let admin = app.login("admin");
    let r = app.post_as(
        &admin,
        "/api/v1/users",
        &json!({"username": "orgadmin.moc", "name": "Org Admin MoC", "clearance": "secret",
                "password": "org-admin-password", "roles": ["org_admin:MOC"]}),
    );
    // Granting org_admin waits for a second administrator.
    assert_eq!(r.status, 202, "{}", r.text);
    crate::helpers::done(app, &r);
    let login = app.login_reply("orgadmin.moc", "org-admin-password", "192.0.2.30");
    assert_eq!(login.status, 200);
    login.body["access_token"].as_str().unwrap().to_owned()
}

both_backends!(org_admin_works_within_their_entity_only, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let oa = moc_admin(&app);
    let moc_section = unit_id(&app, &oa, "Comm(Admin)");
    let moitt_section = unit_id(&app, &oa, "IT(Admin)");
    let ds_moc = post_id(&app, &oa, "MOC/DS-ADMIN");

    let post = json!({"code": "MOC/SO-ADMIN-II", "org_unit_id": moc_section, "designation": "section_officer",
                      "title": "Section Officer (Admin-II), MoC", "reports_to": ds_moc});
    let r = app.post_as(&oa, "/api/v1/posts", &post);
    assert_eq!(r.status, 201, "{}", r.text);
    let new_post = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(app.post_as(&oa, "/api/v1/posts", &post).status, 409, "codes are unique");

    let foreign = json!({"code": "MOITT/SO-X", "org_unit_id": moitt_section, "designation": "section_officer",
                         "title": "Section Officer X"});
    let r = app.post_as(&oa, "/api/v1/posts", &foreign);
    assert_eq!(r.status, 403, "another ministry: {}", r.text);

    // A new officer, assigned to the new desk; they see it in /me.
    let r = app.post_as(
        &oa,
        "/api/v1/users",
        &json!({"username": "so2.moc", "name": "SO Admin-II", "clearance": "restricted", "password": "so2-moc-password"}),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let user = crate::helpers::done(&app, &r);
    let r = app.post_as(
        &oa,
        &format!("/api/v1/posts/{new_post}/assignments"),
        &json!({"user_id": user, "kind": "regular", "primary": true}),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let assignment = crate::helpers::done(&app, &r);
    let so2 =
        app.login_reply("so2.moc", "so2-moc-password", "192.0.2.31").body["access_token"].as_str().unwrap().to_owned();
    let me = app.get_as(&so2, "/api/v1/me");
    assert_eq!(me.body["posts"][0]["id"], new_post.as_str());

    // Not beyond their own clearance, nor global roles, nor other entities' roles.
    for (body, why) in [
        (json!({"username": "x1", "name": "X", "clearance": "top_secret", "password": "long-enough-pw"}), "clearance"),
        (
            json!({"username": "x2", "name": "X", "clearance": "restricted", "password": "long-enough-pw", "roles": ["sysadmin"]}),
            "sysadmin",
        ),
        (
            json!({"username": "x3", "name": "X", "clearance": "restricted", "password": "long-enough-pw", "roles": ["registry:MOITT"]}),
            "other entity",
        ),
    ] {
        assert_eq!(app.post_as(&oa, "/api/v1/users", &body).status, 403, "{why}");
    }
    // Bad input names the field.
    let r = app.post_as(
        &oa,
        "/api/v1/users",
        &json!({"username": "bad name", "name": "X", "clearance": "restricted", "password": "long-enough-pw"}),
    );
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["details"]["fields"]["username"].is_string(), "{}", r.text);
    let r = app.post_as(
        &oa,
        "/api/v1/users",
        &json!({"username": "short", "name": "X", "clearance": "restricted", "password": "short"}),
    );
    assert!(r.body["error"]["details"]["fields"]["password"].is_string(), "{}", r.text);

    // Not themselves, not even their own entity's top desk: another administrator must.
    let me_id = app.get_as(&oa, "/api/v1/me").body["id"].as_str().unwrap_or_default().to_owned();
    assert!(!me_id.is_empty());
    let secretary_desk = post_id(&app, &oa, "MOC/SECRETARY");
    let r = app.post_as(
        &oa,
        &format!("/api/v1/posts/{secretary_desk}/assignments"),
        &json!({"user_id": me_id, "kind": "acting"}),
    );
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(app.get_as(&oa, "/api/v1/me").body["posts"], json!([]));

    // An ordinary officer administers nothing.
    let so = app.login("so.moc");
    assert_eq!(app.post_as(&so, "/api/v1/posts", &post).status, 403);

    // Ending the assignment: the desk is no longer theirs today.
    let r = app.request(
        "DELETE",
        &format!("/api/v1/assignments/{assignment}"),
        &[("Authorization", &format!("Bearer {oa}"))],
        None,
    );
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(app.get_as(&so2, "/api/v1/me").body["posts"], json!([]));
    let r = app.request("DELETE", "/api/v1/assignments/nope", &[("Authorization", &format!("Bearer {oa}"))], None);
    assert_eq!(r.status, 404);
});

both_backends!(disabling_and_password_change_end_sessions, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let admin = app.login("admin");
    let so = app.login("so.fin");
    let so_id = app.get_as(&so, "/api/v1/me").body["id"].as_str().unwrap().to_owned();

    // Password change through the API ends every session of the user.
    let other = app.login("so.fin");
    let r = app.post_as(
        &so,
        "/api/v1/me/password",
        &json!({"current_password": "wrong", "new_password": "a-brand-new-password"}),
    );
    assert_eq!(r.status, 403);
    let r = app.post_as(
        &so,
        "/api/v1/me/password",
        &json!({"current_password": DEMO_PASSWORD, "new_password": "a-brand-new-password"}),
    );
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(app.get_as(&so, "/api/v1/me").status, 401);
    assert_eq!(app.get_as(&other, "/api/v1/me").status, 401);
    assert_eq!(app.login_reply("so.fin", DEMO_PASSWORD, "192.0.2.50").status, 401);
    let again = app.login_reply("so.fin", "a-brand-new-password", "192.0.2.50");
    assert_eq!(again.status, 200);
    let token = again.body["access_token"].as_str().unwrap().to_owned();

    // Disabling ends the session at once and stops logins.
    let r = app.post_as(&admin, &format!("/api/v1/users/{so_id}/disable"), &json!({}));
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(app.get_as(&token, "/api/v1/me").status, 401);
    assert_eq!(app.login_reply("so.fin", "a-brand-new-password", "192.0.2.50").status, 401);
    // Only administrators may disable.
    let js = app.login("js.fin");
    let ds_id = app.get_as(&app.login("ds.fin"), "/api/v1/me").body["id"].as_str().unwrap().to_owned();
    assert_eq!(app.post_as(&js, &format!("/api/v1/users/{ds_id}/disable"), &json!({})).status, 403);
    // An administrator cannot lock themselves out (found by schemathesis).
    let admin_id = app.get_as(&admin, "/api/v1/me").body["id"].as_str().unwrap().to_owned();
    let r = app.post_as(&admin, &format!("/api/v1/users/{admin_id}/disable"), &json!({}));
    assert_eq!(r.status, 409, "{}", r.text);
    assert_eq!(app.get_as(&admin, "/api/v1/me").status, 200);
});

both_backends!(cookie_sessions_need_the_csrf_token, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let body = json!({"username": "admin", "password": DEMO_PASSWORD, "session": "web"}).to_string();
    let r = app.request("POST", "/api/v1/auth/login", &[("Content-Type", "application/json")], Some(&body));
    assert_eq!(r.status, 200, "{}", r.text);
    let csrf = r.body["csrf_token"].as_str().unwrap().to_owned();
    let set_cookies: Vec<&str> =
        r.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie")).map(|(_, v)| v.as_str()).collect();
    let session = set_cookies.iter().find(|c| c.starts_with("daftar_session=")).expect("session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"), "{session}");
    let cookie = session.split(';').next().unwrap().to_owned();

    // Reading with the cookie needs no CSRF token.
    let r = app.request("GET", "/api/v1/me", &[("Cookie", &cookie)], None);
    assert_eq!(r.status, 200);
    assert_eq!(r.body["username"], "admin");

    // A cross-site form post carries the cookie but cannot know the token.
    let units = app.request("GET", "/api/v1/org/units?limit=200", &[("Cookie", &cookie)], None);
    let gop = units.body["items"].as_array().unwrap().iter().find(|u| u["code"] == "GOP").unwrap()["id"].clone();
    let unit = json!({"code": "EVIL", "name": "Evil Ministry", "kind": "ministry", "parent_id": gop}).to_string();
    let r = app.request(
        "POST",
        "/api/v1/org/units",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", "https://evil.example"),
        ],
        Some("code=EVIL&name=Evil&kind=ministry"),
    );
    assert_eq!(r.status, 403, "{}", r.text);
    let r = app.request(
        "POST",
        "/api/v1/org/units",
        &[("Cookie", &cookie), ("Content-Type", "application/json")],
        Some(&unit),
    );
    assert_eq!(r.status, 403, "JSON without the token: {}", r.text);
    let r = app.request(
        "POST",
        "/api/v1/org/units",
        &[("Cookie", &cookie), ("Content-Type", "application/json"), ("X-CSRF-Token", "guess")],
        Some(&unit),
    );
    assert_eq!(r.status, 403);
    let r = app.request(
        "POST",
        "/api/v1/org/units",
        &[("Cookie", &cookie), ("Content-Type", "application/json"), ("X-CSRF-Token", &csrf)],
        Some(&unit),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let created: Value = r.body;
    assert_eq!(created["kind"], "ministry");
});

both_backends!(every_response_carries_security_headers, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    for r in [app.get("/healthz"), app.get("/api/v1/me"), app.get("/nowhere")] {
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"), "{csp}");
        assert!(r.header("strict-transport-security").is_none(), "no HSTS over plain HTTP");
    }
});

both_backends!(one_administrator_alone_cannot_widen_anyones_sight, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let admin = app.login("admin");
    // The rogue administrator makes an account to read a top-secret file.
    let body = json!({"username": "shadow", "name": "Shadow", "clearance": "top_secret",
                      "password": "shadow-password-1", "roles": ["auditor:MOITT"]});
    let r = app.post_as(&admin, "/api/v1/users", &body);
    assert_eq!(r.status, 202, "{}", r.text);
    let request = r.body["request"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["request"]["status"], "pending");
    assert!(!r.text.contains("shadow-password-1"), "{}", r.text);
    // Nothing exists yet: no login.
    assert_eq!(app.login_reply("shadow", "shadow-password-1", "192.0.2.77").status, 401);
    // The requester cannot approve their own request.
    let decide = |token: &str, id: &str, decision: &str| {
        app.post_as(token, &format!("/api/v1/admin/requests/{id}"), &json!({"decision": decision}))
    };
    assert_eq!(decide(&admin, &request, "approve").status, 403);
    // Officers see no requests.
    assert_eq!(app.get_as(&app.login("so.moitt"), "/api/v1/admin/requests").status, 403);
    // A second administrator sees it, rejects it: still nothing.
    let admin2 = crate::helpers::second_admin(&app);
    let list = app.get_as(&admin2, "/api/v1/admin/requests");
    assert_eq!(list.status, 200, "{}", list.text);
    assert!(list.text.contains(&request) && list.text.contains("top_secret"), "{}", list.text);
    let r = decide(&admin2, &request, "reject");
    assert_eq!((r.status, r.body["status"].as_str()), (200, Some("rejected")), "{}", r.text);
    assert_eq!(decide(&admin2, &request, "approve").status, 409, "decided once");
    assert_eq!(app.login_reply("shadow", "shadow-password-1", "192.0.2.77").status, 401);
    // Asked again and approved: then it exists, as the second administrator made it.
    let r = app.post_as(&admin, "/api/v1/users", &body);
    let id = crate::helpers::done(&app, &r);
    assert_eq!(app.login_reply("shadow", "shadow-password-1", "192.0.2.77").status, 200);
    // Whom a change benefits may not approve it: a desk for admin2, asked by admin.
    let admin2_id = app.get_as(&admin2, "/api/v1/me").body["id"].as_str().unwrap().to_owned();
    let desk = post_id(&app, &admin, "MOITT/DS-ADMIN");
    let r = app.post_as(
        &admin,
        &format!("/api/v1/posts/{desk}/assignments"),
        &json!({"user_id": admin2_id, "kind": "acting", "primary": false}),
    );
    assert_eq!(r.status, 202, "{}", r.text);
    let request = r.body["request"]["id"].as_str().unwrap();
    assert_eq!(decide(&admin2, request, "approve").status, 403);
    assert_eq!(app.get_as(&admin2, "/api/v1/me").body["posts"], json!([]));
    // A plain officer account, with no clearance above unclassified and no
    // role, widens nobody's sight: made at once.
    let r = app.post_as(
        &admin,
        "/api/v1/users",
        &json!({"username": "plain", "name": "Plain", "clearance": "unclassified", "password": "plain-password-12"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(!id.is_empty());
});
