//! Identity through the real server: login, tokens, sessions, the acting post,
//! brute-force control and CSRF.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use daftar::auth::tokens::{Claims, TokenKeys};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{DEMO_PASSWORD, TestApp, spawn_app};

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// The claims of a real token, to forge variants of.
fn claims_of(token: &str) -> Claims {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn status_with(app: &TestApp, token: &str) -> u16 {
    app.get_as(token, "/api/v1/me").status
}

both_backends!(login_and_me, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let r = app.login_reply("SO.MoITT", DEMO_PASSWORD, "192.0.2.1");
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["token_type"], "Bearer");
    assert!(r.body["expires_in"].as_i64().unwrap() <= 900);
    assert!(r.body["refresh_token"].as_str().unwrap().len() >= 40);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let token = r.body["access_token"].as_str().unwrap();
    let me = app.get_as(token, "/api/v1/me");
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["username"], "so.moitt");
    assert_eq!(me.body["clearance"], "restricted");
    assert_eq!(me.body["posts"][0]["designation"], "section_officer");
    assert_eq!(me.body["posts"][0]["org_unit"]["code"], "IT(Admin)");
    assert_eq!(me.body["acting_post_id"], me.body["posts"][0]["id"]);

    let reg = app.get_as(&app.login("registry.moitt"), "/api/v1/me");
    let roles: Vec<&str> = reg.body["roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(roles, ["officer", "registry:MOITT"]);

    // Wrong password and unknown user answer the same.
    let wrong = app.login_reply("so.moitt", "not-the-password", "192.0.2.2");
    let unknown = app.login_reply("nobody.at.all", "not-the-password", "192.0.2.3");
    assert_eq!((wrong.status, unknown.status), (401, 401));
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.body["error"]["code"], "unauthenticated");

    // Malformed bodies are 400/415, never 500.
    let r =
        app.request("POST", "/api/v1/auth/login", &[("Content-Type", "application/json")], Some("{\"username\": 5"));
    assert_eq!(r.status, 400);
    let r = app.request("POST", "/api/v1/auth/login", &[("Content-Type", "text/plain")], Some("hi"));
    assert_eq!(r.status, 415);
    let huge = json!({"username": "so.moitt", "password": "x".repeat(300_000)}).to_string();
    let r = app.request("POST", "/api/v1/auth/login", &[("Content-Type", "application/json")], Some(&huge));
    assert_eq!(r.status, 413);
    assert_eq!(r.body["error"]["code"], "too_large");
});

both_backends!(forged_tokens_are_refused, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let token = app.login("js.moitt");
    assert_eq!(status_with(&app, &token), 200);
    let keys = TokenKeys::load_or_create(app.test_db.dir.path()).unwrap();
    let good = claims_of(&token);
    assert_eq!(status_with(&app, &keys.sign(&good)), 200, "re-signing the same claims is valid");

    // Tampered: another user's id in the payload, signature kept.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut evil = good.clone();
    evil.sub = "someone-else".into();
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&evil).unwrap());
    assert_eq!(status_with(&app, &parts.join(".")), 401, "tampered");

    let expired = Claims { exp: now() - 60, nbf: now() - 120, iat: now() - 120, ..good.clone() };
    assert_eq!(status_with(&app, &keys.sign(&expired)), 401, "expired");
    let early = Claims { nbf: now() + 3600, exp: now() + 4000, ..good.clone() };
    assert_eq!(status_with(&app, &keys.sign(&early)), 401, "not yet valid");
    let wrong_aud = Claims { aud: "another-service".into(), ..good.clone() };
    assert_eq!(status_with(&app, &keys.sign(&wrong_aud)), 401, "wrong audience");
    let wrong_iss = Claims { iss: "evil".into(), ..good.clone() };
    assert_eq!(status_with(&app, &keys.sign(&wrong_iss)), 401, "wrong issuer");

    // alg: none.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&good).unwrap());
    assert_eq!(status_with(&app, &format!("{header}.{payload}.")), 401, "alg none");

    // HS256 keyed with the server's public key (algorithm confusion).
    let pk8 = std::fs::read(app.test_db.dir.path().join("keys/jwt-ed25519.pk8")).unwrap();
    use ring::signature::KeyPair;
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pk8).unwrap();
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &good,
        &jsonwebtoken::EncodingKey::from_secret(pair.public_key().as_ref()),
    )
    .unwrap();
    assert_eq!(status_with(&app, &hs), 401, "HS256 with the public key");
    assert_eq!(status_with(&app, "not.a.token"), 401);
    assert_eq!(app.request("GET", "/api/v1/me", &[("Authorization", "Basic abc")], None).status, 401);
});

both_backends!(refresh_rotates_and_reuse_ends_the_family, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let first = app.login_reply("ds.moitt", DEMO_PASSWORD, "192.0.2.5");
    let r1 = first.body["refresh_token"].as_str().unwrap().to_owned();
    let second = app.post("/api/v1/auth/refresh", &json!({"refresh_token": r1}));
    assert_eq!(second.status, 200, "{}", second.text);
    let r2 = second.body["refresh_token"].as_str().unwrap().to_owned();
    let a2 = second.body["access_token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r2);
    assert_eq!(status_with(&app, &a2), 200);

    // The thief replays the first token: refused, and the whole family ends.
    let replay = app.post("/api/v1/auth/refresh", &json!({"refresh_token": r1}));
    assert_eq!(replay.status, 401);
    assert_eq!(app.post("/api/v1/auth/refresh", &json!({"refresh_token": r2})).status, 401);
    assert_eq!(status_with(&app, &a2), 401, "access tokens of the family stop too");
    // Other sessions of the same user are untouched.
    assert_eq!(status_with(&app, &app.login("ds.moitt")), 200);

    assert_eq!(app.post("/api/v1/auth/refresh", &json!({"refresh_token": "made-up"})).status, 401);
    assert_eq!(app.post("/api/v1/auth/refresh", &json!({})).status, 400);
});

both_backends!(logout_ends_the_session_now, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let session = || {
        let login = app.login_reply("so.moc", DEMO_PASSWORD, "192.0.2.6");
        (
            login.body["access_token"].as_str().unwrap().to_owned(),
            login.body["refresh_token"].as_str().unwrap().to_owned(),
        )
    };
    // Logging out ends every session of the officer at once.
    let ((access, refresh), (other, other_refresh)) = (session(), session());
    assert_eq!(status_with(&app, &access), 200);
    let r = app.post("/api/v1/auth/logout", &json!({"refresh_token": refresh}));
    assert_eq!(r.status, 204);
    for token in [&access, &other] {
        assert_eq!(status_with(&app, token), 401);
    }
    for token in [&refresh, &other_refresh] {
        assert_eq!(app.post("/api/v1/auth/refresh", &json!({"refresh_token": token})).status, 401);
    }
    // A spent refresh token ends nothing but its own (already rotated) session.
    let (access, refresh) = session();
    let (other, _) = session();
    let r = app.post("/api/v1/auth/refresh", &json!({"refresh_token": refresh}));
    assert_eq!(r.status, 200);
    assert_eq!(app.post("/api/v1/auth/logout", &json!({"refresh_token": refresh})).status, 204);
    assert_eq!(status_with(&app, &other), 200, "another session survives an old token");
    assert_eq!(status_with(&app, &access), 401);
    // Or, asked so, only this one.
    let ((access, refresh), (other, _)) = (session(), session());
    let r = app.post("/api/v1/auth/logout", &json!({"refresh_token": refresh, "everywhere": false}));
    assert_eq!(r.status, 204);
    assert_eq!(status_with(&app, &access), 401);
    assert_eq!(status_with(&app, &other), 200);
});

both_backends!(the_acting_post_must_be_held, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let me = app.get_as(&so, "/api/v1/me");
    let own = me.body["posts"][0]["id"].as_str().unwrap().to_owned();
    let ds_token = app.login("ds.moitt");
    let ds_post = app.get_as(&ds_token, "/api/v1/me").body["posts"][0]["id"].as_str().unwrap().to_owned();
    let with_post = |post: &str| {
        app.request("GET", "/api/v1/me", &[("Authorization", &format!("Bearer {so}")), ("X-Post-Id", post)], None)
    };
    let r = with_post(&own);
    assert_eq!(r.status, 200);
    assert_eq!(r.body["acting_post_id"], own.as_str());
    let r = with_post(&ds_post);
    assert_eq!(r.status, 403, "a post the user does not hold");
    assert_eq!(r.body["error"]["code"], "forbidden");
    assert_eq!(with_post("no-such-post").status, 403);
});

both_backends!(guessing_is_throttled_without_locking_the_officer_out, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let (mut refused, mut limited) = (0, 0);
    for _ in 0..200 {
        let r = app.login_reply("js.moitt", "guess-guess-guess", "203.0.113.66");
        match r.status {
            401 => refused += 1,
            429 => {
                limited += 1;
                assert_eq!(r.body["error"]["code"], "rate_limited");
                let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
                assert!((1..=2).contains(&wait), "Retry-After {wait}");
            }
            s => panic!("unexpected {s}: {}", r.text),
        }
    }
    assert!(limited >= 150, "most guesses must be refused unchecked: {refused} checked, {limited} limited");
    // The officer, from their own address: at most one backoff window.
    let mut r = app.login_reply("js.moitt", DEMO_PASSWORD, "192.0.2.44");
    if r.status == 429 {
        let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
        assert!(wait <= 2);
        std::thread::sleep(std::time::Duration::from_secs(wait));
        r = app.login_reply("js.moitt", DEMO_PASSWORD, "192.0.2.44");
    }
    assert_eq!(r.status, 200, "{}", r.text);
});

both_backends!(idle_and_absolute_limits_end_sessions, |backend| {
    use daftar::store::schema::sessions;
    use diesel::prelude::*;
    let Some(app) = spawn_app(backend) else { return };
    let age = |minutes: i64| daftar::store::now_micros() - minutes * 60_000_000;

    // Unused (not refreshed) for 31 minutes: the refresh is refused.
    let r = app.login_reply("so.moitt", DEMO_PASSWORD, "192.0.2.40");
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
    let sid = claims_of(r.body["access_token"].as_str().unwrap()).sid;
    {
        let mut c = app.db.writer().unwrap();
        diesel::update(sessions::table.find(&sid)).set(sessions::last_used_at.eq(age(31))).execute(&mut *c).unwrap();
    }
    assert_eq!(app.post("/api/v1/auth/refresh", &json!({"refresh_token": refresh})).status, 401);

    // Twelve hours after login, even the access token stops working.
    let r = app.login_reply("so.moitt", DEMO_PASSWORD, "192.0.2.40");
    let token = r.body["access_token"].as_str().unwrap().to_owned();
    let refresh = r.body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(status_with(&app, &token), 200);
    let sid = claims_of(&token).sid;
    {
        let mut c = app.db.writer().unwrap();
        diesel::update(sessions::table.find(&sid)).set(sessions::expires_at.eq(age(1))).execute(&mut *c).unwrap();
    }
    assert_eq!(status_with(&app, &token), 401);
    assert_eq!(app.post("/api/v1/auth/refresh", &json!({"refresh_token": refresh})).status, 401);
});

both_backends!(audit_events_keep_no_secrets, |backend| {
    use daftar::store::schema::{audit_events, ledger_events};
    use diesel::prelude::*;
    let Some(app) = spawn_app(backend) else { return };
    let r = app.login_reply("so.moitt", DEMO_PASSWORD, "192.0.2.50");
    let (token, refresh) =
        (r.body["access_token"].as_str().unwrap().to_owned(), r.body["refresh_token"].as_str().unwrap().to_owned());
    assert_eq!(app.login_reply("so.moitt", "wrong-password-guess", "192.0.2.50").status, 401);
    let r = app.post("/api/v1/auth/refresh", &json!({"refresh_token": refresh}));
    assert_eq!(r.status, 200);
    let refresh2 = r.body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(app.post("/api/v1/auth/refresh", &json!({"refresh_token": refresh})).status, 401, "reuse");
    let pw = json!({"current_password": DEMO_PASSWORD, "new_password": "a-brand-new-password-1"});
    assert_eq!(app.post_as(&app.login("ds.moitt"), "/api/v1/me/password", &pw).status, 204);

    let mut c = app.db.reader().unwrap();
    let c: &mut daftar::store::DbConn = &mut c;
    let kinds: Vec<String> = audit_events::table.select(audit_events::kind).load(c).unwrap();
    for kind in ["login_succeeded", "login_failed", "token_reuse_detected", "password_changed"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} recorded: {kinds:?}");
    }
    let mut stored: Vec<String> = audit_events::table.select(audit_events::details).load(c).unwrap();
    stored.extend(ledger_events::table.select(ledger_events::payload).load::<String>(c).unwrap());
    let all = stored.join("\n");
    for secret in [DEMO_PASSWORD, "wrong-password-guess", "a-brand-new-password-1", &token, &refresh, &refresh2] {
        assert!(!all.contains(secret), "a secret reached the audit trail");
    }
    let random_part = refresh.split('.').next().unwrap();
    assert!(!all.contains(random_part));
});
