//! Email through a real SMTP server on loopback (Python's aiosmtpd, which
//! `.ci/run` installs; without it the suite is skipped, saying so): what is
//! sent, to whom, what it never carries, and that an SMTP server that is down
//! delays mail without losing or doubling any.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::both_backends;
use crate::helpers::{TestApp, my_post, spawn_app_with};
use crate::signing::{PIN, note_and_sign};

/// An aiosmtpd server keeping what it receives as a maildir.
struct Smtp {
    child: Child,
    port: u16,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn aiosmtpd_available() -> bool {
    Command::new("python3").args(["-c", "import aiosmtpd"]).status().is_ok_and(|s| s.success())
}

/// `maildir` must not exist yet: aiosmtpd creates it with its subdirectories.
fn start_smtp(port: u16, maildir: &std::path::Path) -> Smtp {
    let child = Command::new("python3")
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start aiosmtpd");
    wait_for_port(port);
    Smtp { child, port }
}

/// Waits until an SMTP server listens on `port`.
fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the SMTP server on {port} did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every message in the maildir, as text.
fn received(maildir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(maildir.join(sub)) {
            for e in entries.flatten() {
                // Bodies are quoted-printable: join its soft line breaks to read them.
                out.push(std::fs::read_to_string(e.path()).unwrap_or_default().replace("=\n", "").replace("=\r\n", ""));
            }
        }
    }
    out
}

fn wait_for(maildir: &std::path::Path, n: usize, limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    loop {
        let got = received(maildir);
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether aiosmtpd is here; says the suite is skipped when it is not.
fn mail_suite_runs() -> bool {
    let ok = aiosmtpd_available();
    if !ok {
        eprintln!("skipping the mail suite: python3 -m aiosmtpd is not available (pip install aiosmtpd)");
    }
    ok
}

/// A server mailing to a running SMTP server on loopback.
struct Mailing {
    scratch: tempfile::TempDir,
    maildir: std::path::PathBuf,
    smtp: Smtp,
    app: TestApp,
}

/// The usual start of a mail test; `None` (said why) when it cannot run.
fn mailing(backend: crate::helpers::Backend) -> Option<Mailing> {
    if !mail_suite_runs() {
        return None;
    }
    let scratch = tempfile::tempdir().unwrap();
    let maildir = scratch.path().join("mail");
    let smtp = start_smtp(free_port(), &maildir);
    let app = app_mailing_to(backend, smtp.port)?;
    Some(Mailing { scratch, maildir, smtp, app })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn app_mailing_to(backend: crate::helpers::Backend, port: u16) -> Option<TestApp> {
    spawn_app_with(backend, |c| {
        c.smtp.url = Some(format!("smtp://127.0.0.1:{port}"));
        c.smtp.from = Some("Daftar <daftar@demo.daftar.gov.pk>".into());
        c.base_url = Some("https://daftar.example.gov.pk".into());
    })
}

fn forward(app: &TestApp, token: &str, file: &str, to: &str) {
    let r = app.post_as(
        token,
        &format!("/api/v1/files/{file}/movements"),
        &json!({"action": "forward", "to_post_id": to, "pin": PIN}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
}

both_backends!(a_forwarded_file_mails_its_new_holder_and_nothing_more, |backend| {
    let Some(Mailing { scratch: _scratch, maildir, smtp: _smtp, app }) = mailing(backend) else { return };
    let [so, ds, js, sec] = ["so.moitt", "ds.moitt", "js.moitt", "secretary.moitt"].map(|u| app.login(u));
    let r = app.post_as(&so, "/api/v1/files", &json!({"subject": "Fibre to tehsil offices"}));
    let (file, no) = (r.body["id"].as_str().unwrap().to_owned(), r.body["file_no"].as_str().unwrap().to_owned());
    note_and_sign(&app, &so, &file, "The okapiword estimate is attached.");
    forward(&app, &so, &file, &my_post(&app, &ds));
    let mail = wait_for(&maildir, 1, Duration::from_secs(20));
    assert_eq!(mail.len(), 1, "one email: {mail:?}");
    let m = &mail[0];
    assert!(m.contains("To: ds.moitt@demo.daftar.gov.pk"), "{m}");
    assert!(m.contains(&no) && m.contains(&format!("https://daftar.example.gov.pk/files/{file}")), "{m}");
    assert!(m.contains("Message-ID: <"), "{m}");
    assert!(!m.contains("okapiword"), "no note text in mail: {m}");
    // A secret file: neither its subject nor its notes.
    let r = app.post_as(
        &js,
        "/api/v1/files",
        &json!({"subject": "Cipher keys for the embassy", "classification": "secret"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.body["id"].as_str().unwrap().to_owned();
    forward(&app, &js, &secret, &my_post(&app, &sec));
    let mail = wait_for(&maildir, 2, Duration::from_secs(20));
    let m = mail.iter().find(|m| m.contains("To: secretary.moitt@")).expect("mail to the Secretary");
    assert!(!m.contains("Cipher") && !m.contains("embassy"), "a secret file's subject leaked: {m}");
    assert!(m.contains("secret file has been marked to you"), "{m}");
});

both_backends!(mail_waits_for_a_stopped_smtp_server_and_none_is_lost_or_doubled, |backend| {
    if !mail_suite_runs() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let maildir = scratch.path().join("mail");
    let port = free_port();
    let Some(app) = app_mailing_to(backend, port) else { return };
    let [so, ds] = ["so.moitt", "ds.moitt"].map(|u| app.login(u));
    let to = my_post(&app, &ds);
    // The SMTP server is down: ten files marked on, no email.
    for i in 0..10 {
        let r = app.post_as(&so, "/api/v1/files", &json!({"subject": format!("Case {i}")}));
        forward(&app, &so, r.body["id"].as_str().unwrap(), &to);
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(received(&maildir).is_empty());
    // It comes up: exactly ten arrive, none twice.
    let _smtp = start_smtp(port, &maildir);
    let mail = wait_for(&maildir, 10, Duration::from_secs(90));
    std::thread::sleep(Duration::from_secs(2));
    let mail = if mail.len() >= 10 { received(&maildir) } else { mail };
    assert_eq!(mail.len(), 10, "exactly ten emails");
    let mut ids: Vec<String> = mail
        .iter()
        .filter_map(|m| m.lines().find(|l| l.to_ascii_lowercase().starts_with("message-id:")).map(str::to_owned))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10, "ten different messages");
});

both_backends!(an_overdue_step_mails_a_reminder_and_its_escalation, |backend| {
    let Some(Mailing { scratch: _scratch, maildir, smtp: _smtp, app }) = mailing(backend) else { return };
    let so = app.login("so.moitt");
    let r = app.post_as(&so, "/api/v1/files", &json!({"subject": "A slow case", "workflow": "secretariat-noting"}));
    let file = r.body["id"].as_str().unwrap().to_owned();
    let r = app.post_as(&so, &format!("/api/v1/files/{file}/movements"), &json!({"action": "approve", "pin": PIN}));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(wait_for(&maildir, 1, Duration::from_secs(20)).len(), 1, "the DS is told first");
    // Ten days later the DS has not decided: a reminder to the DS, and the
    // file escalated to the JS, who is told.
    let later = (chrono::Utc::now() + chrono::Duration::days(10)).to_rfc3339();
    let out = Command::new(env!("CARGO_BIN_EXE_daftar"))
        .args(["sla", "sweep", "--now", &later])
        .current_dir(app.test_db.dir.path())
        .env("DAFTAR_DATABASE_URL", &app.test_db.url)
        .env("DAFTAR_DATA_DIR", app.test_db.dir.path())
        .env("DAFTAR_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mail = wait_for(&maildir, 3, Duration::from_secs(30));
    assert_eq!(mail.len(), 3, "{mail:?}");
    assert!(
        mail.iter().any(|m| m.contains("To: ds.moitt@") && m.contains("past its deadline")),
        "no reminder: {mail:?}"
    );
    assert!(
        mail.iter().any(|m| m.contains("To: js.moitt@") && m.contains("escalated to you")),
        "no escalation: {mail:?}"
    );
});

/// Runs `daftar ARGS` against the app's database and data directory, with
/// the same base URL as the server.
fn daftar(app: &TestApp, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_daftar"))
        .args(args)
        .current_dir(app.test_db.dir.path())
        .env("DAFTAR_DATABASE_URL", &app.test_db.url)
        .env("DAFTAR_DATA_DIR", app.test_db.dir.path())
        .env("DAFTAR_BASE_URL", "https://daftar.example.gov.pk")
        .env("DAFTAR_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "daftar {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    mail.lines().find(|l| l.to_ascii_lowercase().starts_with(&prefix)).map(|l| l[prefix.len()..].trim())
}

fn new_file(app: &TestApp, token: &str, subject: &str) -> (String, String) {
    let r = app.post_as(token, "/api/v1/files", &json!({"subject": subject}));
    assert_eq!(r.status, 201, "{}", r.text);
    (r.body["id"].as_str().unwrap().to_owned(), r.body["file_no"].as_str().unwrap().to_owned())
}

both_backends!(a_daily_digest_instead_of_each_notice_and_a_one_click_unsubscribe, |backend| {
    let Some(Mailing { scratch: _scratch, maildir, smtp: _smtp, app }) = mailing(backend) else { return };
    let [so, ds] = ["so.moitt", "ds.moitt"].map(|u| app.login(u));
    assert_eq!(app.get_as(&ds, "/api/v1/me/notifications").body["marked"], "immediately", "the default");
    let r = app.request(
        "PUT",
        "/api/v1/me/notifications",
        &[("Authorization", &format!("Bearer {ds}")), ("Content-Type", "application/json")],
        Some(r#"{"marked": "weekly"}"#),
    );
    assert_eq!(r.status, 400, "{}", r.text);
    let r = app.request(
        "PUT",
        "/api/v1/me/notifications",
        &[("Authorization", &format!("Bearer {ds}")), ("Content-Type", "application/json")],
        Some(r#"{"marked": "digest"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    // Two files marked to the DS: no email yet.
    let (a, a_no) = new_file(&app, &so, "Spectrum auction");
    let (b, b_no) = new_file(&app, &so, "Data centre lease");
    forward(&app, &so, &a, &my_post(&app, &ds));
    forward(&app, &so, &b, &my_post(&app, &ds));
    std::thread::sleep(Duration::from_secs(3));
    assert!(received(&maildir).is_empty(), "a digest reader gets no single notices");
    // The day's digest: one email listing both, with a one-click unsubscribe.
    assert!(daftar(&app, &["mail", "digest"]).contains("1 digests enqueued"));
    let mail = wait_for(&maildir, 1, Duration::from_secs(20));
    assert_eq!(mail.len(), 1, "{mail:?}");
    let m = &mail[0];
    assert!(m.contains("To: ds.moitt@") && m.contains(&a_no) && m.contains(&b_no), "{m}");
    assert_eq!(header(m, "List-Unsubscribe-Post"), Some("List-Unsubscribe=One-Click"), "{m}");
    let link = header(m, "List-Unsubscribe").expect("a List-Unsubscribe header");
    let link = link.trim_matches(['<', '>']);
    let path = link.strip_prefix("https://daftar.example.gov.pk").expect("under base_url");
    assert_eq!(daftar(&app, &["mail", "digest"]).trim(), "0 digests enqueued", "nothing is listed twice");
    // A forged link changes nothing; the real one, posted as mail clients do, turns mail off.
    let forged = path.replace("&t=", "&t=AAAA");
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    assert_eq!(app.request("POST", &forged, &form, Some("List-Unsubscribe=One-Click")).status, 404);
    assert_eq!(app.get(path).status, 200, "the link itself only asks");
    assert_eq!(app.get_as(&ds, "/api/v1/me/notifications").body["marked"], "digest");
    let r = app.request("POST", path, &form, Some("List-Unsubscribe=One-Click"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.get_as(&ds, "/api/v1/me/notifications").body["marked"], "off");
    let (c, _) = new_file(&app, &so, "Rural telephony");
    forward(&app, &so, &c, &my_post(&app, &ds));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(daftar(&app, &["mail", "digest"]).trim(), "0 digests enqueued");
    assert_eq!(received(&maildir).len(), 1, "no more mail about marked files");
});

both_backends!(account_changes_recalls_due_dates_and_certificates_are_mailed, |backend| {
    let Some(Mailing { scratch: _scratch, maildir, smtp: _smtp, app }) = mailing(backend) else { return };
    let [so, ds] = ["so.moitt", "ds.moitt"].map(|u| app.login(u));
    // Even with notices off, mail about one's own account comes.
    let r = app.request(
        "PUT",
        "/api/v1/me/notifications",
        &[("Authorization", &format!("Bearer {ds}")), ("Content-Type", "application/json")],
        Some(r#"{"marked": "off"}"#),
    );
    assert_eq!(r.status, 200);
    let r = app.post_as(
        &ds,
        "/api/v1/me/keys",
        &json!({"mode": "server", "pin": "135790", "password": crate::helpers::DEMO_PASSWORD}),
    );
    assert!(r.status == 200 || r.status == 201, "{}", r.text);
    let mail = wait_for(&maildir, 1, Duration::from_secs(20));
    assert!(
        mail.iter().any(|m| m.contains("To: ds.moitt@") && m.contains("A new signing key was enrolled")),
        "{mail:?}"
    );
    let r = app.post_as(
        &ds,
        "/api/v1/me/password",
        &json!({"current_password": crate::helpers::DEMO_PASSWORD, "new_password": "a-new-pass-2026!"}),
    );
    assert!(r.status == 200 || r.status == 204, "{}", r.text);
    let mail = wait_for(&maildir, 2, Duration::from_secs(20));
    assert!(mail.iter().any(|m| m.contains("To: ds.moitt@") && m.contains("password was changed")), "{mail:?}");

    // A recall tells the desk the file left it (the JS, whose notices are on).
    let js = app.login("js.moitt");
    let (f, f_no) = new_file(&app, &so, "Satellite ground station");
    forward(&app, &so, &f, &my_post(&app, &js));
    let r = app.post_as(&so, &format!("/api/v1/files/{f}/movements"), &json!({"action": "recall"}));
    assert_eq!(r.status, 201, "{}", r.text);
    let mail = wait_for(&maildir, 4, Duration::from_secs(20));
    assert!(
        mail.iter().any(|m| m.contains("To: js.moitt@") && m.contains("recalled from you") && m.contains(&f_no)),
        "{mail:?}"
    );

    // A file due tomorrow: its desk is told by the daily run.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::hours(5) + chrono::Duration::days(1)).format("%Y-%m-%d");
    let (g, g_no) = new_file(&app, &so, "Fixed-line tariffs");
    let r = app.post_as(
        &so,
        &format!("/api/v1/files/{g}/movements"),
        &json!({"action": "forward", "to_post_id": my_post(&app, &js), "due_at": format!("{tomorrow}T12:00:00+05:00")}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let before = wait_for(&maildir, 5, Duration::from_secs(20)).len();
    assert!(daftar(&app, &["mail", "due"]).contains("1 files and receipts fall due tomorrow"));
    let mail = wait_for(&maildir, before + 1, Duration::from_secs(20));
    assert!(
        mail.iter().any(|m| m.contains("To: js.moitt@") && m.contains("due tomorrow") && m.contains(&g_no)),
        "{mail:?}"
    );
    assert!(daftar(&app, &["mail", "due"]).contains("0 files and receipts"));
    std::thread::sleep(Duration::from_secs(2));
    let all: Vec<String> =
        received(&maildir).iter().map(|m| format!("{:?} {:?}", header(m, "To"), header(m, "Subject"))).collect();
    assert_eq!(all.len(), before + 1, "told once a day, however often it runs: {all:#?}");

    // A certificate issued for MoITT reaches its people.
    let before = received(&maildir).len();
    let sec = app.login("secretary.moitt");
    let today = (chrono::Utc::now() + chrono::Duration::hours(5)).format("%Y-%m-%d").to_string();
    let r = app.post_as(
        &sec,
        "/api/v1/compliance/certificates",
        &json!({"entity": "MOITT", "from": today, "to": today, "pin": PIN}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let mail = wait_for(&maildir, before + 5, Duration::from_secs(30));
    assert!(
        mail.iter().any(|m| m.contains("To: so.moitt@") && m.contains("compliance certificate of MOITT was issued")),
        "{mail:?}"
    );
    // And /metrics counts what was sent.
    let metrics = app.get("/metrics").text;
    let sent = metrics
        .lines()
        .find(|l| l.starts_with("daftar_mail_total{outcome=\"sent\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse::<usize>().ok())
        .expect("daftar_mail_total in /metrics");
    assert!(sent >= before, "{metrics}");
});

both_backends!(mail_goes_over_starttls_to_a_relay_with_a_private_certificate, |backend| {
    if !mail_suite_runs() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    // A development certificate for localhost, made by `daftar tls self-signed`.
    let tls = scratch.path().join("tls");
    let out = Command::new(env!("CARGO_BIN_EXE_daftar"))
        .args(["tls", "self-signed", "--host", "localhost", "--out"])
        .arg(&tls)
        .env("DAFTAR_DATA_DIR", scratch.path())
        .env("DAFTAR_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (cert, key) = (tls.join("cert.pem"), tls.join("key.pem"));
    // A relay that insists on STARTTLS before it takes mail.
    let maildir = scratch.path().join("mail");
    let port = free_port();
    let child = Command::new("python3")
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
        .arg("--tlscert")
        .arg(&cert)
        .arg("--tlskey")
        .arg(&key)
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start aiosmtpd");
    let _smtp = Smtp { child, port };
    wait_for_port(port);
    let Some(app) = spawn_app_with(backend, |c| {
        c.smtp.url = Some(format!("smtp://localhost:{port}?tls=required"));
        c.smtp.ca = Some(cert.clone());
        c.base_url = Some("https://daftar.example.gov.pk".into());
    }) else {
        return;
    };
    let [so, ds] = ["so.moitt", "ds.moitt"].map(|u| app.login(u));
    let (f, no) = new_file(&app, &so, "Encrypted relay");
    forward(&app, &so, &f, &my_post(&app, &ds));
    let mail = wait_for(&maildir, 1, Duration::from_secs(20));
    assert_eq!(mail.len(), 1, "delivered over STARTTLS");
    assert!(mail[0].contains(&no) && mail[0].contains("To: ds.moitt@"), "{}", mail[0]);
    let from = header(&mail[0], "From").unwrap_or_default();
    assert!(from.contains("Government of Pakistan"), "the deployment is named in the From line: {from}");
    // Without the relay's CA the certificate is not trusted, and nothing is sent in the clear.
    let Some(doubting) = spawn_app_with(backend, |c| {
        c.smtp.url = Some(format!("smtp://localhost:{port}?tls=required"));
    }) else {
        return;
    };
    let [so, ds] = ["so.moitt", "ds.moitt"].map(|u| doubting.login(u));
    let (f, _) = new_file(&doubting, &so, "Untrusted relay");
    forward(&doubting, &so, &f, &my_post(&doubting, &ds));
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(received(&maildir).len(), 1, "no mail to a relay whose certificate is not trusted");
});

/// An SMTP server on loopback that takes `delay` seconds over each message
/// (so that a sender can be killed in the middle of sending), keeping what it
/// receives as a maildir.
fn start_slow_smtp(port: u16, maildir: &std::path::Path, delay: f64) -> Smtp {
    const SCRIPT: &str = r#"
import asyncio, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
class Slow(Mailbox):
    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(float(sys.argv[3]))
        return await super().handle_DATA(server, session, envelope)
c = Controller(Slow(sys.argv[1]), hostname="127.0.0.1", port=int(sys.argv[2]))
c.start()
while True:
    time.sleep(3600)
"#;
    let child = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(maildir)
        .arg(port.to_string())
        .arg(delay.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the slow SMTP server");
    wait_for_port(port);
    Smtp { child, port }
}

/// A `daftar serve --demo` process over `db` mailing to `smtp_port`, one
/// job worker: (process, HTTP port).
fn serve_mailing(db: &crate::helpers::TestDb, smtp_port: u16) -> (Child, u16) {
    crate::helpers::serve_process(
        db,
        &[
            ("DAFTAR_SMTP__URL", format!("smtp://127.0.0.1:{smtp_port}")),
            ("DAFTAR_BASE_URL", "https://daftar.example.gov.pk".into()),
            ("DAFTAR_JOBS__WORKERS", "1".into()),
        ],
    )
}

both_backends!(a_server_killed_while_sending_loses_no_mail_and_sends_none_as_a_new_message, |backend| {
    if !mail_suite_runs() {
        return;
    }
    let Some(db) = crate::helpers::fresh_db(backend) else { return };
    let scratch = tempfile::tempdir().unwrap();
    let maildir = scratch.path().join("mail");
    let smtp = start_slow_smtp(free_port(), &maildir, 0.4);
    let (mut server, port) = serve_mailing(&db, smtp.port);
    let app = TestApp::remote(format!("http://127.0.0.1:{port}"), &db);
    let [so, ds] = ["so.moitt", "ds.moitt"].map(|u| app.login(u));
    let to = my_post(&app, &ds);
    let mut numbers = Vec::new();
    for i in 0..10 {
        let (f, no) = new_file(&app, &so, &format!("Case {i}"));
        forward(&app, &so, &f, &to);
        numbers.push(no);
    }
    // Killed with -9 while the emails are going out.
    let got = wait_for(&maildir, 3, Duration::from_secs(30));
    assert!(got.len() >= 3 && got.len() < 10, "the kill must land mid-sending: {} sent", got.len());
    server.kill().unwrap();
    server.wait().unwrap();
    // Restarted: every email arrives; one the killed server was sending may
    // arrive again, but as the same message (its Message-ID), never a new one.
    let (mut again, _) = serve_mailing(&db, smtp.port);
    let deadline = Instant::now() + Duration::from_secs(150);
    let ids = |mail: &[String]| {
        let mut ids: Vec<String> = mail.iter().filter_map(|m| header(m, "Message-ID").map(str::to_owned)).collect();
        ids.sort();
        ids.dedup();
        ids
    };
    while ids(&received(&maildir)).len() < 10 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
    }
    // Anything still to come would be a repeat: give it a moment to show.
    std::thread::sleep(Duration::from_secs(2));
    let mail = received(&maildir);
    again.kill().unwrap();
    again.wait().unwrap();
    assert_eq!(ids(&mail).len(), 10, "ten distinct messages, none lost");
    assert!(mail.len() <= 11, "at most the one in flight repeats: {}", mail.len());
    for no in &numbers {
        assert!(mail.iter().any(|m| m.contains(no.as_str())), "no email for {no}");
    }
});
