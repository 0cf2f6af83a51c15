//! Start-up: bind the listener, build the app, run until stopped.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{App, HttpServer, middleware};

use crate::api::auth::AuthState;
use crate::api::{self, AppState};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::Db;

/// A bound, not yet running server.
pub struct Server {
    port: u16,
    server: actix_web::dev::Server,
}

impl Server {
    /// Binds `config.listen` (port 0 picks a free port, as tests do).
    pub fn build(config: Config, db: Db) -> Result<Server, String> {
        let auth = Arc::new(AuthState::new(&config)?);
        let ca = Arc::new(crate::pki::Ca::init(&config.data_dir, &config.organisation)?);
        let signing_sessions = Arc::new(crate::signing::Sessions::new(std::time::Duration::from_secs(
            config.signing_session_minutes * 60,
        )));
        let listener =
            TcpListener::bind(&config.listen).map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let state = AppState {
            db,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::default()),
            auth,
            ca,
            signing_sessions,
        };
        let tls = state.config.tls.cert.is_some();
        let tls_files = (state.config.tls.cert.clone(), state.config.tls.key.clone());
        let server = HttpServer::new(move || {
            let state = state.clone();
            App::new()
                .wrap(security_headers(tls))
                .wrap(middleware::from_fn(api::observe))
                .configure(move |cfg| api::configure(cfg, state))
        });
        let server = match (&tls_files.0, &tls_files.1) {
            (Some(cert), Some(key)) => server.listen_rustls_0_23(listener, crate::tls::server_config(cert, key)?),
            _ => server.listen(listener),
        }
        .map_err(|e| e.to_string())?
        .run();
        Ok(Server { port, server })
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
