//! The web inbox: plain server-rendered pages for officers (askama
//! templates in `assets/templates/`, one stylesheet and one small script in
//! `assets/web/`). Pages render the same typed views the JSON API serialises
//! and call the same use cases; nothing here decides who may see or do what.
//!
//! Sessions are the API's cookie sessions: the access token in an
//! `HttpOnly`, `SameSite=Strict` cookie, renewed through
//! `/api/v1/auth/resume` when it runs out, and every form that changes
//! anything carries the session's anti-CSRF token.

pub mod analytics;
pub mod compliance;
pub mod text;
pub mod tracking;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::api::auth::{Caller, caller_of};
use crate::api::{ApiError, AppState};
use crate::domain::org::Clearance;
use crate::efile::{self, EfileError, PostRef};
use text::{EN, Text};

/// The routes of the web inbox.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/desk", web::post().to(switch_desk))
        .route("/sent", web::get().to(sent))
        .route("/queue", web::get().to(queue))
        .route("/keys", web::get().to(keys_page))
        .route("/keys", web::post().to(enrol))
        .route("/notifications", web::post().to(save_notifications))
        .route("/notifications/unsubscribe", web::get().to(unsubscribe_ask))
        .route("/notifications/unsubscribe", web::post().to(unsubscribe))
        .route("/queue/approve", web::post().to(approve_many))
        .route("/search", web::get().to(search))
        .route("/files", web::post().to(new_file))
        .route("/receipts", web::post().to(diarise))
        .route("/receipts/{id}", web::get().to(receipt))
        .route("/receipts/{id}/move", web::post().to(move_receipt))
        .route("/files/{id}", web::get().to(file))
        .route("/files/{id}/notes", web::post().to(add_note))
        .route("/files/{id}/notes/{note_id}/sign", web::post().to(sign_note))
        .route("/files/{id}/move", web::post().to(move_file))
        .route("/files/{id}/documents", web::post().to(attach))
        .route("/files/{id}/link", web::post().to(link))
        .route("/analytics", web::get().to(analytics::page))
        .route("/compliance", web::get().to(compliance::page))
        .route("/compliance/certificates", web::post().to(compliance::issue))
        .route("/assets/{name}", web::get().to(asset))
        .route("/track", web::get().to(tracking::form))
        .route("/track/{diary_no:.*}", web::get().to(tracking::track))
        .route("/favicon.ico", web::get().to(|| async { see_other("/assets/favicon.svg") }));
}

/// The signed-in officer as the page header shows them.
pub struct Me {
    name: String,
    post: Option<String>,
    /// Every post held today: (id, title, acting now).
    desks: Vec<(String, String, bool)>,
    csrf: String,
    /// Whether the compliance page has something for them (role `compliance`
    /// or `auditor`, or a head post held).
    compliance: bool,
}

/// What a page needs beyond its own data.
struct Frame {
    me: Option<Me>,
    flash: Option<String>,
    idle_seconds: i64,
}

/// Why a page cannot be shown as asked.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in: to the login page.
    SignIn,
    /// The session's access token ran out: renew it and come back.
    Resume(String),
    /// Shown as a page.
    Shown(StatusCode, String, String),
}

impl std::fmt::Display for PageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageError::SignIn => write!(f, "sign in"),
            PageError::Resume(_) => write!(f, "resume the session"),
            PageError::Shown(s, h, _) => write!(f, "{s} {h}"),
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    t: &'a Text,
    me: Option<Me>,
    flash: Option<String>,
    idle_seconds: i64,
    heading: String,
    message: String,
}

fn html(status: StatusCode, body: Result<String, askama::Error>) -> HttpResponse {
    match body {
        Ok(b) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .body(b),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            HttpResponse::InternalServerError().content_type("text/plain; charset=utf-8").body("internal error")
        }
    }
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("Location", to)).insert_header(("Cache-Control", "no-store")).finish()
}

impl actix_web::ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        match self {
            PageError::SignIn | PageError::Resume(_) => StatusCode::SEE_OTHER,
            PageError::Shown(s, _, _) => *s,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            PageError::SignIn => see_other("/"),
            PageError::Resume(next) => {
                let next: String = url_escape(next);
                see_other(&format!("/api/v1/auth/resume?next={next}"))
            }
            PageError::Shown(status, heading, message) => {
                let page = ErrorPage {
                    t: &EN,
                    me: None,
                    flash: None,
                    idle_seconds: 0,
                    heading: heading.clone(),
                    message: message.clone(),
                };
                html(*status, page.render())
            }
        }
    }
}

fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        let status = e.code().status();
        let heading = match status.as_u16() {
            404 => "Not found",
            403 => "Not allowed",
            409 => "Not possible now",
            400 => "Please check what you entered",
            429 => "Too many attempts",
            503 => "Temporarily unavailable",
            _ => "Something went wrong",
        };
        PageError::Shown(status, heading.into(), e.detail().message)
    }
}

impl From<EfileError> for PageError {
    fn from(e: EfileError) -> Self {
        ApiError::from(e).into()
    }
}

/// The officer behind a page request, from the session cookie.
async fn signed_in(req: &HttpRequest) -> Result<Caller, PageError> {
    let state = req.app_data::<web::Data<AppState>>().cloned().ok_or(PageError::SignIn)?;
    let Some(token) = req.cookie(state.auth.session_cookie()).map(|c| c.value().to_owned()) else {
        return Err(PageError::SignIn);
    };
    let Some(claims) = state.auth.verify(&token) else {
        // Run out (or damaged): renew it from the refresh cookie, or sign in.
        let next = match req.uri().path_and_query() {
            Some(pq) if req.method() == actix_web::http::Method::GET => pq.as_str().to_owned(),
            _ => "/".to_owned(),
        };
        return Err(PageError::Resume(next));
    };
    if claims.csrf.is_none() {
        return Err(PageError::SignIn);
    }
    // The desk chosen with the switcher, if it is still one they hold.
    let chosen = req.cookie("daftar_post").map(|c| c.value().to_owned()).filter(|p| !p.is_empty() && p.len() <= 64);
    if let Some(post) = chosen {
        if let Ok(c) = caller_of(&state, claims.clone(), Some(post)).await {
            return Ok(c);
        }
    }
    caller_of(&state, claims, None).await.map_err(|e| match e.code().status().as_u16() {
        401 => PageError::SignIn,
        _ => e.into(),
    })
}

/// A form whose anti-CSRF token can be read.
pub trait Csrf {
    /// The token the form carried.
    fn csrf(&self) -> Option<&str>;
}

macro_rules! csrf_forms {
    ($($t:ty),*) => {$(impl Csrf for $t { fn csrf(&self) -> Option<&str> { self.csrf.as_deref() } })*};
}

csrf_forms!(
    CsrfForm,
    DeskForm,
    NoteForm,
    SignForm,
    MoveForm,
    LinkForm,
    ReceiptMoveForm,
    EnrolForm,
    NotifyForm,
    compliance::IssueForm
);

/// A form read as name/value pairs (for repeated fields).
#[derive(Deserialize)]
#[serde(transparent)]
pub struct Pairs(Vec<(String, String)>);

impl Csrf for Pairs {
    fn csrf(&self) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == "csrf").map(|(_, v)| v.as_str())
    }
}

/// A form posted by a signed-in officer from one of this session's pages:
/// every state-changing page handler takes one, so none forgets the check.
pub struct Posted<T> {
    caller: Caller,
    form: T,
}

impl<T: serde::de::DeserializeOwned + Csrf + 'static> actix_web::FromRequest for Posted<T> {
    type Error = PageError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, PageError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let form = web::Form::<T>::from_request(&req, payload);
        Box::pin(async move {
            let caller = signed_in(&req).await?;
            let form = form
                .await
                .map_err(|_| {
                    PageError::Shown(
                        StatusCode::BAD_REQUEST,
                        "Please check what you entered".into(),
                        "The form could not be read.".into(),
                    )
                })?
                .into_inner();
            check_csrf(&caller, form.csrf())?;
            Ok(Posted { caller, form })
        })
    }
}

/// Checks a form's anti-CSRF token against the session's.
fn check_csrf(caller: &Caller, given: Option<&str>) -> Result<(), PageError> {
    let expected = caller.csrf.as_deref().unwrap_or("");
    if expected.is_empty() || !crate::auth::tokens::same_secret(expected, given.unwrap_or("")) {
        return Err(PageError::Shown(
            StatusCode::FORBIDDEN,
            "Not allowed".into(),
            "The form was not sent from this session's page (anti-CSRF check). Reload the page and try again.".into(),
        ));
    }
    Ok(())
}

/// The page header's facts: who is signed in, at which post.
async fn frame(state: &web::Data<AppState>, caller: &Caller, flash: Option<String>) -> Result<Frame, PageError> {
    let (user, acting) = (caller.principal.viewer.user_id.clone(), caller.acting_post_id.clone());
    let held = state.read(move |c| Ok(crate::org::posts_held(c, &user, &crate::org::today())?)).await?;
    let post = held.iter().find(|p| Some(&p.id) == acting.as_ref()).map(|p| p.title.clone());
    use crate::domain::org::Role;
    let compliance = held.iter().any(|p| crate::domain::org::is_head_designation(&p.designation))
        || caller.principal.viewer.roles.iter().any(|(r, _)| matches!(r, Role::Compliance | Role::Auditor));
    let desks = held.into_iter().map(|p| (p.id.clone(), p.title, Some(&p.id) == acting.as_ref())).collect();
    Ok(Frame {
        me: Some(Me {
            name: caller.principal.name.clone(),
            post,
            desks,
            csrf: caller.csrf.clone().unwrap_or_default(),
            compliance,
        }),
        flash,
        idle_seconds: state.config.auth.session_idle_minutes * 60,
    })
}

/// An RFC 3339 time as a page shows it: to the minute, in civil time.
fn short_time(rfc: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc) {
        Ok(t) => crate::clock::civil_minute(t.timestamp_micros()),
        Err(_) => rfc.to_owned(),
    }
}

fn post_label(p: &Option<PostRef>) -> String {
    p.as_ref().map(|p| format!("{} ({})", p.code, p.title)).unwrap_or_else(|| "—".into())
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    t: &'a Text,
    me: Option<Me>,
    flash: Option<String>,
    idle_seconds: i64,
    error: Option<String>,
    username: String,
}

/// A line of the inbox as the page shows it.
struct InboxLine {
    kind: &'static str,
    id: String,
    number: String,
    subject: String,
    from: String,
    received_at: String,
    received: String,
    due: Option<String>,
    overdue: bool,
    opened: bool,
    priority: String,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage<'a> {
    t: &'a Text,
    me: Option<Me>,
    flash: Option<String>,
    idle_seconds: i64,
    items: Vec<InboxLine>,
    kind: String,
    csrf: String,
    classes: Vec<&'static str>,
    workflows: Vec<(String, String)>,
    fields: Vec<(String, String)>,
    registry: bool,
    modes: Vec<&'static str>,
}

/// `?kind=` of the inbox page.
#[derive(Deserialize)]
pub struct InboxQuery {
    kind: Option<String>,
}

/// `/`: the inbox for a signed-in officer, the login page otherwise.
async fn home(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<InboxQuery>,
) -> Result<HttpResponse, PageError> {
    let caller = match signed_in(&req).await {
        Ok(c) => c,
        Err(PageError::SignIn) => {
            let page =
                LoginPage { t: &EN, me: None, flash: None, idle_seconds: 0, error: None, username: String::new() };
            return Ok(html(StatusCode::OK, page.render()));
        }
        Err(e) => return Err(e),
    };
    let kind_word = q.into_inner().kind.unwrap_or_default();
    let kind = match kind_word.as_str() {
        "files" => efile::inbox::Kind::Files,
        "receipts" => efile::inbox::Kind::Receipts,
        _ => efile::inbox::Kind::All,
    };
    let ceiling = caller.principal.viewer.clearance;
    let c2 = caller.clone();
    let (items, _) = state.read_small(move |c| Ok(efile::inbox::inbox(c, &c2.actor(), kind, 0, 200)?)).await?;
    let items = items
        .into_iter()
        .map(|i| InboxLine {
            kind: i.item.kind,
            number: i.item.file_no.clone().or(i.item.diary_no.clone()).unwrap_or_default(),
            id: i.item.id,
            subject: i.item.subject,
            from: post_label(&i.from_post),
            received: short_time(&i.received_at),
            received_at: i.received_at,
            due: i.due_at.as_deref().map(short_time),
            overdue: i.overdue,
            opened: i.opened,
            priority: i.priority,
        })
        .collect();
    let f = frame(&state, &caller, None).await?;
    let page = InboxPage {
        t: &EN,
        csrf: caller.csrf.clone().unwrap_or_default(),
        me: f.me,
        flash: f.flash,
        idle_seconds: f.idle_seconds,
        items,
        kind: kind_word,
        classes: Clearance::ALL.iter().filter(|c| **c <= ceiling).map(|c| c.as_str()).collect(),
        registry: caller.principal.viewer.has_any_role(&[crate::domain::org::Role::Registry]),
        modes: ["post", "email", "hand", "fax", "courier"].to_vec(),
        workflows: state.workflows.iter().map(|w| (w.id().to_owned(), w.workflow.name.clone())).collect(),
        fields: {
            let mut all: Vec<(String, String)> = Vec::new();
            for f in state.workflows.iter().flat_map(|w| w.workflow.fields.iter()) {
                if !all.iter().any(|(n, _)| *n == f.name) {
                    all.push((f.name.clone(), f.unit.clone()));
                }
            }
            all
        },
    };
    Ok(html(StatusCode::OK, page.render()))
}

/// The login form.
#[derive(Deserialize)]
pub struct LoginForm {
    username: Option<String>,
    password: Option<String>,
}

/// Logs in with the form; sets the session's cookies.
async fn login(state: web::Data<AppState>, req: HttpRequest, form: web::Form<LoginForm>) -> HttpResponse {
    let f = form.into_inner();
    let username = f.username.unwrap_or_default().trim().to_lowercase();
    let password = f.password.unwrap_or_default();
    let again = |status: StatusCode, error: &str, username: String| {
        let page = LoginPage { t: &EN, me: None, flash: None, idle_seconds: 0, error: Some(error.into()), username };
        html(status, page.render())
    };
    if username.is_empty() || password.is_empty() || password.len() > 1024 || username.len() > 64 {
        return again(StatusCode::BAD_REQUEST, "Enter your username and password.", username);
    }
    let ip = crate::api::auth::client_ip(&req, state.auth.trust_forwarded_for());
    let st = state.clone();
    let account = username.clone();
    let issued = web::block(move || {
        crate::auth::login::login(&st.db, st.auth.gate(), &account, &password, &ip, crate::auth::session::Kind::Web)
    })
    .await;
    match issued {
        Ok(Ok(issued)) => {
            let mut res = HttpResponse::SeeOther();
            crate::api::auth::set_web_cookies(&mut res, &state.auth, &issued);
            res.insert_header(("Location", "/")).insert_header(("Cache-Control", "no-store")).finish()
        }
        Ok(Err(crate::auth::login::LoginError::Refused)) => {
            again(StatusCode::UNAUTHORIZED, "Wrong username or password.", username)
        }
        Ok(Err(crate::auth::login::LoginError::Throttled(wait))) => again(
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many attempts. Wait {} seconds and try again.", wait.as_secs().max(1)),
            username,
        ),
        Ok(Err(crate::auth::login::LoginError::Store(e))) => {
            tracing::error!(error = %e, "login failed");
            again(StatusCode::SERVICE_UNAVAILABLE, "The service is unavailable. Try again shortly.", username)
        }
        Err(e) => {
            tracing::error!(error = %e, "login failed");
            again(StatusCode::SERVICE_UNAVAILABLE, "The service is unavailable. Try again shortly.", username)
        }
    }
}

/// A form that carries only its anti-CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// Ends the session and clears its cookies.
async fn logout(state: web::Data<AppState>, posted: Posted<CsrfForm>) -> Result<HttpResponse, PageError> {
    let caller = posted.caller;
    let sid = caller.session_id.clone();
    state.write(move |c| Ok(crate::auth::session::end(c, &sid, "logout")?)).await?;
    let mut res = HttpResponse::SeeOther();
    crate::api::auth::clear_web_cookies(&mut res, &state.auth);
    Ok(res.insert_header(("Location", "/")).finish())
}

/// The switcher's form.
#[derive(Deserialize)]
pub struct DeskForm {
    csrf: Option<String>,
    post: Option<String>,
}

/// Acts at another post the officer holds today (kept in a cookie for this browser).
async fn switch_desk(posted: Posted<DeskForm>) -> Result<HttpResponse, PageError> {
    let Posted { caller, form: f } = posted;
    let post = f.post.unwrap_or_default();
    if !caller.principal.viewer.holds(&post, crate::store::now_micros()) {
        return Err(PageError::Shown(
            StatusCode::FORBIDDEN,
            "Not allowed".into(),
            "That is not a post you hold today.".into(),
        ));
    }
    let cookie = actix_web::cookie::Cookie::build("daftar_post", post)
        .path("/")
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Strict)
        .finish();
    Ok(HttpResponse::SeeOther().cookie(cookie).insert_header(("Location", "/")).finish())
}

/// Opens a file (on an approval chain, if one is chosen) and shows it.
async fn new_file(state: web::Data<AppState>, posted: Posted<Pairs>) -> Result<HttpResponse, PageError> {
    let Posted { caller, form: Pairs(pairs) } = posted;
    let field =
        |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned()).filter(|v| !v.is_empty());
    let bad = |m: String| PageError::Shown(StatusCode::BAD_REQUEST, "Please check what you entered".into(), m);
    let workflow = match field("workflow") {
        None => None,
        Some(id) => {
            let loaded =
                state.workflows.iter().find(|w| w.id() == id).ok_or_else(|| bad("No such approval chain.".into()))?;
            // Only the fields this chain declares are taken from the form.
            let mut fields = std::collections::BTreeMap::new();
            for f in &loaded.workflow.fields {
                if let Some(v) = field(&format!("field-{}", f.name)) {
                    let n: f64 =
                        v.replace(',', "").parse().map_err(|_| bad(format!("{} must be a number.", f.name)))?;
                    fields.insert(f.name.clone(), n);
                }
            }
            Some((loaded.clone(), fields))
        }
    };
    let input = efile::file::NewFile {
        subject: field("subject").unwrap_or_default(),
        classification: field("classification"),
        priority: None,
        workflow,
        section_id: None,
        head: None,
    };
    let id = state.write(move |c| Ok(efile::file::create(c, &caller.actor(), input)?)).await?;
    Ok(see_other(&format!("/files/{id}")))
}

/// A paragraph of the note sheet as the page shows it.
struct NoteLine {
    id: String,
    seq: i64,
    body: String,
    draft: bool,
    mine: bool,
    by: String,
    when: String,
}

/// A movement as the timeline shows it.
struct Step {
    sent_at: String,
    when: String,
    action: String,
    from: String,
    to: String,
    remarks: Option<String>,
    opened: bool,
}

#[derive(Template)]
#[template(path = "file.html")]
struct FilePage<'a> {
    t: &'a Text,
    me: Option<Me>,
    flash: Option<String>,
    idle_seconds: i64,
    f: efile::file::FileView,
    notes: Vec<NoteLine>,
    holder: String,
    workflow: Option<String>,
    timeline: Vec<Step>,
    csrf: String,
    can_act: bool,
    actions: Vec<(&'static str, &'static str)>,
    posts: Vec<(String, String)>,
    doc_kinds: [&'static str; 4],
}

async fn render_file(
    state: &web::Data<AppState>,
    caller: Caller,
    id: String,
    flash: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let c2 = caller.clone();
    let (f, moves, posts, refs, unopened) = state
        .read(move |c| {
            let actor = c2.actor();
            let (f, unopened) = efile::file::read(c, &actor, &id)?;
            let moves = efile::movements::timeline(c, &actor, &id)?;
            let posts = post_choices(c)?;
            let refs = efile::Refs::load(
                c,
                f.notes.iter().map(|n| Some(n.author_post_id.as_str())),
                f.notes.iter().map(|n| n.author_user_id.as_str()),
            )?;
            Ok((f, moves, posts, refs, unopened))
        })
        .await?;
    if let Some(u) = unopened {
        state.write(move |c| Ok(efile::mark_opened(c, &u)?)).await?;
    }
    let me_id = caller.principal.viewer.user_id.clone();
    let notes = f
        .notes
        .iter()
        .map(|n| NoteLine {
            id: n.id.clone(),
            seq: n.seq,
            body: n.body.clone(),
            draft: n.status == "draft",
            mine: n.author_user_id == me_id,
            by: format!(
                "{}, {}",
                refs.user_ref(&n.author_user_id).name.unwrap_or_default(),
                post_label(&refs.post_ref(Some(&n.author_post_id)))
            ),
            when: short_time(n.signed_at.as_deref().unwrap_or(&n.created_at)),
        })
        .collect();
    let can_act = f.holder_post.as_ref().is_some_and(|p| Some(&p.id) == caller.acting_post_id.as_ref());
    let timeline = moves
        .into_iter()
        .map(|m| Step {
            when: short_time(&m.sent_at),
            sent_at: m.sent_at,
            action: m.action,
            from: post_label(&m.from_post),
            to: post_label(&m.to_post),
            remarks: m.remarks,
            opened: m.opened_at.is_some(),
        })
        .collect();
    let holder = post_label(&f.holder_post);
    let workflow = f.workflow.as_ref().map(|w| match &w.step {
        Some(s) => format!("{} at {s}", w.id),
        None => format!("{} ({})", w.id, w.state),
    });
    let fr = frame(state, &caller, flash).await?;
    let page = FilePage {
        t: &EN,
        csrf: caller.csrf.clone().unwrap_or_default(),
        notes,
        me: fr.me,
        flash: fr.flash,
        idle_seconds: fr.idle_seconds,
        holder,
        workflow,
        timeline,
        can_act,
        actions: vec![
            ("forward", "Forward (mark to a post)"),
            ("return", "Return to where it came from"),
            ("approve", "Approve (workflow decision)"),
            ("refer", "Refer for advice"),
            ("park", "Park"),
            ("close", "Close"),
        ],
        posts,
        doc_kinds: ["enclosure", "receipt", "dfa", "issued_letter"],
        f,
    };
    Ok(html(status, page.render()))
}

/// The file page: note sheet, correspondence, movement, timeline.
async fn file(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let caller = signed_in(&req).await?;
    render_file(&state, caller, path.into_inner(), None, StatusCode::OK).await
}

/// After a failed action: the file again, saying why (or the error page if
/// the file itself cannot be shown).
async fn file_with_error(
    state: &web::Data<AppState>,
    caller: Caller,
    id: String,
    e: PageError,
) -> Result<HttpResponse, PageError> {
    let (message, status) = shown_again(e)?;
    render_file(state, caller, id, Some(message), status).await
}

/// How a failed action on a page is answered: the same page again, saying
/// why (`Ok`), unless the thing itself cannot be shown (`Err`, the error page).
fn shown_again(e: PageError) -> Result<(String, StatusCode), PageError> {
    match e {
        PageError::Shown(status, _, message) if status != StatusCode::NOT_FOUND => Ok((message, status)),
        other => Err(other),
    }
}

/// The note form.
#[derive(Deserialize)]
pub struct NoteForm {
    csrf: Option<String>,
    body: Option<String>,
}

async fn add_note(
    state: web::Data<AppState>,
    path: web::Path<String>,
    posted: Posted<NoteForm>,
) -> Result<HttpResponse, PageError> {
    let Posted { caller, form: f } = posted;
    let id = path.into_inner();
    let (c2, id2) = (caller.clone(), id.clone());
    let body = f.body.unwrap_or_default().replace("\r\n", "\n");
    match state.write(move |c| Ok(efile::notes::add(c, &c2.actor(), &id2, &body)?)).await {
        Ok(n) => Ok(see_other(&format!("/files/{id}#note-{}", n.seq))),
        Err(e) => file_with_error(&state, caller, id, e.into()).await,
    }
}

/// The sign form.
#[derive(Deserialize)]
pub struct SignForm {
    csrf: Option<String>,
    pin: Option<String>,
}

async fn sign_note(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    posted: Posted<SignForm>,
) -> Result<HttpResponse, PageError> {
    let Posted { caller, form: f } = posted;
    let (id, note_id) = path.into_inner();
    let (st, c2, id2) = (state.clone(), caller.clone(), id.clone());
    let pin = f.pin.unwrap_or_default();
    let signed = web::block(move || {
        let (sessions, session, secret) = (&st.signing_sessions, &c2.session_id, c2.signing_secret.as_ref());
        let keep = |key: &crate::signing::keys::ActiveKey, pkcs8: &[u8]| sessions.put(session, secret, key, pkcs8);
        efile::notes::sign(
            &st.db,
            &st.pin_wrap,
            &c2.actor(),
            &id2,
            &note_id,
            crate::signing::keys::Proof::Pin(pin),
            keep,
        )
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;
    match signed {
        Ok(n) => Ok(see_other(&format!("/files/{id}#note-{}", n.seq))),
        Err(e) => file_with_error(&state, caller, id, e.into()).await,
    }
}

/// The movement form.
#[derive(Deserialize)]
pub struct MoveForm {
    csrf: Option<String>,
    action: Option<String>,
    to: Option<String>,
    remarks: Option<String>,
    pin: Option<String>,
}

async fn move_file(
    state: web::Data<AppState>,
    path: web::Path<String>,
    posted: Posted<MoveForm>,
) -> Result<HttpResponse, PageError> {
    let Posted { caller, form: f } = posted;
    let id = path.into_inner();
    // The destination as typed: a post code (from the list), resolved to its id.
    let to_post_id = match destination(&state, f.to).await? {
        Ok(p) => p,
        Err(msg) => {
            let e = PageError::Shown(StatusCode::BAD_REQUEST, String::new(), msg);
            return file_with_error(&state, caller, id, e).await;
        }
    };
    let input = efile::movements::MoveInput {
        action: f.action.unwrap_or_default(),
        to_post_id,
        remarks: f.remarks,
        due_at: None,
        priority: None,
    };
    let pin = f.pin.filter(|p| !p.is_empty());
    let (st, c2, id2) = (state.clone(), caller.clone(), id.clone());
    let moved = web::block(move || {
        let key = || crate::api::signing::mover_key(&st, &c2, pin.as_deref());
        efile::movements::move_signed(&st.db, &c2.actor(), &id2, input, None, key)
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;
    match moved {
        Ok(_) => Ok(see_other("/")),
        Err(e) => file_with_error(&state, caller, id, e.into()).await,
    }
}

/// Attaches a document from the file page's form.
async fn attach(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let caller = signed_in(&req).await?;
    let id = path.into_inner();
    let limit = state.config.upload_limit_bytes;
    crate::api::documents::check_length(&req, limit)?;
    let mut payload = payload.into_inner();
    let multipart = <actix_multipart::Multipart as actix_web::FromRequest>::from_request(&req, &mut payload)
        .await
        .map_err(|_| ApiError::invalid("bad multipart body"))?;
    let store = crate::blobs::BlobStore::new(&state.config.data_dir);
    let upload = crate::api::documents::read_upload(multipart, &store, limit).await?;
    check_csrf(&caller, upload.fields.get("csrf").map(String::as_str))?;
    match crate::api::documents::attach_upload(&state, caller.clone(), id.clone(), upload).await {
        Ok(_) => Ok(see_other(&format!("/files/{id}"))),
        Err(e) => file_with_error(&state, caller, id, e.into()).await,
    }
}

/// The link form.
#[derive(Deserialize)]
pub struct LinkForm {
    csrf: Option<String>,
    file_no: Option<String>,
    kind: Option<String>,
}

/// Links the file to another, named by its number as written.
async fn link(
    state: web::Data<AppState>,
    path: web::Path<String>,
    posted: Posted<LinkForm>,
) -> Result<HttpResponse, PageError> {
    let Posted { caller, form: f } = posted;
    let id = path.into_inner();
    let (c2, id2) = (caller.clone(), id.clone());
    let number = f.file_no.unwrap_or_default().trim().to_owned();
    let kind = f.kind.unwrap_or_else(|| "reference".into());
    let linked = state
        .write(move |c| {
            // Unknown and invisible numbers answer alike: "no such file".
            let other = efile::file::id_by_number(c, &number)?.unwrap_or_default();
            Ok(efile::file::link(c, &c2.actor(), &id2, &other, &kind)?)
        })
        .await;
    match linked {
        Ok(_) => Ok(see_other(&format!("/files/{id}"))),
        Err(e) => file_with_error(&state, caller, id, e.into()).await,
    }
}

/// A line of the sent page.
struct SentLine {
    kind: &'static str,
    id: String,
    number: String,
    subject: String,
    action: String,
    to: String,
    now_with: String,
    sent_at: String,
    when: String,
}

#[derive(Template)]
#[template(path = "sent.html")]
struct SentPage<'a> {
    t: &'a Text,
    me: Option<Me>,
    flash: Option<String>,
    idle_seconds: i64,
    items: Vec<SentLine>,
}

async fn sent(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let caller = signed_in(&req).await?;
    let c2 = caller.clone();
    let (items, _) = state.read(move |c| Ok(efile::inbox::sent(c, &c2.actor(), 0, 200)?)).await?;
    let items = items
        .into_iter()
        .map(|i| SentLine {
            kind: i.item.kind,
            number: i.item.file_no.clone().or(i.item.diary_no.clone()).unwrap_or_default(),
            id: i.item.id,
            subject: i.item.subject,
            action: i.action,
            to: post_label(&i.to_post),
            now_with: post_label(&i.now_with),
            when: short_time(&i.sent_at),
            sent_at: i.sent_at,
        })
        .collect();
    let f = frame(&state, &caller, None).await?;
    let page = SentPage { t: &EN, me: f.me, flash: f.flash, idle_seconds: f.idle_seconds, items };
    Ok(html(StatusCode::OK, page.render()))
}

#[derive(Template)]
#[template(path = "queue.html")]
struct QueuePage<'a> {
    t: &'a Text,
    me: Option<Me>,
    flash: Option<String>,
    idle_seconds: i64,
    items: Vec<crate::workflow::queue::QueueItem>,
    csrf: String,
}

async fn queue_page(
    state: &web::Data<AppState>,
    caller: Caller,
    flash: Option<String>,
) -> Result<HttpResponse, PageError> {
    let c2 = caller.clone();
    let (items, _) = state.read(move |c| Ok(crate::workflow::queue::queue(c, &c2.actor(), 0, 200)?)).await?;
    let f = frame(state, &caller, flash).await?;
    let page = QueuePage {
        t: &EN,
        me: f.me,
        flash: f.flash,
        idle_seconds: f.idle_seconds,
        items,
        csrf: caller.csrf.clone().unwrap_or_default(),
    };
    Ok(html(StatusCode::OK, page.render()))
}

/// The approval queue, with bulk approval.
async fn queue(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let caller = signed_in(&req).await?;
    queue_page(&state, caller, None).await
}

/// Approves the files ticked in the queue with one PIN; says what happened to each.
async fn approve_many(state: web::Data<AppState>, posted: Posted<Pairs>) -> Result<HttpResponse, PageError> {
    // Repeated `file` fields: the form as pairs.
    let Posted { caller, form: Pairs(pairs) } = posted;
    let field = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let files: Vec<String> = pairs.iter().filter(|(n, _)| n == "file").map(|(_, v)| v.clone()).collect();
    if files.is_empty() || files.len() > crate::workflow::queue::BULK_MAX {
        let msg = format!("Select 1 to {} files to approve.", crate::workflow::queue::BULK_MAX);
        return queue_page(&state, caller, Some(msg)).await;
    }
    let (note, pin) = (field("note").filter(|n| !n.trim().is_empty()), field("pin").unwrap_or_default());
    let (st, c2) = (state.clone(), caller.clone());
    let outcome = web::block(move || -> Result<(usize, Vec<String>), ApiError> {
        let opened = crate::api::signing::mover_key(&st, &c2, Some(&pin))?
            .ok_or_else(|| ApiError::forbidden("you have no server-mode signing key to use a PIN with"))?;
        let done = crate::workflow::queue::approve_many(&st.db, &c2.actor(), &files, None, note.as_deref(), &opened);
        let ok = done.iter().filter(|(_, r)| r.is_ok()).count();
        let refused =
            done.into_iter().filter_map(|(_, r)| r.err()).map(|e| ApiError::from(e).detail().message).collect();
        Ok((ok, refused))
    })
    .await
    .map_err(|e| ApiError::internal(&e))?;
    let flash = match outcome {
        Ok((ok, refused)) if refused.is_empty() => format!("Approved {ok} files."),
        Ok((ok, refused)) => format!("Approved {ok} files; {} refused: {}", refused.len(), refused.join("; ")),
        Err(e) => e.detail().message,
    };
    queue_page(&state, caller, Some(flash)).await
}

/// A search hit as the page shows it.
struct HitLine {
    href: String,
    number: String,
    kind: String,
    subject: String,
    snippet: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage<'a> {
    t: &'a Text,
    me: Option<Me>,
    flash: Option<String>,
    idle_seconds: i64,
    q: String,
    kind: String,
    kinds: [&'static str; 4],
    searched: bool,
    error: Option<String>,
    total: usize,
    hits: Vec<HitLine>,
    facets: Vec<(&'static str, Vec<(String, u64)>)>,
}

/// `?q=&kind=` of the search page.
#[derive(Deserialize)]
pub struct SearchForm {
    q: Option<String>,
    kind: Option<String>,
}

/// Search, with facets and highlighted snippets.
async fn search(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Query<SearchForm>,
) -> Result<HttpResponse, PageError> {
    let caller = signed_in(&req).await?;
    let f = form.into_inner();
    let q: String = f.q.unwrap_or_default().trim().chars().take(1000).collect();
    let kind = f.kind.filter(|k| ["file", "note", "document", "receipt"].contains(&k.as_str())).unwrap_or_default();
    let mut page = SearchPage {
        t: &EN,
        me: None,
        flash: None,
        idle_seconds: 0,
        kinds: ["file", "note", "document", "receipt"],
        searched: !q.is_empty(),
        error: None,
        total: 0,
        hits: Vec::new(),
        facets: Vec::new(),
        q: q.clone(),
        kind: kind.clone(),
    };
    if !q.is_empty() {
        let index = state.search.clone().ok_or_else(|| {
            PageError::Shown(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable".into(),
                "Search is unavailable on this server; try again.".into(),
            )
        })?;
        let params = crate::search::query::Params {
            q,
            kind: (!kind.is_empty()).then_some(kind),
            limit: 50,
            ..Default::default()
        };
        let viewer = caller.principal.viewer.clone();
        let found = state
            .read(move |c| {
                let sight = crate::domain::access::Sight::of(&viewer, crate::store::now_micros());
                Ok(crate::search::query::search(&index, c, &sight, &params))
            })
            .await?;
        match found {
            Ok(r) => {
                page.total = r.total;
                page.hits = r
                    .items
                    .into_iter()
                    .map(|h| HitLine {
                        href: match (&h.file_id, &h.receipt_id) {
                            (Some(f), _) => format!("/files/{f}"),
                            _ => "/".into(),
                        },
                        number: h.file_no,
                        kind: h.kind,
                        subject: h.subject,
                        snippet: h.snippet,
                    })
                    .collect();
                let sorted = |m: std::collections::BTreeMap<String, u64>| m.into_iter().collect::<Vec<_>>();
                page.facets = vec![
                    ("Kind", sorted(r.facets.kind)),
                    ("Status", sorted(r.facets.status)),
                    ("Year", sorted(r.facets.year)),
                ];
            }
            Err(crate::search::query::QueryError::Syntax { message, .. }) => page.error = Some(message),
            Err(crate::search::query::QueryError::Index(e)) => return Err(ApiError::unavailable(&e).into()),
        }
    }
    let fr = frame(&state, &caller, None).await?;
    page.me = fr.me;
    page.idle_seconds = fr.idle_seconds;
    Ok(html(StatusCode::OK, page.render()))
}

#[derive(Template)]
#[template(path = "receipt.html")]
struct ReceiptPage<'a> {
    t: &'a Text,
    me: Option<Me>,
    flash: Option<String>,
    idle_seconds: i64,
    r: efile::receipts::ReceiptView,
    holder: String,
    csrf: String,
    can_act: bool,
    posts: Vec<(String, String)>,
    files: Vec<(String, String)>,
    /// Just diarised from outside: the sender's code and slip, shown once.
    ack: Option<crate::api::receipts::Acknowledgement>,
}

/// A destination as typed (a post code, from the list) as a post id:
/// `Ok(None)` when nothing was typed, `Err(message)` when no post has it.
async fn destination(
    state: &web::Data<AppState>,
    typed: Option<String>,
) -> Result<Result<Option<String>, String>, PageError> {
    let Some(code) = typed.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()) else { return Ok(Ok(None)) };
    let c = code.clone();
    let found = state.read(move |conn| Ok(crate::org::post_id_by_code(conn, &c)?)).await?;
    Ok(found.map(Some).ok_or_else(|| format!("No post has the code {code}.")))
}

/// The posts a destination may be typed from: (code, title and holder).
fn post_choices(conn: &mut crate::store::DbConn) -> Result<Vec<(String, String)>, crate::store::StoreError> {
    let page = crate::org::search_posts(conn, None, None, 200, &crate::org::today())?;
    Ok(page
        .items
        .into_iter()
        .map(|p| {
            let who = p.holder.map(|h| format!(" — {}", h.name)).unwrap_or_default();
            (p.code, format!("{}{who}", p.title))
        })
        .collect())
}

async fn render_receipt(
    state: &web::Data<AppState>,
    caller: Caller,
    id: String,
    flash: Option<String>,
    status: StatusCode,
    ack: Option<crate::api::receipts::Acknowledgement>,
) -> Result<HttpResponse, PageError> {
    let c2 = caller.clone();
    let (r, posts, held) = state
        .write(move |c| {
            let actor = c2.actor();
            let r = efile::receipts::view(c, &actor, &id)?;
            let posts = post_choices(c)?;
            let (held, _) = efile::inbox::inbox(c, &actor, efile::inbox::Kind::Files, 0, 200)?;
            Ok((r, posts, held))
        })
        .await?;
    let can_act =
        r.holder_post.as_ref().is_some_and(|p| Some(&p.id) == caller.acting_post_id.as_ref()) && r.file.is_none();
    let files = held
        .into_iter()
        .map(|i| (i.item.id, format!("{} {}", i.item.file_no.unwrap_or_default(), i.item.subject)))
        .collect();
    let fr = frame(state, &caller, flash).await?;
    let page = ReceiptPage {
        t: &EN,
        me: fr.me,
        flash: fr.flash,
        idle_seconds: fr.idle_seconds,
        holder: post_label(&r.holder_post),
        csrf: caller.csrf.clone().unwrap_or_default(),
        can_act,
        posts,
        files,
        r,
        ack,
    };
    Ok(html(status, page.render()))
}

/// A receipt: its facts and scan, marking it on or putting it up in a file.
async fn receipt(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, PageError> {
    let caller = signed_in(&req).await?;
    render_receipt(&state, caller, path.into_inner(), None, StatusCode::OK, None).await
}

/// Diarises a letter from the registry's form (with its scan, if one is chosen).
async fn diarise(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, PageError> {
    let caller = signed_in(&req).await?;
    if !caller.principal.viewer.has_any_role(&[crate::domain::org::Role::Registry]) {
        return Err(PageError::Shown(
            StatusCode::FORBIDDEN,
            "Not allowed".into(),
            "Only the registry of your entity diarises letters.".into(),
        ));
    }
    let mut payload = payload.into_inner();
    let form = crate::api::receipts::read_receipt_form(&state, &req, &mut payload).await?;
    check_csrf(&caller, form.rest.get("csrf").map(String::as_str))?;
    let r = crate::api::receipts::diarise_form(&state, caller.clone(), form).await?;
    match r.tracking {
        // The code is shown this once: the page itself, not a redirect to it.
        Some(ack) => render_receipt(&state, caller, r.receipt.id, None, StatusCode::CREATED, Some(ack)).await,
        None => Ok(see_other(&format!("/receipts/{}", r.receipt.id))),
    }
}

/// The receipt movement form.
#[derive(Deserialize)]
pub struct ReceiptMoveForm {
    csrf: Option<String>,
    action: Option<String>,
    to: Option<String>,
    file_id: Option<String>,
    remarks: Option<String>,
}

async fn move_receipt(
    state: web::Data<AppState>,
    path: web::Path<String>,
    posted: Posted<ReceiptMoveForm>,
) -> Result<HttpResponse, PageError> {
    let Posted { caller, form: f } = posted;
    let id = path.into_inner();
    let to_post_id = match destination(&state, f.to).await? {
        Ok(p) => p,
        Err(msg) => return render_receipt(&state, caller, id, Some(msg), StatusCode::BAD_REQUEST, None).await,
    };
    let put_up_in = f.file_id.clone();
    let input = efile::receipts::ReceiptMove {
        action: f.action.unwrap_or_default(),
        to_post_id,
        file_id: f.file_id,
        remarks: f.remarks,
        due_at: None,
        priority: None,
    };
    let (c2, id2) = (caller.clone(), id.clone());
    match state.write(move |c| Ok(efile::receipts::move_receipt(c, &c2.actor(), &id2, input)?)).await {
        Ok(_) => Ok(see_other(&put_up_in.map_or_else(|| "/".to_owned(), |f| format!("/files/{f}")))),
        Err(e) => {
            let (message, status) = shown_again(e.into())?;
            render_receipt(&state, caller, id, Some(message), status, None).await
        }
    }
}

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysPage<'a> {
    t: &'a Text,
    me: Option<Me>,
    flash: Option<String>,
    idle_seconds: i64,
    error: Option<String>,
    /// (mode, certificate serial) of the key in use.
    key: Option<(String, String)>,
    csrf: String,
    /// How they hear of files marked to them.
    marked: String,
    preferences: [(&'static str, &'static str); 3],
}

async fn render_keys(
    state: &web::Data<AppState>,
    caller: &Caller,
    flash: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Result<HttpResponse, PageError> {
    let user = caller.principal.viewer.user_id.clone();
    let (key, marked) = state
        .read(move |c| {
            let key = match crate::signing::keys::active_key(c, &user) {
                Ok(k) => Some((k.mode, k.serial)),
                // No key yet (or only revoked ones).
                Err(crate::signing::SignError::Forbidden(_)) => None,
                Err(e) => return Err(e.into()),
            };
            Ok((key, crate::mail::preference(c, &user)?))
        })
        .await?;
    let fr = frame(state, caller, flash).await?;
    let page = KeysPage {
        t: &EN,
        me: fr.me,
        flash: fr.flash,
        idle_seconds: fr.idle_seconds,
        error,
        key,
        csrf: caller.csrf.clone().unwrap_or_default(),
        marked,
        preferences: [("immediately", EN.notify_immediately), ("digest", EN.notify_digest), ("off", EN.notify_off)],
    };
    Ok(html(status, page.render()))
}

/// The email-preference form.
#[derive(Deserialize)]
pub struct NotifyForm {
    csrf: Option<String>,
    marked: String,
}

/// Saves how the officer hears of files marked to them.
async fn save_notifications(state: web::Data<AppState>, posted: Posted<NotifyForm>) -> Result<HttpResponse, PageError> {
    let Posted { caller, form } = posted;
    match crate::api::notifications::set_as(&state, caller.user_id().to_owned(), form.marked).await {
        Ok(_) => {
            render_keys(&state, &caller, Some("Your email preference is saved.".into()), None, StatusCode::OK).await
        }
        Err(e) => render_keys(&state, &caller, None, Some(e.detail().message), e.code().status()).await,
    }
}

/// `?u=&t=` of an unsubscribe link.
#[derive(Deserialize)]
pub struct Unsubscribe {
    u: String,
    t: String,
}

#[derive(Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage<'a> {
    t: &'a Text,
    me: Option<Me>,
    flash: Option<String>,
    idle_seconds: i64,
    action: Option<String>,
    message: &'a str,
}

fn unsubscribe_page(status: StatusCode, action: Option<String>, message: &str) -> HttpResponse {
    let page = UnsubscribePage { t: &EN, me: None, flash: None, idle_seconds: 0, action, message };
    html(status, page.render())
}

/// The link in a digest: asks before it changes anything (mail scanners follow links).
async fn unsubscribe_ask(state: web::Data<AppState>, q: web::Query<Unsubscribe>) -> HttpResponse {
    if !crate::mail::unsubscribe_token_ok(&state.ca, &q.u, &q.t) {
        return unsubscribe_page(StatusCode::NOT_FOUND, None, EN.unsubscribe_bad);
    }
    let action = format!(
        "/notifications/unsubscribe?u={}&t={}",
        askama::filters::urlencode(&q.u).map(|u| u.to_string()).unwrap_or_default(),
        askama::filters::urlencode(&q.t).map(|t| t.to_string()).unwrap_or_default()
    );
    unsubscribe_page(StatusCode::OK, Some(action), EN.unsubscribe_ask)
}

/// One-click unsubscribe (RFC 8058): the signed link itself is the proof,
/// so no sign-in and no anti-CSRF token are needed; it only turns mail off.
async fn unsubscribe(state: web::Data<AppState>, q: web::Query<Unsubscribe>) -> Result<HttpResponse, PageError> {
    if !crate::mail::unsubscribe_token_ok(&state.ca, &q.u, &q.t) {
        return Ok(unsubscribe_page(StatusCode::NOT_FOUND, None, EN.unsubscribe_bad));
    }
    let user = q.u.clone();
    state.write(move |c| Ok(crate::mail::set_preference(c, &user, "off")?)).await?;
    Ok(unsubscribe_page(StatusCode::OK, None, EN.unsubscribe_done))
}

/// My key: the certificate in use, and enrolling a new key.
async fn keys_page(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, PageError> {
    let caller = signed_in(&req).await?;
    render_keys(&state, &caller, None, None, StatusCode::OK).await
}

/// The enrolment form.
#[derive(Deserialize)]
pub struct EnrolForm {
    csrf: Option<String>,
    password: Option<String>,
    pin: Option<String>,
    pin2: Option<String>,
}

/// Enrols a new server-mode key under a new PIN, after the password again.
async fn enrol(state: web::Data<AppState>, posted: Posted<EnrolForm>) -> Result<HttpResponse, PageError> {
    let Posted { caller, form: f } = posted;
    let (pin, pin2) = (f.pin.unwrap_or_default(), f.pin2.unwrap_or_default());
    if pin != pin2 {
        return render_keys(&state, &caller, None, Some("The two PINs differ.".into()), StatusCode::BAD_REQUEST).await;
    }
    let result = async {
        crate::api::signing::reauthenticate(&state, caller.user_id(), f.password.unwrap_or_default()).await?;
        let wrap = state.pin_wrap.clone();
        let key = web::block(move || crate::signing::keys::new_server_key(&wrap, &pin))
            .await
            .map_err(|e| ApiError::internal(&e))??;
        crate::api::signing::enrol_key(&state, caller.user_id(), key).await
    }
    .await;
    match result {
        Ok((serial, _)) => {
            let msg = format!("Your new key is enrolled; its certificate's serial is {serial}.");
            render_keys(&state, &caller, Some(msg), None, StatusCode::OK).await
        }
        Err(e) => {
            let status = e.code().status();
            render_keys(&state, &caller, None, Some(e.detail().message), status).await
        }
    }
}

/// The stylesheet, script, icon and Urdu font, built into the binary.
async fn asset(path: web::Path<String>) -> HttpResponse {
    let (body, ctype): (&'static [u8], &str) = match path.as_str() {
        "daftar.css" => (include_bytes!("../../assets/web/daftar.css"), "text/css; charset=utf-8"),
        "daftar.js" => (include_bytes!("../../assets/web/daftar.js"), "text/javascript; charset=utf-8"),
        "favicon.svg" => (include_bytes!("../../assets/web/favicon.svg"), "image/svg+xml"),
        "NotoNaskhArabic-Regular.woff2" => {
            (include_bytes!("../../assets/fonts/NotoNaskhArabic-Regular.woff2"), "font/woff2")
        }
        _ => return HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body("not found"),
    };
    HttpResponse::Ok().content_type(ctype).insert_header(("Cache-Control", "public, max-age=3600")).body(body)
}
