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
        let from = config.smtp.from.as_deref().unwrap_or("Daftar <daftar@localhost>");
        let from: Mailbox =
            from.parse().map_err(|_| format!("invalid configuration: smtp.from `{from}` is not an address"))?;
        let transport = match config.smtp.url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) => Some(
                SmtpTransport::from_url(url)
                    .map_err(|_| "invalid configuration: smtp.url is not an smtp:// or smtps:// URL".to_owned())?
                    .timeout(Some(Duration::from_secs(20)))
                    .build(),
            ),
            None => None,
        };
        let base_url = config
            .base_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", config.listen))
            .trim_end_matches('/')
            .to_owned();
        Ok(Mailer { transport, from, base_url, organisation: config.organisation.clone() })
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
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&e.subject)
            .message_id(Some(e.message_id.clone()))
            .multipart(MultiPart::alternative_plain_html(e.text.clone(), e.html.clone()))
            .map_err(|err| format!("the email could not be built: {err}"))?;
        t.send(&msg).map(|_| ()).map_err(|err| format!("SMTP: {err}"))
    }
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
            subject: match shown_subject {
                Some(s) => format!("{what}: {number} — {s}"),
                None => format!("{what}: {number}"),
            },
            text: NoticeText { v: &v }.render().unwrap_or_default(),
            html: NoticeHtml { v: &v }.render().unwrap_or_default(),
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
        let notice = Notice { key: movement_id.to_owned(), kind, id: &id, post: &to_post, headline, line };
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
        let notice = Notice { key, kind: "file", id: &r.file_id, post: &post, headline: "is past its deadline", line };
        notify(c, mailer, notice)
    })
    .map_err(|e| e.to_string())
}
