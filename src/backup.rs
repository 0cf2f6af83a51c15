//! Online backup and restore. `daftar backup DIR` copies, while the server
//! runs, a consistent snapshot of the database (SQLite's `VACUUM INTO`; on
//! PostgreSQL `pg_dump --format=custom`, one consistent snapshot by its
//! nature), then the document blobs, the PKI and the token keys, and writes
//! `manifest.json`: every file's size and SHA-256. Blobs are content-addressed
//! and never rewritten, and are written before the rows naming them commit,
//! so copying them after the database snapshot leaves none missing.
//! `daftar restore DIR` refuses a backup whose files do not match their
//! manifest, restores only into an empty data directory and database, and
//! ends by verifying the restored ledger. The search index is not copied:
//! a restored server rebuilds it from the database.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::store::{Backend, Db};

/// The manifest's format.
const FORMAT: &str = "daftar.backup.v1";
/// The directories of `data_dir` a backup carries.
const DIRS: [&str; 4] = ["blobs", "pki", "keys", "tls"];

/// One file of a backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the backup directory, `/`-separated.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// When the backup began (RFC 3339).
    pub created_at: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// The database file in the backup.
    pub database: String,
    /// Ledger events in the snapshot (for the operator to compare).
    pub ledger_events: i64,
    /// Every other file.
    pub files: Vec<Entry>,
}

fn io(what: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", what.display())
}

fn sha256_file(path: &Path) -> Result<(u64, String), String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(io(path))?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        ctx.update(&buf[..n]);
    }
    Ok((size, crate::pki::hex(ctx.finish().as_ref())))
}

/// Every file under `dir` (recursively), skipping `skip` directories, as
/// paths relative to `dir`.
fn walk(dir: &Path, skip: &[&str]) -> Result<Vec<PathBuf>, String> {
    fn go(root: &Path, dir: &Path, skip: &[&str], out: &mut Vec<PathBuf>) -> Result<(), String> {
        let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
        for e in entries {
            let e = e.map_err(io(dir))?;
            let path = e.path();
            let rel = path.strip_prefix(root).map_err(|e| e.to_string())?.to_path_buf();
            if skip.iter().any(|s| rel == Path::new(s)) {
                continue;
            }
            if e.file_type().map_err(io(&path))?.is_dir() {
                go(root, &path, skip, out)?;
            } else {
                out.push(rel);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    go(dir, dir, skip, &mut out)?;
    out.sort();
    Ok(out)
}

fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> Result<usize, String> {
    let files = walk(from, skip)?;
    for rel in &files {
        let (src, dst) = (from.join(rel), to.join(rel));
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::copy(&src, &dst).map_err(io(&src))?;
        std::fs::File::open(&dst).and_then(|f| f.sync_all()).map_err(io(&dst))?;
    }
    Ok(files.len())
}

fn slash(p: &Path) -> String {
    p.iter().map(|c| c.to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// What a backup or restore did.
#[derive(Debug)]
pub struct Summary {
    /// Files carried besides the database.
    pub files: usize,
    /// Ledger events in the database.
    pub ledger_events: i64,
}

fn ledger_events(db: &Db) -> Result<i64, String> {
    use crate::store::schema::ledger_events;
    use diesel::prelude::*;
    let mut c = db.reader().map_err(|e| e.to_string())?;
    ledger_events::table.count().get_result(&mut c).map_err(|e| e.to_string())
}

/// Takes a backup of the running deployment into `out` (new or empty).
pub fn backup(config: &Config, db: &Db, out: &Path) -> Result<Summary, String> {
    if std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!("{} is not empty: back up into a new directory", out.display()));
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    let created_at = crate::store::rfc3339(crate::store::now_micros());
    let url = config.database_url();
    let (backend, database) = match Backend::of_url(&url) {
        Backend::Sqlite => {
            let file = out.join("daftar.db");
            let mut c = db.reader().map_err(|e| e.to_string())?;
            let path = file.to_string_lossy().replace('\'', "''");
            use diesel::connection::SimpleConnection;
            crate::on_backend!(&mut *c, |b| b.batch_execute(&format!("VACUUM INTO '{path}'")))
                .map_err(|e| format!("the SQLite snapshot failed: {e}"))?;
            ("sqlite", "daftar.db")
        }
        Backend::Postgres => {
            let file = out.join("daftar.pgdump");
            let status = std::process::Command::new("pg_dump")
                .args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
                .arg(&file)
                .arg("--dbname")
                .arg(&url)
                .status()
                .map_err(|e| format!("pg_dump could not be run (install the PostgreSQL client tools): {e}"))?;
            if !status.success() {
                return Err(format!("pg_dump failed ({status})"));
            }
            ("postgres", "daftar.pgdump")
        }
    };
    let ledger = ledger_events(db)?;
    let mut files = 0;
    for dir in DIRS {
        files += copy_tree(&config.data_dir.join(dir), &out.join(dir), &["tmp"])?;
    }
    let mut entries = Vec::new();
    for rel in walk(out, &[])? {
        let (size, sha256) = sha256_file(&out.join(&rel))?;
        entries.push(Entry { path: slash(&rel), size, sha256 });
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        created_at,
        backend: backend.into(),
        database: database.into(),
        ledger_events: ledger,
        files: entries,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
    let path = out.join("manifest.json");
    std::fs::write(&path, text).map_err(io(&path))?;
    std::fs::File::open(&path).and_then(|f| f.sync_all()).map_err(io(&path))?;
    Ok(Summary { files, ledger_events: ledger })
}

/// Reads and checks a backup: every file of the manifest present with its
/// size and hash, nothing outside the backup named.
pub fn check(from: &Path) -> Result<Manifest, String> {
    let path = from.join("manifest.json");
    let text = std::fs::read(&path).map_err(|e| format!("no manifest.json in {}: {e}", from.display()))?;
    let m: Manifest = serde_json::from_slice(&text).map_err(|e| format!("manifest.json cannot be read: {e}"))?;
    if m.format != FORMAT {
        return Err(format!("manifest.json is not a {FORMAT} manifest"));
    }
    if !m.files.iter().any(|e| e.path == m.database) {
        return Err("the backup's manifest does not list its database".into());
    }
    for e in &m.files {
        let rel = Path::new(&e.path);
        if rel.is_absolute() || rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            return Err(format!("the manifest names a path outside the backup: {}", e.path));
        }
        let (size, sha) = sha256_file(&from.join(rel)).map_err(|e| format!("the backup is damaged: {e}"))?;
        if size != e.size || sha != e.sha256 {
            return Err(format!("the backup is damaged: {} does not match its manifest", e.path));
        }
    }
    Ok(m)
}

/// Restores a backup into the configured (empty) data directory and
/// database; ends with the ledger verified.
pub fn restore(config: &Config, from: &Path) -> Result<(Summary, crate::ledger::Report), String> {
    let m = check(from)?;
    let url = config.database_url();
    let backend = Backend::of_url(&url);
    match (m.backend.as_str(), backend) {
        ("sqlite", Backend::Sqlite) | ("postgres", Backend::Postgres) => {}
        (b, _) => return Err(format!("this is a {b} backup: restore it into a {b} database")),
    }
    for dir in DIRS {
        if std::fs::read_dir(config.data_dir.join(dir)).is_ok_and(|mut d| d.next().is_some()) {
            return Err(format!(
                "{} already holds a deployment ({dir}/): restore into an empty data_dir",
                config.data_dir.display()
            ));
        }
    }
    std::fs::create_dir_all(&config.data_dir).map_err(io(&config.data_dir))?;
    match backend {
        Backend::Sqlite => {
            let target = PathBuf::from(&url);
            if target.exists() {
                return Err(format!("{} exists: restore into an empty data_dir", target.display()));
            }
            std::fs::copy(from.join(&m.database), &target).map_err(io(&target))?;
        }
        Backend::Postgres => {
            let db = Db::connect(&url, 1, "FULL").map_err(|e| e.to_string())?;
            let tables: i64 = {
                use diesel::prelude::*;
                #[derive(QueryableByName)]
                struct N {
                    #[diesel(sql_type = diesel::sql_types::BigInt)]
                    n: i64,
                }
                let mut c = db.reader().map_err(|e| e.to_string())?;
                diesel::sql_query("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'public'")
                    .get_result::<N>(&mut *c)
                    .map_err(|e| e.to_string())?
                    .n
            };
            if tables > 0 {
                return Err("the database is not empty: restore into a new database".into());
            }
            let status = std::process::Command::new("pg_restore")
                .args(["--no-owner", "--no-privileges", "--exit-on-error", "--dbname"])
                .arg(&url)
                .arg(from.join(&m.database))
                .status()
                .map_err(|e| format!("pg_restore could not be run (install the PostgreSQL client tools): {e}"))?;
            if !status.success() {
                return Err(format!("pg_restore failed ({status})"));
            }
        }
    }
    let mut files = 0;
    for e in m.files.iter().filter(|e| DIRS.iter().any(|d| e.path.starts_with(&format!("{d}/")))) {
        let dst = config.data_dir.join(&e.path);
        if let Some(parent) = dst.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::copy(from.join(&e.path), &dst).map_err(io(&dst))?;
        files += 1;
    }
    let db = Db::connect(&url, 2, &config.sqlite_synchronous).map_err(|e| e.to_string())?;
    db.migrate().map_err(|e| e.to_string())?;
    let ca = crate::pki::Ca::load(&config.data_dir)?;
    let report = {
        let mut c = db.reader().map_err(|e| e.to_string())?;
        crate::ledger::verify(&mut c, &ca.public_key_der()).map_err(|e| e.to_string())?
    };
    if !report.ok {
        return Err(format!("the restored ledger does not verify: first bad entry {:?}", report.first_bad_seq));
    }
    Ok((Summary { files, ledger_events: ledger_events(&db)? }, report))
}
