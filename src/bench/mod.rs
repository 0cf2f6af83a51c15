//! `daftar bench`: measured costs, each reported next to a baseline run in the
//! same process, so the numbers compare across machines as ratios.

pub mod analytics;
pub mod compliance;
pub mod load;
pub mod search;
pub mod seed;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::auth::password;
use crate::auth::tokens::{AUDIENCE, Claims, ISSUER, TokenKeys};
use crate::config::Config;
use crate::server::Server;
use crate::store::{Backend, Db};

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

/// Runs `f(client)` repeatedly on `clients` threads for about `budget`;
/// returns operations per second over all of them, or the first error.
fn rate_parallel<E: std::fmt::Display>(
    budget: Duration,
    clients: usize,
    f: impl Fn(usize) -> Result<(), E> + Sync,
) -> Result<f64, String> {
    let start = Instant::now();
    let results: Vec<Result<u64, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|client| {
                let f = &f;
                s.spawn(move || {
                    let mut n = 0u64;
                    while start.elapsed() < budget || n == 0 {
                        f(client).map_err(|e| e.to_string())?;
                        n += 1;
                    }
                    Ok(n)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a client panicked".into()))).collect()
    });
    let mut total = 0;
    for r in results {
        total += r?;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
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

/// Requests per second and p99 (ms) from `clients` connections for
/// `budget`; every answer must be 200.
fn http_rate(port: u16, clients: usize, budget: Duration, path: &str, headers: &str) -> Result<(f64, f64), String> {
    let start = Instant::now();
    let mut stat = load::closed_loop(port, clients, budget, |_| (path, headers.to_owned()))?;
    let per_sec = stat.micros.len() as f64 / start.elapsed().as_secs_f64();
    let (_, _, p99) = stat.percentiles();
    Ok((per_sec, p99))
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
        sk: Some(crate::auth::tokens::random_token()),
    };
    let token = keys.sign(&claims);
    let verify = rate(budget, || {
        assert!(keys.verify(&token).is_some());
    });
    out.push_str(&format!("EdDSA JWT verify:                   {verify:>12.0} /s  ({:.1} µs each)\n", 1e6 / verify));

    // Through the server: a plain handler against an authenticated one.
    let (config, db, _ca) = scratch(&dir)?;
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
    let (plain, _) = http_rate(port, clients, budget, "/healthz", "")?;
    let (me, _) = http_rate(port, clients, budget, "/api/v1/me", &bearer)?;
    // The officer's two commonest reads, at 16 connections, beside /healthz
    // at the same 16: throughput ratio and p99. Twenty files opened by the
    // officer, over the API, fill the inbox's first page.
    let json_bearer = format!("{bearer}Content-Type: application/json\r\n");
    let mut file = String::new();
    for n in 0..20 {
        let body = format!(r#"{{"subject":"Proposal {n} for the read benchmark"}}"#);
        let (status, created) = client.send("POST", "/api/v1/files", &json_bearer, &body).map_err(|e| e.to_string())?;
        let id =
            serde_json::from_str::<serde_json::Value>(&created).ok().and_then(|v| v["id"].as_str().map(str::to_owned));
        match id.filter(|_| status == 201 || status == 200) {
            Some(id) => file = id,
            None => return Err(format!("opening a file answered {status}: {created}")),
        }
    }
    let reads = 16;
    let (h_rate, h_p99) = http_rate(port, reads, budget, "/healthz", "")?;
    let (i_rate, i_p99) = http_rate(port, reads, budget, "/api/v1/inbox", &bearer)?;
    let (f_rate, f_p99) = http_rate(port, reads, budget, &format!("/api/v1/files/{file}"), &bearer)?;
    drop(handle.stop(false));
    out.push_str(&format!("one login over HTTP:                {login_ms:>12.1} ms\n"));
    out.push_str(&format!("GET /healthz (plain handler):       {plain:>12.0} req/s  ({clients} keep-alive clients)\n"));
    out.push_str(&format!(
        "GET /api/v1/me (token + session):   {me:>12.0} req/s  = {:.2} of the plain handler\n",
        me / plain
    ));
    out.push_str(&format!("\nat {reads} keep-alive clients:\n"));
    out.push_str(&format!("GET /healthz:                       {h_rate:>12.0} req/s  p99 {h_p99:.2} ms\n"));
    out.push_str(&format!(
        "GET /api/v1/inbox:                  {i_rate:>12.0} req/s  p99 {i_p99:.2} ms  = {:.2} of /healthz\n",
        i_rate / h_rate
    ));
    out.push_str(&format!(
        "GET /api/v1/files/{{id}}:             {f_rate:>12.0} req/s  p99 {f_p99:.2} ms  = {:.2} of /healthz\n",
        f_rate / h_rate
    ));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}

fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("daftar-bench-{}", crate::store::new_id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// A scratch directory, and with `--postgres ADMIN_URL` a scratch database
/// on that server; both removed when dropped.
struct ScratchDir {
    dir: std::path::PathBuf,
    database_url: Option<String>,
    postgres: Option<(String, String)>,
}

impl ScratchDir {
    fn new(postgres_admin_url: Option<&str>) -> Result<ScratchDir, String> {
        let dir = tempfile_dir()?;
        let Some(admin) = postgres_admin_url else { return Ok(ScratchDir { dir, database_url: None, postgres: None }) };
        let (url, name) = create_database(admin)?;
        Ok(ScratchDir { dir, database_url: Some(url), postgres: Some((admin.to_owned(), name)) })
    }

    /// What the report calls the backend.
    fn backend(&self) -> &'static str {
        backend_label(if self.postgres.is_some() { Backend::Postgres } else { Backend::Sqlite })
    }
}

/// Creates a database for a benchmark on the server of `admin` (a URL
/// naming a database there that the user may create databases from);
/// returns its URL and name.
fn create_database(admin: &str) -> Result<(String, String), String> {
    use diesel::prelude::*;
    let Some((base, _)) = admin.rsplit_once('/') else { return Err("the admin URL names no database".into()) };
    let name = format!("daftar_bench_{}", crate::store::new_id());
    let mut c = diesel::PgConnection::establish(admin).map_err(|e| e.to_string())?;
    diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut c).map_err(|e| e.to_string())?;
    Ok((format!("{base}/{name}"), name))
}

/// The file in a kept deployment's directory that names its PostgreSQL
/// database.
const KEPT_DATABASE: &str = "postgres-database";

/// The PostgreSQL database of a kept deployment (`bench load --data DIR
/// --postgres ADMIN_URL`): its URL is written in `DIR/postgres-database`
/// when it is created, the first time, and read from there afterwards.
fn kept_database(dir: &std::path::Path, admin: &str) -> Result<String, String> {
    let named = dir.join(KEPT_DATABASE);
    match std::fs::read_to_string(&named) {
        Ok(url) if !url.trim().is_empty() => Ok(url.trim().to_owned()),
        _ => {
            let (url, _) = create_database(admin)?;
            std::fs::write(&named, format!("{url}\n")).map_err(|e| format!("cannot write {}: {e}", named.display()))?;
            Ok(url)
        }
    }
}

/// What a report calls a backend (the benchmarks run SQLite with the
/// default, durable `synchronous=FULL`).
pub(crate) fn backend_label(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "PostgreSQL",
        Backend::Sqlite => "SQLite (synchronous=FULL)",
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        use diesel::prelude::*;
        if let Some((admin, name)) = &self.postgres
            && let Ok(mut c) = diesel::PgConnection::establish(admin)
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut c);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A scratch database with the demo government, for benchmarks: SQLite in
/// `dir` unless `database_url` names another (a scratch PostgreSQL database).
fn scratch_on(
    dir: &std::path::Path,
    database_url: Option<String>,
    synchronous: &str,
    pool_size: u32,
) -> Result<(Config, Db, crate::pki::Ca), String> {
    let mut config = Config::default();
    config.data_dir = dir.to_owned();
    config.database_url = database_url;
    config.listen = "127.0.0.1:0".into();
    config.log = "warn".into();
    let db = Db::connect(&config.database_url(), pool_size, synchronous).map_err(|e| e.to_string())?;
    db.migrate().map_err(|e| e.to_string())?;
    let ca = crate::pki::Ca::init(&config.data_dir, &config.organisation)?;
    crate::demo::seed(&db, &ca, &crate::signing::keys::PinWrap::load_or_create(&config.data_dir)?)?;
    Ok((config, db, ca))
}

fn scratch(dir: &std::path::Path) -> Result<(Config, Db, crate::pki::Ca), String> {
    scratch_on(dir, None, "NORMAL", Config::default().db_pool_size)
}

/// A demo officer as the benchmarks act: who, at which post, with which key.
struct Officer {
    principal: crate::auth::principal::Principal,
    post: String,
    key: crate::signing::keys::ActiveKey,
}

impl Officer {
    fn load(db: &Db, username: &str) -> Result<Officer, String> {
        use crate::store::schema::users;
        use diesel::prelude::*;
        let mut c = db.reader().map_err(|e| e.to_string())?;
        let id: String = users::table
            .filter(users::username.eq(username))
            .select(users::id)
            .first(&mut *c)
            .map_err(|e| e.to_string())?;
        let principal = crate::auth::principal::load(&mut c, &id).map_err(|e| e.to_string())?.ok_or("no demo user")?;
        let post = principal
            .viewer
            .current_posts(crate::store::now_micros())
            .first()
            .map(|h| h.post_id.clone())
            .ok_or("no post")?;
        let key = crate::signing::keys::active_key(&mut c, &id).map_err(|e| e.to_string())?;
        Ok(Officer { principal, post, key })
    }

    fn actor(&self) -> crate::efile::Actor<'_> {
        crate::efile::Actor { viewer: &self.principal.viewer, post: Some(&self.post) }
    }

    /// The key, opened with the demo PIN (the deployment in `data_dir`).
    fn unseal(&self, data_dir: &std::path::Path) -> Result<crate::signing::keys::OpenKey, String> {
        let wrap = crate::signing::keys::PinWrap::load_or_create(data_dir)?;
        Ok(crate::signing::keys::unseal(&wrap, &self.key, crate::demo::PIN)
            .map_err(|e| e.to_string())?
            .ok_or("demo PIN does not open the key")?)
    }

    /// A new file opened by this officer.
    fn open_file(&self, db: &Db) -> Result<String, String> {
        let new = crate::efile::file::NewFile {
            subject: "Benchmark".into(),
            classification: None,
            priority: None,
            workflow: None,
            section_id: None,
            head: None,
        };
        db.write_tx(|c| crate::efile::file::create(c, &self.actor(), new)).map_err(|e| e.to_string())
    }
}

/// `daftar bench signing`: notes signed and verified per second, and ledger
/// verification in entries per second, each beside the bare primitive.
pub fn signing(seconds: u64) -> Result<String, String> {
    use crate::efile;
    use ring::signature::{
        ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey,
    };
    let budget = Duration::from_secs(seconds.max(1));
    let dir = tempfile_dir()?;
    let (_config, db, ca) = scratch(&dir)?;
    let mut out = String::new();

    // Bare primitives.
    let rng = ring::rand::SystemRandom::new();
    let pk8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).map_err(|_| "keygen")?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pk8.as_ref(), &rng).map_err(|_| "key")?;
    let message = [7u8; 300];
    let bare = rate(budget, || {
        let sig = pair.sign(&rng, &message).expect("sign");
        assert!(
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, pair.public_key().as_ref())
                .verify(&message, sig.as_ref())
                .is_ok()
        );
    });
    let sha = rate(budget, || {
        std::hint::black_box(ring::digest::digest(&ring::digest::SHA256, &message));
    });
    out.push_str(&format!("bare ECDSA P-256 sign + verify:      {bare:>10.0} /s\n"));
    out.push_str(&format!("bare SHA-256 of a 300-byte entry:    {sha:>10.0} /s\n"));

    // The real path: a draft note written and signed in one transaction, then
    // its signature checked, with the key unsealed once (as after a PIN).
    let so = Officer::load(&db, "so.moitt")?;
    let file = so.open_file(&db)?;
    let actor = so.actor();
    let key = &so.key;
    let unseal_started = Instant::now();
    let unsealed = so.unseal(&dir)?;
    let unseal_ms = unseal_started.elapsed().as_secs_f64() * 1e3;
    let mut failures = 0;
    let notes = rate(budget, || {
        let r = db.write_tx(|c| -> Result<(), efile::EfileError> {
            let note = efile::notes::add(c, &actor, &file, "A paragraph of a note, signed for the benchmark.")?;
            let id = note.id;
            let sig = crate::signing::notes::sign_note(c, key, Some(&unsealed), None, &id)?;
            // Verified as a reader would: the canonical bytes recomputed from
            // the stored note, against the certificate's public key.
            let der = B64.decode(&sig.value_b64).unwrap_or_default();
            let canonical = crate::signing::forms::note_canonical(c, &id)?;
            if !crate::signing::keys::verify(&key.public_key, &canonical, &der) {
                return Err(crate::signing::SignError::Internal("signature did not verify".into()).into());
            }
            efile::notes::mark_signed(c, &actor, &file, &id, sig)?;
            Ok(())
        });
        if r.is_err() {
            failures += 1;
        }
    });
    if failures > 0 {
        return Err(format!("{failures} note signings failed"));
    }
    out.push_str(&format!("PIN unseal (argon2id, once per signing session): {unseal_ms:.1} ms\n"));
    out.push_str(&format!(
        "note written + signed + verified (one txn):      {notes:>10.0} /s = {:.2} of bare sign+verify\n",
        notes / bare
    ));

    // Ledger verification.
    let sealed = crate::ledger::seal(&db).map_err(|e| e.to_string())?;
    crate::ledger::checkpoint(&db, &ca)?;
    let mut c = db.reader().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let report = crate::ledger::verify(&mut c, &ca.public_key_der()).map_err(|e| e.to_string())?;
    let secs = started.elapsed().as_secs_f64();
    if !report.ok {
        return Err(format!("the benchmark ledger does not verify: {:?}", report.problem));
    }
    let per_sec = report.entries as f64 / secs;
    out.push_str(&format!(
        "ledger verify (chain, checkpoint, rows):          {per_sec:>10.0} entries/s over {} entries = {:.4} of bare SHA-256\n",
        report.entries.max(sealed as i64),
        per_sec / sha
    ));
    drop(c);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}

/// `daftar bench efile`: forward-with-signed-note (a note written, signed and
/// the file forwarded, in one durable transaction) per second, beside a bare
/// durable insert of the same rows, on a scratch database of the configured
/// backend (`--postgres ADMIN_URL` runs it on a scratch database of that PostgreSQL server).
pub fn efile(seconds: u64, clients: usize, postgres_admin_url: Option<&str>) -> Result<String, String> {
    let clients = clients.max(1);
    use crate::efile;
    let budget = Duration::from_secs(seconds.max(1));
    let scratch = ScratchDir::new(postgres_admin_url)?;
    // Durable: synchronous as served by default on SQLite.
    let (_config, db, _ca) = scratch_on(
        &scratch.dir,
        scratch.database_url.clone(),
        &Config::default().sqlite_synchronous,
        clients as u32 + 1,
    )?;

    let so = Officer::load(&db, "so.moitt")?;
    let ds = Officer::load(&db, "ds.moitt")?;
    // Each client works its own file, passing it between the two desks.
    let files: Vec<String> = (0..clients).map(|_| so.open_file(&db)).collect::<Result<_, _>>()?;
    let turns: Vec<std::sync::atomic::AtomicUsize> = (0..clients).map(|_| Default::default()).collect();
    let so = (so.unseal(&scratch.dir)?, so);
    let ds = (ds.unseal(&scratch.dir)?, ds);
    let real = rate_parallel(budget, clients, |client| {
        let file = &files[client];
        let turn = turns[client].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let ((pk8, me), (_, other)) = if turn.is_multiple_of(2) { (&so, &ds) } else { (&ds, &so) };
        // Exactly what `POST /files/{id}/movements` with a note runs.
        let input = efile::movements::MoveInput {
            action: "forward".into(),
            to_post_id: Some(other.post.clone()),
            remarks: Some("Please see".into()),
            due_at: None,
            priority: None,
        };
        let key = || Ok(Some(crate::signing::pin::Opened { key: me.key.clone(), open: pk8.clone(), by_pin: true }));
        efile::movements::move_signed(&db, &me.actor(), file, input, Some("Examined; submitted for orders."), key)
            .map(|_| ())
    })
    .map_err(|e| format!("forward-with-signed-note failed: {e}"))?;
    let bare = bare_movement_rows(&db, &so.1, &ds.1, clients, budget)?;
    let backend = scratch.backend();
    let out = format!(
        "backend: {backend}, {clients} clients\n\
         forward-with-signed-note (note + signature + movement + signature + ledger + jobs, one txn): {real:>8.0} /s\n\
         the same 12 rows and 2 updates written bare, one txn:                                  {bare:>8.0} /s\n\
         ratio: {:.2} of the bare write\n",
        real / bare
    );
    drop(db);
    Ok(out)
}

/// Forward-with-signed-note's rows written bare, with no reads, checks or
/// signing, on `clients` threads for `budget`: per second.
fn bare_movement_rows(db: &Db, so: &Officer, ds: &Officer, clients: usize, budget: Duration) -> Result<f64, String> {
    use diesel::prelude::*;
    // The same rows written bare, with no reads, checks or signing:
    // a note, its signature, a movement, its signature, four ledger events,
    // the mail job, the stay that ends and the one that begins, and the file's
    // row updated; one durable transaction each.
    let bare_files: Vec<String> = (0..clients).map(|_| so.open_file(db)).collect::<Result<_, _>>()?;
    let seqs: Vec<std::sync::atomic::AtomicI64> = (0..clients).map(|_| Default::default()).collect();
    let canonical = "{\"type\":\"daftar.note.v1\"}".repeat(12);
    let signature = "MEUCIQ".repeat(16);
    rate_parallel(budget, clients, |client| {
        use crate::store::schema::{files, movement_signatures as ms, movements as mv, note_signatures as ns, notes};
        let file = bare_files[client].as_str();
        let seq = seqs[client].fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let (me, other) = if seq % 2 == 0 { (ds, so) } else { (so, ds) };
        let user = me.principal.viewer.user_id.as_str();
        db.write_tx(|c| -> Result<(), crate::store::StoreError> {
            let now = crate::store::now_micros();
            let (note, movement) = (crate::store::new_id(), crate::store::new_id());
            diesel::insert_into(notes::table)
                .values((
                    notes::id.eq(&note),
                    notes::file_id.eq(file),
                    notes::seq.eq(seq),
                    notes::body.eq("Examined; submitted for orders."),
                    notes::status.eq("signed"),
                    notes::author_post_id.eq(&me.post),
                    notes::author_user_id.eq(user),
                    notes::created_at.eq(now),
                    notes::updated_at.eq(now),
                    notes::signed_at.eq(now),
                ))
                .execute(c)?;
            diesel::insert_into(ns::table)
                .values((
                    ns::note_id.eq(&note),
                    ns::key_id.eq(&me.key.id),
                    ns::certificate_serial.eq(&me.key.serial),
                    ns::alg.eq("ECDSA-P256-SHA256"),
                    ns::canonical.eq(&canonical),
                    ns::signature_b64.eq(&signature),
                    ns::signed_at.eq(now),
                ))
                .execute(c)?;
            diesel::insert_into(mv::table)
                .values((
                    mv::id.eq(&movement),
                    mv::file_id.eq(file),
                    mv::seq.eq(seq),
                    mv::action.eq("forward"),
                    mv::from_post_id.eq(&me.post),
                    mv::to_post_id.eq(&other.post),
                    mv::remarks.eq("Please see"),
                    mv::sent_at.eq(now),
                    mv::by_user_id.eq(user),
                    mv::by_post_id.eq(&me.post),
                ))
                .execute(c)?;
            diesel::insert_into(ms::table)
                .values((
                    ms::movement_id.eq(&movement),
                    ms::key_id.eq(&me.key.id),
                    ms::certificate_serial.eq(&me.key.serial),
                    ms::canonical.eq(&canonical),
                    ms::signature_b64.eq(&signature),
                    ms::signed_at.eq(now),
                ))
                .execute(c)?;
            diesel::update(files::table.find(file))
                .set((
                    files::holder_post_id.eq(&other.post),
                    files::last_movement_id.eq(&movement),
                    files::last_from_post.eq(&me.post),
                    files::last_opened_at.eq(None::<i64>),
                    files::held_since.eq(now),
                    files::version.eq(files::version + 1),
                ))
                .execute(c)?;
            // Which desk holds it from when: the stay that ends, the one that begins.
            {
                use crate::store::schema::stays;
                diesel::update(stays::table.filter(stays::object_id.eq(file)).filter(stays::until_at.is_null()))
                    .set(stays::until_at.eq(now))
                    .execute(c)?;
                crate::efile::count_dwell(c, &me.post, now - 1_000_000, now)?;
                diesel::insert_into(stays::table)
                    .values((
                        stays::id.eq(crate::store::new_id()),
                        stays::object_id.eq(file),
                        stays::kind.eq("file"),
                        stays::post_id.eq(&other.post),
                        stays::from_at.eq(now),
                    ))
                    .execute(c)?;
            }
            for kind in ["note_added", "note_signed", "movement", "movement_signed"] {
                let payload = serde_json::json!({"note_id": note, "movement_id": movement, "value_b64": signature});
                let event = crate::ledger::Event {
                    kind,
                    actor_user: Some(user),
                    actor_post: Some(&me.post),
                    file_id: Some(file),
                    receipt_id: None,
                    payload,
                };
                crate::ledger::append(c, event)?;
            }
            crate::jobs::enqueue(c, &crate::jobs::Job::movement_mail(&movement))?;
            Ok(())
        })
    })
}

/// `daftar bench export`: exports of one file per second from a ledger of
/// 1,000 events and from one of 100,000 (each proven against a checkpoint
/// that covers the whole ledger): the second should cost about the same as
/// the first, since proofs read O(log² n) stored subtrees.
pub fn export(seconds: u64) -> Result<String, String> {
    use crate::store::DbConn;
    let budget = Duration::from_secs(seconds.max(1));
    let dir = tempfile_dir()?;
    let (_config, db, ca) = scratch(&dir)?;
    let so = Officer::load(&db, "so.moitt")?;
    let file = so.open_file(&db)?;
    let actor = so.actor();
    let pad_to = |target: i64| -> Result<(), String> {
        use crate::store::schema::ledger_events;
        use diesel::prelude::*;
        let have: i64 = {
            let mut c = db.reader().map_err(|e| e.to_string())?;
            ledger_events::table.count().get_result(&mut *c).map_err(|e| e.to_string())?
        };
        let mut left = (target - have).max(0);
        while left > 0 {
            let n = left.min(5_000);
            db.write_tx(|c: &mut DbConn| -> Result<(), crate::store::StoreError> {
                for i in 0..n {
                    let event = crate::ledger::Event {
                        kind: "bench_padding",
                        actor_user: None,
                        actor_post: None,
                        file_id: None,
                        receipt_id: None,
                        payload: serde_json::json!({"n": i}),
                    };
                    crate::ledger::append(c, event)?;
                }
                Ok(())
            })
            .map_err(|e| e.to_string())?;
            left -= n;
        }
        crate::ledger::checkpoint(&db, &ca)?;
        Ok(())
    };
    let mut out = String::new();
    let mut rates = Vec::new();
    for size in [1_000i64, 100_000] {
        pad_to(size)?;
        let started = Instant::now();
        crate::ledger::checkpoint(&db, &ca)?;
        let checkpoint_ms = started.elapsed().as_secs_f64() * 1e3;
        let mut failed = None;
        let per_sec = rate(budget, || {
            if let Err(e) = crate::bundle::export(&db, &ca, &actor, &file) {
                failed = Some(e.to_string());
            }
        });
        if let Some(e) = failed {
            return Err(format!("export failed: {e}"));
        }
        out.push_str(&format!(
            "ledger of {size:>7} events: {per_sec:>8.0} exports/s; a checkpoint signed in {checkpoint_ms:.2} ms\n"
        ));
        rates.push(per_sec);
    }
    out.push_str(&format!("exports/s at 100,000 events ÷ at 1,000: {:.2}\n", rates[1] / rates[0]));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}

/// Latency percentiles (p50, p99) in milliseconds of `n` runs of `f`.
/// Times `report` five times and the officer's inbox (first 50) a hundred
/// times on one connection: the last report, its (p50, slowest) and the
/// inbox's (p50, p99), in milliseconds.
fn beside_inbox<T>(
    db: &crate::store::Db,
    officer: &Officer,
    mut report: impl FnMut(&mut crate::store::DbConn) -> Result<T, String>,
) -> Result<(T, (f64, f64), (f64, f64)), String> {
    let mut c = db.reader().map_err(|e| e.to_string())?;
    let mut shown = None;
    let timed = percentiles(5, || {
        shown = Some(report(&mut c)?);
        Ok(())
    })?;
    let actor = officer.actor();
    let inbox = percentiles(100, || {
        crate::efile::inbox::inbox(&mut c, &actor, crate::efile::inbox::Kind::All, 0, 50)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })?;
    Ok((shown.ok_or("nothing timed")?, timed, inbox))
}

fn percentiles(n: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<(f64, f64), String> {
    let mut ms = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        f()?;
        ms.push(started.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    Ok((at(0.50), at(0.99)))
}

/// `daftar bench queue`: the Secretary's approval queue with 500 files
/// waiting among `files` (default 200,000) beside the same officer's inbox
/// read in the same run; and approvals per second (submit with a signed
/// note, the move signed) beside forward-with-signed-note, on a scratch
/// SQLite database.
pub fn queue(seconds: u64, files: u64) -> Result<String, String> {
    use diesel::prelude::*;
    let budget = Duration::from_secs(seconds.max(1));
    let dir = tempfile_dir()?;
    let (config, db, _ca) = scratch(&dir)?;
    let loaded = crate::workflow::load_dir(&config.workflows_dir, None).map_err(|p| p.join("\n"))?;
    let noting =
        loaded.iter().find(|w| w.id() == "secretariat-noting").ok_or("no secretariat-noting workflow")?.clone();
    let sec = Officer::load(&db, "secretary.moitt")?;
    let so = Officer::load(&db, "so.moitt")?;
    let started = Instant::now();
    {
        // Files spread over every demo desk, each with its stay; the first
        // 500 on the noting chain, waiting on the Secretary.
        let mut c = db.writer().map_err(|e| e.to_string())?;
        let now = crate::store::now_micros();
        crate::workflow::register(&mut c, &noting).map_err(|e| e.to_string())?;
        let script = format!(
            "CREATE TEMP TABLE bench_posts AS SELECT ROW_NUMBER() OVER (ORDER BY p.id) - 1 AS k, p.id AS post, \
               p.org_unit_id AS unit, u.entity_id AS entity FROM posts p JOIN org_units u ON u.id = p.org_unit_id;
             INSERT INTO files (id, file_no, head, serial, year, subject, classification, priority, urgency, status,
               section_id, entity_id, created_by_post, created_by_user, holder_post_id, held_since, next_note_seq,
               next_move_seq, version, created_at, updated_at, workflow_id)
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {files})
             SELECT 'bq-' || i, 'No. B-' || i || '/2026-BENCH', 'B', i, 2026, 'Benchmark file ' || i, 'unclassified',
               'routine', 0, 'open', b.unit, b.entity, b.post, '{user}',
               CASE WHEN i <= 500 THEN '{sec_post}' ELSE b.post END, {now} - i * 1000000, 1, 1, 1, {now} - i * 1000000,
               {now}, CASE WHEN i <= 500 THEN 'secretariat-noting' END
             FROM n JOIN bench_posts b ON b.k = i % (SELECT COUNT(*) FROM bench_posts);
             INSERT INTO stays (id, object_id, kind, post_id, from_at, until_at)
               SELECT 's-' || id, id, 'file', holder_post_id, created_at, NULL FROM files WHERE id LIKE 'bq-%';
             INSERT INTO file_routes (file_id, workflow_id, hash, fields, state, step, post_id, step_since, step_due_at, entry)
               SELECT id, 'secretariat-noting', '{hash}', '{{}}', 'step', 2, '{sec_post}', created_at,
                 created_at + 259200000000, 1 FROM files WHERE workflow_id = 'secretariat-noting' AND id LIKE 'bq-%';
             ANALYZE;",
            user = sec.principal.viewer.user_id,
            sec_post = sec.post,
            hash = noting.hash,
        );
        use diesel::connection::SimpleConnection;
        crate::on_backend!(&mut *c, |b| b.batch_execute(&script)).map_err(|e| e.to_string())?;
    }
    let seeded = started.elapsed().as_secs_f64();
    let mut out = format!("seeded {files} files (500 waiting on the Secretary) in {seeded:.1} s\n");
    let mut c = db.reader().map_err(|e| e.to_string())?;
    let actor = sec.actor();
    let mut waiting = 0;
    let (q50, q99) = percentiles(300, || {
        let (items, _) = crate::workflow::queue::queue(&mut c, &actor, 0, 50).map_err(|e| e.to_string())?;
        waiting = items.len();
        Ok(())
    })?;
    let (i50, i99) = percentiles(300, || {
        crate::efile::inbox::inbox(&mut c, &actor, crate::efile::inbox::Kind::All, 0, 50)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })?;
    drop(c);
    if waiting == 0 {
        return Err("the Secretary's queue came back empty".into());
    }
    out.push_str(&format!("queue (first 50 of 500 waiting): p50 {q50:.2} ms, p99 {q99:.2} ms\n"));
    out.push_str(&format!("inbox (first 50), same officer:  p50 {i50:.2} ms, p99 {i99:.2} ms\n"));
    out.push_str(&format!("queue p99 ÷ inbox p99: {:.2}\n", q99 / i99));

    // Approvals (submitting a noting file: note signed, move signed, step
    // advanced) beside forward-with-signed-note, one officer, key opened once.
    let open = so.unseal(&dir)?;
    let opened = crate::signing::pin::Opened { key: so.key.clone(), open, by_pin: true };
    let prepare = |on_chain: bool, n: usize| -> Result<Vec<String>, String> {
        (0..n)
            .map(|_| {
                let new = crate::efile::file::NewFile {
                    subject: "Benchmark".into(),
                    classification: None,
                    priority: None,
                    workflow: on_chain.then(|| (noting.clone(), Default::default())),
                    section_id: None,
                    head: None,
                };
                db.write_tx(|c| crate::efile::file::create(c, &so.actor(), new)).map_err(|e| e.to_string())
            })
            .collect()
    };
    let ds_post: String = {
        use crate::store::schema::posts;
        let mut c = db.reader().map_err(|e| e.to_string())?;
        posts::table
            .filter(posts::code.eq("MOITT/DS-ADMIN"))
            .select(posts::id)
            .first(&mut *c)
            .map_err(|e| e.to_string())?
    };
    let mut results = Vec::new();
    for on_chain in [false, true] {
        let pool = prepare(on_chain, 1500 * budget.as_secs().max(1) as usize)?;
        // Timed over the moves made, not the calls: the pool of files is finite.
        let started = Instant::now();
        let mut moved = 0usize;
        for file in &pool {
            if started.elapsed() >= budget {
                break;
            }
            let input = crate::efile::movements::MoveInput {
                action: if on_chain { "approve" } else { "forward" }.into(),
                to_post_id: (!on_chain).then(|| ds_post.clone()),
                remarks: None,
                due_at: None,
                priority: None,
            };
            crate::efile::movements::move_signed(&db, &so.actor(), file, input, Some("Submitted, please."), || {
                Ok(Some(opened.clone()))
            })
            .map_err(|e| format!("a move failed: {e}"))?;
            moved += 1;
        }
        let per_sec = moved as f64 / started.elapsed().as_secs_f64();
        results.push(per_sec);
    }
    out.push_str(&format!("forward-with-signed-note:          {:>8.0} /s\n", results[0]));
    out.push_str(&format!(
        "approve-with-signed-note (1 step): {:>8.0} /s = {:.2} of forward\n",
        results[1],
        results[1] / results[0]
    ));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}
