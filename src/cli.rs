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
    let config = Config::load_from(cli.config.as_deref(), &vars)?;
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
            seed_demo(&db)
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

fn seed_demo(db: &Db) -> Result<(), String> {
    let report = crate::demo::seed(db).map_err(|e| e.to_string())?;
    if report.is_noop() {
        println!("demo government already present; nothing changed");
    } else {
        println!("demo government created: {} units, {} posts, {} users", report.units, report.posts, report.users);
    }
    print!("{}", crate::demo::banner());
    Ok(())
}

fn serve(config: Config, demo: bool) -> Result<(), String> {
    let db = open_migrated(&config)?;
    if demo {
        seed_demo(&db)?;
    }
    let listen = config.listen.clone();
    let system = actix_web::rt::System::new();
    system.block_on(async move {
        let server = Server::build(config, db).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        println!("Daftar is serving on http://{listen} (port {})", server.port());
        server.run_until_stopped().await.map_err(|e| e.to_string())
    })
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if config.log_format == "json" { builder.json().try_init() } else { builder.try_init() };
}
