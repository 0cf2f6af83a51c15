//! Login, refresh, logout, `GET /me`, and the `Caller` every protected route
//! extracts: a verified token, a live session, and the acting post.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{ApiError, AppState};
use crate::auth::principal::Principal;
use crate::auth::session::{self, Issued, Kind, Lifetimes, Refreshed};
use crate::auth::throttle::{Limits, Throttle};
use crate::auth::tokens::{TokenKeys, same_secret};
use crate::auth::{audit, login, password};
use crate::config::Config;
use crate::domain::access;
use crate::org::MyPost;
use crate::store::now_micros;

/// Identity settings and state shared by the handlers.
pub struct AuthState {
    keys: TokenKeys,
    throttle: Throttle,
    tracking: Throttle,
    life: Lifetimes,
    dummy_hash: String,
    trust_forwarded_for: bool,
    secure_cookies: bool,
    callers: crate::auth::callers::Callers,
}

impl AuthState {
    /// The guessing throttle (logins, and re-entered passwords).
    pub fn throttle(&self) -> &Throttle {
        &self.throttle
    }

    /// The throttle on guessing tracking codes (per address; its own, so
    /// that a sender's mistyped codes never slow an office's logins).
    pub fn tracking_throttle(&self) -> &Throttle {
        &self.tracking
    }

    /// What a login is checked and issued with (the API's and the web inbox's alike).
    pub fn gate(&self) -> login::Gate<'_> {
        login::Gate { keys: &self.keys, throttle: &self.throttle, life: self.life, dummy_hash: &self.dummy_hash }
    }

    /// Whether the client address comes from `X-Forwarded-For`.
    pub fn trust_forwarded_for(&self) -> bool {
        self.trust_forwarded_for
    }

    /// Loads (or creates) the token key and sets up the throttle.
    pub fn new(config: &Config) -> Result<AuthState, String> {
        let keys = TokenKeys::load_or_create(&config.data_dir).map_err(|e| e.to_string())?;
        Ok(AuthState {
            keys,
            throttle: Throttle::new(Limits { max_backoff: Duration::from_secs(config.auth.login_backoff_max_seconds) }),
            tracking: Throttle::new(Limits { max_backoff: Duration::from_secs(config.auth.login_backoff_max_seconds) }),
            life: Lifetimes {
                access_secs: config.auth.access_token_minutes * 60,
                idle_secs: config.auth.session_idle_minutes * 60,
                absolute_secs: config.auth.session_absolute_hours * 3600,
            },
            // Unknown users are checked against this, so they cost what a real one does.
            dummy_hash: password::hash_password("no such user: constant-time filler"),
            trust_forwarded_for: config.auth.trust_forwarded_for,
            secure_cookies: config.tls.cert.is_some(),
            callers: Default::default(),
        })
    }

    /// The keys that sign access tokens.
    pub fn keys(&self) -> &TokenKeys {
        &self.keys
    }

    /// The claims of a valid access token (its signature checked once per
    /// process; see [`crate::auth::callers`]).
    pub fn verify(&self, token: &str) -> Option<crate::auth::tokens::Claims> {
        self.callers.verify(&self.keys, token)
    }

    /// The name of the cookie that carries a web session's access token.
    pub(crate) fn session_cookie(&self) -> &'static str {
        if self.secure_cookies { "__Host-daftar_session" } else { "daftar_session" }
    }
}

/// The client's address: the peer, or the proxy's `X-Forwarded-For` when trusted.
pub(crate) fn client_ip(req: &HttpRequest, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for
        && let Some(last) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
    {
        return last.to_owned();
    }
    req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_else(|| "unknown".into())
}

/// `POST /auth/login` body.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
    /// `"web"` to also set session cookies (the web inbox); default bearer only.
    #[serde(default)]
    pub session: Option<String>,
}

/// Tokens as answered by login and refresh.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque; single use; rotate with `POST /auth/refresh`.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token lives.
    pub expires_in: i64,
    /// Anti-CSRF token for cookie sessions (send as `X-CSRF-Token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

/// Sets a web session's cookies: the access token (every path), the
/// refresh token (only the auth routes see it) and the anti-CSRF token.
pub(crate) fn set_web_cookies(res: &mut actix_web::HttpResponseBuilder, auth: &AuthState, issued: &Issued) {
    let secure = auth.secure_cookies;
    let cookie = |name: &'static str, value: String, http_only: bool, path: &'static str| {
        Cookie::build(name, value).path(path).http_only(http_only).secure(secure).same_site(SameSite::Strict).finish()
    };
    res.cookie(cookie(auth.session_cookie(), issued.access_token.clone(), true, "/"));
    res.cookie(cookie("daftar_refresh", issued.refresh_token.clone(), true, "/api/v1/auth"));
    res.cookie(cookie("daftar_csrf", issued.csrf.clone().unwrap_or_default(), false, "/"));
}

/// Removes a web session's cookies.
pub(crate) fn clear_web_cookies(res: &mut actix_web::HttpResponseBuilder, auth: &AuthState) {
    for name in [auth.session_cookie(), "daftar_refresh", "daftar_csrf"] {
        let mut gone =
            Cookie::build(name, "").path(if name == "daftar_refresh" { "/api/v1/auth" } else { "/" }).finish();
        gone.make_removal();
        res.cookie(gone);
    }
}

fn token_response(auth: &AuthState, issued: Issued, kind: Kind) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    res.insert_header(("Cache-Control", "no-store"));
    if kind == Kind::Web {
        set_web_cookies(&mut res, auth, &issued);
    }
    res.json(TokenResponse {
        access_token: issued.access_token,
        refresh_token: issued.refresh_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
        csrf_token: issued.csrf,
    })
}

/// A failed re-entry of the account password as the API answers it.
pub fn reauth_error(e: login::LoginError, refused: &str) -> ApiError {
    match e {
        login::LoginError::Throttled(wait) => ApiError::rate_limited(wait),
        login::LoginError::Refused => ApiError::forbidden(refused),
        login::LoginError::Store(e) => e.into(),
    }
}

/// Logs in with a username and password.
#[utoipa::path(post, path = "/api/v1/auth/login", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = super::error::ErrorBody),
              (status = 429, body = super::error::ErrorBody)))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let LoginRequest { username, password: pw, session } = body.into_inner();
    let kind = match session.as_deref() {
        None | Some("api") => Kind::Api,
        Some("web") => Kind::Web,
        Some(_) => return Err(ApiError::invalid_field("session", "must be \"api\" or \"web\"")),
    };
    if pw.len() > 1024 {
        return Err(ApiError::invalid_field("password", "is too long"));
    }
    let ip = client_ip(&req, state.auth.trust_forwarded_for);
    let account = username.trim().to_lowercase();
    let st = state.clone();
    let issued = web::block(move || login::login(&st.db, st.auth.gate(), &account, &pw, &ip, kind))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| match e {
            login::LoginError::Throttled(wait) => ApiError::rate_limited(wait),
            login::LoginError::Refused => ApiError::unauthenticated("wrong username or password"),
            login::LoginError::Store(e) => e.into(),
        })?;
    Ok(token_response(&state.auth, issued, kind))
}

/// `POST /auth/refresh` and `/auth/logout` body (web clients may send the cookie instead).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token.
    pub refresh_token: Option<String>,
}

/// The refresh token from the body, else from the cookie.
fn refresh_token_of(req: &HttpRequest, given: Option<String>) -> Result<String, ApiError> {
    given
        .or_else(|| req.cookie("daftar_refresh").map(|c| c.value().to_owned()))
        .filter(|t| !t.is_empty() && t.chars().count() <= MAX_REFRESH_TOKEN)
        .ok_or_else(|| ApiError::invalid_field("refresh_token", "is required"))
}

/// Most characters in a refresh token as sent (the API document's `maxLength`).
pub const MAX_REFRESH_TOKEN: usize = 256;

/// Spends a refresh token for new tokens; a token used twice ends its
/// session and is recorded in the audit trail.
async fn rotate(state: &web::Data<AppState>, req: &HttpRequest, token: String) -> Result<Refreshed, ApiError> {
    let ip = client_ip(req, state.auth.trust_forwarded_for);
    let auth = state.auth.clone();
    state
        .write(move |c| {
            let outcome = session::refresh(c, &auth.keys, auth.life, &token)?;
            if let Refreshed::Reused { user_id } = &outcome {
                let event = audit::Event {
                    kind: "token_reuse_detected",
                    user_id: Some(user_id),
                    ip: Some(&ip),
                    ..Default::default()
                };
                audit::record(c, event)?;
            }
            Ok(outcome)
        })
        .await
}

/// Exchanges a refresh token for new tokens; the old one is spent.
#[utoipa::path(post, path = "/api/v1/auth/refresh", request_body = RefreshRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = super::error::ErrorBody)))]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Option<web::Json<RefreshRequest>>,
) -> Result<HttpResponse, ApiError> {
    let token = refresh_token_of(&req, body.and_then(|b| b.into_inner().refresh_token))?;
    let outcome = rotate(&state, &req, token).await?;
    match outcome {
        Refreshed::Rotated(issued) => {
            let kind = if issued.csrf.is_some() { Kind::Web } else { Kind::Api };
            Ok(token_response(&state.auth, issued, kind))
        }
        Refreshed::Refused => Err(ApiError::unauthenticated("refresh token is not valid; log in again")),
        Refreshed::Reused { .. } => {
            Err(ApiError::unauthenticated("refresh token was already used; the session has been ended"))
        }
    }
}

/// `POST /auth/logout` body (web clients may send the cookie instead).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// The refresh token of the session logging out.
    pub refresh_token: Option<String>,
    /// End every session of the user (default), or with `false` only this one.
    pub everywhere: Option<bool>,
}

/// Logs out: ends every session of the user (or, with `everywhere: false`,
/// only the session of this refresh token); their access tokens stop working
/// at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", request_body = LogoutRequest,
    responses((status = 204), (status = 400, body = super::error::ErrorBody)))]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Option<web::Json<LogoutRequest>>,
) -> Result<HttpResponse, ApiError> {
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    let everywhere = body.everywhere.unwrap_or(true);
    let token = refresh_token_of(&req, body.refresh_token)?;
    let ip = client_ip(&req, state.auth.trust_forwarded_for);
    state
        .write(move |c| {
            // An unknown token is not an error: the client is logged out either way.
            if let Some((sid, user_id, live)) = session::session_of(c, &token)? {
                // Only a live session's current token ends the others: an old,
                // spent token found somewhere ends nothing but its own session.
                let everywhere = everywhere && live;
                if everywhere {
                    session::end_all(c, &user_id, "logout")?;
                } else {
                    session::end(c, &sid, "logout")?;
                }
                let event = audit::Event {
                    kind: "logout",
                    user_id: Some(&user_id),
                    ip: Some(&ip),
                    details: Some(json!({"everywhere": everywhere})),
                    ..Default::default()
                };
                audit::record(c, event)?;
            }
            Ok(())
        })
        .await?;
    let mut res = HttpResponse::NoContent();
    clear_web_cookies(&mut res, &state.auth);
    Ok(res.finish())
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who they are and what they hold.
    pub principal: Principal,
    /// The post acting for this request (`X-Post-Id`, else the primary post).
    pub acting_post_id: Option<String>,
    /// The session.
    pub session_id: String,
    /// The session's signing secret (from its token; never stored here).
    pub signing_secret: Option<crate::auth::session::SessionSecret>,
    /// A web session's anti-CSRF token (none for bearer sessions).
    pub csrf: Option<String>,
    /// The `auth_epoch` the caller was checked against (see `auth::callers`).
    pub epoch: i64,
}

impl Caller {
    /// The user's id.
    pub fn user_id(&self) -> &str {
        &self.principal.viewer.user_id
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let bearer = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(|t| t.trim().to_owned());
        let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let csrf_header = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let post_header = req.headers().get("x-post-id").map(|v| v.to_str().map(str::to_owned));
        let cookie = state.as_ref().and_then(|s| req.cookie(s.auth.session_cookie())).map(|c| c.value().to_owned());
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(&"application state missing"))?;
            let (token, via_cookie) = match (bearer, cookie) {
                (Some(t), _) => (t, false),
                (None, Some(c)) => (c, true),
                (None, None) => return Err(ApiError::unauthenticated("log in: send Authorization: Bearer <token>")),
            };
            let claims = state.auth.verify(&token).ok_or_else(|| ApiError::unauthenticated("token is not valid"))?;
            if via_cookie && unsafe_method {
                let expected = claims.csrf.as_deref().unwrap_or("");
                let given = csrf_header.as_deref().unwrap_or("");
                if expected.is_empty() || !same_secret(expected, given) {
                    return Err(ApiError::forbidden("missing or wrong anti-CSRF token (X-CSRF-Token)"));
                }
            }
            let requested = match post_header {
                Some(Ok(p)) => Some(p),
                Some(Err(_)) => return Err(ApiError::forbidden("X-Post-Id is not a post you hold")),
                None => None,
            };
            caller_of(&state, claims, requested).await
        })
    }
}

/// The caller a verified token names, if its session is live; acting at
/// `requested` (a post they hold today) or their primary post.
pub(crate) async fn caller_of(
    state: &web::Data<AppState>,
    claims: crate::auth::tokens::Claims,
    requested: Option<String>,
) -> Result<Caller, ApiError> {
    let csrf = claims.csrf.clone();
    let secret = |claims: crate::auth::tokens::Claims| (claims.sid, claims.sk.map(crate::auth::session::SessionSecret));
    // The one-row epoch read costs less than the hop to the blocking pool:
    // done here when it may be and a reader is free, a cached caller needs
    // no hop at all. Anything else goes to the pool.
    let here = state.may_read_here(super::Here::OneRow).then(|| state.db.try_reader()).flatten();
    let fast = here.and_then(|mut c| {
        let epoch = crate::auth::callers::epoch(&mut c).ok()?;
        state.auth.callers.cached(&claims, epoch).map(|p| (p, epoch))
    });
    let (principal, epoch, (session_id, signing_secret)) = match fast {
        Some((p, epoch)) => (p, epoch, secret(claims)),
        None => {
            let auth = state.auth.clone();
            let loaded = state
                .read(move |c| Ok(auth.callers.principal(c, &claims)?.map(|(p, epoch)| (p, epoch, secret(claims)))))
                .await?;
            loaded.ok_or_else(|| ApiError::unauthenticated("session has ended; log in again"))?
        }
    };
    let acting = access::acting_post(&principal.viewer, requested.as_deref(), now_micros())
        .map_err(|_| ApiError::forbidden("X-Post-Id is not a post you hold"))?
        .map(|h| h.post_id.clone());
    Ok(Caller { principal, acting_post_id: acting, session_id, signing_secret, csrf, epoch })
}

/// `?next=` of `GET /auth/resume`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Resume {
    /// Where to go afterwards: a path of this site.
    pub next: Option<String>,
}

/// Renews a web session whose access token has run out, from its refresh
/// cookie (which only the auth routes see), and goes back to the page asked
/// for; to the login page if the session is over. Web pages send browsers
/// here; the cookies are `SameSite=Strict`, so no other site can.
#[utoipa::path(get, path = "/api/v1/auth/resume", params(Resume),
    responses((status = 303, description = "to `next` (a path of this site) with renewed session cookies, or to \
        the login page (`/`) with the cookies removed when the web session (its refresh cookie) is over")))]
pub async fn resume(state: web::Data<AppState>, req: HttpRequest, q: web::Query<Resume>) -> HttpResponse {
    let next = q
        .into_inner()
        .next
        .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && n.len() <= 2000)
        .unwrap_or_else(|| "/".to_owned());
    let token = req.cookie("daftar_refresh").map(|c| c.value().to_owned()).filter(|t| !t.is_empty() && t.len() <= 256);
    let outcome = match token {
        Some(token) => rotate(&state, &req, token).await.ok(),
        None => None,
    };
    let mut res = HttpResponse::SeeOther();
    res.insert_header(("Cache-Control", "no-store"));
    match outcome {
        Some(Refreshed::Rotated(issued)) if issued.csrf.is_some() => {
            set_web_cookies(&mut res, &state.auth, &issued);
            res.insert_header(("Location", next));
        }
        _ => {
            clear_web_cookies(&mut res, &state.auth);
            res.insert_header(("Location", "/"));
        }
    }
    res.finish()
}

/// `GET /me`.
#[derive(Serialize, ToSchema)]
pub struct Me {
    /// User id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Full name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Clearance.
    pub clearance: String,
    /// Roles (`role` or `role:ENTITY_CODE`).
    pub roles: Vec<String>,
    /// Posts held today.
    pub posts: Vec<MyPost>,
    /// The post acting for this request.
    pub acting_post_id: Option<String>,
}

/// Who am I, and which desks do I hold today.
#[utoipa::path(get, path = "/api/v1/me", responses((status = 200, body = Me), (status = 401, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn me(state: web::Data<AppState>, caller: Caller) -> Result<web::Json<Me>, ApiError> {
    let today = crate::org::today();
    let (posts, roles) = match state.auth.callers.cached_card(caller.user_id(), caller.epoch, &today) {
        Some(card) => card,
        None => {
            let (auth, user, epoch) = (state.auth.clone(), caller.user_id().to_owned(), caller.epoch);
            state.read(move |c| Ok(auth.callers.card(c, &user, epoch, &today)?)).await?
        }
    };
    let p = &caller.principal;
    Ok(web::Json(Me {
        id: p.viewer.user_id.clone(),
        username: p.username.clone(),
        name: p.name.clone(),
        email: p.email.clone(),
        clearance: p.viewer.clearance.to_string(),
        roles,
        posts,
        acting_post_id: caller.acting_post_id.clone(),
    }))
}
