//! Storage: diesel over SQLite (default) or PostgreSQL, chosen at run time
//! from the database URL, with the migrations embedded in the binary.

pub mod files;
mod group;
pub mod prepared;
pub mod schema;
pub mod sight;

use std::time::Duration;

use diesel::connection::{SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// One connection to either backend; queries are written once against it.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    /// A PostgreSQL connection (production).
    Postgres(diesel::PgConnection),
    /// A SQLite connection (the embedded default).
    Sqlite(diesel::SqliteConnection),
}

/// Runs the same diesel expression on whichever backend `conn` is: for the
/// few statements `MultiConnection` cannot express (e.g. `ON CONFLICT`), and
/// for hot reads written in diesel's DSL alone. `MultiConnection` writes a
/// query's SQL text again on every call (quoting each column name into a
/// new string) to find it in the statement cache; the concrete connection
/// finds it by its type. The file view spent 17% of all CPU quoting names.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::DbConn::Postgres($c) => $body,
            $crate::store::DbConn::Sqlite($c) => $body,
        }
    };
}

/// The SQL backend behind a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl Backend {
    /// `postgres://` and `postgresql://` are PostgreSQL; anything else is a SQLite path.
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A storage failure, described without SQL text or secrets.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or opened.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
}

impl From<r2d2::PoolError> for StoreError {
    fn from(e: r2d2::PoolError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

/// Opens connections of the right backend with the right session settings.
#[derive(Debug, Clone)]
pub struct Connector {
    url: String,
    backend: Backend,
    synchronous: String,
}

impl Connector {
    fn open(&self) -> Result<DbConn, ConnectionError> {
        match self.backend {
            Backend::Postgres => {
                let mut c = diesel::PgConnection::establish(&self.url)?;
                c.set_instrumentation(Health::new());
                Ok(DbConn::Postgres(c))
            }
            Backend::Sqlite => {
                let path = self.url.strip_prefix("sqlite://").unwrap_or(&self.url);
                let mut c = diesel::SqliteConnection::establish(path)?;
                // busy_timeout first, so that even switching to WAL waits out
                // another process's lock instead of failing at once; WAL lets
                // readers run beside the writer; foreign keys are off by
                // default in SQLite.
                c.batch_execute(&format!(
                    "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = {};",
                    self.synchronous
                ))
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Sqlite(c))
            }
        }
    }
}

impl ManageConnection for Connector {
    type Connection = DbConn;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConn, r2d2::Error> {
        self.open().map_err(r2d2::Error::ConnectionError)
    }

    /// On PostgreSQL, a connection the server dropped is found by a
    /// `SELECT 1` before use, but at most once a second per connection and
    /// always after a failed statement ([`Health`]): a round trip before
    /// every request was a fifth of a read's statements.
    fn is_valid(&self, conn: &mut DbConn) -> Result<(), r2d2::Error> {
        if let Some(health) = conn.instrumentation().downcast_mut::<Health>()
            && health.fresh()
        {
            return Ok(());
        }
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)?;
        if let Some(health) = conn.instrumentation().downcast_mut::<Health>() {
            health.checked();
        }
        Ok(())
    }

    /// A connection left inside a transaction (say, by a panic mid-change) or
    /// with a failed transaction manager is not handed out again.
    fn has_broken(&self, conn: &mut DbConn) -> bool {
        std::thread::panicking() || <DbConn as Connection>::TransactionManager::is_broken_transaction_manager(conn)
    }
}

/// What a pooled PostgreSQL connection knows of its own health: when it was
/// last checked with `SELECT 1`, and whether a statement has failed since.
/// Kept as the connection's diesel instrumentation, which sees every
/// statement finish. A connection the server dropped within a second of its
/// last check fails one statement (answered 503, try again) and is checked,
/// and replaced, before its next use.
struct Health {
    checked_at: std::time::Instant,
    failed: bool,
}

impl Health {
    /// How long a check holds while no statement fails.
    const HOLDS: Duration = Duration::from_secs(1);

    fn new() -> Health {
        Health { checked_at: std::time::Instant::now(), failed: false }
    }

    fn fresh(&self) -> bool {
        !self.failed && self.checked_at.elapsed() < Self::HOLDS
    }

    fn checked(&mut self) {
        *self = Health::new();
    }
}

impl diesel::connection::Instrumentation for Health {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        if let diesel::connection::InstrumentationEvent::FinishQuery { error: Some(_), .. } = event {
            self.failed = true;
        }
    }
}

/// A pooled connection.
pub type Conn = PooledConnection<Connector>;

/// The database: a pool of readers and, on SQLite, one dedicated writer
/// connection so writers queue in-process instead of spinning on SQLite's
/// lock, and commit together (`group`).
#[derive(Clone)]
pub struct Db {
    backend: Backend,
    read: Pool<Connector>,
    write: Pool<Connector>,
    group: Option<std::sync::Arc<group::Group>>,
}

impl Db {
    /// Connects, creating the SQLite file and its directory if needed. A URL
    /// with any other scheme (a typo of `postgres://`, say) is refused rather
    /// than taken for a SQLite file name.
    pub fn connect(url: &str, pool_size: u32, synchronous: &str) -> Result<Db, StoreError> {
        if let Some((scheme, _)) = url.split_once("://")
            && !matches!(scheme, "postgres" | "postgresql" | "sqlite")
        {
            return Err(StoreError::Unavailable(format!(
                "database_url: unknown scheme `{scheme}://` (use postgres://… for PostgreSQL, or a SQLite file path)"
            )));
        }
        let backend = Backend::of_url(url);
        if backend == Backend::Sqlite {
            let path = std::path::Path::new(url.strip_prefix("sqlite://").unwrap_or(url));
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        let connector = Connector { url: url.to_owned(), backend, synchronous: synchronous.to_owned() };
        // Fail fast with the driver's own reason rather than r2d2's timeout.
        connector.open().map_err(|e| StoreError::Unavailable(describe_connection_error(&e)))?;
        let build = |size: u32| {
            Pool::builder()
                .max_size(size)
                .min_idle(Some(1))
                // A server's pool keeps what it opened (see `Db::warm`): a
                // connection closed when idle, or at an age, is opened again
                // by the next burst of requests, which waits for it.
                .idle_timeout(None)
                .max_lifetime(None)
                // A `SELECT 1` before use finds a PostgreSQL connection the
                // server dropped (at most once a second: see `is_valid`); a
                // SQLite file connection cannot drop, so the check would only
                // cost every request a statement.
                .test_on_check_out(backend == Backend::Postgres)
                .connection_timeout(Duration::from_secs(10))
                .build(connector.clone())
        };
        let read = build(pool_size)?;
        let write = match backend {
            Backend::Sqlite => build(1)?,
            Backend::Postgres => read.clone(),
        };
        let group = (backend == Backend::Sqlite).then(Default::default);
        Ok(Db { backend, read, write, group })
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection for reading.
    pub fn reader(&self) -> Result<Conn, StoreError> {
        Ok(self.read.get()?)
    }

    /// Runs `f` on a reader as one read: on SQLite inside one transaction,
    /// so that its statements see one snapshot and take the WAL's read lock
    /// once rather than each on its own; on PostgreSQL as is (each
    /// statement is its own snapshot there, and a transaction would cost
    /// two more round trips).
    pub fn read_tx<T, E>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError> + From<diesel::result::Error>,
    {
        let mut conn = self.reader().map_err(E::from)?;
        self.read_on(&mut conn, f)
    }

    /// [`Db::read_tx`] on a reader that is free now, without waiting for
    /// one; `Err(f)` hands `f` back when none is.
    pub fn read_now<T, E, F>(&self, f: F) -> Result<Result<T, E>, F>
    where
        E: From<StoreError> + From<diesel::result::Error>,
        F: FnOnce(&mut DbConn) -> Result<T, E>,
    {
        match self.try_reader() {
            Some(mut conn) => Ok(self.read_on(&mut conn, f)),
            None => Err(f),
        }
    }

    /// Runs `f` as one read on `conn` (see [`Db::read_tx`]).
    fn read_on<T, E>(&self, conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError> + From<diesel::result::Error>,
    {
        match self.backend {
            Backend::Sqlite => conn.transaction(f),
            Backend::Postgres => f(conn),
        }
    }

    /// A reader if one is free now (never waits).
    pub fn try_reader(&self) -> Option<Conn> {
        self.read.try_get()
    }

    /// A connection for writing (on SQLite, the single writer).
    pub fn writer(&self) -> Result<Conn, StoreError> {
        Ok(self.write.get()?)
    }

    /// Runs `f` in one transaction on the writer: all of it commits or none,
    /// and it has committed when this returns `Ok` (on SQLite, possibly
    /// together with concurrent writers: see `group`).
    pub fn write_tx<T, E>(&self, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError> + From<diesel::result::Error>,
    {
        if let Some(group) = &self.group {
            return group.run(|| self.writer(), f);
        }
        let mut conn = self.writer().map_err(E::from)?;
        let conn: &mut DbConn = &mut conn;
        conn.transaction(f)
    }

    /// Applies pending migrations; returns the names of those applied.
    pub fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.writer()?;
        run_migrations(&mut conn)
    }

    /// How many write transactions can run at once: one on SQLite, the
    /// pool's size on PostgreSQL.
    pub fn writers(&self) -> usize {
        self.write.max_size() as usize
    }

    /// Opens every connection the pools may hold, primes each, and returns
    /// how many are open. A server does this once at start: a burst of
    /// requests finds them open instead of each waiting for PostgreSQL to
    /// start a backend (the pools keep their connections, see
    /// `Db::connect`), and finds each backend's caches loaded (see
    /// [`load_catalog`]) and the reads of `prime` prepared. Best effort: one
    /// that cannot be had within a second is left to be opened later, and
    /// priming that fails only leaves the connection as cold as it was.
    pub fn warm(&self, prime: impl Fn(&mut DbConn)) -> usize {
        let mut held = Vec::new();
        let pools = if self.backend == Backend::Sqlite { vec![&self.read, &self.write] } else { vec![&self.read] };
        for pool in pools {
            for _ in 0..pool.max_size() {
                match pool.get_timeout(Duration::from_secs(1)) {
                    Ok(c) => held.push(c),
                    Err(_) => break,
                }
            }
        }
        for conn in held.iter_mut() {
            if let Err(e) = load_catalog(conn) {
                tracing::debug!(error = %e, "cannot load the catalog into a new connection");
            }
            prime(conn);
        }
        held.len()
    }

    /// Connection-pool figures for `/metrics`: (connections, idle).
    pub fn pool_state(&self) -> (u32, u32) {
        let s = self.read.state();
        (s.connections, s.idle_connections)
    }
}

/// Has a new PostgreSQL backend read the definition of every table of the
/// schema into its caches, in one round trip. A backend otherwise reads them
/// during its first statements: measured on a seeded database, the inbox's
/// join took 1.8 ms as a new backend's first statement against 0.3 ms after
/// (0.9 ms after this alone; 0.35 ms once the same statement had run): a
/// cost each connection of a server just started would pay for each table
/// its first requests read. SQLite reads its schema when a connection opens.
fn load_catalog(conn: &mut DbConn) -> QueryResult<()> {
    use diesel::connection::SimpleConnection;
    #[derive(QueryableByName)]
    struct Table {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let DbConn::Postgres(c) = conn else { return Ok(()) };
    let tables: Vec<Table> = diesel::sql_query(
        "SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename",
    )
    .load(c)?;
    let each: String = tables.iter().map(|t| format!("SELECT * FROM {} WHERE false;", t.name)).collect();
    c.batch_execute(&each)
}

fn describe_connection_error(e: &ConnectionError) -> String {
    // libpq messages can contain the connection string; keep only the first line,
    // which names the host and the reason.
    e.to_string().lines().next().unwrap_or("unknown error").trim().to_owned()
}

fn migrations_for(conn: &DbConn) -> EmbeddedMigrations {
    match conn {
        DbConn::Postgres(_) => POSTGRES_MIGRATIONS,
        DbConn::Sqlite(_) => SQLITE_MIGRATIONS,
    }
}

/// Applies pending migrations on one connection.
pub fn run_migrations(conn: &mut DbConn) -> Result<Vec<String>, StoreError> {
    let migrations = migrations_for(conn);
    let applied = match conn {
        DbConn::Postgres(c) => c.run_pending_migrations(migrations),
        DbConn::Sqlite(c) => c.run_pending_migrations(migrations),
    }
    .map_err(|e| StoreError::Migration(e.to_string()))?;
    Ok(applied.iter().map(|v| v.to_string()).collect())
}

/// Reverts the last `count` applied migrations, or every one if fewer are
/// applied; returns how many it reverted. Used by the migration tests (a
/// round trip, and a database of an older schema upgraded) and nowhere else.
pub fn revert_migrations(conn: &mut DbConn, count: usize) -> Result<usize, StoreError> {
    let mut reverted = 0;
    while reverted < count {
        let migrations = migrations_for(conn);
        let applied = match conn {
            DbConn::Postgres(c) => c.applied_migrations(),
            DbConn::Sqlite(c) => c.applied_migrations(),
        }
        .map_err(|e| StoreError::Migration(e.to_string()))?;
        if applied.is_empty() {
            break;
        }
        match conn {
            DbConn::Postgres(c) => c.revert_last_migration(migrations),
            DbConn::Sqlite(c) => c.revert_last_migration(migrations),
        }
        .map_err(|e| StoreError::Migration(e.to_string()))?;
        reverted += 1;
    }
    Ok(reverted)
}

/// Parses a stored word of a closed vocabulary (a classification, a role):
/// an unknown one is a storage error, never a silent default.
pub fn stored<T: std::str::FromStr>(value: &str) -> QueryResult<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    value.parse().map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))
}

/// Whether the database answers (for `/readyz`).
pub fn ping(conn: &mut DbConn) -> QueryResult<()> {
    conn.batch_execute("SELECT 1")
}

/// Lets the transaction `conn` is in commit without waiting for the disk:
/// for bookkeeping whose loss in a crash only repeats work (a job's claim
/// or settlement), never for anything a user is told is done. On
/// PostgreSQL the commit returns before its WAL is flushed (the next
/// durable commit, or the WAL writer within three `wal_writer_delay`s,
/// makes it durable; commits stay in order, so a durable commit is never
/// kept without the lazy ones before it); on SQLite the group commit
/// already shares one flush among all writers, and nothing changes.
pub fn lazy_commit(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        DbConn::Postgres(pg) => pg.batch_execute("SET LOCAL synchronous_commit = off"),
        DbConn::Sqlite(_) => Ok(()),
    }
}

/// Settings of the database server that Daftar relies on and finds
/// missing, each as a sentence for the operator (empty when all is well).
/// PostgreSQL's autovacuum: without it the job queue and the tables that
/// every movement updates (files, stays) keep every dead row version, and
/// reads slow down with each day's work (a queue claim took 15 ms over the
/// dead rows of 60,000 done jobs, against 0.03 ms after a vacuum).
pub fn server_warnings(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        setting: String,
    }
    let DbConn::Postgres(pg) = conn else { return Ok(Vec::new()) };
    // Autovacuum needs the row counts that `track_counts` keeps.
    let off: Vec<Setting> = diesel::sql_query(
        "SELECT name, setting FROM pg_settings WHERE name IN ('autovacuum', 'track_counts') AND setting = 'off'",
    )
    .load(pg)?;
    Ok(off
        .iter()
        .map(|s| {
            format!(
                "PostgreSQL runs with {} = {}: dead row versions of the job queue and of files and stays \
                 will pile up and slow every day's reads; turn autovacuum on (autovacuum = on and \
                 track_counts = on, the defaults) or VACUUM (ANALYZE) the database regularly",
                s.name, s.setting
            )
        })
        .collect())
}

/// Current time as Unix microseconds, the representation of every stored time.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Formats stored microseconds as RFC 3339 UTC, to the millisecond
/// (`2026-12-07T16:20:56.139Z`).
///
/// Every listed item carries one or two of these (an inbox page of twenty,
/// thirty), and chrono's general formatter was 3% of the server's CPU
/// under a load of inbox views; the years 1970–9999 are written here
/// directly, the rest by chrono.
pub fn rfc3339(micros: i64) -> String {
    const YEAR_10000: i64 = 253_402_300_800_000_000;
    if !(0..YEAR_10000).contains(&micros) {
        return rfc3339_by_chrono(micros);
    }
    let (days, of_day) = (micros / 86_400_000_000, micros % 86_400_000_000);
    let (year, month, day) = civil_from_days(days);
    let (secs, millis) = (of_day / 1_000_000, of_day % 1_000_000 / 1_000);
    let mut out = [0u8; 24];
    let mut put = |at: usize, value: i64, width: usize| {
        let mut v = value;
        for k in (at..at + width).rev() {
            out[k] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, secs / 3600, 2);
    put(14, secs / 60 % 60, 2);
    put(17, secs % 60, 2);
    put(20, millis, 3);
    for (at, sep) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':'), (19, b'.'), (23, b'Z')] {
        out[at] = sep;
    }
    out.iter().map(|&b| b as char).collect()
}

/// [`rfc3339`] as chrono writes it: for the years it does not write itself,
/// and the reference its test holds it to.
fn rfc3339_by_chrono(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (not
/// before it): year, month, day. The usual era arithmetic: 400-year eras
/// of 146,097 days, years counted from March so that leap days fall last.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// A new opaque id (UUIDv7: unique, time-ordered).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::{rfc3339, rfc3339_by_chrono};

    #[test]
    fn rfc3339_writes_what_chrono_writes() {
        let day = 86_400_000_000i64;
        let mut cases = vec![
            0,
            1,
            999,
            1_000,
            day - 1,
            day,
            // 1972-02-29, 2000-02-29, 2100-02-28 and the day after, 2026-12-31.
            789 * day,
            11_016 * day + 43_200_000_000,
            47_540 * day,
            47_541 * day,
            20_818 * day + day - 1,
            253_402_300_799_999_999,
            253_402_300_800_000_000,
            -1,
            -day,
            i64::MIN,
            i64::MAX,
        ];
        // Every day from 1970 to 2200 at a varying time of day, and a spread
        // of instants up to the year 9999.
        cases.extend((0..84_000i64).map(|d| d * day + (d * 7_919_000_003) % day));
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        cases.extend((0..100_000).map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 253_402_300_800_000_000) as i64
        }));
        for micros in cases {
            assert_eq!(rfc3339(micros), rfc3339_by_chrono(micros), "at {micros} µs");
        }
    }
}
