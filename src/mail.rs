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

/// What a movement's email says.
struct MovementVars<'a> {
    what: &'a str,
    number: &'a str,
    subject: Option<&'a str>,
    desk: &'a str,
    from: &'a str,
    when: &'a str,
    link: &'a str,
    deployment: &'a str,
}

#[derive(Template)]
#[template(path = "mail/movement.txt")]
struct MovementText<'a> {
    v: &'a MovementVars<'a>,
}

#[derive(Template)]
#[template(path = "mail/movement.html")]
struct MovementHtml<'a> {
    v: &'a MovementVars<'a>,
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
        type Row = (Option<String>, Option<String>, Option<String>, Option<String>, i64);
        let row: Option<Row> = movements::table
            .find(movement_id)
            .select((
                movements::file_id,
                movements::receipt_id,
                movements::to_post_id,
                movements::from_post_id,
                movements::sent_at,
            ))
            .first(c)
            .optional()?;
        let Some((file_id, receipt_id, Some(to_post), from_post, sent_at)) = row else { return Ok(()) };
        let (kind, id, number, subject, class) = match (&file_id, &receipt_id) {
            (Some(f), _) => {
                let (no, subject, class): (String, String, String) =
                    files::table.find(f).select((files::file_no, files::subject, files::classification)).first(c)?;
                ("file", f.clone(), no, subject, class)
            }
            (None, Some(r)) => {
                let (no, subject, class): (String, String, String) = receipts::table
                    .find(r)
                    .select((receipts::diary_no, receipts::subject, receipts::classification))
                    .first(c)?;
                ("receipt", r.clone(), no, subject, class)
            }
            _ => return Ok(()),
        };
        let class: Clearance = crate::store::stored(&class)?;
        let desk: String = posts::table.find(&to_post).select(posts::code).first(c)?;
        let from: String = match &from_post {
            Some(p) => posts::table.find(p).select(posts::title).first(c)?,
            None => "Daftar".into(),
        };
        let what = if class > Clearance::Restricted {
            format!("A {class} {kind} has been marked to you")
        } else {
            format!("A {kind} has been marked to you")
        };
        let shown_subject = (class <= Clearance::Restricted).then_some(subject.as_str());
        let link = format!("{}/{}s/{id}", mailer.base_url, kind);
        let when = crate::clock::civil_minute(sent_at);
        for (user_id, to) in holders_with_email(c, &to_post)? {
            // Only someone who may see it now is told of it.
            let Some(principal) = crate::auth::principal::load(c, &user_id)? else { continue };
            let sees = match kind {
                "file" => crate::efile::visible_file(c, &principal.viewer, &id).is_ok(),
                _ => crate::efile::visible_receipt(c, &principal.viewer, &id).is_ok(),
            };
            if !sees {
                continue;
            }
            let v = MovementVars {
                what: &what,
                number: &number,
                subject: shown_subject,
                desk: &desk,
                from: &from,
                when: &when,
                link: &link,
                deployment: &mailer.organisation,
            };
            let text = MovementText { v: &v }.render().unwrap_or_default();
            let html = MovementHtml { v: &v }.render().unwrap_or_default();
            let subject_line = match shown_subject {
                Some(s) => format!("{what}: {number} — {s}"),
                None => format!("{what}: {number}"),
            };
            let email = Email {
                message_id: format!("<{movement_id}.{user_id}@daftar>"),
                user_id: user_id.clone(),
                to,
                subject: subject_line,
                text,
                html,
            };
            jobs::enqueue_once(c, &format!("mail-{movement_id}-{user_id}"), &Job::Email(email), MAX_ATTEMPTS)?;
        }
        Ok(())
    })
    .map_err(|e| e.to_string())
}
