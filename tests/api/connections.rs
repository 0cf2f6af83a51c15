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

fn rss_kib(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines().find_map(|l| l.strip_prefix("VmRSS:")).unwrap().split_whitespace().next().unwrap().parse().unwrap()
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
