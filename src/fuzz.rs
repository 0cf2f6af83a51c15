//! Bounded mutation fuzzing of the parsers that take outside bytes (issue
//! 25), on the stable toolchain: each target starts from seed inputs (valid
//! ones, from `tests/fuzz/corpus/<target>/` and built in), mutates them at
//! random (bit flips, bytes set, inserted, deleted, repeated, spliced from
//! another seed, structural tokens of TOML, JSON, PDF and MIME dropped in),
//! and calls the parser. A panic is a crash: the input is written to the
//! crashes directory (`tests/fuzz/regressions/<target>/`, replayed by the
//! test suite ever after). An input taking over [`SLOW`] is reported too.
//!
//! `daftar fuzz TARGET|all --seconds N` runs it (`scripts/fuzz.sh` for all,
//! a minute each); `cargo test` runs every target briefly.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// An input slower than this is reported as a hang.
pub const SLOW: Duration = Duration::from_secs(2);

/// Inputs tried in a run however long they take: a run is its time budget
/// or this many inputs, whichever is longer, so that a busy machine (a
/// debug build beside other work once tried one org chart in 2 s) still
/// tries more than the seeds.
pub const MIN_RUNS: u64 = 16;

/// What can be fuzzed.
pub const TARGETS: &[&str] =
    &["org-toml", "workflow-toml", "canonical-json", "bundle", "pdf-text", "certificate", "multipart"];

/// A small, fast, seedable generator (xorshift64*): runs are repeatable from
/// the seed printed.
pub struct Rng(u64);

impl Rng {
    /// From a seed (0 is taken as 1).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Tokens that reach deeper into the formats the targets parse.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b"'",
    b"[",
    b"]",
    b"[[",
    b"]]",
    b"{",
    b"}",
    b"=",
    b",",
    b":",
    b"\n",
    b"\r\n",
    b"\0",
    b"\\u0000",
    b"\\",
    b"#",
    b"-1",
    b"0",
    b"1e999",
    b"99999999999999999999999",
    b"true",
    b"null",
    b"NaN",
    b"\xff\xfe",
    b"\xe2\x80\xae",
    b"\xd8\xa7",
    b"obj",
    b"endobj",
    b"stream\n",
    b"endstream",
    b"xref",
    b"trailer",
    b"startxref",
    b"<<",
    b">>",
    b"/Length 999999",
    b"/Type /Page",
    b"/Kids [",
    b"%%EOF",
    b"--",
    b"\r\n--BOUNDARY\r\n",
    b"Content-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n",
    b"Content-Type: application/pdf\r\n",
    b"PK\x03\x04",
    b"PK\x01\x02",
    b"PK\x05\x06",
];

/// `input` changed in one to four random ways (`others` to splice from).
pub fn mutate(rng: &mut Rng, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(4) {
        let len = out.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                out[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                out[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                out.splice(i..i, bytes);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = (1 + rng.below(64)).min(len - i);
                out.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = (1 + rng.below(256)).min(len - i);
                let chunk = out[i..i + n].to_vec();
                let at = rng.below(out.len() + 1);
                for _ in 0..=rng.below(3) {
                    out.splice(at..at, chunk.iter().copied());
                }
            }
            5 if !others.is_empty() => {
                let o = &others[rng.below(others.len())];
                if !o.is_empty() {
                    let (i, j) = (rng.below(o.len()), rng.below(o.len()));
                    let (i, j) = (i.min(j), i.max(j));
                    let at = rng.below(out.len() + 1);
                    out.splice(at..at, o[i..j].iter().copied());
                }
            }
            6 => out.truncate(rng.below(len + 1)),
            _ => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                out.splice(at..at, t.iter().copied());
            }
        }
        if out.len() > 4 << 20 {
            out.truncate(4 << 20);
        }
    }
    out
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Inputs tried.
    pub runs: u64,
    /// Inputs that panicked: where each was written.
    pub crashes: Vec<PathBuf>,
    /// Inputs slower than [`SLOW`]: where each was written.
    pub slow: Vec<PathBuf>,
}

/// A target ready to run: its seeds and the parser.
pub struct Target {
    seeds: Vec<Vec<u8>>,
    call: Box<dyn FnMut(&[u8])>,
    _scratch: Option<PathBuf>,
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(dir) = &self._scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn read_seeds(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|r| r.filter_map(|e| e.ok()).map(|e| e.path()).collect()).unwrap_or_default();
    files.sort();
    files.into_iter().filter(|p| p.is_file()).filter_map(|p| std::fs::read(p).ok()).collect()
}

fn scratch_dir(name: &str) -> Result<PathBuf, String> {
    let dir =
        std::env::temp_dir().join(format!("daftar-fuzz-{name}-{}-{}", std::process::id(), crate::store::new_id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

/// A multipart body with one text field and one file part, as the web
/// inbox and the API's uploads send.
pub fn multipart_seed() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nMinutes\r\n");
    b.extend_from_slice(
        b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"m.txt\"\r\nContent-Type: text/plain\r\n\r\n",
    );
    b.extend_from_slice(b"The minutes of the meeting.\r\n--BOUNDARY--\r\n");
    b
}

/// Prepares `name` with the seeds in `corpus/<name>/` and those built in.
pub fn target(name: &str, corpus: &Path) -> Result<Target, String> {
    let mut seeds = read_seeds(&corpus.join(name));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut scratch = None;
    let call: Box<dyn FnMut(&[u8])> = match name {
        "org-toml" => {
            if let Ok(demo) = std::fs::read(root.join("assets/demo/government.toml")) {
                seeds.push(demo);
            }
            // A scratch SQLite database to import into: parse, validation
            // and (for what stays valid) the all-or-nothing write.
            let dir = scratch_dir(name)?;
            let db = crate::store::Db::connect(&format!("sqlite://{}", dir.join("fuzz.db").display()), 2, "OFF")
                .map_err(|e| e.to_string())?;
            db.migrate().map_err(|e| e.to_string())?;
            scratch = Some(dir);
            Box::new(move |b: &[u8]| {
                let _ = crate::org::import::import_str(&db, "fuzz.toml", &String::from_utf8_lossy(b));
            })
        }
        "workflow-toml" => {
            for e in std::fs::read_dir(root.join("workflows")).into_iter().flatten().flatten() {
                if let Ok(b) = std::fs::read(e.path()) {
                    seeds.push(b);
                }
            }
            Box::new(|b: &[u8]| {
                let _ = crate::domain::workflow::parse(&String::from_utf8_lossy(b), "fuzz", None);
            })
        }
        "canonical-json" => {
            seeds.push(
                br#"{"b":[1,-7,18446744073709551615,"\u00e9\ud83d\ude00"],"a":{"z":null,"y":true},"":""}"#.to_vec(),
            );
            Box::new(|b: &[u8]| {
                let v = serde_json::from_slice::<serde_json::Value>(b).ok();
                // Canonical form (of the float-free values signatures and the
                // ledger are made of) is a fixed point: it reads back to itself.
                if let Some(v) = v.filter(|v| !crate::domain::canonical::contains_float(v)) {
                    let once = crate::domain::canonical::canonical_json(&v);
                    let again: serde_json::Value = serde_json::from_slice(&once).expect("canonical JSON reads back");
                    assert_eq!(crate::domain::canonical::canonical_json(&again), once, "canonical form changed");
                }
            })
        }
        "bundle" => Box::new(|b: &[u8]| {
            let _ = crate::bundle::verify(b);
        }),
        "pdf-text" => Box::new(|b: &[u8]| {
            let _ = crate::search::extract::pdf_text(b);
        }),
        "certificate" => Box::new(|b: &[u8]| {
            let _ = crate::pki::pades::verify(b);
            let _ = crate::compliance::certificate::verify(b, &[]);
            let _ = crate::compliance::pdf::data_of(b);
        }),
        "multipart" => {
            seeds.push(multipart_seed());
            let dir = scratch_dir(name)?;
            let store = crate::blobs::BlobStore::new(&dir);
            scratch = Some(dir);
            let rt = actix_web::rt::System::new();
            Box::new(move |b: &[u8]| {
                let mut headers = actix_web::http::header::HeaderMap::new();
                headers.insert(
                    actix_web::http::header::CONTENT_TYPE,
                    actix_web::http::header::HeaderValue::from_static("multipart/form-data; boundary=BOUNDARY"),
                );
                let body = actix_web::web::Bytes::copy_from_slice(b);
                let stream = futures_util::stream::once(async move { Ok::<_, actix_web::error::PayloadError>(body) });
                let multipart = actix_multipart::Multipart::new(&headers, stream);
                let _ = rt.block_on(crate::api::documents::read_upload(multipart, &store, 1 << 20));
            })
        }
        other => return Err(format!("unknown fuzz target `{other}` (one of: {})", TARGETS.join(", "))),
    };
    if name == "pdf-text" || name == "certificate" {
        // A PDF of our own making, beside any in the corpus.
        let mut p = crate::compliance::pdf::Pages::new();
        p.text(72.0, 720.0, 12.0, false, "Daftar fuzzing seed");
        if let Ok((mut doc, _)) = p.finish("seed", Some(b"{\"a\":1}")) {
            let mut out = Vec::new();
            if doc.save_to(&mut out).is_ok() {
                seeds.push(out);
            }
        }
    }
    if seeds.is_empty() {
        seeds.push(Vec::new());
    }
    Ok(Target { seeds, call, _scratch: scratch })
}

impl Target {
    /// Calls the parser on `input`; `Err(message)` if it panicked.
    pub fn call(&mut self, input: &[u8]) -> Result<Duration, String> {
        let started = Instant::now();
        let call = &mut self.call;
        std::panic::catch_unwind(AssertUnwindSafe(|| call(input))).map_err(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panic".into())
        })?;
        Ok(started.elapsed())
    }

    /// Mutates seeds and calls the parser for `budget`; what panicked or
    /// was slow is written under `found/<name>/`.
    pub fn run(&mut self, name: &str, budget: Duration, seed: u64, found: &Path) -> Outcome {
        let mut rng = Rng::new(seed);
        let mut out = Outcome::default();
        let started = Instant::now();
        // The seeds themselves first.
        let seeds = self.seeds.clone();
        let keep = |kind: &str, input: &[u8]| -> PathBuf {
            let dir = found.join(name);
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("{kind}-{}", &crate::domain::canonical::sha256_hex(input)[..16]));
            let _ = std::fs::write(&path, input);
            path
        };
        for input in &seeds {
            out.runs += 1;
            match self.call(input) {
                Err(_) => out.crashes.push(keep("crash", input)),
                Ok(t) if t > SLOW => out.slow.push(keep("slow", input)),
                Ok(_) => {}
            }
        }
        while started.elapsed() < budget || out.runs < MIN_RUNS {
            let base = &seeds[rng.below(seeds.len())];
            let input = mutate(&mut rng, base, &seeds);
            out.runs += 1;
            match self.call(&input) {
                Err(_) => out.crashes.push(keep("crash", &input)),
                Ok(t) if t > SLOW => out.slow.push(keep("slow", &input)),
                Ok(_) => {}
            }
        }
        out.crashes.sort();
        out.crashes.dedup();
        out.slow.sort();
        out.slow.dedup();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutation_is_repeatable_from_the_seed_and_changes_the_input() {
        let input = b"[unit]\ncode = \"X\"\n".to_vec();
        let run = |seed| {
            let mut r = Rng::new(seed);
            (0..20).map(|_| mutate(&mut r, &input, &[])).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
        let changed = run(7).iter().filter(|v| **v != input).count();
        assert!(changed >= 15, "{changed} of 20 mutations changed the input");
    }
}
