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
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "aiosmtpd did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Smtp { child, port }
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
    if !aiosmtpd_available() {
        eprintln!("skipping the mail suite: python3 -m aiosmtpd is not available (pip install aiosmtpd)");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let maildir = scratch.path().join("mail");
    let smtp = start_smtp(free_port(), &maildir);
    let Some(app) = app_mailing_to(backend, smtp.port) else { return };
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
    if !aiosmtpd_available() {
        eprintln!("skipping the mail suite: python3 -m aiosmtpd is not available (pip install aiosmtpd)");
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
    if !aiosmtpd_available() {
        eprintln!("skipping the mail suite: python3 -m aiosmtpd is not available (pip install aiosmtpd)");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let maildir = scratch.path().join("mail");
    let smtp = start_smtp(free_port(), &maildir);
    let Some(app) = app_mailing_to(backend, smtp.port) else { return };
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
