//! Start-up: bind the listener, build the app, run until stopped.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{App, HttpResponse, HttpServer, middleware};

use crate::api::auth::AuthState;
use crate::api::{self, AppState};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Db;

/// Runs on a new database connection the reads of a caller's first
/// request, for nobody (an empty user at an empty post, who finds nothing):
/// the session check and principal, the inbox, the first reads of a file's
/// view (the file, its notes and documents; the rest of a view is not
/// primed) and the posts and users an answer names. Each statement is then prepared on the
/// connection and the tables and indexes it plans with are in the
/// backend's caches, so that the first requests of a day do not pay for
/// them (see `Db::warm`). Errors are ignored: priming is best effort.
fn prime(conn: &mut crate::store::DbConn) {
    use crate::domain::access::Viewer;
    use crate::domain::org::Clearance;
    use crate::efile::{self, Actor};
    let nobody =
        Viewer { user_id: String::new(), clearance: Clearance::Unclassified, roles: Vec::new(), held: Vec::new() };
    let actor = Actor { viewer: &nobody, post: Some("") };
    let _ = crate::auth::callers::epoch(conn);
    let _ = crate::auth::callers::live_until(conn, "", "", 0);
    let user =
        (String::new(), String::new(), String::new(), None, Clearance::Unclassified.as_str().to_owned(), false, 0);
    let _ = crate::auth::principal::complete(conn, user);
    let _ = efile::inbox::inbox(conn, &actor, efile::inbox::Kind::All, 0, 20);
    let _ = efile::visible_file(conn, &nobody, "");
    let _ = efile::notes::sheet(conn, "", "");
    let _ = efile::documents::of_file(conn, "");
    let _ = efile::Refs::load(conn, [Some("")], [""]);
}

/// How long an idle keep-alive connection is kept open: longer than an
/// officer's pause between actions (nginx's default is 75 s).
pub const IDLE_KEEP_ALIVE_SECS: u64 = 75;

/// How many connections may wait to be accepted (the kernel caps it at
/// `net.core.somaxconn`). The standard library's listeners wait for 128:
/// when thousands of browsers connect at once (the morning, a restart),
/// the rest were dropped and each paid a one-second TCP retransmission.
const LISTEN_BACKLOG: i32 = 4096;

/// A listener on `addr` (the first of its addresses that binds) with
/// [`LISTEN_BACKLOG`].
fn listen(addr: &str) -> std::io::Result<TcpListener> {
    use std::net::ToSocketAddrs;
    let mut last = std::io::Error::new(std::io::ErrorKind::InvalidInput, "the address resolves to nothing");
    for a in addr.to_socket_addrs()? {
        let socket = socket2::Socket::new(socket2::Domain::for_address(a), socket2::Type::STREAM, None)?;
        // As the standard library's listeners do: a restarted server binds
        // again at once, past the old one's connections in TIME_WAIT.
        socket.set_reuse_address(true)?;
        match socket.bind(&a.into()).and_then(|()| socket.listen(LISTEN_BACKLOG)) {
            Ok(()) => return Ok(socket.into()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A bound, not yet running server.
pub struct Server {
    port: u16,
    server: actix_web::dev::Server,
    /// Job workers and the sealer: they stop when the server has stopped.
    _background: crate::jobs::Background,
}

/// Where plain-HTTP requests are sent when TLS is on.
#[derive(Clone)]
struct HttpsRedirect {
    /// `https://host[:port]` from `base_url`, if configured.
    base: Option<String>,
    /// The TLS listener's port.
    port: u16,
}

/// On the plain-HTTP redirect listener every request gets a 308 to the same
/// path over HTTPS; the TLS listener serves as usual.
async fn redirect_plain(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if !req.app_config().secure()
        && let Some(to) = req.app_data::<Option<HttpsRedirect>>().cloned().flatten()
    {
        // The host: base_url's, else the Host header itself (not a forwarded
        // one), and only if it is a plain host name or address.
        let base = match to.base {
            Some(b) => b,
            None => {
                let host = req.headers().get(actix_web::http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
                let name = match host.rsplit_once(':') {
                    Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.is_empty() => h,
                    _ => host,
                };
                let plain = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
                let ipv6 = name.starts_with('[')
                    && name.ends_with(']')
                    && name[1..name.len() - 1].bytes().all(|c| c.is_ascii_hexdigit() || c == b':');
                if name.is_empty() || !(name.bytes().all(plain) || ipv6) {
                    let res = HttpResponse::BadRequest().body("bad Host header");
                    return Ok(req.into_response(res).map_into_right_body());
                }
                if to.port == 443 { format!("https://{name}") } else { format!("https://{name}:{}", to.port) }
            }
        };
        let target = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let res = HttpResponse::PermanentRedirect().insert_header(("Location", format!("{base}{target}"))).finish();
        return Ok(req.into_response(res).map_into_right_body());
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

impl Server {
    /// Binds `config.listen` (port 0 picks a free port, as tests do).
    pub fn build(config: Config, db: Db) -> Result<Server, String> {
        let auth = Arc::new(AuthState::new(&config)?);
        let ca = Arc::new(crate::pki::Ca::init(&config.data_dir, &config.organisation)?);
        let pin_wrap = crate::signing::keys::PinWrap::load_or_create(&config.data_dir)?;
        let signing_sessions = Arc::new(crate::auth::session::Sessions::new(std::time::Duration::from_secs(
            config.signing_session_minutes * 60,
        )));
        let listener = listen(&config.listen).map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        // Approval chains are checked against the org chart before anything
        // is served: an invalid one stops the start, naming file and line.
        let workflows = {
            let facts = db
                .reader()
                .map_err(|e| e.to_string())
                .and_then(|mut c| crate::workflow::org_facts(&mut c).map_err(|e| e.to_string()))?;
            if config.workflows_dir.is_dir() {
                crate::workflow::load_dir(&config.workflows_dir, Some(&facts))
                    .map_err(|problems| format!("invalid workflows:\n{}", problems.join("\n")))?
            } else {
                tracing::warn!(dir = %config.workflows_dir.display(), "no workflows directory: no approval chains");
                Vec::new()
            }
        };
        crate::clock::set_calendar(config.calendar()?);
        match db
            .reader()
            .map_err(|e| e.to_string())
            .and_then(|mut c| crate::store::server_warnings(&mut c).map_err(|e| e.to_string()))
        {
            Ok(warnings) => warnings.iter().for_each(|w| tracing::warn!("{w}")),
            Err(e) => tracing::debug!(error = %e, "cannot read the database server's settings"),
        }
        let open = db.warm(prime);
        tracing::debug!(connections = open, "database connections opened");
        let metrics = Arc::new(Metrics::default());
        let mailer = crate::mail::Mailer::from_config(&config)?;
        if !mailer.sends() {
            tracing::warn!("smtp.url is not set: email notifications are recorded, not sent");
        }
        let background = start_background(&config, &db, &metrics, &ca, mailer);
        let search = open_search(&config, &db, &background);
        let state = AppState {
            db,
            config: Arc::new(config),
            metrics,
            workflows: Arc::new(workflows),
            search,
            auth,
            ca,
            signing_sessions,
            pin_wrap,
        };
        let blocking_threads = state.config.db_pool_size as usize;
        let tls = state.config.tls.cert.is_some();
        let tls_files = (state.config.tls.cert.clone(), state.config.tls.key.clone());
        let plain = match (&state.config.tls.redirect_http, tls) {
            (Some(addr), true) => {
                Some(listen(addr).map_err(|e| format!("cannot listen on {addr} (tls.redirect_http): {e}"))?)
            }
            _ => None,
        };
        // Only when there is a plain listener to redirect from.
        let redirect = plain.is_some().then(|| HttpsRedirect {
            base: state
                .config
                .base_url
                .as_deref()
                .filter(|b| b.starts_with("https://"))
                .map(|b| b.trim_end_matches('/').to_owned()),
            port,
        });
        let server = HttpServer::new(move || {
            let state = state.clone();
            App::new()
                .app_data(redirect.clone())
                .wrap(middleware::from_fn(redirect_plain))
                .wrap(security_headers(tls))
                .wrap(middleware::from_fn(api::observe))
                .configure(move |cfg| api::configure(cfg, state))
                .configure(crate::web::routes)
        })
        // Browsers keep a connection open between an officer's actions;
        // closing it after actix's default 5 s idle would make most actions
        // pay a new connection (and TLS handshake).
        .keep_alive(std::time::Duration::from_secs(IDLE_KEEP_ALIVE_SECS))
        // Each HTTP worker runs its database work on its own blocking pool,
        // by default of up to 512 / workers threads. Work beyond what the
        // connection pool can serve only waits for a connection, and a burst
        // of it (a morning's first requests, at 10,000 sessions) started
        // 150–240 threads in a second, each runnable, starving the two HTTP
        // workers of the CPU for seconds. Threads beyond the connections
        // wait in the queue instead, not runnable.
        .worker_max_blocking_threads(blocking_threads);
        let mut server = match (&tls_files.0, &tls_files.1) {
            (Some(cert), Some(key)) => server.listen_rustls_0_23(listener, crate::tls::server_config(cert, key)?),
            _ => server.listen(listener),
        }
        .map_err(|e| e.to_string())?;
        if let Some(plain) = plain {
            server = server.listen(plain).map_err(|e| e.to_string())?;
        }
        Ok(Server { port, server: server.run(), _background: background })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server from elsewhere.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the process is told to stop (SIGINT/SIGTERM).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The job workers and periodic work of this process.
/// Opens this process's search index and starts following the ledger into
/// it. A server whose index cannot be opened still serves everything else;
/// `/readyz` and `/search` say the index is unavailable.
fn open_search(
    config: &Config,
    db: &crate::store::Db,
    background: &crate::jobs::Background,
) -> Option<Arc<crate::search::Search>> {
    let dir = config.index_dir();
    match crate::search::Search::open(&dir) {
        Ok(s) => {
            let s = Arc::new(s);
            if s.writes() {
                crate::search::remove_old_versions(&dir);
            }
            crate::search::indexer::spawn(db.clone(), s.clone(), background.stop_flag());
            Some(s)
        }
        Err(e) => {
            tracing::error!(error = %e, dir = %dir.display(), "the search index cannot be opened; search is unavailable");
            None
        }
    }
}

fn start_background(
    config: &Config,
    db: &Db,
    metrics: &Arc<Metrics>,
    ca: &Arc<crate::pki::Ca>,
    mailer: crate::mail::Mailer,
) -> crate::jobs::Background {
    let ca_for_mail = ca.clone();
    let ca = ca.clone();
    let max_age = chrono::Duration::hours(config.jobs.checkpoint_every_hours.max(1));
    let sealer = crate::jobs::Periodic {
        name: "ledger.seal",
        every: std::time::Duration::from_millis(config.jobs.seal_every_ms.max(10)),
        run: Box::new(move |db| {
            if let Some(cp) = crate::ledger::tick(db, &ca, max_age)? {
                tracing::info!(size = cp.size, root = %cp.root_hash, "ledger checkpoint signed");
            }
            Ok(())
        }),
    };
    let sla = crate::workflow::sla::periodic(std::time::Duration::from_secs(config.sla.sweep_every_seconds));
    // Jobs whose work needs this server's parts; the rest the queue does itself.
    let blobs = crate::blobs::BlobStore::new(&config.data_dir);
    let mailer = Arc::new(mailer);
    let mailer_for_jobs = mailer.clone();
    let handler: crate::jobs::Handler = Arc::new(move |db, job| match job {
        crate::jobs::Job::ExtractText(t) => crate::search::extract::run(db, &blobs, &t.document_id),
        crate::jobs::Job::MovementMail(m) => crate::mail::fan_out_movement(db, &mailer_for_jobs, &m.movement_id),
        crate::jobs::Job::Email(e) => mailer_for_jobs.send(e),
        crate::jobs::Job::SlaReminder(r) => crate::mail::fan_out_reminder(db, &mailer_for_jobs, r),
        crate::jobs::Job::Notice(n) => crate::mail::fan_out_notice(db, &mailer_for_jobs, n),
        other => crate::jobs::perform(db, other),
    });
    // Once a day (at the turn of the UTC day): the digests, and what falls due tomorrow.
    let day = std::time::Duration::from_secs(86_400);
    let (m1, m2, ca_digest) = (mailer.clone(), mailer.clone(), ca_for_mail);
    let digest = crate::jobs::Periodic {
        name: "mail.digest",
        every: day,
        run: Box::new(move |db| crate::mail::send_digests(db, &m1, &ca_digest).map(|_| ())),
    };
    let due = crate::jobs::Periodic {
        name: "mail.due",
        every: day,
        run: Box::new(move |db| crate::mail::due_tomorrow(db, &m2).map(|_| ())),
    };
    crate::jobs::Background::start(db, metrics, config.jobs.workers, handler, vec![sealer, sla, digest, due])
}

/// Headers on every response: no sniffing, no framing, no referrers, a strict
/// content security policy (no inline scripts), and HSTS under TLS.
fn security_headers(tls: bool) -> middleware::DefaultHeaders {
    let mut headers = middleware::DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add((
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; \
             base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ))
        .add(("Cross-Origin-Opener-Policy", "same-origin"));
    if tls {
        headers = headers.add(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"));
    }
    headers
}

/// Each open connection holds a file descriptor: idle keep-alive connections
/// of thousands of officers need more than the usual soft limit of 1,024.
/// The soft limit is raised to the hard one (what the process may do
/// itself); below [`WANTED_OPEN_FILES`] a warning says to raise the hard
/// limit (`LimitNOFILE=` in systemd, `ulimit -Hn`).
pub const WANTED_OPEN_FILES: u64 = 16_384;

/// Raises this process's soft open-file limit to its hard limit (see above).
pub fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) if n < WANTED_OPEN_FILES => tracing::warn!(
            open_files = n,
            wanted = WANTED_OPEN_FILES,
            "the open-file limit caps simultaneous connections; raise the hard limit (LimitNOFILE)"
        ),
        Ok(n) => tracing::info!(open_files = n, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open-file limit"),
    }
}
