//! Connections at an officers' pace (issue 24): the server raises its own
//! open-file limit to what it may, and holds thousands of idle keep-alive
//! connections (as browsers keep them) without refusing a new request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::helpers::{Backend, fresh_db};

fn limits(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = text.lines().find(|l| l.starts_with("Max open files")).unwrap();
    let n: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    (n[0], n[1])
}

/// A number from `/proc/PID/status` (`VmRSS:` in KiB, `Threads:`, …).
fn status(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines().find_map(|l| l.strip_prefix(field)).unwrap().split_whitespace().next().unwrap().parse().unwrap()
}

fn rss_kib(pid: u32) -> u64 {
    status(pid, "VmRSS:")
}

/// One keep-alive request on `s`; the connection stays open.
fn healthz(s: &mut TcpStream) -> bool {
    if s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").is_err() {
        return false;
    }
    let mut r = BufReader::new(s);
    let mut status = String::new();
    if r.read_line(&mut status).is_err() || !status.contains(" 200 ") {
        return false;
    }
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() {
            return false;
        }
        if h == "\r\n" {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).is_ok()
}

#[test]
fn thousands_of_idle_keep_alive_connections_are_held() {
    if !std::path::Path::new("/proc/self/limits").exists() {
        eprintln!("skipping the connections test: no /proc (not Linux)");
        return;
    }
    let Some(db) = fresh_db(Backend::Sqlite) else { return };
    // The server starts with the usual soft limit and raises it itself.
    let hard: u64 = {
        let (_, hard) = limits(std::process::id());
        hard
    };
    let wanted = 10_000u64;
    if hard < wanted + 2_000 {
        eprintln!("skipping the connections test: the hard open-file limit here is {hard}");
        return;
    }
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c").arg(format!("ulimit -Sn 1024 && exec {} serve --demo", env!("CARGO_BIN_EXE_daftar")));
    let (mut child, port) = crate::helpers::started(cmd, &db);
    let pid = child.id();
    let (soft, server_hard) = limits(pid);
    assert_eq!(soft, server_hard, "the server raised its soft open-file limit to the hard one");
    let before = rss_kib(pid);
    // As many idle keep-alive connections as this test may open, each
    // having made one request.
    let started = Instant::now();
    let mut held = Vec::with_capacity(wanted as usize);
    for _ in 0..wanted {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        assert!(healthz(&mut s), "a connection was refused after {} held", held.len());
        held.push(s);
    }
    // All are still open and usable, and a new one is served at once.
    let mut fresh = TcpStream::connect(("127.0.0.1", port)).unwrap();
    fresh.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert!(healthz(&mut fresh));
    let alive = held.iter_mut().rev().take(100).filter_map(|s| healthz(s).then_some(())).count();
    let grew = rss_kib(pid).saturating_sub(before);
    eprintln!(
        "{wanted} idle keep-alive connections held in {:.1} s; the server's memory grew {} KiB ({} bytes each)",
        started.elapsed().as_secs_f64(),
        grew,
        grew * 1024 / wanted
    );
    assert!(alive >= 95, "only {alive} of the last 100 connections still answer");
    let _ = child.kill();
    let _ = child.wait();
}

fn threads(pid: u32) -> u64 {
    status(pid, "Threads:")
}

/// A burst of requests, a hundred times more than the database connections,
/// is answered in full by threads that wait their turn for a connection,
/// not by a thread started for each: a burst at the start of a morning (the
/// first requests of 10,000 sessions) once started 150–240 threads in a
/// second on two cores, and every request waited seconds for the CPU.
#[test]
fn a_burst_of_requests_waits_for_connections_not_for_new_threads() {
    if !std::path::Path::new("/proc/self/status").exists() {
        eprintln!("skipping the burst test: no /proc (not Linux)");
        return;
    }
    let Some(db) = fresh_db(Backend::Sqlite) else { return };
    let pool = 4u64;
    let (mut child, port) = crate::helpers::serve_process(&db, &[("DAFTAR_DB_POOL_SIZE", pool.to_string())]);
    let pid = child.id();
    let get = |path: &str| -> u16 {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return 0 };
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let _ = s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes());
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        answer.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
    };
    // `/readyz` reads the database on the server's blocking threads; wait
    // until the search index is built, so that every answer is 200.
    let started = Instant::now();
    while get("/readyz") != 200 {
        assert!(started.elapsed() < Duration::from_secs(60), "the server never became ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let before = threads(pid);
    let burst = 400;
    let gate = std::sync::Barrier::new(burst + 1);
    let done = std::sync::atomic::AtomicBool::new(false);
    let (statuses, most) = std::thread::scope(|s| {
        let watch = s.spawn(|| {
            let mut most = before;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                most = most.max(threads(pid));
                std::thread::sleep(Duration::from_millis(2));
            }
            most
        });
        let senders: Vec<_> = (0..burst)
            .map(|_| {
                s.spawn(|| {
                    gate.wait();
                    get("/readyz")
                })
            })
            .collect();
        gate.wait();
        let statuses: Vec<u16> = senders.into_iter().map(|h| h.join().unwrap()).collect();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (statuses, watch.join().unwrap())
    });
    let _ = child.kill();
    let _ = child.wait();
    let answered = statuses.iter().filter(|&&s| s == 200).count();
    assert_eq!(answered, burst, "every request of the burst is answered 200: {statuses:?}");
    // Each HTTP worker (one per core) runs database work on at most `pool`
    // threads; a few more may start for other reasons.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    eprintln!("a burst of {burst} requests: the server's threads went from {before} to at most {most}");
    assert!(
        most <= before + workers * pool + 4,
        "the server went from {before} threads to {most} for a burst of {burst} requests (pool {pool}, {workers} workers)"
    );
}

/// A server opens its database connections when it starts, and the first
/// burst of requests finds them open (PostgreSQL, where opening one starts a
/// backend process: seen from `pg_stat_activity`) and primed: each has run
/// the reads of a caller's first request (its last statement, seen there too).
#[test]
fn a_server_opens_its_database_connections_when_it_starts() {
    use diesel::prelude::*;
    let Some(db) = fresh_db(Backend::Postgres) else { return };
    let mut c = diesel::PgConnection::establish(&db.url).expect("connect");
    let open = |c: &mut diesel::PgConnection| {
        let q =
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";
        crate::helpers::pg_count(c, q)
    };
    let env = [("DAFTAR_DB_POOL_SIZE", "12".to_owned())];
    // The first start seeds the demo government (using connections as it
    // goes); the second finds it seeded.
    for start in 0..2 {
        let started = Instant::now();
        while open(&mut c) > 0 {
            assert!(started.elapsed() < Duration::from_secs(20), "the last server's connections never closed");
            std::thread::sleep(Duration::from_millis(50));
        }
        let (mut child, _port) = crate::helpers::serve_process(&db, &env);
        let n = open(&mut c);
        // What each connection ran last: priming ends with the posts and
        // users an answer names; nothing else runs that before a request.
        let primed = crate::helpers::pg_count(
            &mut c,
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND query LIKE 'SELECT ''p'', posts.id, posts.code%'",
        );
        let _ = child.kill();
        let _ = child.wait();
        if start == 1 {
            assert!(n >= 12, "{n} connections open once the server listens, not the pool's 12");
            // The background workers (jobs, indexer, schedules) take a few
            // connections at start, and their statements come last there.
            assert!(primed >= 6, "{primed} of the 12 connections primed with the first requests' reads");
        }
    }
}
