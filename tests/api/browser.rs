//! The web inbox in a real browser: headless Chromium driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`, which `.ci/run` installs).
//! Without them the suite is skipped, saying so. Screenshots of each page
//! are saved under `target/browser-screens/`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app};
use crate::signing::PIN;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver session on a chromedriver of its own.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    shots: std::path::PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = ureq::delete(&format!("{}/session/{}", self.base, self.session)).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` (and a note) if either is missing.
    fn start() -> Option<Browser> {
        let (driver, chromium) = ("/usr/bin/chromedriver", "/usr/bin/chromium");
        if !std::path::Path::new(driver).exists() || !std::path::Path::new(chromium).exists() {
            eprintln!(
                "skipping the browser suite: {driver} or {chromium} is not installed (apt-get install chromium chromium-driver)"
            );
            return None;
        }
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while ureq::get(&format!("{base}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"binary": chromium, "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"
            ]}
        }}});
        let r: Value =
            ureq::post(&format!("{base}/session")).send_json(caps).expect("new session").into_json().unwrap();
        let session = r["value"]["sessionId"].as_str().expect("session id").to_owned();
        let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-screens");
        std::fs::create_dir_all(&shots).unwrap();
        Some(Browser { driver: child, base, session, shots })
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/session/{}{rest}", self.base, self.session)
    }

    fn post(&self, rest: &str, body: Value) -> Value {
        match ureq::post(&self.url(rest)).send_json(body) {
            Ok(r) => r.into_json().unwrap(),
            Err(ureq::Error::Status(_, r)) => panic!("webdriver {rest}: {}", r.into_string().unwrap_or_default()),
            Err(e) => panic!("webdriver {rest}: {e}"),
        }
    }

    fn get(&self, rest: &str) -> Value {
        ureq::get(&self.url(rest)).call().unwrap().into_json().unwrap()
    }

    fn open(&self, url: &str) {
        self.post("/url", json!({"url": url}));
    }

    fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(r) = ureq::post(&self.url("/element")).send_json(json!({"using": "css selector", "value": css})) {
                let v: Value = r.into_json().unwrap();
                return v["value"][ELEMENT].as_str().unwrap().to_owned();
            }
            assert!(Instant::now() < deadline, "no element {css} on {}", self.current());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn all(&self, css: &str) -> Vec<String> {
        let v = self.post("/elements", json!({"using": "css selector", "value": css}));
        v["value"].as_array().unwrap().iter().map(|e| e[ELEMENT].as_str().unwrap().to_owned()).collect()
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.post(&format!("/element/{e}/clear"), json!({}));
        self.post(&format!("/element/{e}/value"), json!({"text": text}));
    }

    /// Clicks the element `css`, finding it again if the page changed under
    /// it between finding and clicking (the previous page's navigation
    /// finishing late on a loaded machine: a stale element is not clicked).
    fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let e = self.find(css);
            match ureq::post(&self.url(&format!("/element/{e}/click"))).send_json(json!({})) {
                Ok(_) => return,
                Err(ureq::Error::Status(_, r)) => {
                    let body = r.into_string().unwrap_or_default();
                    assert!(
                        body.contains("stale element reference") && Instant::now() < deadline,
                        "webdriver click on {css}: {body}"
                    );
                }
                Err(e) => panic!("webdriver click on {css}: {e}"),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn select(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value=\"{value}\"]"));
    }

    /// Reads `what` of the element `css`, finding it again if the page
    /// changed under it between finding and reading (a navigation racing
    /// the read on a loaded machine).
    fn read(&self, css: &str, what: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let e = self.find(css);
            if let Ok(r) = ureq::get(&self.url(&format!("/element/{e}/{what}"))).call() {
                return r.into_json::<Value>().unwrap()["value"].clone();
            }
            assert!(Instant::now() < deadline, "cannot read {what} of {css} on {}", self.current());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn text(&self, css: &str) -> String {
        self.read(css, "text").as_str().unwrap_or("").to_owned()
    }

    fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.read(css, &format!("attribute/{name}")).as_str().map(str::to_owned)
    }

    /// Waits until the element `css` says `needle` (a navigation may still be
    /// on its way); false if it never does.
    fn shows(&self, css: &str, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.text(css).contains(needle) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        true
    }

    /// Waits until the browser is at `url`.
    fn wait_for_url(&self, url: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.current() != url {
            assert!(Instant::now() < deadline, "never reached {url}: at {}", self.current());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn title(&self) -> String {
        self.get("/title")["value"].as_str().unwrap_or("").to_owned()
    }

    fn current(&self) -> String {
        self.get("/url")["value"].as_str().unwrap_or("").to_owned()
    }

    fn source(&self) -> String {
        self.get("/source")["value"].as_str().unwrap_or("").to_owned()
    }

    fn shot(&self, name: &str) {
        use base64::Engine;
        let v = self.get("/screenshot");
        let png = base64::engine::general_purpose::STANDARD.decode(v["value"].as_str().unwrap()).unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Console messages at error level since the last call.
    fn console_errors(&self) -> Vec<String> {
        match ureq::post(&self.url("/se/log")).send_json(json!({"type": "browser"})) {
            Ok(r) => {
                let v: Value = r.into_json().unwrap_or_default();
                v["value"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter(|e| e["level"] == "SEVERE")
                            .map(|e| e["message"].as_str().unwrap_or("").to_owned())
                            .collect()
                    })
                    .unwrap_or_default()
            }
            Err(_) => Vec::new(),
        }
    }

    /// What every page must have: a title, one h1, labelled inputs, no console errors.
    fn check_page(&self, name: &str) {
        self.shot(name);
        let title = self.title();
        assert!(!title.is_empty() && !title.contains('<'), "{name}: no plain <title>: {title:?}");
        assert_eq!(self.all("h1").len(), 1, "{name}: not exactly one <h1>");
        let src = self.source();
        for input in self.all("input:not([type=hidden]), select, textarea") {
            let id = self.get(&format!("/element/{input}/attribute/id"))["value"].as_str().unwrap_or("").to_owned();
            assert!(
                !id.is_empty() && src.contains(&format!("for=\"{id}\"")),
                "{name}: an input without a label ({id})"
            );
        }
        let errors = self.console_errors();
        assert!(errors.is_empty(), "{name}: console errors {errors:?}");
    }

    fn login(&self, app: &TestApp, user: &str) {
        self.open(&format!("{}/", app.base));
        self.type_into("#username", user);
        self.type_into("#password", crate::helpers::DEMO_PASSWORD);
        self.click("form[action='/login'] button");
        assert!(self.shows("main h1", "Inbox"), "{user} did not reach the inbox: {}", self.source());
    }

    fn logout(&self) {
        self.click("form[action='/logout'] button");
        self.find("#username");
    }

    /// Sends the open file to the post with `code`, signing the move.
    fn forward(&self, code: &str) {
        self.select("#action", "forward");
        self.type_into("#to", code);
        self.type_into("#move-pin", PIN);
        self.click("form[action$='/move'] button");
        assert!(self.shows("main h1", "Inbox"), "the move failed: {}", self.text("main"));
    }
}

#[test]
fn an_officer_notes_and_moves_a_file_up_the_chain_in_the_browser() {
    let Some(app) = spawn_app(Backend::Sqlite) else { return };
    let Some(b) = Browser::start() else { return };
    // The SO: log in, open a file, write and sign a note (with Urdu), send it to the DS.
    b.open(&format!("{}/", app.base));
    b.check_page("01-login");
    b.login(&app, "so.moitt");
    b.check_page("02-inbox-so");
    b.type_into("#subject", "Broadband for tehsil offices");
    b.click("form[action='/files'] button");
    b.find(".fileno");
    b.check_page("03-new-file");
    let urdu = "تحصیل دفاتر کے لیے براڈ بینڈ کی منظوری درکار ہے۔";
    b.type_into("#note-body", &format!("Submitted for approval.\n\n{urdu}"));
    b.click("form.write button");
    b.find("li.note.draft");
    b.type_into("li.note.draft input[name=pin]", PIN);
    b.click("li.note.draft form button");
    b.find("li.note:not(.draft)");
    let body = b.text("li.note .body");
    assert!(body.contains(urdu), "the Urdu came back changed: {body:?}");
    assert_eq!(b.attr("li.note .body", "dir").as_deref(), Some("auto"));
    b.check_page("04-file-signed-note");
    let file_url = b.current();
    b.forward("MOITT/DS-ADMIN");
    b.logout();
    // The DS finds it unopened in the inbox, opens it, sends it on.
    b.login(&app, "ds.moitt");
    assert!(!b.all("tr.unopened").is_empty(), "the file is not marked unopened");
    b.click("tr.unopened a");
    b.find(".fileno");
    b.check_page("05-file-at-ds");
    b.forward("MOITT/JS-ADMIN");
    b.logout();
    b.login(&app, "js.moitt");
    b.click("tr.unopened a");
    b.forward("MOITT/SECRETARY");
    b.check_page("06-sent-on");
    b.open(&format!("{}/sent", app.base));
    b.check_page("07-sent");
    b.logout();
    // The Secretary: the timeline shows each step.
    b.login(&app, "secretary.moitt");
    b.open(&file_url);
    let steps = b.all(".timeline li");
    assert_eq!(steps.len(), 3, "three moves in the timeline: {}", b.text(".timeline"));
    let timeline = b.text(".timeline");
    for code in ["MOITT/DS-ADMIN", "MOITT/JS-ADMIN", "MOITT/SECRETARY"] {
        assert!(timeline.contains(code), "{code} missing from the timeline: {timeline}");
    }
    b.check_page("08-timeline-at-secretary");
}

#[test]
fn a_form_without_the_anti_csrf_token_is_refused() {
    let Some(app) = spawn_app(Backend::Sqlite) else { return };
    // Log in through the form, as a browser does, keeping the cookies.
    let agent = ureq::AgentBuilder::new().redirects(0).build();
    let r = agent
        .post(&format!("{}/login", app.base))
        .send_form(&[("username", "so.moitt"), ("password", crate::helpers::DEMO_PASSWORD)]);
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(r.status(), 303);
    let cookies: Vec<String> = r
        .all("set-cookie")
        .iter()
        .filter_map(|c| c.split(';').next())
        .filter(|c| !c.ends_with('='))
        .map(str::to_owned)
        .collect();
    let session = cookies.iter().find(|c| c.starts_with("daftar_session=")).expect("session cookie").clone();
    let csrf =
        cookies.iter().find(|c| c.starts_with("daftar_csrf=")).unwrap().trim_start_matches("daftar_csrf=").to_owned();
    let post = |fields: &[(&str, &str)]| match agent
        .post(&format!("{}/files", app.base))
        .set("Cookie", &session)
        .send_form(fields)
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(s, _)) => s,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(post(&[("subject", "Forged")]), 403, "no token");
    assert_eq!(post(&[("subject", "Forged"), ("csrf", "0000")]), 403, "wrong token");
    assert_eq!(post(&[("subject", "Genuine"), ("csrf", &csrf)]), 303, "the page's own form");
    // A page asked for without a session is the login page, not an error.
    let r = agent.get(&format!("{}/", app.base)).call().unwrap();
    assert!(r.into_string().unwrap().contains("id=\"username\""));
}

#[test]
fn a_secretary_approves_from_the_queue_and_an_officer_finds_the_note() {
    let Some(app) = spawn_app(Backend::Sqlite) else { return };
    let Some(b) = Browser::start() else { return };
    // The SO opens a file on the noting chain, notes it and submits it.
    b.login(&app, "so.moitt");
    b.type_into("#subject", "Revision of leave rules");
    b.select("#workflow", "secretariat-noting");
    b.click("form[action='/files'] button");
    b.find(".fileno");
    b.type_into("#note-body", "The quillwort committee recommends the revision.");
    b.click("form.write button");
    b.type_into("li.note.draft input[name=pin]", PIN);
    b.click("li.note.draft form button");
    b.find("li.note:not(.draft)");
    b.select("#action", "approve");
    b.type_into("#move-pin", PIN);
    b.click("form[action$='/move'] button");
    b.find("main h1");
    // Found by a word of the note, highlighted.
    b.open(&format!("{}/search?q=quillwort", app.base));
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.all("ol.results li").is_empty() {
        assert!(Instant::now() < deadline, "the note was never found: {}", b.text("main"));
        std::thread::sleep(Duration::from_millis(200));
        b.open(&format!("{}/search?q=quillwort", app.base));
    }
    assert!(b.source().contains("<b>quillwort</b>"), "no highlighted snippet");
    b.check_page("09-search");
    b.logout();
    // The DS approves it from the queue with one PIN.
    b.login(&app, "ds.moitt");
    b.open(&format!("{}/queue", app.base));
    b.check_page("10-queue");
    b.click("input[name=file]");
    b.type_into("#bulk-pin", PIN);
    b.click("form[action='/queue/approve'] button");
    b.find(".flash");
    assert!(b.text(".flash").contains("Approved 1 files"), "{}", b.text("main"));
    assert!(b.all("input[name=file]").is_empty(), "the file left the DS's queue");
    b.check_page("11-queue-after-approval");
    b.logout();
    // It now waits on the JS.
    b.login(&app, "js.moitt");
    b.open(&format!("{}/queue", app.base));
    assert_eq!(b.all("input[name=file]").len(), 1, "{}", b.text("main"));
}

#[test]
fn every_page_from_the_inbox_is_well_formed_and_a_second_desk_can_be_chosen() {
    let Some(app) = spawn_app(Backend::Sqlite) else { return };
    // The SO also holds the registry desk on additional charge today.
    let admin = app.login("admin");
    let so_id = app.get_as(&app.login("so.moitt"), "/api/v1/me").body["id"].as_str().unwrap().to_owned();
    let posts = app.get_as(&admin, "/api/v1/posts?q=registry&limit=200");
    let registry =
        posts.body["items"].as_array().unwrap().iter().find(|p| p["code"] == "MOITT/REGISTRY").expect("registry desk")
            ["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let r = app.post_as(
        &admin,
        &format!("/api/v1/posts/{registry}/assignments"),
        &json!({"user_id": so_id, "kind": "additional_charge"}),
    );
    crate::helpers::done(&app, &r);
    let Some(b) = Browser::start() else { return };
    b.login(&app, "so.moitt");
    // Every page the inbox links to (nav and lists) passes the page checks.
    b.type_into("#subject", "A file to walk to");
    b.click("form[action='/files'] button");
    b.find(".fileno");
    b.open(&format!("{}/", app.base));
    let hrefs: Vec<String> = b
        .all("a[href^='/']")
        .into_iter()
        .filter_map(|a| b.get(&format!("/element/{a}/attribute/href"))["value"].as_str().map(str::to_owned))
        .filter(|h| !h.starts_with("/api/"))
        .collect();
    assert!(hrefs.iter().any(|h| h.starts_with("/files/")), "{hrefs:?}");
    for (i, h) in hrefs.iter().enumerate() {
        b.open(&format!("{}{h}", app.base));
        b.check_page(&format!("20-walk-{i:02}"));
    }
    // The switcher: act at the registry desk.
    b.open(&format!("{}/", app.base));
    assert!(b.text(".who span").contains("Section Officer"), "{}", b.text("header"));
    b.select("#desk", &registry);
    b.click("form[action='/desk'] button");
    b.find("main h1");
    // The switch is a form post: the old page may still be up for a moment.
    assert!(b.shows(".who span", "Diary Clerk"), "now acting at the registry desk: {}", b.text("header"));
    b.check_page("21-second-desk");
}

#[test]
fn the_registry_diarises_a_letter_with_its_scan_and_the_officer_puts_it_up() {
    let Some(app) = spawn_app(Backend::Sqlite) else { return };
    let Some(b) = Browser::start() else { return };
    let scan = b.shots.join("letter-scan.pdf");
    std::fs::write(&scan, crate::documents::PDF).unwrap();
    b.login(&app, "registry.moitt");
    b.check_page("29-registry-inbox");
    b.type_into("#r-subject", "Request for broadband in Tehsil Murree");
    b.type_into("#r-sender", "Deputy Commissioner, Rawalpindi");
    b.type_into("#r-letter", "DC/RWP/2026/118");
    b.post(&format!("/element/{}/value", b.find("#r-file")), json!({"text": scan.to_string_lossy()}));
    b.click("form[action='/receipts'] button");
    b.find("dl.facts");
    b.check_page("30-receipt-diarised");
    let diary = b.text("h1 .fileno");
    assert!(diary.starts_with("MOITT/R/"), "{diary}");
    assert_eq!(b.all("main ul li a[href^='/api/v1/documents/']").len(), 1, "the scan is listed");
    // The acknowledgement for the sender: the tracking code, shown this once, and the slip.
    let code = b.text("#tracking-code");
    assert_eq!(code.len(), 19, "{code}");
    assert!(b.attr("#slip", "href").is_some_and(|h| h.contains("format=pdf")));
    b.type_into("#to", "MOITT/SO-ADMIN");
    b.click("form[aria-labelledby='fwd-h'] button");
    b.find("main h1");
    b.logout();
    // The SO opens it from the inbox and puts it up in a file they hold.
    b.login(&app, "so.moitt");
    b.type_into("#subject", "Broadband for Murree");
    b.click("form[action='/files'] button");
    let file_url = {
        b.find(".fileno");
        b.current()
    };
    b.open(&format!("{}/", app.base));
    b.click(&format!("a[href^='/receipts/']"));
    b.find("dl.facts");
    b.check_page("31-receipt-at-so");
    b.click("form[aria-labelledby='putup-h'] button");
    b.wait_for_url(&file_url); // back on the file it was put up in
    b.find(".fileno");
    assert!(!b.all(".correspondence li a").is_empty(), "the letter is in the file's correspondence");
    b.check_page("32-file-with-receipt");
    b.logout();
    // The sender, not signed in, follows the letter with the code.
    b.open(&format!("{}/track", app.base));
    b.check_page("33-track-form");
    b.type_into("#diary_no", &diary);
    b.type_into("#code", &code.to_lowercase());
    b.click("form[action='/track'] button");
    b.find("#tracked");
    assert_eq!(b.text("#status"), "Put up in a file for decision", "{}", b.text("main"));
    assert_eq!(b.text("#section"), "Administration Section, MoITT");
    assert_eq!(b.all("#stages li").len(), 3, "{}", b.text("#stages"));
    assert!(!b.text("main").contains("Broadband for Murree"), "no file subject");
    b.check_page("34-track-found");
}

#[test]
fn a_secretary_sees_where_files_wait_with_charts() {
    let Some(app) = spawn_app(Backend::Sqlite) else { return };
    let Some(b) = Browser::start() else { return };
    // Something moved, so the charts have a bar.
    let so = app.login("so.moitt");
    let ds = crate::helpers::my_post(&app, &app.login("ds.moitt"));
    let f = app.post_as(&so, "/api/v1/files", &json!({"subject": "Moves on"}));
    let id = f.body["id"].as_str().unwrap();
    let m = app.post_as(&so, &format!("/api/v1/files/{id}/movements"), &json!({"action": "forward", "to_post_id": ds}));
    assert_eq!(m.status, 201, "{}", m.text);
    b.login(&app, "secretary.moitt");
    b.click("nav a[href='/analytics']");
    b.find("#entity-MOITT");
    assert_eq!(b.all("svg.chart").len(), 2, "{}", b.source());
    assert!(b.text("#sections").contains("Deputy Secretary"), "{}", b.text("#sections"));
    assert!(b.text("#slowest").contains("MOITT/SO-ADMIN"), "{}", b.text("main"));
    assert!(b.attr("a[href*='format=csv']", "href").is_some());
    b.check_page("35-analytics-secretary");
    b.logout();
    // An officer has no such page to see.
    b.login(&app, "so.moitt");
    assert!(b.all("nav a[href='/analytics']").is_empty());
    b.open(&format!("{}/analytics", app.base));
    assert!(b.text("main").contains("no entity's figures"), "{}", b.text("main"));
}

#[test]
fn an_officer_enrols_a_new_key_and_signs_with_its_pin() {
    let Some(app) = spawn_app(Backend::Sqlite) else { return };
    let Some(b) = Browser::start() else { return };
    b.login(&app, "so.moitt");
    b.open(&format!("{}/keys", app.base));
    let old_serial = b.text("dl.facts a");
    b.check_page("40-my-key");
    b.type_into("#k-password", crate::helpers::DEMO_PASSWORD);
    b.type_into("#k-pin", "975310");
    b.type_into("#k-pin2", "975310");
    b.click("form[action='/keys'] button");
    b.find(".flash");
    let new_serial = b.text("dl.facts a");
    assert_ne!(new_serial, old_serial, "a new certificate");
    assert!(b.text(".flash").contains(&new_serial));
    // The new PIN signs; the old one no longer does.
    b.open(&format!("{}/", app.base));
    b.type_into("#subject", "Signed with the new key");
    b.click("form[action='/files'] button");
    b.type_into("#note-body", "Under the new key.");
    b.click("form.write button");
    b.type_into("li.note.draft input[name=pin]", PIN);
    b.click("li.note.draft form button");
    b.find(".flash");
    assert!(!b.all("li.note.draft").is_empty(), "the old PIN must not sign");
    // The refusal was a 403 page, which the console reports: expected here.
    let refused = b.console_errors();
    assert!(refused.iter().all(|e| e.contains("403")), "{refused:?}");
    b.type_into("li.note.draft input[name=pin]", "975310");
    b.click("li.note.draft form button");
    b.find("li.note:not(.draft)");
    b.check_page("41-signed-with-new-key");
}

#[test]
fn an_officer_attaches_a_document_and_links_another_file() {
    let Some(app) = spawn_app(Backend::Sqlite) else { return };
    let Some(b) = Browser::start() else { return };
    let pdf = b.shots.join("comments.pdf");
    std::fs::write(&pdf, crate::documents::PDF).unwrap();
    b.login(&app, "so.moitt");
    b.type_into("#subject", "Earlier correspondence");
    b.click("form[action='/files'] button");
    let earlier = b.text("h1 .fileno");
    b.open(&format!("{}/", app.base));
    b.type_into("#subject", "Current case");
    b.click("form[action='/files'] button");
    b.find(".fileno");
    b.type_into("#doc-title", "Comments of PTA");
    b.post(&format!("/element/{}/value", b.find("#doc-file")), json!({"text": pdf.to_string_lossy()}));
    b.click("form[aria-labelledby='attach-h'] button");
    b.find(".fileno");
    assert!(b.text(".correspondence ul").contains("Comments of PTA"), "{}", b.text(".correspondence"));
    b.type_into("#link-no", &earlier);
    b.click("form[aria-labelledby='link-h'] button");
    b.find(".fileno");
    assert!(b.text(".correspondence").contains(&earlier), "{}", b.text(".correspondence"));
    b.check_page("50-attached-and-linked");
}

impl Browser {
    fn script(&self, js: &str) -> Value {
        self.post("/execute/sync", json!({"script": js, "args": []}))["value"].clone()
    }
}

#[test]
fn a_note_being_typed_is_kept_and_pages_are_light_and_fit_a_small_screen() {
    let Some(app) = spawn_app(Backend::Sqlite) else { return };
    let Some(b) = Browser::start() else { return };
    b.login(&app, "so.moitt");
    b.type_into("#subject", "A note typed and left");
    b.click("form[action='/files'] button");
    b.find(".fileno");
    let file_url = b.current();
    // Typed and not submitted: saved as a draft while typed.
    b.type_into("#note-body", "Half a thought about the budget, typed and never submitted.");
    let deadline = Instant::now() + Duration::from_secs(15);
    while b.attr("#note-body", "data-saved").is_none() {
        assert!(Instant::now() < deadline, "the draft was never saved");
        std::thread::sleep(Duration::from_millis(200));
    }
    b.open(&file_url);
    assert!(b.text("li.note.draft .body").contains("Half a thought"), "{}", b.text(".sheet"));
    // Every page of the walk fits 1024x768 without sideways scrolling, and
    // weighs under 100 KB with its stylesheet and script (the font aside).
    b.post("/window/rect", json!({"width": 1024, "height": 768}));
    let css = ureq::get(&format!("{}/assets/daftar.css", app.base)).call().unwrap().into_string().unwrap().len();
    let js = ureq::get(&format!("{}/assets/daftar.js", app.base)).call().unwrap().into_string().unwrap().len();
    for page in ["/", "/sent", "/queue", "/search?q=budget", "/keys", file_url.trim_start_matches(&app.base)] {
        b.open(&format!("{}{page}", app.base));
        b.find("main h1");
        let wide = b.script("return document.documentElement.scrollWidth;").as_u64().unwrap();
        let inner = b.script("return window.innerWidth;").as_u64().unwrap();
        assert!(wide <= inner, "{page} scrolls sideways at 1024 wide: {wide} > {inner}");
        let html = b.source().len();
        assert!(html + css + js < 100 * 1024, "{page} weighs {} bytes", html + css + js);
    }
}

#[test]
fn a_secretary_issues_the_certificate_and_moitt_sees_every_entity_ranked() {
    let Some(app) = spawn_app(Backend::Sqlite) else { return };
    let Some(b) = Browser::start() else { return };
    // An officer has no compliance page in the menu, and nothing on it.
    b.login(&app, "so.moitt");
    assert!(b.all("nav a[href='/compliance']").is_empty(), "an officer sees no Compliance link");
    b.open(&format!("{}/compliance", app.base));
    assert!(b.text("main").contains("no entity's compliance figures"), "{}", b.text("main"));
    b.logout();
    // The Secretary sees MoITT's figures and certifies them with the PIN.
    b.login(&app, "secretary.moitt");
    b.click("nav a[href='/compliance']");
    b.find("#entity-MOITT");
    assert!(b.text("#entity-MOITT").contains("Physical files on the register"), "{}", b.text("main"));
    b.check_page("20-compliance-secretary");
    b.type_into("#pin-MOITT", PIN);
    b.click("form[action='/compliance/certificates'] button");
    b.find(".flash");
    assert!(b.text(".flash").contains("Certificate issued: version 1"), "{}", b.text("main"));
    let pdf = b.attr("#entity-MOITT a[href$='/pdf']", "href").expect("a link to the signed PDF");
    assert!(pdf.contains("/api/v1/compliance/certificates/"), "{pdf}");
    b.check_page("21-compliance-issued");
    b.logout();
    // MoITT's compliance cell sees every entity ranked, MoITT's certificate verified.
    b.login(&app, "compliance.moitt");
    b.open(&format!("{}/compliance", app.base));
    b.find("#consolidated");
    let rows = b.all("#consolidated tbody tr");
    assert_eq!(rows.len(), 6, "{}", b.text("#consolidated"));
    assert!(b.text("#consolidated").contains("verified"), "{}", b.text("#consolidated"));
    assert!(b.attr("a[href*='format=csv']", "href").is_some());
    b.check_page("22-compliance-consolidated");
}
