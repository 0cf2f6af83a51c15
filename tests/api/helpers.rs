//! Test harness: a fresh database per test (a SQLite file, or a PostgreSQL
//! database when `DAFTAR_TEST_POSTGRES_URL` is set) and the real server on a
//! random port.

use std::io::Write;
use std::sync::Once;

use daftar::config::Config;
use daftar::server::Server;
use daftar::store::Db;
use diesel::prelude::*;
use serde_json::Value;

pub use daftar::store::Backend;

/// A fresh, empty database that is dropped with this value.
pub struct TestDb {
    pub url: String,
    pub dir: tempfile::TempDir,
    pg_drop: Option<(String, String)>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.pg_drop {
            drop_database(admin_url, name);
        }
    }
}

/// Drops PostgreSQL database `name` on the server of `admin_url`, whoever is
/// still connected to it; best effort, as cleanup after a test.
pub fn drop_database(admin_url: &str, name: &str) {
    if let Ok(mut c) = diesel::PgConnection::establish(admin_url) {
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut c);
    }
}

static SKIP_NOTICE: Once = Once::new();

/// The PostgreSQL server to test against, if configured.
pub fn postgres_url() -> Option<String> {
    match std::env::var("DAFTAR_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            SKIP_NOTICE.call_once(|| {
                // Written to the real stderr, past the test harness's capture.
                let _ = writeln!(
                    std::io::stderr(),
                    "\nNOTE: DAFTAR_TEST_POSTGRES_URL is not set: the PostgreSQL suite is SKIPPED \
                     (only SQLite is tested). `.ci/run` sets it.\n"
                );
            });
            None
        }
    }
}

/// A fresh database on `backend`; `None` if PostgreSQL is not configured.
pub fn fresh_db(backend: Backend) -> Option<TestDb> {
    let dir = tempfile::tempdir().expect("temp dir");
    match backend {
        Backend::Sqlite => {
            let url = dir.path().join("daftar.db").to_string_lossy().into_owned();
            Some(TestDb { url, dir, pg_drop: None })
        }
        Backend::Postgres => {
            let admin = postgres_url()?;
            let name = format!("daftar_test_{}", daftar::store::new_id());
            let mut c = diesel::PgConnection::establish(&admin)
                .unwrap_or_else(|e| panic!("DAFTAR_TEST_POSTGRES_URL does not answer: {e}"));
            diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut c).expect("create test database");
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            let url = format!("{base}/{name}");
            Some(TestDb { url, dir, pg_drop: Some((admin, name)) })
        }
    }
}

/// The real server on a random port over a fresh, migrated database with the
/// demo government.
#[allow(dead_code)] // `db` and `test_db` are for tests that inspect storage directly.
pub struct TestApp {
    pub base: String,
    pub db: Db,
    pub test_db: TestDb,
    /// The in-process server (none for a server run as a separate process).
    handle: Option<actix_web::dev::ServerHandle>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only waits.
        if let Some(h) = &self.handle {
            drop(h.stop(false));
        }
    }
}

/// Starts the app; `None` when the backend is PostgreSQL and it is not configured.
pub fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {})
}

/// Starts the app with the test configuration changed by `adjust`.
pub fn spawn_app_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let test_db = fresh_db(backend)?;
    let mut config = test_config(&test_db);
    adjust(&mut config);
    let db = Db::connect(&config.database_url(), config.db_pool_size, "NORMAL").expect("connect");
    db.migrate().expect("migrate");
    let ca = daftar::pki::Ca::init(&config.data_dir, &config.organisation).expect("ca");
    let wrap = daftar::signing::keys::PinWrap::load_or_create(&config.data_dir).expect("pin wrap");
    daftar::demo::seed(&db, &ca, &wrap).expect("seed demo");
    let (port, handle) = start_server(config, db.clone());
    Some(TestApp { base: format!("http://127.0.0.1:{port}"), db, test_db, handle: Some(handle) })
}

/// A second server process's worth of server over the same database and data
/// directory (keys, CA) as `first`, as a multi-server deployment runs.
#[allow(dead_code)]
pub fn spawn_app_on(first: &TestApp, adjust: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config(&first.test_db);
    adjust(&mut config);
    let db = Db::connect(&config.database_url(), config.db_pool_size, "NORMAL").expect("connect");
    let (port, handle) = start_server(config, db.clone());
    // Owns a scratch directory only: the database belongs to `first`.
    let test_db = TestDb { url: first.test_db.url.clone(), dir: tempfile::tempdir().unwrap(), pg_drop: None };
    TestApp { base: format!("http://127.0.0.1:{port}"), db, test_db, handle: Some(handle) }
}

impl TestApp {
    /// A client of a server run as a separate process at `base`, over the
    /// database of `of` (which it does not own).
    #[allow(dead_code)]
    pub fn remote(base: String, of: &TestDb) -> TestApp {
        let db = Db::connect(&of.url, 2, "NORMAL").expect("connect");
        let test_db = TestDb { url: of.url.clone(), dir: tempfile::tempdir().unwrap(), pg_drop: None };
        TestApp { base, db, test_db, handle: None }
    }
}

/// The configuration every test server starts from, over `db`.
fn test_config(db: &TestDb) -> Config {
    let mut config = Config::default();
    config.listen = "127.0.0.1:0".into();
    config.data_dir = db.dir.path().to_owned();
    config.database_url = Some(db.url.clone());
    config.db_pool_size = 4;
    // Tests pose as many client addresses through a trusted proxy header, and
    // keep the login backoff short enough to wait out.
    config.auth.trust_forwarded_for = true;
    config.auth.login_backoff_max_seconds = 2;
    config
}

fn start_server(config: Config, db: Db) -> (u16, actix_web::dev::ServerHandle) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = Server::build(config, db).expect("bind");
            tx.send((server.port(), server.handle())).unwrap();
            let _ = server.run_until_stopped().await;
        })
    });
    rx.recv().expect("server started")
}

/// A response: status and JSON body (Null when the body is not JSON).
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn reply(r: Result<ureq::Response, ureq::Error>) -> Reply {
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = resp.status();
    let headers = resp
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = resp.header(&n).unwrap_or("").to_owned();
            (n, v)
        })
        .collect();
    let text = resp.into_string().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, body, headers, text }
}

/// The id of the post a token's user acts at by default (their primary post).
pub fn my_post(app: &TestApp, token: &str) -> String {
    app.get_as(token, "/api/v1/me").body["posts"][0]["id"].as_str().unwrap().to_owned()
}

/// Every demo user's password.
pub const DEMO_PASSWORD: &str = "daftar-demo-2026";

impl TestApp {
    pub fn get(&self, path: &str) -> Reply {
        reply(ureq::get(&format!("{}{path}", self.base)).call())
    }

    /// Logs a demo user in and returns the login reply.
    pub fn login_reply(&self, username: &str, password: &str, from_ip: &str) -> Reply {
        let body = serde_json::json!({"username": username, "password": password}).to_string();
        self.request(
            "POST",
            "/api/v1/auth/login",
            &[("Content-Type", "application/json"), ("X-Forwarded-For", from_ip)],
            Some(&body),
        )
    }

    /// Logs a demo user in; returns the access token.
    pub fn login(&self, username: &str) -> String {
        let r = self.login_reply(username, DEMO_PASSWORD, "192.0.2.10");
        assert_eq!(r.status, 200, "login {username}: {}", r.text);
        r.body["access_token"].as_str().unwrap().to_owned()
    }

    /// GET with a bearer token.
    pub fn get_as(&self, token: &str, path: &str) -> Reply {
        self.request("GET", path, &[("Authorization", &format!("Bearer {token}"))], None)
    }

    /// POST JSON with a bearer token.
    pub fn post_as(&self, token: &str, path: &str, body: &Value) -> Reply {
        self.request(
            "POST",
            path,
            &[("Authorization", &format!("Bearer {token}")), ("Content-Type", "application/json")],
            Some(&body.to_string()),
        )
    }

    /// POST JSON without credentials.
    pub fn post(&self, path: &str, body: &Value) -> Reply {
        self.request("POST", path, &[("Content-Type", "application/json")], Some(&body.to_string()))
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
        let mut req = ureq::request(method, &format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.set(k, v);
        }
        reply(match body {
            Some(b) => req.send_string(b),
            None => req.call(),
        })
    }
}

/// Runs the test body on SQLite and, when configured, on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn sqlite() {
                let f: fn($crate::helpers::Backend) = $body;
                f($crate::helpers::Backend::Sqlite)
            }
            #[test]
            fn postgres() {
                if $crate::helpers::postgres_url().is_some() {
                    let f: fn($crate::helpers::Backend) = $body;
                    f($crate::helpers::Backend::Postgres)
                }
            }
        }
    };
}

/// A second system administrator, made by the operator at the command line
/// (`daftar user add`, which needs no approval), as every deployment that
/// uses four eyes has; returns their access token.
#[allow(dead_code)]
pub fn second_admin(app: &TestApp) -> String {
    use std::process::{Command, Stdio};
    let password = "second-admin-password";
    if app.login_reply("admin2", password, "192.0.2.99").status != 200 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_daftar"))
            .args([
                "user",
                "add",
                "admin2",
                "--name",
                "Second Administrator",
                "--clearance",
                "secret",
                "--role",
                "sysadmin",
            ])
            .current_dir(app.test_db.dir.path())
            .env("DAFTAR_DATABASE_URL", &app.test_db.url)
            .env("DAFTAR_DATA_DIR", app.test_db.dir.path())
            .env("DAFTAR_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let r = app.login_reply("admin2", password, "192.0.2.99");
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["access_token"].as_str().unwrap().to_owned()
}

/// The id made by an administrative change: at once (201), or once a
/// second administrator approves its request (202).
#[allow(dead_code)]
pub fn done(app: &TestApp, r: &Reply) -> String {
    match r.status {
        201 => r.body["id"].as_str().unwrap().to_owned(),
        202 => {
            let request = r.body["request"]["id"].as_str().unwrap();
            let approver = second_admin(app);
            let d = app.post_as(
                &approver,
                &format!("/api/v1/admin/requests/{request}"),
                &serde_json::json!({"decision": "approve"}),
            );
            assert_eq!(d.status, 200, "{}", d.text);
            assert_eq!(d.body["status"], "approved");
            d.body["result_id"].as_str().unwrap().to_owned()
        }
        _ => panic!("the change was refused: {} {}", r.status, r.text),
    }
}

/// A `daftar serve --demo` process over `db` with extra `DAFTAR_*`
/// settings: (the process, its HTTP port).
#[allow(dead_code)]
pub fn serve_process(db: &TestDb, env: &[(&str, String)]) -> (std::process::Child, u16) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_daftar"));
    cmd.args(["serve", "--demo"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    started(cmd, db)
}

/// Starts `cmd` (which runs `daftar serve`) over `db`, on a free port, and
/// waits for it to say which: (the process, its HTTP port).
pub fn started(mut cmd: std::process::Command, db: &TestDb) -> (std::process::Child, u16) {
    use std::io::BufRead;
    cmd.current_dir(db.dir.path())
        .env("DAFTAR_DATABASE_URL", &db.url)
        .env("DAFTAR_DATA_DIR", db.dir.path())
        .env("DAFTAR_LISTEN", "127.0.0.1:0")
        .env("DAFTAR_LOG", "warn")
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let port = loop {
        let line = lines.next().expect("server exited early").unwrap();
        if let Some(rest) = line.split("(port ").nth(1) {
            break rest.trim_end_matches(')').parse::<u16>().unwrap();
        }
    };
    // Drain the rest of its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, port)
}

/// One row of a `SELECT count(*) AS n …` (or any one BIGINT named `n`).
#[derive(QueryableByName)]
pub struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub n: i64,
}

/// The `n` that `sql` (`SELECT count(*) AS n …`) counts on PostgreSQL.
#[allow(dead_code)]
pub fn pg_count(c: &mut diesel::PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<Count>(c).unwrap_or_else(|e| panic!("{sql}: {e}")).n
}

/// Runs `first` and then `second` (two requests that each read row `id` of
/// `table` and then update it) so that they cross: a PostgreSQL transaction
/// of the test's own holds the row locked until both are waiting for it,
/// `first` ahead, so `first` commits after `second` has read the row and
/// before `second` writes it. The order in which two officers' requests
/// land, made certain. PostgreSQL only (`app` must run on it).
#[allow(dead_code)]
pub fn crossing<F, S>(app: &TestApp, table: &str, id: &str, first: F, second: S) -> (Reply, Reply)
where
    F: FnOnce() -> Reply + Send,
    S: FnOnce() -> Reply + Send,
{
    let mut holder = diesel::PgConnection::establish(&app.test_db.url).expect("connect");
    let mut watcher = diesel::PgConnection::establish(&app.test_db.url).expect("connect");
    let mut wait_for = |n: i64| {
        let started = std::time::Instant::now();
        loop {
            let waiting = pg_count(
                &mut watcher,
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            );
            if waiting >= n {
                return;
            }
            assert!(started.elapsed().as_secs() < 20, "{n} requests never waited for the row lock");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    diesel::sql_query("BEGIN").execute(&mut holder).expect("begin");
    diesel::sql_query(format!("SELECT id FROM {table} WHERE id = $1 FOR UPDATE"))
        .bind::<diesel::sql_types::Text, _>(id)
        .execute(&mut holder)
        .expect("lock the row");
    std::thread::scope(|s| {
        let first = s.spawn(first);
        wait_for(1);
        let second = s.spawn(second);
        wait_for(2);
        diesel::sql_query("COMMIT").execute(&mut holder).expect("commit");
        (first.join().expect("first request"), second.join().expect("second request"))
    })
}
