//! Email notifications over SMTP (lettre, rustls with ring). Each event's
//! mail job is enqueued in the event's own transaction; a worker later finds
//! the recipients (the holders of the post when the mail is sent, each
//! checked through the one sight), composes one email each from the
//! templates in `assets/templates/mail/`, and enqueues them once (a job id
//! per event and recipient); each is then sent, and retried with backoff for
//! about a day, under a `Message-ID` that never changes between attempts.
//! No email carries note text or documents; above `restricted` not even the
//! file's subject. With `smtp.url` unset, mail is recorded (the jobs run
//! and are logged) but not sent.

use std::time::Duration;

use askama::Template;
use diesel::prelude::*;
use lettre::message::{Mailbox, MultiPart};
use lettre::{Message, SmtpTransport, Transport};

use crate::config::Config;
use crate::domain::org::Clearance;
use crate::jobs::{self, Email, Job};
use crate::store::schema::{files, movements, post_assignments, posts, receipts, users};
use crate::store::{Db, DbConn};

/// How many times an email is tried: with the backoff capped at an hour,
/// about a day.
pub const MAX_ATTEMPTS: i32 = 32;

/// The deployment's outgoing mail.
pub struct Mailer {
    transport: Option<SmtpTransport>,
    from: Mailbox,
    base_url: String,
    organisation: String,
}

impl Mailer {
    /// From `smtp.url` (`smtp://host:port`, `smtp://…?tls=required` for
    /// STARTTLS, `smtps://user:pass@host` for implicit TLS), `smtp.from` and
    /// `base_url`.
    pub fn from_config(config: &Config) -> Result<Mailer, String> {
        let from = config.smtp.from.as_deref().unwrap_or("daftar@localhost");
        let mut from: Mailbox =
            from.parse().map_err(|_| format!("invalid configuration: smtp.from `{from}` is not an address"))?;
        // The From line names the deployment unless smtp.from names itself.
        if from.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
            from.name = Some(config.organisation.clone());
        }
        let transport = match config.smtp.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => {
                let mut builder = SmtpTransport::from_url(url)
                    .map_err(|_| "invalid configuration: smtp.url is not an smtp:// or smtps:// URL".to_owned())?
                    .timeout(Some(Duration::from_secs(20)));
                if let Some(ca) = &config.smtp.ca {
                    builder = builder.tls(tls_trusting(url, ca)?);
                }
                Some(builder.build())
            }
            None => None,
        };
        let base_url = config.public_base_url();
        Ok(Mailer { transport, from, base_url, organisation: config.organisation.clone() })
    }

    /// The base URL links point into.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Whether mail is actually sent.
    pub fn sends(&self) -> bool {
        self.transport.is_some()
    }

    /// Sends one email; an error is retried later.
    pub fn send(&self, e: &Email) -> Result<(), String> {
        let Some(t) = &self.transport else {
            tracing::info!(message_id = %e.message_id, "mail recorded, not sent (smtp.url is not set)");
            return Ok(());
        };
        let to: Mailbox = e.to.parse().map_err(|_| "the recipient's address is not valid".to_owned())?;
        let mut msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&e.subject)
            .message_id(Some(e.message_id.clone()));
        if let Some(u) = &e.unsubscribe {
            use lettre::message::header::{HeaderName, HeaderValue};
            msg = msg
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{u}>")))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        let msg = msg
            .multipart(MultiPart::alternative_plain_html(e.text.clone(), e.html.clone()))
            .map_err(|err| format!("the email could not be built: {err}"))?;
        t.send(&msg).map(|_| ()).map_err(|err| format!("SMTP: {err}"))
    }
}

/// The TLS of `url` (implicit for `smtps://`, STARTTLS required with
/// `?tls=required`, else opportunistic), trusting also the CA certificates
/// in the PEM file `ca` (a relay with a certificate of a private CA).
fn tls_trusting(url: &str, ca: &std::path::Path) -> Result<lettre::transport::smtp::client::Tls, String> {
    use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
    let pem = std::fs::read(ca).map_err(|e| format!("invalid configuration: smtp.ca {}: {e}", ca.display()))?;
    let cert = Certificate::from_pem(&pem)
        .map_err(|_| format!("invalid configuration: smtp.ca {} is not a PEM certificate", ca.display()))?;
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host_port.rsplit_once(':').map_or(host_port, |(h, _)| h).trim_matches(['[', ']']);
    let params = TlsParameters::builder(host.to_owned())
        .add_root_certificate(cert)
        .build_rustls()
        .map_err(|e| format!("invalid configuration: smtp.ca: {e}"))?;
    Ok(if url.starts_with("smtps://") {
        Tls::Wrapper(params)
    } else if url.contains("tls=required") {
        Tls::Required(params)
    } else {
        Tls::Opportunistic(params)
    })
}

/// How a user hears of files and receipts marked to their post.
pub const PREFERENCES: [&str; 3] = ["immediately", "digest", "off"];

/// A user's preference (`immediately` when they never chose).
pub fn preference(conn: &mut DbConn, user_id: &str) -> QueryResult<String> {
    use crate::store::schema::notification_prefs as np;
    Ok(np::table.find(user_id).select(np::marked).first(conn).optional()?.unwrap_or_else(|| PREFERENCES[0].into()))
}

/// Sets a user's preference; `Err` names the allowed values.
pub fn set_preference(conn: &mut DbConn, user_id: &str, marked: &str) -> Result<(), crate::store::StoreError> {
    use crate::store::schema::notification_prefs as np;
    let now = crate::store::now_micros();
    let updated =
        diesel::update(np::table.find(user_id)).set((np::marked.eq(marked), np::updated_at.eq(now))).execute(conn)?;
    if updated == 0 {
        diesel::insert_into(np::table)
            .values((np::user_id.eq(user_id), np::marked.eq(marked), np::updated_at.eq(now)))
            .execute(conn)?;
    }
    Ok(())
}

/// What a notice says.
struct NoticeVars<'a> {
    what: &'a str,
    number: &'a str,
    subject: Option<&'a str>,
    line: &'a str,
    link: &'a str,
    deployment: &'a str,
}

#[derive(Template)]
#[template(path = "mail/notice.txt")]
struct NoticeText<'a> {
    v: &'a NoticeVars<'a>,
}

#[derive(Template)]
#[template(path = "mail/notice.html")]
struct NoticeHtml<'a> {
    v: &'a NoticeVars<'a>,
}

/// One notice about a file or receipt, to the holders of a post.
struct Notice<'a> {
    /// Names the event: with the recipient, the email's job id and Message-ID.
    key: String,
    /// `file` or `receipt`.
    kind: &'static str,
    /// Its id.
    id: &'a str,
    /// The post whose holders are told.
    post: &'a str,
    /// What happened, after "A file" (`has been marked to you`).
    headline: &'a str,
    /// A sentence of detail.
    line: String,
    /// Whether the user's preference (immediately, digest, off) applies.
    preferred: bool,
}

/// Composes a notice for each holder of its post who may see the object,
/// and enqueues each email once.
fn notify(c: &mut DbConn, mailer: &Mailer, n: Notice<'_>) -> Result<(), crate::store::StoreError> {
    let (number, subject, class): (String, String, String) = match n.kind {
        "file" => files::table.find(n.id).select((files::file_no, files::subject, files::classification)).first(c)?,
        _ => receipts::table
            .find(n.id)
            .select((receipts::diary_no, receipts::subject, receipts::classification))
            .first(c)?,
    };
    let class: Clearance = crate::store::stored(&class)?;
    let what = if class > Clearance::Restricted {
        format!("A {class} {} {}", n.kind, n.headline)
    } else {
        format!("A {} {}", n.kind, n.headline)
    };
    let shown_subject = (class <= Clearance::Restricted).then_some(subject.as_str());
    let link = format!("{}/{}s/{}", mailer.base_url, n.kind, n.id);
    for (user_id, to) in holders_with_email(c, n.post)? {
        // Only someone who may see it now is told of it.
        let Some(principal) = crate::auth::principal::load(c, &user_id)? else { continue };
        let sees = match n.kind {
            "file" => crate::efile::visible_file(c, &principal.viewer, n.id).is_ok(),
            _ => crate::efile::visible_receipt(c, &principal.viewer, n.id).is_ok(),
        };
        if !sees {
            continue;
        }
        let how = if n.preferred { preference(c, &user_id)? } else { PREFERENCES[0].to_owned() };
        let headline = match shown_subject {
            Some(s) => format!("{what}: {number} — {s}"),
            None => format!("{what}: {number}"),
        };
        match how.as_str() {
            "off" => continue,
            "digest" => {
                use crate::store::schema::mail_digest_items as d;
                let row = (
                    d::id.eq(format!("{}-{user_id}", n.key)),
                    d::user_id.eq(&user_id),
                    d::line.eq(&headline),
                    d::link.eq(&link),
                    d::created_at.eq(crate::store::now_micros()),
                );
                crate::on_backend!(c, |b| diesel::insert_into(d::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(b))?;
                continue;
            }
            _ => {}
        }
        let v = NoticeVars {
            what: &what,
            number: &number,
            subject: shown_subject,
            line: &n.line,
            link: &link,
            deployment: &mailer.organisation,
        };
        let email = Email {
            message_id: format!("<{}.{user_id}@daftar>", n.key),
            user_id: user_id.clone(),
            to,
            subject: headline,
            text: NoticeText { v: &v }.render().unwrap_or_default(),
            html: NoticeHtml { v: &v }.render().unwrap_or_default(),
            unsubscribe: None,
        };
        jobs::enqueue_once(c, &format!("mail-{}-{user_id}", n.key), &Job::Email(email), MAX_ATTEMPTS)?;
    }
    Ok(())
}

/// The holders of `post` today with an address: (user id, email).
fn holders_with_email(conn: &mut DbConn, post: &str) -> QueryResult<Vec<(String, String)>> {
    let today = crate::org::today();
    let rows: Vec<(String, Option<String>)> = post_assignments::table
        .inner_join(users::table)
        .filter(post_assignments::post_id.eq(post))
        .filter(post_assignments::starts_on.le(&today))
        .filter(post_assignments::ends_on.is_null().or(post_assignments::ends_on.ge(&today)))
        .filter(users::disabled.eq(false))
        .select((users::id, users::email))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(id, email)| email.filter(|e| !e.trim().is_empty()).map(|e| (id, e))).collect())
}

/// Finds who a movement's mail goes to and enqueues one email to each
/// (once, however often this runs).
pub fn fan_out_movement(db: &Db, mailer: &Mailer, movement_id: &str) -> Result<(), String> {
    db.write_tx(|c| -> Result<(), crate::store::StoreError> {
        type Row = (Option<String>, Option<String>, Option<String>, Option<String>, i64, String);
        let row: Option<Row> = movements::table
            .find(movement_id)
            .select((
                movements::file_id,
                movements::receipt_id,
                movements::to_post_id,
                movements::from_post_id,
                movements::sent_at,
                movements::action,
            ))
            .first(c)
            .optional()?;
        let Some((file_id, receipt_id, Some(to_post), from_post, sent_at, action)) = row else { return Ok(()) };
        if action == "recall" {
            return recalled(c, mailer, movement_id, file_id, receipt_id, from_post, sent_at);
        }
        let (kind, id) = match (&file_id, &receipt_id) {
            (Some(f), _) => ("file", f.clone()),
            (None, Some(r)) => ("receipt", r.clone()),
            _ => return Ok(()),
        };
        let desk: String = posts::table.find(&to_post).select(posts::code).first(c)?;
        let from: String = match &from_post {
            Some(p) => posts::table.find(p).select(posts::title).first(c)?,
            None => "Daftar".into(),
        };
        let when = crate::clock::civil_minute(sent_at);
        let (headline, line) = if action == "escalate" {
            (
                "has been escalated to you",
                format!(
                    "Escalated to your desk ({desk}) by the SLA clock on {when}: its step was not decided in time."
                ),
            )
        } else {
            ("has been marked to you", format!("Marked to your desk ({desk}) by {from} on {when}."))
        };
        let notice =
            Notice { key: movement_id.to_owned(), kind, id: &id, post: &to_post, headline, line, preferred: true };
        notify(c, mailer, notice)
    })
    .map_err(|e| e.to_string())
}

/// Reminds the desk a step (or a concurrence) waits on that it is overdue.
pub fn fan_out_reminder(db: &Db, mailer: &Mailer, r: &jobs::SlaReminder) -> Result<(), String> {
    use crate::store::schema::{concurrences, sla_breaches};
    db.write_tx(|c| -> Result<(), crate::store::StoreError> {
        let (post, key, line) = match (&r.concurrence_id, r.entry) {
            (Some(cid), _) => {
                let found: Option<(String, String, i64)> = concurrences::table
                    .find(cid)
                    .select((concurrences::post_id, concurrences::entity_code, concurrences::due_at))
                    .first(c)
                    .optional()?;
                let Some((post, entity, due)) = found else { return Ok(()) };
                let line = format!("The concurrence of {entity} was due on {}.", crate::clock::civil_minute(due));
                (post, format!("conc-{cid}"), line)
            }
            (None, Some(entry)) => {
                let found: Option<(String, i64)> = sla_breaches::table
                    .find((&r.file_id, entry))
                    .select((sla_breaches::post_id, sla_breaches::due_at))
                    .first(c)
                    .optional()?;
                let Some((post, due)) = found else { return Ok(()) };
                let line = format!("The decision asked of your desk was due on {}.", crate::clock::civil_minute(due));
                (post, format!("sla-{}-{entry}", r.file_id), line)
            }
            (None, None) => return Ok(()),
        };
        let notice = Notice {
            key,
            kind: "file",
            id: &r.file_id,
            post: &post,
            headline: "is past its deadline",
            line,
            preferred: false,
        };
        notify(c, mailer, notice)
    })
    .map_err(|e| e.to_string())
}

/// Tells the desk a file or receipt was recalled from (the receiver of the
/// movement before the recall) that its sender took it back.
fn recalled(
    c: &mut DbConn,
    mailer: &Mailer,
    movement_id: &str,
    file_id: Option<String>,
    receipt_id: Option<String>,
    by_post: Option<String>,
    sent_at: i64,
) -> Result<(), crate::store::StoreError> {
    let seq: i64 = movements::table.find(movement_id).select(movements::seq).first(c)?;
    let mut before = movements::table.filter(movements::seq.eq(seq - 1)).into_boxed();
    let (kind, id) = match (file_id, receipt_id) {
        (Some(f), _) => {
            before = before.filter(movements::file_id.eq(f.clone()));
            ("file", f)
        }
        (None, Some(r)) => {
            before = before.filter(movements::receipt_id.eq(r.clone()));
            ("receipt", r)
        }
        _ => return Ok(()),
    };
    let Some(Some(from_desk)) = before.select(movements::to_post_id).first::<Option<String>>(c).optional()? else {
        return Ok(());
    };
    let by: String = match &by_post {
        Some(p) => posts::table.find(p).select(posts::title).first(c)?,
        None => "its sender".into(),
    };
    let line = format!("Recalled by {by} on {}: it has left your desk.", crate::clock::civil_minute(sent_at));
    let notice = Notice {
        key: movement_id.to_owned(),
        kind,
        id: &id,
        post: &from_desk,
        headline: "has been recalled from you",
        line,
        preferred: false,
    };
    notify(c, mailer, notice)
}

/// What an account notice says.
struct AccountVars<'a> {
    headline: &'a str,
    line: &'a str,
    link: &'a str,
    link_label: &'a str,
    deployment: &'a str,
}

#[derive(Template)]
#[template(path = "mail/account.txt")]
struct AccountText<'a> {
    v: &'a AccountVars<'a>,
}

#[derive(Template)]
#[template(path = "mail/account.html")]
struct AccountHtml<'a> {
    v: &'a AccountVars<'a>,
}

/// Finds who a notice goes to and enqueues one email each (once).
pub fn fan_out_notice(db: &Db, mailer: &Mailer, n: &jobs::Notice) -> Result<(), String> {
    use crate::store::schema::org_units;
    db.write_tx(|c| -> Result<(), crate::store::StoreError> {
        let recipients: Vec<(String, Option<String>)> = match (&n.user_id, &n.entity_id) {
            (Some(u), _) => {
                users::table.find(u).filter(users::disabled.eq(false)).select((users::id, users::email)).load(c)?
            }
            (None, Some(e)) => {
                let today = crate::org::today();
                post_assignments::table
                    .inner_join(users::table)
                    .inner_join(posts::table.inner_join(org_units::table))
                    .filter(org_units::entity_id.eq(e))
                    .filter(post_assignments::starts_on.le(&today))
                    .filter(post_assignments::ends_on.is_null().or(post_assignments::ends_on.ge(&today)))
                    .filter(users::disabled.eq(false))
                    .select((users::id, users::email))
                    .distinct()
                    .load(c)?
            }
            (None, None) => Vec::new(),
        };
        let link = format!("{}{}", mailer.base_url, n.path);
        for (user_id, email) in recipients {
            let Some(to) = email.filter(|e| !e.trim().is_empty()) else { continue };
            let v = AccountVars {
                headline: &n.headline,
                line: &n.line,
                link: &link,
                link_label: "Open Daftar",
                deployment: &mailer.organisation,
            };
            let email = Email {
                message_id: format!("<{}.{user_id}@daftar>", n.key),
                user_id: user_id.clone(),
                to,
                subject: n.headline.clone(),
                text: AccountText { v: &v }.render().unwrap_or_default(),
                html: AccountHtml { v: &v }.render().unwrap_or_default(),
                unsubscribe: None,
            };
            jobs::enqueue_once(c, &format!("mail-{}-{user_id}", n.key), &Job::Email(email), MAX_ATTEMPTS)?;
        }
        Ok(())
    })
    .map_err(|e| e.to_string())
}

/// The statement an unsubscribe token signs.
fn unsubscribe_statement(user_id: &str) -> Vec<u8> {
    format!("daftar.unsubscribe.v1:{user_id}").into_bytes()
}

/// A token that lets `user_id` stop their digests from a link, without
/// signing in: the deployment key's signature over their id.
pub fn unsubscribe_token(ca: &crate::pki::Ca, user_id: &str) -> Result<String, String> {
    use base64::Engine;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ca.sign(&unsubscribe_statement(user_id))?))
}

/// Whether `token` is `user_id`'s unsubscribe token.
pub fn unsubscribe_token_ok(ca: &crate::pki::Ca, user_id: &str, token: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim())
        .is_ok_and(|sig| crate::pki::verify_p256(&ca.public_key_der(), &unsubscribe_statement(user_id), &sig))
}

/// What a digest lists.
struct DigestVars<'a> {
    items: Vec<(String, String)>,
    unsubscribe: &'a str,
    deployment: &'a str,
}

#[derive(Template)]
#[template(path = "mail/digest.txt")]
struct DigestText<'a> {
    v: &'a DigestVars<'a>,
}

#[derive(Template)]
#[template(path = "mail/digest.html")]
struct DigestHtml<'a> {
    v: &'a DigestVars<'a>,
}

/// The most items one digest lists (the rest wait for the next).
const DIGEST_MAX: i64 = 200;

/// Sends each user with items waiting one digest email of them, with a
/// one-click `List-Unsubscribe`; returns how many digests were enqueued.
/// Items and their email change together, so a digest is never lost or
/// sent twice.
pub fn send_digests(db: &Db, mailer: &Mailer, ca: &crate::pki::Ca) -> Result<usize, String> {
    use crate::store::schema::mail_digest_items as d;
    let users_waiting: Vec<String> = {
        let mut c = db.reader().map_err(|e| e.to_string())?;
        d::table.filter(d::sent_at.is_null()).select(d::user_id).distinct().load(&mut c).map_err(|e| e.to_string())?
    };
    let mut sent = 0;
    for user_id in users_waiting {
        let unsubscribe =
            format!("{}/notifications/unsubscribe?u={user_id}&t={}", mailer.base_url, unsubscribe_token(ca, &user_id)?);
        let done = db
            .write_tx(|c| -> Result<bool, crate::store::StoreError> {
                let items: Vec<(String, String, String)> = d::table
                    .filter(d::user_id.eq(&user_id))
                    .filter(d::sent_at.is_null())
                    .order((d::created_at, d::id))
                    .limit(DIGEST_MAX)
                    .select((d::id, d::line, d::link))
                    .load(c)?;
                let Some(first) = items.first().map(|i| i.0.clone()) else { return Ok(false) };
                let ids: Vec<&String> = items.iter().map(|i| &i.0).collect();
                diesel::update(d::table.filter(d::id.eq_any(&ids)))
                    .set(d::sent_at.eq(crate::store::now_micros()))
                    .execute(c)?;
                let email: Option<Option<String>> = users::table
                    .find(&user_id)
                    .filter(users::disabled.eq(false))
                    .select(users::email)
                    .first(c)
                    .optional()?;
                let Some(to) = email.flatten().filter(|e| !e.trim().is_empty()) else { return Ok(false) };
                let v = DigestVars {
                    items: items.into_iter().map(|(_, line, link)| (line, link)).collect(),
                    unsubscribe: &unsubscribe,
                    deployment: &mailer.organisation,
                };
                // Named by its first item: the same digest keeps one id and Message-ID.
                let key = format!("digest.{first}");
                let email = Email {
                    message_id: format!("<{key}@daftar>"),
                    user_id: user_id.clone(),
                    to,
                    subject: format!("Daftar: {} files and letters marked to you", v.items.len()),
                    text: DigestText { v: &v }.render().unwrap_or_default(),
                    html: DigestHtml { v: &v }.render().unwrap_or_default(),
                    unsubscribe: Some(unsubscribe.clone()),
                };
                jobs::enqueue_once(c, &format!("mail-{key}"), &Job::Email(email), MAX_ATTEMPTS)?;
                Ok(true)
            })
            .map_err(|e| e.to_string())?;
        sent += usize::from(done);
    }
    Ok(sent)
}

/// Tells the desks holding files and receipts due tomorrow (civil time)
/// that they fall due; once per object and day, however often it runs.
/// Returns how many were told now.
pub fn due_tomorrow(db: &Db, mailer: &Mailer) -> Result<usize, String> {
    let tomorrow = crate::clock::today().succ_opt().ok_or("the calendar ends")?;
    let (start, end) =
        (crate::clock::day_start(tomorrow), crate::clock::day_start(tomorrow.succ_opt().ok_or("the calendar ends")?));
    let due: Vec<(&'static str, String, String)> = {
        let mut c = db.reader().map_err(|e| e.to_string())?;
        let f: Vec<(String, String)> = files::table
            .filter(files::due_at.ge(start).and(files::due_at.lt(end)))
            .filter(files::status.ne("closed"))
            .select((files::id, files::holder_post_id))
            .load(&mut c)
            .map_err(|e| e.to_string())?;
        let r: Vec<(String, String)> = receipts::table
            .filter(receipts::due_at.ge(start).and(receipts::due_at.lt(end)))
            .filter(receipts::status.ne("put_up"))
            .select((receipts::id, receipts::holder_post_id))
            .load(&mut c)
            .map_err(|e| e.to_string())?;
        f.into_iter().map(|(i, p)| ("file", i, p)).chain(r.into_iter().map(|(i, p)| ("receipt", i, p))).collect()
    };
    let mut told = 0;
    for (kind, id, post) in &due {
        let key = format!("due-{id}-{tomorrow}");
        told += db
            .write_tx(|c| -> Result<usize, crate::store::StoreError> {
                use crate::store::schema::mail_once;
                let row = (mail_once::key.eq(&key), mail_once::at.eq(crate::store::now_micros()));
                let first = crate::on_backend!(c, |b| diesel::insert_into(mail_once::table)
                    .values(row)
                    .on_conflict_do_nothing()
                    .execute(b))?;
                if first == 0 {
                    return Ok(0);
                }
                let notice = Notice {
                    key: key.clone(),
                    kind,
                    id,
                    post,
                    headline: "is due tomorrow",
                    line: format!("It is due on {}.", tomorrow.format("%-d %B %Y")),
                    preferred: false,
                };
                notify(c, mailer, notice)?;
                Ok(1)
            })
            .map_err(|e| e.to_string())?;
    }
    Ok(told)
}
