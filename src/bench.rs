//! `daftar bench`: measured costs, each reported next to a baseline run in the
//! same process, so the numbers compare across machines as ratios.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::auth::password;
use crate::auth::tokens::{AUDIENCE, Claims, ISSUER, TokenKeys};
use crate::config::Config;
use crate::server::Server;
use crate::store::Db;

/// Runs `f` repeatedly for about `budget`; returns operations per second.
fn rate(budget: Duration, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget || n == 0 {
        f();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// One HTTP/1.1 keep-alive connection, enough for a load loop.
struct Client {
    reader: BufReader<TcpStream>,
    port: u16,
}

impl Client {
    fn connect(port: u16) -> std::io::Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        Ok(Client { reader: BufReader::new(stream), port })
    }

    /// Sends a request; returns the status code and body.
    fn send(&mut self, method: &str, path: &str, headers: &str, body: &str) -> std::io::Result<(u16, String)> {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        );
        self.reader.get_mut().write_all(req.as_bytes())?;
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut buf = vec![0; length];
        self.reader.read_exact(&mut buf)?;
        Ok((status, String::from_utf8_lossy(&buf).into_owned()))
    }
}

/// Requests per second from `clients` connections for `budget`; every answer must be 200.
fn http_rate(port: u16, clients: usize, budget: Duration, path: &str, headers: &str) -> Result<f64, String> {
    let start = Instant::now();
    let counts: Vec<Result<u64, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|_| {
                s.spawn(move || {
                    let mut c = Client::connect(port).map_err(|e| e.to_string())?;
                    let mut n = 0;
                    while start.elapsed() < budget {
                        let (status, body) = c.send("GET", path, headers, "").map_err(|e| e.to_string())?;
                        if status != 200 {
                            return Err(format!("{path} answered {status}: {body}"));
                        }
                        n += 1;
                    }
                    Ok(n)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("client panicked".into()))).collect()
    });
    let total: u64 = counts.into_iter().collect::<Result<Vec<_>, _>>()?.iter().sum();
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// `daftar bench auth`: login (argon2id) cost, token verification cost, and an
/// authenticated request against a plain one, on a scratch SQLite database.
pub fn auth(seconds: u64) -> Result<String, String> {
    let budget = Duration::from_secs(seconds.max(1));
    let dir = tempfile_dir()?;
    let mut out = String::new();

    // Argon2id: the floor of a login.
    let hash = password::hash_password("daftar-demo-2026");
    let argon = rate(budget, || {
        assert!(password::verify_password("daftar-demo-2026", &hash));
    });
    let sha = rate(budget, || {
        std::hint::black_box(ring::digest::digest(&ring::digest::SHA256, b"daftar-demo-2026"));
    });
    out.push_str(&format!(
        "argon2id verify (19 MiB, t=2, p=1): {argon:>12.1} /s  (baseline SHA-256 of the same input: {sha:.0} /s)\n"
    ));

    // JWT verification alone.
    let keys = TokenKeys::load_or_create(&dir).map_err(|e| e.to_string())?;
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: "u".into(),
        sid: "s".into(),
        ver: 0,
        iat: now,
        nbf: now,
        exp: now + 900,
        csrf: None,
    };
    let token = keys.sign(&claims);
    let verify = rate(budget, || {
        assert!(keys.verify(&token).is_some());
    });
    out.push_str(&format!("EdDSA JWT verify:                   {verify:>12.0} /s  ({:.1} µs each)\n", 1e6 / verify));

    // Through the server: a plain handler against an authenticated one.
    let mut config = Config::default();
    config.data_dir = dir.clone();
    config.listen = "127.0.0.1:0".into();
    config.log = "warn".into();
    let db = Db::connect(&config.database_url(), config.db_pool_size, "NORMAL").map_err(|e| e.to_string())?;
    db.migrate().map_err(|e| e.to_string())?;
    let ca = crate::pki::Ca::init(&config.data_dir, &config.organisation)?;
    crate::demo::seed(&db, &ca)?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            match Server::build(config, db) {
                Ok(server) => {
                    let _ = tx.send(Ok((server.port(), server.handle())));
                    let _ = server.run_until_stopped().await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        })
    });
    let (port, handle) = rx.recv().map_err(|e| e.to_string())??;
    let mut client = Client::connect(port).map_err(|e| e.to_string())?;
    let login_started = Instant::now();
    let (status, body) = client
        .send(
            "POST",
            "/api/v1/auth/login",
            "Content-Type: application/json\r\n",
            r#"{"username":"so.moitt","password":"daftar-demo-2026"}"#,
        )
        .map_err(|e| e.to_string())?;
    let login_ms = login_started.elapsed().as_secs_f64() * 1e3;
    if status != 200 {
        return Err(format!("login answered {status}: {body}"));
    }
    let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    let bearer = format!("Authorization: Bearer {}\r\n", v["access_token"].as_str().unwrap_or(""));
    let clients = 8;
    let plain = http_rate(port, clients, budget, "/healthz", "")?;
    let me = http_rate(port, clients, budget, "/api/v1/me", &bearer)?;
    drop(handle.stop(false));
    out.push_str(&format!("one login over HTTP:                {login_ms:>12.1} ms\n"));
    out.push_str(&format!("GET /healthz (plain handler):       {plain:>12.0} req/s  ({clients} keep-alive clients)\n"));
    out.push_str(&format!(
        "GET /api/v1/me (token + session):   {me:>12.0} req/s  = {:.2} of the plain handler\n",
        me / plain
    ));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}

fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("daftar-bench-{}", crate::store::new_id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}
