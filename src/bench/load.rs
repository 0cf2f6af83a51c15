//! `daftar bench load`: an officers' day replayed over HTTP against a real
//! `daftar serve` process, beside baselines measured in the same run.
//!
//! The government is seeded first (`daftar bench seed`'s generator, at
//! `--scale`, with at least one officer per session). Sessions come in
//! pairs of desks of one section, each pair passing one file between its two
//! desks. Every session holds its own keep-alive connection, as a browser
//! does, and acts every `pace` seconds (0: as fast as it is answered). Each
//! action is:
//! - 80%: a read: the inbox (first page) or the pair's file, half each;
//! - 15%: a note written, signed with the PIN, and the file forwarded to the
//!   other desk of the pair (three requests), by the side that holds it (the
//!   other side reads instead);
//! - 5%: a search.
//!
//! `--writes N` sets the share of writes (the rest: 5% search, if room is
//! left, and reads); at 100 every holder writes back to back and the other
//! side of each pair only waits for the file to come back, so that the
//! sessions are that many officers writing, nothing else.
//!
//! The baselines, at the same number of connections (at most 64, full
//! speed), are `GET /healthz` of the same server, a bare handler that checks
//! the same bearer token and answers a body like `/me`'s (in this process),
//! and a bare durable insert of the rows one movement writes.
//!
//! Sessions are opened through the domain's own session start (a login's
//! argon2id cost is what `daftar bench auth` measures), with access tokens
//! that outlive the run. The server runs as a child process so that each
//! side has its own open-file limit.

use std::io::BufRead;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Client, ScratchDir, scratch_on};
use crate::auth::session::{self, Kind, Lifetimes};
use crate::auth::tokens::TokenKeys;
use crate::config::Config;

/// What to run.
pub struct Plan {
    /// Logged-in sessions, each with its own connection.
    pub sessions: usize,
    /// Seconds between one session's actions (0: full speed).
    pub pace: f64,
    /// Seconds of load (after the baselines).
    pub seconds: u64,
    /// A PostgreSQL admin URL to run on a scratch database there.
    pub postgres: Option<String>,
    /// The government seeded first (`daftar bench seed`'s scale; more
    /// sections are added if there are fewer officers than sessions).
    pub scale: f64,
    /// Percent of actions that write (note, PIN signature, forward); 15 in
    /// an officers' day.
    pub writes: u8,
    /// A deployment to keep: seeded (at `scale`) when it holds none, and
    /// read back, not seeded again, when an earlier run or `daftar bench
    /// seed` wrote one there. A scale-1 seed takes about an hour. With
    /// `postgres`, its database is one created on that server the first
    /// time and named in the directory (`postgres-database`).
    pub data: Option<std::path::PathBuf>,
}

/// Operations, as reported.
const OPS: [&str; 6] = ["inbox", "file", "note", "sign (PIN)", "forward", "search"];

/// Latencies (µs) and errors of one operation.
#[derive(Default, Clone)]
pub(super) struct Stat {
    pub(super) micros: Vec<u32>,
    errors: u64,
    /// What the first few errors were.
    seen: Vec<String>,
}

impl Stat {
    fn merge(&mut self, other: Stat) {
        self.micros.extend(other.micros);
        self.errors += other.errors;
        for e in other.seen {
            if self.seen.len() < 3 && !self.seen.contains(&e) {
                self.seen.push(e);
            }
        }
    }

    fn error(&mut self, what: String) {
        self.errors += 1;
        if self.seen.len() < 3 && !self.seen.contains(&what) {
            self.seen.push(what);
        }
    }

    /// (p50, p95, p99) in milliseconds.
    pub(super) fn percentiles(&mut self) -> (f64, f64, f64) {
        self.micros.sort_unstable();
        let at = |q: f64| {
            if self.micros.is_empty() {
                return 0.0;
            }
            let i = ((self.micros.len() as f64 - 1.0) * q).round() as usize;
            self.micros[i] as f64 / 1e3
        };
        (at(0.50), at(0.95), at(0.99))
    }

    fn row(&mut self, name: &str, secs: f64) -> String {
        let (p50, p95, p99) = self.percentiles();
        format!(
            "{name:<28} {:>9} {:>9.0} {p50:>8.2} {p95:>8.2} {p99:>8.2} {:>7}\n",
            self.micros.len(),
            self.micros.len() as f64 / secs,
            self.errors
        )
    }
}

const HEADER: &str = "operation                        count       /s   p50 ms   p95 ms   p99 ms  errors\n";

/// A small, fast, per-thread random sequence (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// The server under test, stopped when dropped.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `daftar serve` (this very binary) over the scratch deployment.
fn serve(config: &Config) -> Result<(Served, u16), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = std::process::Command::new(exe)
        .arg("serve")
        .env("DAFTAR_DATA_DIR", &config.data_dir)
        .env("DAFTAR_DATABASE_URL", config.database_url())
        .env("DAFTAR_LISTEN", "127.0.0.1:0")
        // `DAFTAR_BENCH_SERVER_LOG=info` logs every request with its time.
        .env("DAFTAR_LOG", std::env::var("DAFTAR_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start daftar serve: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let served = Served(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    let port = loop {
        let line = lines.next().ok_or("daftar serve exited early")?.map_err(|e| e.to_string())?;
        if let Some(rest) = line.split("(port ").nth(1) {
            break rest.trim_end_matches(')').parse::<u16>().map_err(|e| e.to_string())?;
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((served, port))
}

/// One session of the load: whose token, which pair, which side.
struct Session {
    bearer: String,
    pair: usize,
    /// The pair's first desk (which opened the file), else its second.
    first: bool,
    /// The other desk's post.
    to_post: String,
}

/// A request on a session's connection, reconnecting once if the server
/// had closed it while idle: nothing of an answer was read, or the server's
/// 408 for a connection opened and left without a request (browsers retry
/// both the same way).
fn send(
    client: &mut Option<Client>,
    port: u16,
    method: &str,
    path: &str,
    headers: &str,
    body: &str,
) -> Result<(u16, String), String> {
    for attempt in 0..2 {
        if client.is_none() {
            *client = Some(Client::connect(port).map_err(|e| e.to_string())?);
        }
        let Some(c) = client.as_mut() else { continue };
        match c.send(method, path, headers, body) {
            Ok((0 | 408, _)) | Err(_) if attempt == 0 => *client = None,
            Ok(answer) => return Ok(answer),
            Err(e) => return Err(e.to_string()),
        }
    }
    Err("the connection closed twice".into())
}

/// Runs the benchmark.
pub fn run(plan: &Plan) -> Result<String, String> {
    crate::server::raise_open_file_limit();
    let sessions = plan.sessions.max(2);
    let pairs = sessions.div_ceil(2);
    let synchronous = &Config::default().sqlite_synchronous;
    let (_scratch, backend, (config, db, ca)) = match (&plan.data, &plan.postgres) {
        (Some(dir), postgres) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let (backend, url) = match postgres {
                Some(admin) => (crate::store::Backend::Postgres, Some(super::kept_database(dir, admin)?)),
                None if dir.join(super::KEPT_DATABASE).exists() => {
                    return Err(format!("{} keeps a PostgreSQL deployment: add --postgres", dir.display()));
                }
                None => (crate::store::Backend::Sqlite, None),
            };
            (None, super::backend_label(backend), scratch_on(dir, url, synchronous, 4)?)
        }
        (None, postgres) => {
            let scratch = ScratchDir::new(postgres.as_deref())?;
            let opened = scratch_on(&scratch.dir, scratch.database_url.clone(), synchronous, 4)?;
            let backend = scratch.backend();
            (Some(scratch), backend, opened)
        }
    };
    let wrap = crate::signing::keys::PinWrap::load_or_create(&config.data_dir)?;
    let kept = match &plan.data {
        Some(_) => super::seed::read_back(&db, &wrap)?,
        None => None,
    };
    let reused = kept.is_some();
    let seeded = match kept {
        Some(seeded) if seeded.shape.officers() < sessions => {
            return Err(format!(
                "the deployment in --data has {} officers, fewer than the {sessions} sessions",
                seeded.shape.officers()
            ));
        }
        Some(seeded) => seeded,
        None => {
            // Enough desks for one officer per session.
            let mut shape = super::seed::Shape::of(plan.scale);
            let files = shape.files();
            shape.sections = shape.sections.max(sessions.div_ceil(shape.entities * 10));
            // The scale's files, spread over the sections there are.
            shape.files_per_section = files / (shape.entities * shape.sections);
            super::seed::government(&db, &ca, &wrap, shape, &|line: &str| eprintln!("seed: {line}"))?
        }
    };
    let desks: Vec<&super::seed::Desk> = seeded.desks.iter().flatten().flatten().take(sessions).collect();
    let started = Instant::now();
    // One file per pair of desks, opened by the first; and every session,
    // opened as a login would, with access tokens that outlive the run.
    let mut files = Vec::with_capacity(pairs);
    for chunk in desks.chunks(2).collect::<Vec<_>>().chunks(500) {
        let opened = db
            .write_tx(|c| {
                chunk
                    .iter()
                    .map(|pair| {
                        let new = crate::efile::file::NewFile {
                            subject: "Proposal passed between two desks (load benchmark)".into(),
                            classification: None,
                            priority: None,
                            workflow: None,
                            section_id: None,
                            head: None,
                        };
                        crate::efile::file::create(c, &pair[0].officer.actor(), new)
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| e.to_string())?;
        files.extend(opened);
    }
    let keys = TokenKeys::load_or_create(&config.data_dir).map_err(|e| e.to_string())?;
    let life = Lifetimes { access_secs: 6 * 3600, idle_secs: 6 * 3600, absolute_secs: 6 * 3600 };
    let mut all = Vec::with_capacity(sessions);
    for (chunk_no, chunk) in desks.chunks(1000).enumerate() {
        let issued = db
            .write_tx(|c| {
                chunk
                    .iter()
                    .enumerate()
                    .map(|(k, desk)| {
                        let i = chunk_no * 1000 + k;
                        let who = &desk.officer.principal;
                        let partner = desks.get(i ^ 1).unwrap_or(desk);
                        session::start(c, &keys, life, &who.viewer.user_id, who.token_version, Kind::Api)
                            .map_err(crate::store::StoreError::from)
                            .map(|s| Session {
                                bearer: format!("Authorization: Bearer {}\r\n", s.access_token),
                                pair: i / 2,
                                first: i % 2 == 0,
                                to_post: partner.officer.post.clone(),
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(|e| e.to_string())?;
        all.extend(issued);
    }
    let setup = started.elapsed().as_secs_f64();

    let (served, port) = serve(&config)?;
    // A busy server may close the probe's connection between probes (a
    // scale-1 run died of that, a broken pipe): reconnect as sessions do.
    let mut probe: Option<Client> = None;
    let drained = settle(&db, port, &mut probe, "the seed")?;
    let budget = Duration::from_secs(plan.seconds.max(1));
    let base_conns = sessions.min(64);
    let sh = seeded.shape;
    let mut out = format!(
        "backend: {backend}; {} {} ministries, {} officers, {} files ({} movements) in {:.0} s + {:.0} s\n\
         {sessions} sessions (one officer each, {pairs} pairs passing a file), {}, {}% writes; sessions opened in {setup:.1} s; \
         the server caught up with the seed in {drained:.0} s\n",
        if reused { "read back (seeded earlier)" } else { "seeded" },
        sh.entities,
        sh.officers(),
        sh.files(),
        sh.files() * 32,
        seeded.org_secs,
        seeded.files_secs,
        if plan.pace > 0.0 { format!("an action every {} s each", plan.pace) } else { "full speed".into() },
        plan.writes,
    );

    // Baselines.
    out.push_str(&format!("\nbaselines, same run ({base_conns} connections, full speed, {} s each):\n", plan.seconds));
    out.push_str(HEADER);
    let healthz = closed_loop(port, base_conns, budget, |_| ("/healthz", String::new()))?;
    out.push_str(&healthz.clone().row("GET /healthz", budget.as_secs_f64()));
    let bare_port = bare_token_server(keys)?;
    let bearers: Vec<String> = all.iter().take(base_conns).map(|s| s.bearer.clone()).collect();
    let bare = closed_loop(bare_port, base_conns, budget, |i| ("/bare", bearers[i].clone()))?;
    out.push_str(&bare.clone().row("bare token handler", budget.as_secs_f64()));
    let rows = super::bare_movement_rows(&db, &desks[0].officer, &desks[1].officer, 8, budget)?;
    out.push_str(&format!("bare durable insert of a movement's rows (8 writers): {rows:.0} /s\n"));
    // Those rows left the server a mail job and four ledger events each to
    // catch up with: the day begins once it has.
    settle(&db, port, &mut probe, "the baselines")?;
    drop(db);

    // The officers' day (said on stderr, with the server's pid, so that a
    // profiler can be attached for just this part).
    eprintln!("load: the officers' day begins now; the server is pid {}", served.0.id());
    let holders: Vec<AtomicBool> = (0..pairs).map(|_| AtomicBool::new(true)).collect();
    // The day begins at one instant, set once every session is ready and a
    // little ahead. Each session parks until it is woken with it, then
    // sleeps on its own timer until its first action. A barrier wakes all
    // threads through one lock, one after another: with 10,000 sessions
    // the last woke seconds late and the server stalled at the start of
    // the day; threads looking for the start every 100 ms kept two cores
    // too busy to look in time, and the late ones all acted at once.
    let ready = std::sync::atomic::AtomicUsize::new(0);
    let day: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let pace = plan.pace;
    let writes = u64::from(plan.writes.min(100));
    let (stats, secs) = std::thread::scope(|s| -> Result<(Vec<Stat>, f64), String> {
        let handles: Vec<_> = all
            .iter()
            .enumerate()
            .map(|(i, me)| {
                let (ready, day, holders, files) = (&ready, &day, &holders, &files);
                std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn_scoped(s, move || {
                        let mut client = Client::connect(port).ok();
                        // A session's connection has been used before the
                        // day begins, as a browser's has (the server closes
                        // a connection that sends nothing within 5 s, and
                        // the day would pay for connecting again); this also
                        // warms the thread's stack and allocator.
                        let _ = send(&mut client, port, "GET", "/healthz", "", "");
                        ready.fetch_add(1, Ordering::AcqRel);
                        let start = loop {
                            match day.get() {
                                Some(start) => break *start,
                                None => std::thread::park(),
                            }
                        };
                        // How late this session learnt when the day begins.
                        let late = Instant::now().saturating_duration_since(start);
                        let stats = officer(
                            me,
                            i,
                            client.take(),
                            port,
                            &files[me.pair],
                            &holders[me.pair],
                            pace,
                            writes,
                            start,
                            budget,
                        );
                        (stats, late)
                    })
                    .map_err(|e| format!("cannot start session {i}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        while ready.load(Ordering::Acquire) < handles.len() {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Far enough ahead for every session to have been woken: waking
        // 10,000 threads took this machine 3.7 s.
        let started = Instant::now() + Duration::from_secs(10);
        let _ = day.set(started);
        for h in &handles {
            h.thread().unpark();
        }
        let mut stats = vec![Stat::default(); OPS.len()];
        let mut late = Duration::ZERO;
        for h in handles {
            let (one, one_late) = h.join().map_err(|_| "a session panicked")?;
            late = late.max(one_late);
            for (total, one) in stats.iter_mut().zip(one) {
                total.merge(one);
            }
        }
        if late > Duration::ZERO {
            eprintln!(
                "load: a session learnt when the day began {:.0} ms after it had begun",
                late.as_secs_f64() * 1e3
            );
        }
        Ok((stats, started.elapsed().as_secs_f64()))
    })?;
    drop(served);

    out.push_str(&format!("\nthe officers' day ({sessions} sessions, {secs:.0} s):\n"));
    out.push_str(HEADER);
    let mut total = Stat::default();
    for (name, mut stat) in OPS.iter().zip(stats) {
        out.push_str(&stat.row(name, secs));
        total.merge(stat);
    }
    out.push_str(&total.row("all requests", secs));
    if !total.seen.is_empty() {
        out.push_str(&format!("errors seen (first of each kind): {}\n", total.seen.join("; ")));
    }
    let (_, _, p99) = total.percentiles();
    let (_, _, h99) = { healthz }.percentiles();
    out.push_str(&format!(
        "\nall requests: p99 {p99:.2} ms = {:.1} × healthz p99; {} errors\n",
        if h99 > 0.0 { p99 / h99 } else { 0.0 },
        total.errors
    ));
    Ok(out)
}

/// Waits until the server has caught up with what was written behind its
/// back (`what`: the seed, the bare baseline's rows): its job queue, its
/// ledger sealer (those events are appended unsealed) and its search index
/// with the sealed ledger (`/readyz`). Then, as after any bulk load, the
/// database is vacuumed and analysed (PostgreSQL's autovacuum may be off,
/// or not have come round: the day would read the dead row versions of
/// done jobs, and plans made without statistics) and checkpointed, so that
/// the day pays for none of it. Returns the seconds it took.
fn settle(db: &crate::store::Db, port: u16, probe: &mut Option<Client>, what: &str) -> Result<f64, String> {
    use crate::store::schema::{jobs, ledger_events};
    use diesel::prelude::*;
    let started = Instant::now();
    loop {
        if started.elapsed() > Duration::from_secs(1800) {
            return Err(format!("the server did not catch up with {what} within 30 minutes"));
        }
        let backlog = {
            let mut c = db.reader().map_err(|e| e.to_string())?;
            // Whether any is left, not how many: after a scale-1 seed
            // millions of events wait to be sealed, and counting them every
            // half second took a core from the server catching up.
            let waiting = jobs::table
                .filter(jobs::status.eq_any(["queued", "running"]))
                .select(jobs::id)
                .first::<String>(&mut *c)
                .optional()
                .map_err(|e| e.to_string())?;
            let unsealed = ledger_events::table
                .filter(ledger_events::position.is_null())
                .select(ledger_events::id)
                .first::<String>(&mut *c)
                .optional()
                .map_err(|e| e.to_string())?;
            waiting.is_some() || unsealed.is_some()
        };
        if !backlog && send(probe, port, "GET", "/readyz", "", "").map(|(status, _)| status).unwrap_or(0) == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let mut c = db.writer().map_err(|e| e.to_string())?;
    // Best effort: PostgreSQL's CHECKPOINT needs a privileged role.
    let flushed = match &mut *c {
        crate::store::DbConn::Postgres(pg) => {
            diesel::sql_query("VACUUM (ANALYZE)").execute(pg).and_then(|_| diesel::sql_query("CHECKPOINT").execute(pg))
        }
        // PASSIVE: a TRUNCATE checkpoint of a WAL grown to gigabytes (a
        // scale-1 catch-up) holds the server's writers past their wait.
        crate::store::DbConn::Sqlite(lite) => diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").execute(lite),
    };
    if let Err(e) = flushed {
        eprintln!("load: no vacuum or checkpoint after {what} ({e}); its writes may still be flushing");
    }
    Ok(started.elapsed().as_secs_f64())
}

/// One session's day: actions until the budget is spent, one every `pace`
/// seconds (0: back to back). Returns its stats per operation.
#[allow(clippy::too_many_arguments)]
fn officer(
    me: &Session,
    index: usize,
    mut client: Option<Client>,
    port: u16,
    file: &str,
    first_holds: &AtomicBool,
    pace: f64,
    writes: u64,
    started: Instant,
    budget: Duration,
) -> Vec<Stat> {
    let mut stats = vec![Stat::default(); OPS.len()];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (index as u64 + 1).wrapping_mul(0x1000_0000_01b3));
    // Officers do not all act at the same instant.
    let mut next =
        if pace > 0.0 { Duration::from_secs_f64(pace * rng.below(1000) as f64 / 1000.0) } else { Duration::ZERO };
    let json = format!("{}Content-Type: application/json\r\n", me.bearer);
    let mut call = |op: usize, method: &str, path: &str, body: &str, want: u16, stats: &mut Vec<Stat>| {
        let t = Instant::now();
        let headers = if body.is_empty() { &me.bearer } else { &json };
        let answer = send(&mut client, port, method, path, headers, body);
        stats[op].micros.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
        match answer {
            Ok((status, body)) if status == want => Some(body),
            Ok((status, body)) => {
                let code = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                stats[op].error(format!("{status} {code}"));
                None
            }
            Err(e) => {
                stats[op].error(e);
                None
            }
        }
    };
    loop {
        if next >= budget && pace > 0.0 {
            break;
        }
        // Each action at its time from the start of the day (the first
        // waits for the day to begin).
        if let Some(wait) = (started + next).checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if pace > 0.0 {
            next += Duration::from_secs_f64(pace);
        } else if started.elapsed() >= budget {
            break;
        }
        let roll = rng.below(100);
        let holds = first_holds.load(Ordering::Acquire) == me.first;
        if roll < writes && holds {
            let Some(note) = call(2, "POST", &format!("/api/v1/files/{file}/notes"), NOTE, 201, &mut stats) else {
                continue;
            };
            let id = serde_json::from_str::<serde_json::Value>(&note)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            let sign = format!("/api/v1/files/{file}/notes/{id}/sign");
            if call(3, "POST", &sign, &format!("{{\"pin\":\"{}\"}}", crate::demo::PIN), 200, &mut stats).is_none() {
                continue;
            }
            let forward =
                format!("{{\"action\":\"forward\",\"to_post_id\":\"{}\",\"remarks\":\"Please see\"}}", me.to_post);
            if call(4, "POST", &format!("/api/v1/files/{file}/movements"), &forward, 201, &mut stats).is_some() {
                first_holds.store(!me.first, Ordering::Release);
            }
        } else if writes >= 100 {
            // Nothing but writes: the other side waits for the file to come back.
            std::thread::sleep(Duration::from_millis(1));
        } else if roll >= 95 && roll >= writes {
            call(5, "GET", "/api/v1/search?q=proposal&limit=20", "", 200, &mut stats);
        } else if roll % 2 == 0 {
            call(0, "GET", "/api/v1/inbox?limit=50", "", 200, &mut stats);
        } else {
            call(1, "GET", &format!("/api/v1/files/{file}"), "", 200, &mut stats);
        }
    }
    stats
}

const NOTE: &str = r#"{"body":"Examined the proposal; the figures agree with the budget. Submitted for orders."}"#;

/// `connections` connections each sending `request(i)` = (path, headers)
/// back to back for `budget`; every answer must be 200. Returns the
/// latencies (`Stat`'s count is the requests answered).
pub(super) fn closed_loop<'p>(
    port: u16,
    connections: usize,
    budget: Duration,
    request: impl Fn(usize) -> (&'p str, String) + Sync,
) -> Result<Stat, String> {
    let started = Instant::now();
    let stats: Vec<Result<Stat, String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..connections)
            .map(|i| {
                let request = &request;
                s.spawn(move || {
                    let (path, headers) = request(i);
                    let mut c = Client::connect(port).map_err(|e| e.to_string())?;
                    let mut stat = Stat::default();
                    while started.elapsed() < budget {
                        let t = Instant::now();
                        let (status, body) = c.send("GET", path, &headers, "").map_err(|e| e.to_string())?;
                        if status != 200 {
                            return Err(format!("{path} answered {status}: {body}"));
                        }
                        stat.micros.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    }
                    Ok(stat)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("a client panicked".into()))).collect()
    });
    let mut total = Stat::default();
    for s in stats {
        total.merge(s?);
    }
    Ok(total)
}

/// A server with one bare handler, `GET /bare`: checks the bearer token's
/// signature and claims and answers a JSON body about the size of `/me`'s.
/// Returns its port; it runs until the process ends.
fn bare_token_server(keys: TokenKeys) -> Result<u16, String> {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
    async fn bare(req: HttpRequest, keys: web::Data<TokenKeys>) -> HttpResponse {
        let token = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        match keys.verify(token) {
            Some(c) => HttpResponse::Ok().json(serde_json::json!({
                "id": c.sub, "username": "so.moitt", "name": "Section Officer (e-Governance)",
                "email": "so.moitt@example.gov.pk", "clearance": "confidential",
                "roles": [], "posts": [{"id": c.sid, "code": "MOITT/EGOV/SO", "designation": "section_officer",
                "title": "Section Officer (e-Governance)", "org_unit_id": c.sid, "primary": true}],
                "acting_post_id": c.sid,
            })),
            None => HttpResponse::Unauthorized().finish(),
        }
    }
    let keys = web::Data::new(keys);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || App::new().app_data(keys.clone()).route("/bare", web::get().to(bare)))
                .workers(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
                .bind("127.0.0.1:0");
            match server {
                Ok(server) => {
                    let port = server.addrs().first().map(|a| a.port()).unwrap_or(0);
                    let running = server.run();
                    let _ = tx.send(Ok(port));
                    let _ = running.await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        })
    });
    rx.recv().map_err(|e| e.to_string())?
}
