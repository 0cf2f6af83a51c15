//! Configuration: defaults, then `daftar.toml` (or `$DAFTAR_CONFIG`), then
//! `DAFTAR_*` environment variables (`a.b` is `DAFTAR_A__B`).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole configuration of a Daftar deployment.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the SQLite database, search index, blobs and PKI live.
    pub data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL; otherwise a SQLite path (default: `daftar.db` in `data_dir`).
    pub database_url: Option<String>,
    /// Address the HTTP(S) server listens on.
    pub listen: String,
    /// Public URL of the server, for links in email.
    pub base_url: Option<String>,
    /// The organisation named in the deployment CA and certificates.
    pub organisation: String,
    /// The civil time zone dates are counted in (file-number years, posting
    /// days), as an offset from UTC: `+05:00`, Pakistan Standard Time.
    pub utc_offset: String,
    /// Minutes after an officer gives their PIN during which their following
    /// moves in that login session are signed too (the key kept sealed under
    /// the session's secret meanwhile; 0: ask every time).
    pub signing_session_minutes: u64,
    /// Database connections in the pool (a server opens them all at start
    /// and keeps them), and the most threads each HTTP worker runs
    /// database work on at once.
    pub db_pool_size: u32,
    /// `FULL` (default: every commit survives power loss) or `NORMAL` for SQLite.
    pub sqlite_synchronous: String,
    /// Largest JSON request body accepted, in bytes.
    pub json_limit_bytes: usize,
    /// Largest uploaded document, in bytes (default 50 MiB).
    pub upload_limit_bytes: u64,
    /// HTTPS settings.
    pub tls: TlsConfig,
    /// Logins, tokens and sessions.
    pub auth: AuthConfig,
    /// Outgoing mail.
    pub smtp: SmtpConfig,
    /// Background work: job workers and periodic schedules.
    pub jobs: JobsConfig,
    /// The directory of `*.toml` approval chains (SPEC section 7).
    pub workflows_dir: PathBuf,
    /// The working week and holidays that approval SLAs count in.
    pub sla: SlaConfig,
    /// Full-text search.
    pub search: SearchConfig,
    /// Compliance certificates.
    pub compliance: ComplianceConfig,
    /// If set, `/metrics` answers only `Authorization: Bearer <this>`; if
    /// not, only direct requests from this machine (loopback, not forwarded
    /// by a proxy).
    pub metrics_token: Option<String>,
    /// Log filter, e.g. `info` or `daftar=debug`.
    pub log: String,
    /// `text` or `json` log lines.
    pub log_format: String,
}

/// HTTPS is served when both paths are set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
    /// With TLS on: a second, plain-HTTP address (e.g. `0.0.0.0:80`) that
    /// only redirects every request to HTTPS (308).
    pub redirect_http: Option<String>,
}

/// Logins, tokens and sessions.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Access-token lifetime (1–15 minutes).
    pub access_token_minutes: i64,
    /// A session not refreshed for this long ends.
    pub session_idle_minutes: i64,
    /// A session ends this long after login, whatever happens.
    pub session_absolute_hours: i64,
    /// The longest login backoff after repeated failures.
    pub login_backoff_max_seconds: u64,
    /// Take the client address from `X-Forwarded-For` (only behind a reverse proxy).
    pub trust_forwarded_for: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            access_token_minutes: 15,
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            login_backoff_max_seconds: 60,
            trust_forwarded_for: false,
        }
    }
}

/// Background work run by every `daftar serve`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// Job worker threads in this process (0: this process runs no jobs).
    pub workers: usize,
    /// How often the ledger sealer runs, in milliseconds (one process of
    /// all that share the database runs each period).
    pub seal_every_ms: u64,
    /// The newest ledger checkpoint is at most this old, in hours.
    pub checkpoint_every_hours: i64,
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig { workers: 2, seal_every_ms: 1000, checkpoint_every_hours: 24 }
    }
}

/// What approval deadlines count in, and how often they are checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlaConfig {
    /// Working weekdays (`mon` … `sun`) that `"2d"` SLAs count.
    pub working_days: Vec<String>,
    /// Holidays (`YYYY-MM-DD`) that do not count.
    pub holidays: Vec<String>,
    /// How often the SLA clock looks for breached steps, in seconds (one
    /// process of all that share the database runs each sweep).
    pub sweep_every_seconds: u64,
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig {
            working_days: ["mon", "tue", "wed", "thu", "fri"].map(String::from).to_vec(),
            holidays: Vec::new(),
            sweep_every_seconds: 60,
        }
    }
}

/// Full-text search.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SearchConfig {
    /// Where this server keeps its index (default `data_dir/index`): servers
    /// sharing one directory share one index (one writes, the others read);
    /// a server with a directory of its own builds and feeds its own.
    pub index_dir: Option<PathBuf>,
}

/// Compliance certificates.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplianceConfig {
    /// A PEM file of the CA certificates of other deployments whose
    /// certificates are accepted on import (this deployment's own CA is
    /// always trusted).
    pub trusted_cas: Option<PathBuf>,
}

/// SMTP relay for notifications.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// e.g. `smtp://127.0.0.1:2525` or `smtps://user:pass@host`.
    pub url: Option<String>,
    /// The From address.
    pub from: Option<String>,
    /// A PEM file of CA certificates to trust for the relay's TLS, besides
    /// the public roots (a relay with a private CA's certificate).
    pub ca: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./daftar-data/"),
            database_url: None,
            listen: "127.0.0.1:8080".into(),
            base_url: None,
            organisation: "Government of Pakistan".into(),
            utc_offset: crate::clock::PKT.into(),
            signing_session_minutes: 10,
            db_pool_size: 16,
            sqlite_synchronous: "FULL".into(),
            json_limit_bytes: 256 * 1024,
            upload_limit_bytes: 50 * 1024 * 1024,
            tls: TlsConfig::default(),
            auth: AuthConfig::default(),
            smtp: SmtpConfig::default(),
            jobs: JobsConfig::default(),
            metrics_token: None,
            workflows_dir: PathBuf::from("workflows"),
            sla: SlaConfig::default(),
            search: SearchConfig::default(),
            compliance: ComplianceConfig::default(),
            log: "info".into(),
            log_format: "text".into(),
        }
    }
}

/// Top-level keys that environment variables may set; other `DAFTAR_*`
/// variables (e.g. `DAFTAR_CONFIG`, test settings) are not configuration keys.
const ENV_KEYS: &[&str] = &[
    "data_dir",
    "database_url",
    "listen",
    "base_url",
    "organisation",
    "utc_offset",
    "signing_session_minutes",
    "db_pool_size",
    "sqlite_synchronous",
    "json_limit_bytes",
    "upload_limit_bytes",
    "tls",
    "auth",
    "smtp",
    "log",
    "log_format",
    "jobs",
    "metrics_token",
    "workflows_dir",
    "sla",
    "search",
    "compliance",
];

impl Config {
    /// Where links in mail, slips and QR codes point: `base_url` without a
    /// trailing slash, or this server's listening address.
    pub fn public_base_url(&self) -> String {
        self.base_url.clone().unwrap_or_else(|| format!("http://{}", self.listen)).trim_end_matches('/').to_owned()
    }

    /// Loads the configuration from the working directory and the process environment.
    pub fn load() -> Result<Config, String> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        let path = std::env::var_os("DAFTAR_CONFIG").map(PathBuf::from);
        Config::load_from(path.as_deref(), &vars)
    }

    /// Loads from an explicit file (or `./daftar.toml` if present) and variables.
    pub fn load_from(path: Option<&Path>, vars: &[(String, String)]) -> Result<Config, String> {
        let mut table = match path {
            Some(p) => read_table(p)?,
            None if Path::new("daftar.toml").exists() => read_table(Path::new("daftar.toml"))?,
            None => toml::Table::new(),
        };
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix("DAFTAR_") else {
                continue;
            };
            let keys: Vec<String> = rest.to_ascii_lowercase().split("__").map(str::to_owned).collect();
            if !ENV_KEYS.contains(&keys[0].as_str()) {
                continue;
            }
            set_path(&mut table, &keys, env_value(value)).map_err(|e| format!("environment variable {name}: {e}"))?;
        }
        // Round-trip through text so a type error carries a span naming the key
        // (but never the value, which may be a secret).
        let merged = toml::to_string(&table).map_err(|e| format!("invalid configuration: {e}"))?;
        let config: Config = toml::from_str(&merged).map_err(|e| {
            let key = e
                .span()
                .map(|s| {
                    let start = merged[..s.start].rfind('\n').map_or(0, |i| i + 1);
                    merged[start..].split(['=', '\n']).next().unwrap_or("").trim().to_owned()
                })
                .filter(|k| !k.is_empty());
            match key {
                Some(k) => format!("invalid configuration: `{k}`: {}", e.message().trim()),
                None => format!("invalid configuration: {}", e.message().trim()),
            }
        })?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(format!("invalid configuration: listen `{}` is not host:port", self.listen));
        }
        crate::clock::parse_offset(&self.utc_offset).map_err(|e| format!("invalid configuration: utc_offset {e}"))?;
        if !matches!(self.sqlite_synchronous.as_str(), "FULL" | "NORMAL" | "EXTRA") {
            return Err("invalid configuration: sqlite_synchronous must be FULL, NORMAL or EXTRA".into());
        }
        if self.db_pool_size == 0 {
            return Err("invalid configuration: db_pool_size must be at least 1".into());
        }
        if self.tls.cert.is_some() != self.tls.key.is_some() {
            return Err("invalid configuration: set both tls.cert and tls.key, or neither".into());
        }
        if self.tls.redirect_http.is_some() && self.tls.cert.is_none() {
            return Err("invalid configuration: tls.redirect_http needs tls.cert and tls.key".into());
        }
        if !(1..=15).contains(&self.auth.access_token_minutes) {
            return Err("invalid configuration: auth.access_token_minutes must be 1 to 15".into());
        }
        if self.auth.session_idle_minutes < 1 || self.auth.session_absolute_hours < 1 {
            return Err("invalid configuration: auth session timeouts must be positive".into());
        }
        if !(1..=3600).contains(&self.auth.login_backoff_max_seconds) {
            return Err("invalid configuration: auth.login_backoff_max_seconds must be 1 to 3600".into());
        }
        self.calendar().map_err(|e| format!("invalid configuration: sla: {e}"))?;
        if self.sla.sweep_every_seconds == 0 {
            return Err("invalid configuration: sla.sweep_every_seconds must be at least 1".into());
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err("invalid configuration: log_format must be text or json".into());
        }
        Ok(())
    }

    /// The directory of this server's search index (this schema version's).
    pub fn index_dir(&self) -> PathBuf {
        let base = self.search.index_dir.clone().unwrap_or_else(|| self.data_dir.join("index"));
        crate::search::index_dir(&base)
    }

    /// The calendar approval SLAs count working days in.
    pub fn calendar(&self) -> Result<crate::domain::workflow::Calendar, String> {
        let offset = crate::clock::parse_offset(&self.utc_offset)?;
        crate::domain::workflow::Calendar::new(&self.sla.working_days, &self.sla.holidays, offset)
    }

    /// The database URL in effect: the configured one or the SQLite file in `data_dir`.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) if !url.trim().is_empty() => url.trim().to_owned(),
            _ => self.data_dir.join("daftar.db").to_string_lossy().into_owned(),
        }
    }
}

fn read_table(path: &Path) -> Result<toml::Table, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read configuration file {}: {e}", path.display()))?;
    text.parse::<toml::Table>().map_err(|e| {
        let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1).unwrap_or(1);
        format!("{}:{line}: {}", path.display(), e.message())
    })
}

/// Environment values are typed like TOML scalars when they parse as one
/// (`8`, `true`), and are strings otherwise (paths, URLs).
fn env_value(raw: &str) -> toml::Value {
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_owned()),
    }
}

fn set_path(table: &mut toml::Table, keys: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = keys.split_last().expect("at least one key");
    let mut here = table;
    for key in parents {
        let entry = here.entry(key.clone()).or_insert_with(|| toml::Value::Table(Default::default()));
        here = entry.as_table_mut().ok_or_else(|| format!("`{key}` is not a table"))?;
    }
    // A numeric-looking value for a string key (e.g. a password) stays a string.
    let value = match (here.get(last), value) {
        (Some(toml::Value::String(_)), toml::Value::Integer(i)) => toml::Value::String(i.to_string()),
        (_, v) => v,
    };
    here.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = Config::load_from(None, &[]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.database_url(), "./daftar-data/daftar.db");
        assert_eq!(c.utc_offset, "+05:00", "Pakistan Standard Time");
    }

    #[test]
    fn env_overrides_file_and_nests() {
        let dir = std::env::temp_dir().join(format!("daftar-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("daftar.toml");
        std::fs::write(&f, "listen = \"0.0.0.0:9000\"\n[smtp]\nfrom = \"a@b\"\n").unwrap();
        let c = Config::load_from(
            Some(&f),
            &vars(&[
                ("DAFTAR_LISTEN", "127.0.0.1:1"),
                ("DAFTAR_SMTP__URL", "smtp://127.0.0.1:2525"),
                ("DAFTAR_DB_POOL_SIZE", "4"),
                ("DAFTAR_TEST_POSTGRES_URL", "ignored"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:1");
        assert_eq!(c.smtp.url.as_deref(), Some("smtp://127.0.0.1:2525"));
        assert_eq!(c.smtp.from.as_deref(), Some("a@b"));
        assert_eq!(c.db_pool_size, 4);
    }

    #[test]
    fn bad_config_is_a_one_line_error() {
        let e = Config::load_from(None, &vars(&[("DAFTAR_LISTEN", "nowhere")])).unwrap_err();
        assert!(e.contains("listen"), "{e}");
        assert!(!e.contains('\n'));
        let e = Config::load_from(None, &vars(&[("DAFTAR_DB_POOL_SIZE", "many")])).unwrap_err();
        assert!(e.contains("db_pool_size"), "{e}");
        let e = Config::load_from(None, &vars(&[("DAFTAR_UTC_OFFSET", "PKT")])).unwrap_err();
        assert!(e.contains("utc_offset") && e.contains("+05:00"), "{e}");
        let dir = std::env::temp_dir().join(format!("daftar-cfg2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("daftar.toml");
        std::fs::write(&f, "listen = \"127.0.0.1:1\"\nnonsense = 3\n").unwrap();
        let e = Config::load_from(Some(&f), &[]).unwrap_err();
        assert!(e.contains("nonsense"), "{e}");
    }
}
