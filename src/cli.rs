//! The `daftar` command line (SPEC section 4).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::org::import::ImportError;
use crate::server::Server;
use crate::store::Db;

/// Daftar: paperless file noting and file movement for government.
#[derive(Parser)]
#[command(name = "daftar", version, about, long_about = None)]
struct Cli {
    /// Configuration file (default: ./daftar.toml if present; also $DAFTAR_CONFIG).
    #[arg(long, global = true, env = "DAFTAR_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server; creates and migrates the database on first start.
    Serve {
        /// Also seed the demo government (idempotent) and print its logins.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Seed the demo government into the configured database (idempotent).
    Demo,
    /// Organisation administration.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Measure costs against same-run baselines (run a release build).
    Bench {
        /// What to measure: `auth`, `signing`, `efile`, `export`, `queue`, `search`, `compliance`, `analytics`,
        /// `load`; or `seed`, which writes a synthetic government into the configured database.
        what: String,
        /// For `efile`, `search` and `load`: a PostgreSQL admin URL to run on a scratch database
        /// there (with `load --data`, on a database kept there for the next run).
        #[arg(long)]
        postgres: Option<String>,
        /// For `efile`: concurrent clients, each working its own file.
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// For `load`: logged-in sessions, each with its own connection.
        #[arg(long, default_value_t = 1000)]
        sessions: usize,
        /// For `load`: seconds between one session's actions (0: full speed; an officer's pace is 30).
        #[arg(long, default_value_t = 0.0)]
        pace: f64,
        /// For `load`: the share of actions, in percent, that write a note, sign it with the PIN
        /// and forward the file (the rest: 5% search, the others reads); 100 makes every
        /// holder's action a write.
        #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u8).range(0..=100))]
        writes: u8,
        /// For `seed` and `load`: the size of the government seeded (1: 40 ministries, 10,000
        /// officers, 200,000 files, 6,000,000 movements).
        #[arg(long, default_value_t = 0.0)]
        scale: f64,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 3)]
        seconds: u64,
        /// For `load`: a directory to keep the seeded deployment in, and to read it back from on
        /// the next run instead of seeding again (also what `seed` writes, with DAFTAR_DATA_DIR
        /// set to it). With `--postgres`, its database is created on that server the first time
        /// and named in DIR/postgres-database.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// Fuzz the parsers of outside bytes for a bounded time (`scripts/fuzz.sh` runs them all).
    Fuzz {
        /// `org-toml`, `workflow-toml`, `canonical-json`, `bundle`, `pdf-text`, `certificate`, `multipart` or `all`.
        target: String,
        /// Seconds per target.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Seed inputs, in a directory per target.
        #[arg(long, default_value = "tests/fuzz/corpus")]
        corpus: PathBuf,
        /// Where inputs that crash (or hang) are written, in a directory per target.
        #[arg(long, default_value = "tests/fuzz/regressions")]
        found: PathBuf,
        /// The random seed (default: from the clock; printed).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Verify a file bundle (.zip) or a compliance certificate (.pdf) offline.
    Verify {
        /// The bundle (GET /api/v1/files/{id}/export) or certificate PDF.
        path: PathBuf,
        /// For a certificate: the CA certificate(s) to trust, PEM (e.g. the
        /// issuing deployment's /api/v1/pki/ca.pem). Without it the CA
        /// carried in the signature is used and its fingerprint printed.
        #[arg(long, value_name = "PEM")]
        ca: Option<PathBuf>,
    },
    /// Take a consistent online backup (database, blobs, PKI, token keys, manifest) into a new DIR.
    Backup {
        /// A new (or empty) directory.
        dir: PathBuf,
    },
    /// Restore a backup into the configured data_dir and database, both empty; refuses a damaged backup.
    Restore {
        /// The backup directory.
        dir: PathBuf,
    },
    /// Email: run the daily mail now.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// Compliance certificates and MoITT's consolidated report.
    Compliance {
        #[command(subcommand)]
        command: ComplianceCommand,
    },
    /// The tamper-evident ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Approval chains (workflows/*.toml).
    Workflow {
        #[command(subcommand)]
        command: WorkflowCommand,
    },
    /// The full-text search index.
    Search {
        #[command(subcommand)]
        command: SearchCommand,
    },
    /// Approval deadlines.
    Sla {
        #[command(subcommand)]
        command: SlaCommand,
    },
    /// The deployment's certificate authority.
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
    /// TLS certificates.
    Tls {
        #[command(subcommand)]
        command: TlsCommand,
    },
    /// User administration.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum MailCommand {
    /// Enqueue now each user's digest of what waits for it (the server sends them).
    Digest,
    /// Enqueue now the notices of files and receipts due tomorrow.
    Due,
}

#[derive(Subcommand)]
enum ComplianceCommand {
    /// Issue an entity's certificate for a period, signed with the
    /// secretary's key (their PIN is read from standard input).
    Certificate {
        /// Entity code, e.g. MOITT.
        #[arg(long)]
        entity: String,
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// Last day, YYYY-MM-DD.
        #[arg(long)]
        to: String,
        /// Where to write the signed PDF.
        #[arg(long)]
        out: PathBuf,
        /// The administrative secretary's login name.
        #[arg(long)]
        user: String,
    },
    /// The consolidated report of every entity, to standard output or --out.
    Consolidate {
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// Last day, YYYY-MM-DD.
        #[arg(long)]
        to: String,
        /// json, csv or pdf.
        #[arg(long, default_value = "json")]
        format: String,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Recompute every hash, checkpoint and recorded row; exit 1 naming the first bad entry.
    Verify,
    /// Seal pending events and sign a checkpoint now.
    Checkpoint,
}

#[derive(Subcommand)]
enum PkiCommand {
    /// Create the deployment CA (ECDSA P-256) in DATA_DIR/pki if there is none.
    Init,
}

#[derive(Subcommand)]
enum TlsCommand {
    /// Write a self-signed development certificate (never for production).
    SelfSigned {
        /// Directory for cert.pem and key.pem (default: DATA_DIR/tls).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Host names and addresses it is valid for (repeat; default localhost and 127.0.0.1).
        #[arg(long = "host")]
        hosts: Vec<String>,
    },
}

#[derive(Subcommand)]
enum WorkflowCommand {
    /// Check every workflow in DIR (default: the configured workflows_dir)
    /// against the org chart; prints `file:line: message` for each problem.
    Check {
        /// The directory of *.toml workflows.
        dir: Option<PathBuf>,
    },
    /// Print a workflow as a Mermaid flowchart.
    Graph {
        /// The workflow's id.
        id: String,
    },
}

#[derive(Subcommand)]
enum SearchCommand {
    /// Rebuild the index from the database into a new directory, then swap
    /// it in (no server may be writing the index meanwhile).
    Reindex,
}

#[derive(Subcommand)]
enum SlaCommand {
    /// Run one SLA sweep now: record breaches, enqueue reminders, escalate.
    Sweep {
        /// Sweep as of this RFC 3339 time instead of now (for drills).
        #[arg(long)]
        now: Option<String>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input.
    Add {
        /// Login name, e.g. so.moitt.
        username: String,
        /// Full name.
        #[arg(long)]
        name: String,
        /// unclassified, restricted, confidential, secret or top_secret.
        #[arg(long)]
        clearance: String,
        /// Email address.
        #[arg(long)]
        email: Option<String>,
        /// A role, `role` or `role:ENTITY` (repeat for more).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// A regular post held from today, by post code (the first is primary).
        #[arg(long = "post")]
        posts: Vec<String>,
    },
    /// Set a user's password (read from standard input); ends their sessions.
    Passwd {
        /// Login name.
        username: String,
    },
    /// Disable a user; every session of theirs ends at once.
    Disable {
        /// Login name.
        username: String,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Load an org chart (units, posts, users) from TOML, all or nothing.
    Import {
        /// The org-chart file; see assets/demo/government.toml for the format.
        file: PathBuf,
    },
}

/// Runs the command line; errors are one clear line on stderr and exit 1.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let vars: Vec<(String, String)> = std::env::vars().collect();
    let mut config = Config::load_from(cli.config.as_deref(), &vars)?;
    crate::clock::set_offset(crate::clock::parse_offset(&config.utc_offset)?);
    if matches!(cli.command, Command::Bench { .. } | Command::Fuzz { .. }) {
        // Per-request log lines would measure the terminal, not the server.
        config.log = "warn".into();
    }
    init_logging(&config);
    match cli.command {
        Command::Serve { demo } => serve(config, demo),
        Command::Migrate => {
            let db = open(&config)?;
            let applied = db.migrate().map_err(|e| e.to_string())?;
            if applied.is_empty() {
                println!("database is up to date");
            } else {
                for m in applied {
                    println!("applied {m}");
                }
            }
            Ok(())
        }
        Command::Demo => {
            let db = open_migrated(&config)?;
            seed_demo(&db, &config)
        }
        Command::Bench { what, seconds, postgres, clients, sessions, pace, scale, writes, data } => match what.as_str()
        {
            "seed" => {
                let db = open_migrated(&config)?;
                seed_demo(&db, &config)?;
                let ca = crate::pki::Ca::init(&config.data_dir, &config.organisation)?;
                let wrap = crate::signing::keys::PinWrap::load_or_create(&config.data_dir)?;
                let shape = crate::bench::seed::Shape::of(scale);
                let s = crate::bench::seed::government(&db, &ca, &wrap, shape, &|line: &str| println!("{line}"))?;
                println!(
                    "seeded {} ministries, {} officers (password {}, PIN {}), {} files in {:.0} s",
                    shape.entities,
                    shape.officers(),
                    crate::demo::PASSWORD,
                    crate::demo::PIN,
                    shape.files(),
                    s.org_secs + s.files_secs
                );
                Ok(())
            }
            "load" => {
                let plan = crate::bench::load::Plan { sessions, pace, seconds, postgres, scale, writes, data };
                print!("{}", crate::bench::load::run(&plan)?);
                Ok(())
            }
            "auth" => {
                print!("{}", crate::bench::auth(seconds)?);
                Ok(())
            }
            "signing" => {
                print!("{}", crate::bench::signing(seconds)?);
                Ok(())
            }
            "efile" => {
                print!("{}", crate::bench::efile(seconds, clients, postgres.as_deref())?);
                Ok(())
            }
            "export" => {
                print!("{}", crate::bench::export(seconds)?);
                Ok(())
            }
            "queue" => {
                let files = std::env::var("DAFTAR_BENCH_FILES").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
                print!("{}", crate::bench::queue(seconds, files)?);
                Ok(())
            }
            "search" => {
                let env = |k: &str, d: usize| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
                let notes = env("DAFTAR_BENCH_NOTES", 1_000_000);
                print!("{}", crate::bench::search::run(notes, env("DAFTAR_BENCH_ROUNDS", 30), postgres.as_deref())?);
                Ok(())
            }
            "compliance" | "analytics" => {
                let env = |k: &str, d: u64| std::env::var(k).ok().and_then(|v| v.parse().ok()).unwrap_or(d);
                let files = env("DAFTAR_BENCH_FILES", 200_000);
                let moves = env("DAFTAR_BENCH_MOVES", 30).max(1);
                let run =
                    if what == "compliance" { crate::bench::compliance::run } else { crate::bench::analytics::run };
                print!("{}", run(files, moves)?);
                Ok(())
            }
            other => Err(format!(
                "unknown benchmark `{other}` (try: auth, signing, efile, export, queue, search, compliance, analytics)"
            )),
        },
        Command::Fuzz { target, seconds, corpus, found, seed } => {
            let seed = seed.unwrap_or_else(|| crate::store::now_micros() as u64);
            let names: Vec<&str> = if target == "all" { crate::fuzz::TARGETS.to_vec() } else { vec![target.as_str()] };
            let mut bad = 0;
            // Panics are caught and counted; their messages would only bury the summary.
            std::panic::set_hook(Box::new(|_| {}));
            for name in names {
                let mut t = crate::fuzz::target(name, &corpus)?;
                let out = t.run(name, std::time::Duration::from_secs(seconds), seed, &found);
                println!(
                    "{name:15} {:>9} inputs in {seconds} s (seed {seed}): {} crashing, {} slow",
                    out.runs,
                    out.crashes.len(),
                    out.slow.len()
                );
                for p in out.crashes.iter().chain(&out.slow) {
                    println!("  kept {}", p.display());
                }
                bad += out.crashes.len() + out.slow.len();
            }
            if bad > 0 {
                Err(format!("{bad} inputs crashed or hung; they are kept as regression inputs"))
            } else {
                Ok(())
            }
        }
        Command::Verify { path, ca } => {
            let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if bytes.starts_with(b"%PDF") {
                return verify_certificate(&bytes, ca.as_deref());
            }
            let items = crate::bundle::verify(&bytes)?;
            let bad = items.iter().filter(|i| !i.ok).count();
            for i in &items {
                println!("{}  {:<32} {}", if i.ok { "OK " } else { "BAD" }, i.what, i.detail);
            }
            if bad == 0 {
                println!("bundle is valid: {} items verified", items.len());
                Ok(())
            } else {
                Err(format!("bundle is NOT valid: {bad} of {} items failed", items.len()))
            }
        }
        Command::Compliance { command } => compliance_command(&config, command),
        Command::Backup { dir } => {
            let db = open(&config)?;
            let started = std::time::Instant::now();
            let s = crate::backup::backup(&config, &db, &dir)?;
            println!(
                "backed up the database ({} ledger events) and {} files into {} in {:.1} s",
                s.ledger_events,
                s.files,
                dir.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Restore { dir } => {
            let (s, report) = crate::backup::restore(&config, &dir)?;
            println!(
                "restored {} files and the database ({} ledger events) into {}; ledger verified: {} sealed entries ok",
                s.files,
                s.ledger_events,
                config.data_dir.display(),
                report.entries
            );
            Ok(())
        }
        Command::Mail { command } => {
            let db = open_migrated(&config)?;
            let mailer = crate::mail::Mailer::from_config(&config)?;
            match command {
                MailCommand::Digest => {
                    let ca = crate::pki::Ca::init(&config.data_dir, &config.organisation)?;
                    let n = crate::mail::send_digests(&db, &mailer, &ca)?;
                    println!("{n} digests enqueued");
                }
                MailCommand::Due => {
                    let n = crate::mail::due_tomorrow(&db, &mailer)?;
                    println!("{n} files and receipts fall due tomorrow");
                }
            }
            Ok(())
        }
        Command::Workflow { command } => {
            let db = open_migrated(&config)?;
            let facts = {
                let mut c = db.reader().map_err(|e| e.to_string())?;
                crate::workflow::org_facts(&mut c).map_err(|e| e.to_string())?
            };
            let dir = match &command {
                WorkflowCommand::Check { dir: Some(d) } => d.clone(),
                _ => config.workflows_dir.clone(),
            };
            let loaded = crate::workflow::load_dir(&dir, Some(&facts)).map_err(|problems| problems.join("\n"))?;
            match command {
                WorkflowCommand::Check { .. } => {
                    for w in &loaded {
                        println!("{}: ok ({} steps)", w.path.display(), w.workflow.steps.len());
                    }
                    Ok(())
                }
                WorkflowCommand::Graph { id } => {
                    let w = loaded
                        .iter()
                        .find(|w| *w.workflow.id.get_ref() == id)
                        .ok_or_else(|| format!("no workflow `{id}` in {}", dir.display()))?;
                    print!("{}", crate::domain::workflow::mermaid(&w.workflow));
                    Ok(())
                }
            }
        }
        Command::Search { command: SearchCommand::Reindex } => {
            let db = open_migrated(&config)?;
            let current = config.index_dir();
            let fresh = current.with_extension("new");
            let old = current.with_extension("old");
            let _ = std::fs::remove_dir_all(&fresh);
            let started = std::time::Instant::now();
            let n = {
                let s = crate::search::Search::open(&fresh).map_err(|e| e.to_string())?;
                crate::search::indexer::build_all(&db, &s).map_err(|e| e.to_string())?
            };
            if current.exists() {
                // Nobody may be writing the index being replaced.
                let live = crate::search::Search::open(&current).map_err(|e| e.to_string())?;
                if !live.writes() {
                    let _ = std::fs::remove_dir_all(&fresh);
                    return Err(format!(
                        "a running server writes the index in {}; stop it first (a server keeps its index in step \
                         with the database by itself, and rebuilds it when its format changes)",
                        current.display()
                    ));
                }
                drop(live);
                let _ = std::fs::remove_dir_all(&old);
                std::fs::rename(&current, &old).map_err(|e| format!("{}: {e}", current.display()))?;
            }
            std::fs::rename(&fresh, &current).map_err(|e| format!("{}: {e}", fresh.display()))?;
            let _ = std::fs::remove_dir_all(&old);
            println!(
                "rebuilt the search index from {n} files and receipts in {:.1} s: {}",
                started.elapsed().as_secs_f64(),
                current.display()
            );
            Ok(())
        }
        Command::Sla { command: SlaCommand::Sweep { now } } => {
            let db = open_migrated(&config)?;
            crate::clock::set_calendar(config.calendar()?);
            let at = match now.as_deref() {
                Some(t) => chrono::DateTime::parse_from_rfc3339(t)
                    .map_err(|_| format!("--now `{t}` is not an RFC 3339 time like 2026-12-09T10:00:00+05:00"))?
                    .timestamp_micros(),
                None => crate::store::now_micros(),
            };
            let s = crate::workflow::sla::sweep(&db, at).map_err(|e| e.to_string())?;
            println!(
                "SLA sweep as of {}: {} breaches, {} escalated, {} reminders, {} concurrences overdue",
                crate::store::rfc3339(at),
                s.breaches,
                s.escalated,
                s.reminders,
                s.concurrences_overdue
            );
            if s.failed > 0 {
                return Err(format!("{} breaches could not be recorded (see the log); run the sweep again", s.failed));
            }
            Ok(())
        }
        Command::Ledger { command } => {
            let db = open_migrated(&config)?;
            let ca = crate::pki::Ca::init(&config.data_dir, &config.organisation)?;
            match command {
                LedgerCommand::Checkpoint => {
                    let cp = crate::ledger::checkpoint(&db, &ca)?;
                    println!("checkpoint: {} entries, root {}, signed at {}", cp.size, cp.root_hash, cp.at);
                    Ok(())
                }
                LedgerCommand::Verify => {
                    let sealed = crate::ledger::seal(&db).map_err(|e| e.to_string())?;
                    let mut c = db.reader().map_err(|e| e.to_string())?;
                    let report = crate::ledger::verify(&mut c, &ca.public_key_der()).map_err(|e| e.to_string())?;
                    if sealed > 0 {
                        println!("sealed {sealed} pending entries");
                    }
                    println!("{} entries, {} checkpoints checked", report.entries, report.checkpoints_checked);
                    match (&report.problem, report.ok) {
                        (_, true) => {
                            println!("ledger OK; head {}", report.head_hash.as_deref().unwrap_or("(empty)"));
                            Ok(())
                        }
                        (Some(p), false) => Err(format!("ledger TAMPERED: {p}")),
                        (None, false) => Err("ledger TAMPERED".into()),
                    }
                }
            }
        }
        Command::Pki { command: PkiCommand::Init } => {
            let existed = config.data_dir.join("pki").join("ca.pem").exists();
            crate::pki::Ca::init(&config.data_dir, &config.organisation)?;
            let path = config.data_dir.join("pki").join("ca.pem");
            if existed {
                println!("the deployment CA already exists: {}", path.display());
            } else {
                println!("created the deployment CA: {} (its key is private to this user)", path.display());
            }
            Ok(())
        }
        Command::Tls { command: TlsCommand::SelfSigned { out, hosts } } => {
            let dir = out.unwrap_or_else(|| config.data_dir.join("tls"));
            let hosts = if hosts.is_empty() { vec!["localhost".into(), "127.0.0.1".into()] } else { hosts };
            let (cert, key) = crate::tls::self_signed(&dir, &hosts)?;
            println!("wrote {} and {}", cert.display(), key.display());
            println!(
                "serve HTTPS with:\n  DAFTAR_TLS__CERT={} DAFTAR_TLS__KEY={} daftar serve",
                cert.display(),
                key.display()
            );
            Ok(())
        }
        Command::User { command } => {
            let db = open_migrated(&config)?;
            user_command(&db, command)
        }
        Command::Org { command: OrgCommand::Import { file } } => {
            let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let db = open_migrated(&config)?;
            match crate::org::import::import_str(&db, &file.display().to_string(), &text) {
                Ok(r) => {
                    println!(
                        "imported {} units, {} posts, {} users ({} already present, unchanged)",
                        r.units, r.posts, r.users, r.unchanged
                    );
                    Ok(())
                }
                Err(ImportError::Invalid(errors)) => {
                    Err(format!("{} problem(s); nothing was imported:\n{}", errors.len(), errors.join("\n")))
                }
                Err(e) => Err(e.to_string()),
            }
        }
    }
}

fn open(config: &Config) -> Result<Db, String> {
    Db::connect(&config.database_url(), config.db_pool_size, &config.sqlite_synchronous).map_err(|e| e.to_string())
}

fn open_migrated(config: &Config) -> Result<Db, String> {
    let db = open(config)?;
    for m in db.migrate().map_err(|e| e.to_string())? {
        tracing::info!(migration = %m, "applied migration");
    }
    Ok(db)
}

fn seed_demo(db: &Db, config: &Config) -> Result<(), String> {
    let ca = crate::pki::Ca::init(&config.data_dir, &config.organisation)?;
    let wrap = crate::signing::keys::PinWrap::load_or_create(&config.data_dir)?;
    let report = crate::demo::seed(db, &ca, &wrap)?;
    if report.is_noop() {
        println!("demo government already present; nothing changed");
    } else {
        println!("demo government created: {} units, {} posts, {} users", report.units, report.posts, report.users);
    }
    print!("{}", crate::demo::banner());
    Ok(())
}

fn serve(config: Config, demo: bool) -> Result<(), String> {
    crate::server::raise_open_file_limit();
    let db = open_migrated(&config)?;
    if demo {
        seed_demo(&db, &config)?;
    }
    let listen = config.listen.clone();
    let tls = config.tls.cert.is_some();
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let server = Server::build(config, db).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let scheme = if tls { "https" } else { "http" };
        println!("Daftar is serving on {scheme}://{listen} (port {})", server.port());
        server.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = if config.log_format == "json" { builder.json().try_init() } else { builder.try_init() };
}

/// Reads a password from standard input: the first line, without its newline.
fn read_password() -> Result<String, String> {
    read_secret("password")
}

/// Reads a secret (`what`) from standard input: the first line, without its newline.
fn read_secret(what: &str) -> Result<String, String> {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        eprint!("{what} (input is shown; pipe it in to hide it): ");
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| format!("cannot read the {what}: {e}"))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// `daftar verify cert.pdf`: the signature, the whole-document coverage,
/// the chain to a CA, and the figures certified.
fn verify_certificate(pdf: &[u8], ca: Option<&std::path::Path>) -> Result<(), String> {
    use crate::compliance::certificate;
    let signer = crate::pki::pades::verify(pdf).map_err(|e| format!("certificate is NOT valid: {e}"))?;
    println!("OK   signature                        PAdES (ETSI.CAdES.detached), covers the whole document");
    let trusted = match ca {
        Some(path) => {
            let pem = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let cas = crate::pki::pem_certificates(&pem);
            if cas.is_empty() {
                return Err(format!("{} holds no PEM certificate", path.display()));
            }
            cas
        }
        None => {
            let carried = certificate::carried_roots(&signer);
            println!(
                "NOTE trust                            no --ca given: checked against the CA carried in the file;"
            );
            println!(
                "                                      compare its fingerprint below with the issuing deployment's CA"
            );
            carried
        }
    };
    let v = certificate::verify(pdf, &trusted).map_err(|e| format!("certificate is NOT valid: {e}"))?;
    let f = &v.facts;
    println!(
        "OK   signer                           {} ({}), {}",
        f["signer"]["name"].as_str().unwrap_or(""),
        f["signer"]["username"].as_str().unwrap_or(""),
        f["signer"]["designation"].as_str().unwrap_or("")
    );
    println!("OK   certificate authority            SHA-256 {}", v.ca_fingerprint);
    println!(
        "     entity                           {} ({})",
        f["entity"]["name"].as_str().unwrap_or(""),
        f["entity"]["code"].as_str().unwrap_or("")
    );
    println!(
        "     period                           {} to {}",
        f["from"].as_str().unwrap_or(""),
        f["to"].as_str().unwrap_or("")
    );
    println!("     version                          {}", f["version"]);
    println!(
        "     ledger checkpoint                {} entries, root {}",
        f["checkpoint"]["size"],
        f["checkpoint"]["root_hash"].as_str().unwrap_or("")
    );
    if let Ok(m) = serde_json::from_value::<crate::domain::compliance::Metrics>(f["metrics"].clone()) {
        for (label, value) in certificate::metric_rows(&m) {
            println!("     {label:<36} {value}");
        }
    }
    println!("certificate is valid");
    Ok(())
}

fn compliance_command(config: &Config, command: ComplianceCommand) -> Result<(), String> {
    use crate::compliance::{self, Period, certificate, report};
    let db = open_migrated(config)?;
    let blobs = crate::blobs::BlobStore::new(&config.data_dir);
    let ca = crate::pki::Ca::init(&config.data_dir, &config.organisation)?;
    match command {
        ComplianceCommand::Certificate { entity, from, to, out, user } => {
            let period = Period::parse(&from, &to).map_err(|e| e.to_string())?;
            let (e, heads, principal) = {
                let mut c = db.reader().map_err(|e| e.to_string())?;
                let e = compliance::entity(&mut c, &entity)
                    .map_err(|e| e.to_string())?
                    .ok_or(format!("no entity {entity}"))?;

                let id: Option<String> = {
                    use crate::store::schema::users;
                    use diesel::prelude::*;
                    users::table
                        .filter(users::username.eq(&user))
                        .select(users::id)
                        .first(&mut c)
                        .optional()
                        .map_err(|e| e.to_string())?
                };
                let id = id.ok_or(format!("no user {user}"))?;
                let p = crate::auth::principal::load(&mut c, &id)
                    .map_err(|e| e.to_string())?
                    .ok_or(format!("no user {user}"))?;
                let heads = compliance::heads_held(&mut c, &p.viewer, &e).map_err(|e| e.to_string())?;
                (e, heads, p)
            };
            if heads.is_empty() {
                return Err(format!("{user} is not the administrative secretary of {}", e.code));
            }
            let key = {
                let mut c = db.reader().map_err(|e| e.to_string())?;
                crate::signing::keys::active_key(&mut c, &principal.viewer.user_id).map_err(|e| e.to_string())?
            };
            let pin = read_secret("signing PIN")?;
            let wrap = crate::signing::keys::PinWrap::load_or_create(&config.data_dir)?;
            let open = crate::signing::pin::open_with_pin(&db, &wrap, &key, &pin, |_| {}).map_err(|e| e.to_string())?;
            let opened = crate::signing::pin::Opened { key, open, by_pin: true };
            let cert =
                certificate::issue(&db, &ca, &blobs, config, &principal.viewer.user_id, &heads, &e, period, &opened)
                    .map_err(|e| e.to_string())?;
            let pdf = certificate::pdf_of(&blobs, &cert).map_err(|e| e.to_string())?;
            std::fs::write(&out, pdf).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            println!(
                "issued certificate {} (version {}) for {} {} to {}: {}",
                cert.id,
                cert.version,
                e.code,
                cert.from,
                cert.to,
                out.display()
            );
            Ok(())
        }
        ComplianceCommand::Consolidate { from, to, format, out } => {
            let period = Period::parse(&from, &to).map_err(|e| e.to_string())?;
            let trusted = certificate::trusted_cas(&ca, config);
            let r = report::build(&db, &blobs, &trusted, period).map_err(|e| e.to_string())?;
            let bytes = match format.as_str() {
                "json" => serde_json::to_vec_pretty(&report::json(&r)).unwrap_or_default(),
                "csv" => report::csv(&r).into_bytes(),
                "pdf" => report::pdf(&r, &config.organisation).map_err(|e| e.to_string())?,
                other => return Err(format!("unknown format `{other}` (json, csv or pdf)")),
            };
            match out {
                Some(path) => std::fs::write(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display())),
                None => {
                    use std::io::Write;
                    std::io::stdout().write_all(&bytes).map_err(|e| e.to_string())
                }
            }
        }
    }
}

fn user_command(db: &Db, command: UserCommand) -> Result<(), String> {
    use crate::org::admin::{self, Actor, AssignmentInput, UserInput};
    use crate::store::schema::posts;
    use diesel::prelude::*;
    let describe = |e: admin::AdminError| e.to_string();
    match command {
        UserCommand::Add { username, name, clearance, email, roles, posts: post_codes } => {
            let password = read_password()?;
            let hash = admin::hash_new_password(&password).map_err(describe)?;
            let input = UserInput { username: username.clone(), name, email, clearance, password, roles };
            db.write_tx(|c| {
                let id = admin::create_user(c, Actor::Operator, &input, &hash)?;
                for (i, code) in post_codes.iter().enumerate() {
                    let post: String = posts::table
                        .filter(posts::code.eq(code))
                        .select(posts::id)
                        .first(c)
                        .optional()?
                        .ok_or_else(|| admin::AdminError::Invalid("post", format!("no post `{code}`")))?;
                    let assignment = AssignmentInput {
                        user_id: id.clone(),
                        kind: "regular".into(),
                        starts_on: None,
                        ends_on: None,
                        primary: i == 0,
                    };
                    admin::add_assignment(c, Actor::Operator, &post, assignment)?;
                }
                Ok::<_, admin::AdminError>(())
            })
            .map_err(describe)?;
            println!("created user {username}");
        }
        UserCommand::Passwd { username } => {
            let password = read_password()?;
            let hash = admin::hash_new_password(&password).map_err(describe)?;
            db.write_tx(|c| {
                let id = admin::user_id_by_name(c, &username)?;
                admin::set_password(c, Actor::Operator, &id, &hash)
            })
            .map_err(describe)?;
            println!("password of {username} changed; their sessions have ended");
        }
        UserCommand::Disable { username } => {
            db.write_tx(|c| {
                let id = admin::user_id_by_name(c, &username)?;
                admin::disable_user(c, Actor::Operator, &id)
            })
            .map_err(describe)?;
            println!("{username} is disabled; their sessions have ended");
        }
    }
    Ok(())
}
