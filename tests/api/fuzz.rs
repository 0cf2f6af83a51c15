//! Hostile input (issue 25): every parser of outside bytes survives a few
//! seconds of mutated input on every test run (`DAFTAR_FUZZ_SECONDS` per
//! target, default 2; `scripts/fuzz.sh` runs them longer), and every input
//! that once crashed or hung one of them is replayed from
//! `tests/fuzz/regressions/<target>/`.

use std::path::Path;
use std::time::Duration;

use daftar::fuzz::{MIN_RUNS, SLOW, TARGETS, target};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_parser_of_outside_bytes_survives_mutated_input() {
    let seconds = std::env::var("DAFTAR_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2);
    let seed = daftar::store::now_micros() as u64;
    let found = tempfile::tempdir().unwrap();
    for name in TARGETS {
        let mut t = target(name, &root().join("tests/fuzz/corpus")).unwrap();
        let out = t.run(name, Duration::from_secs(seconds), seed, found.path());
        assert!(out.runs >= MIN_RUNS, "{name}: only {} inputs in {seconds} s", out.runs);
        assert!(
            out.crashes.is_empty() && out.slow.is_empty(),
            "{name} (seed {seed}): crashing {:?}, slow {:?}; copy them into tests/fuzz/regressions/{name}/",
            out.crashes,
            out.slow
        );
    }
}

#[test]
fn inputs_that_once_broke_a_parser_are_handled() {
    for name in TARGETS {
        let dir = root().join("tests/fuzz/regressions").join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut t = target(name, &root().join("tests/fuzz/corpus")).unwrap();
        for e in entries.flatten() {
            let input = std::fs::read(e.path()).unwrap();
            let took = t.call(&input).unwrap_or_else(|p| panic!("{} panics again: {p}", e.path().display()));
            assert!(took < SLOW, "{} takes {took:?}", e.path().display());
        }
    }
}
