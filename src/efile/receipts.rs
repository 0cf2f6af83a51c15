//! Receipts (dak): diarised by the registry, moved like files, and put up in
//! a file, which attaches them to its correspondence.

use diesel::prelude::*;
use serde_json::json;

use super::movements::{Step, last_move, move_error, record};
use super::{
    Actor, EfileError, ReceiptRow, actionable_file, check_act, invalid, visible_receipt, visible_receipt_subject,
};
use crate::domain::efile::{Action, DocumentKind, FileStatus, MoveState, Priority, ReceiptMode, diary_no, plan_move};
use crate::domain::org::{Role, parse_date, parse_text};
use crate::jobs;
use crate::ledger;
use crate::store::schema::{documents, files, org_units, posts, receipts};
use crate::store::{DbConn, new_id, now_micros, rfc3339};

fn actionable_receipt(conn: &mut DbConn, actor: &Actor, id: &str) -> Result<ReceiptRow, EfileError> {
    let (r, subject) = visible_receipt_subject(conn, actor.viewer, id)?;
    check_act(actor, &subject, "receipt")?;
    Ok(r)
}

/// `POST /receipts`.
pub struct NewReceipt {
    /// What the letter is about.
    pub subject: String,
    /// Who sent it.
    pub sender: String,
    /// The sender's reference number.
    pub letter_no: Option<String>,
    /// The letter's date, `YYYY-MM-DD`.
    pub letter_date: Option<String>,
    /// How it came.
    pub mode: String,
    /// Default `unclassified`.
    pub classification: Option<String>,
    /// Default `routine`.
    pub priority: Option<String>,
    /// Whether it came from outside the government (default yes): such a
    /// letter, unless classified above `restricted`, gets a tracking code.
    pub external: Option<bool>,
}

/// A receipt just diarised: its id, and the tracking code its sender is to
/// be given (shown this once, never stored in the clear).
pub struct Diarised {
    /// The receipt's id.
    pub id: String,
    /// The tracking code, if the letter may be tracked.
    pub tracking_code: Option<String>,
}

/// Diarises a receipt at the registry post; with `scan`, it is electronic.
pub fn diarise(
    conn: &mut DbConn,
    actor: &Actor,
    input: NewReceipt,
    scan: Option<(&str, &super::documents::Stored)>,
) -> Result<Diarised, EfileError> {
    let post = actor.post()?.to_owned();
    let subject = parse_text(&input.subject, 500).map_err(|e| invalid("subject", e))?;
    let sender = parse_text(&input.sender, 300).map_err(|e| invalid("sender", e))?;
    let letter_no =
        input.letter_no.as_deref().map(|l| parse_text(l, 100)).transpose().map_err(|e| invalid("letter_no", e))?;
    let letter_date =
        input.letter_date.as_deref().map(parse_date).transpose().map_err(|e| invalid("letter_date", e))?;
    let mode: ReceiptMode = input.mode.parse().map_err(|e| invalid("mode", e))?;
    let classification = super::parse_classification(actor, input.classification.as_deref())?;
    let priority = super::parse_priority(input.priority.as_deref())?;
    let entity: Option<String> = posts::table
        .inner_join(org_units::table)
        .filter(posts::id.eq(&post))
        .select(org_units::entity_id)
        .first(conn)?;
    let entity = entity.ok_or_else(|| EfileError::Forbidden("your post belongs to no entity".into()))?;
    if !actor.viewer.has_role(Role::Registry, Some(&entity)) {
        return Err(EfileError::Forbidden("only the registry of your entity diarises receipts".into()));
    }
    let code: String = org_units::table.find(&entity).select(org_units::code).first(conn)?;
    let now = now_micros();
    let year = crate::clock::year_at(now);
    let serial = super::next_serial(conn, &format!("diary:{entity}"), year)?;
    let number = diary_no(&code, serial, year);
    let id = new_id();
    diesel::insert_into(receipts::table)
        .values((
            receipts::id.eq(&id),
            receipts::diary_no.eq(&number),
            receipts::entity_id.eq(&entity),
            receipts::subject.eq(&subject),
            receipts::sender.eq(&sender),
            receipts::letter_no.eq(&letter_no),
            receipts::letter_date.eq(letter_date.map(|d| d.to_string())),
            receipts::mode.eq(mode.as_str()),
            receipts::form.eq(if scan.is_some() { "electronic" } else { "physical" }),
            receipts::classification.eq(classification.as_str()),
            receipts::priority.eq(priority.as_str()),
            receipts::urgency.eq(priority as i32),
            receipts::status.eq("open"),
            receipts::created_by_post.eq(&post),
            receipts::created_by_user.eq(actor.user()),
            receipts::holder_post_id.eq(&post),
            receipts::held_since.eq(now),
            receipts::created_at.eq(now),
        ))
        .execute(conn)?;
    super::first_stay(conn, &id, "receipt", &post, now)?;
    ledger::append(
        conn,
        ledger::Event {
            kind: "receipt_diarised",
            actor_user: Some(actor.user()),
            actor_post: Some(&post),
            file_id: None,
            receipt_id: Some(&id),
            payload: json!({"diary_no": number, "subject": subject, "sender": sender, "mode": mode.as_str(),
                            "classification": classification.as_str()}),
        },
    )?;
    if let Some((title, blob)) = scan {
        super::documents::insert(conn, actor, None, Some(&id), title, DocumentKind::Scan, blob)?;
    }
    let tracking_code = if input.external.unwrap_or(true) && crate::domain::tracking::trackable(classification) {
        Some(crate::tracking::issue(conn, &id, &number)?)
    } else {
        None
    };
    Ok(Diarised { id, tracking_code })
}

/// A receipt as `GET /receipts/{id}` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReceiptView {
    /// Its id.
    pub id: String,
    /// Its diary number.
    pub diary_no: String,
    /// Its subject.
    pub subject: String,
    /// Who sent it.
    pub sender: String,
    /// The sender's letter number.
    pub letter_no: Option<String>,
    /// The letter's date.
    pub letter_date: Option<String>,
    /// How it came (`post`, `email`, …).
    pub mode: String,
    /// `electronic` or `physical`.
    pub form: String,
    /// Its classification.
    pub classification: String,
    /// Its priority.
    pub priority: String,
    /// `open` or `put_up`.
    pub status: String,
    /// The post that holds it now.
    pub holder_post: Option<super::PostRef>,
    /// Who diarised it.
    pub diarised_by: super::file::CreatedBy,
    /// The file it was put up in, if the reader may see that file.
    pub file: Option<FileNumber>,
    /// Its scans.
    pub documents: Vec<super::documents::DocumentView>,
    /// Changes with every change.
    pub version: i64,
    /// When it was diarised.
    pub created_at: String,
}

/// A file named by id and number.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileNumber {
    /// The file's id.
    pub id: String,
    /// Its number.
    pub file_no: String,
}

/// The receipt as `GET /receipts/{id}` shows it.
pub fn view(conn: &mut DbConn, actor: &Actor, id: &str) -> Result<ReceiptView, EfileError> {
    let r = visible_receipt(conn, actor.viewer, id)?;
    if let Some(u) = r.unopened_by(actor) {
        super::mark_opened(conn, &u)?;
    }
    let documents = super::documents::scans_of_receipt(conn, &r.id)?;
    // The file it was put up in, only to those who may see that file.
    let file = match &r.file_id {
        Some(f) => match super::visible_file(conn, actor.viewer, f) {
            Ok((file, _)) => Some(FileNumber { id: file.id, file_no: file.file_no }),
            Err(EfileError::NotFound) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    let refs = super::Refs::load(
        conn,
        [Some(r.holder_post_id.as_str()), Some(r.created_by_post.as_str())],
        [r.created_by_user.as_str()],
    )?;
    Ok(ReceiptView {
        holder_post: refs.post_ref(Some(&r.holder_post_id)),
        diarised_by: super::file::CreatedBy {
            post: refs.post_ref(Some(&r.created_by_post)),
            user: refs.user_ref(&r.created_by_user),
        },
        file,
        documents,
        version: r.version,
        created_at: rfc3339(r.created_at),
        id: r.id,
        diary_no: r.diary_no,
        subject: r.subject,
        sender: r.sender,
        letter_no: r.letter_no,
        letter_date: r.letter_date,
        mode: r.mode,
        form: r.form,
        classification: r.classification,
        priority: r.priority,
        status: r.status,
    })
}

/// `POST /receipts/{id}/movements`.
pub struct ReceiptMove {
    /// `forward`, `return`, `recall` or `put_up`.
    pub action: String,
    /// Destination of a forward.
    pub to_post_id: Option<String>,
    /// The file to put it up in.
    pub file_id: Option<String>,
    /// Remarks.
    pub remarks: Option<String>,
    /// RFC 3339 due date (forward, return).
    pub due_at: Option<String>,
    /// New priority of the receipt.
    pub priority: Option<String>,
}

/// Moves a receipt, or puts it up in a file.
pub fn move_receipt(conn: &mut DbConn, actor: &Actor, id: &str, input: ReceiptMove) -> Result<ReceiptView, EfileError> {
    let action: Action = input.action.parse().map_err(|e| invalid("action", e))?;
    let remarks = super::check_remarks(input.remarks.as_deref())?;
    let remarks = remarks.as_deref();
    let (due_at, priority) = super::movements::due_and_priority(input.due_at.as_deref(), input.priority.as_deref())?;
    let post = actor.post()?.to_owned();
    let r = match action {
        Action::Recall => visible_receipt(conn, actor.viewer, id)?,
        _ => actionable_receipt(conn, actor, id)?,
    };
    if r.status != "open" {
        return Err(EfileError::Conflict("the receipt is already put up in a file".into()));
    }
    let now = now_micros();
    if action == Action::PutUp {
        let file_id = input.file_id.as_deref().ok_or_else(|| invalid("file_id", "is required to put up a receipt"))?;
        let (file, _) = actionable_file(conn, actor, file_id)?;
        if file.status != "open" {
            return Err(EfileError::Conflict("the file is not open".into()));
        }
        // Whoever may see the file sees what is put up in it: never above its classification.
        let receipt_class = r.clearance()?;
        if receipt_class > file.clearance()? {
            return Err(EfileError::Conflict(format!(
                "file_id: the receipt is {receipt_class}; it can only be put up in a file classified {receipt_class} or above"
            )));
        }
        let done = diesel::update(receipts::table.find(id))
            .filter(receipts::version.eq(r.version))
            .set((
                receipts::status.eq("put_up"),
                receipts::file_id.eq(file_id),
                receipts::next_move_seq.eq(r.next_move_seq + 1),
                receipts::version.eq(r.version + 1),
            ))
            .execute(conn)?;
        let bumped = diesel::update(files::table.find(file_id))
            .filter(files::version.eq(file.version))
            .set((
                files::next_move_seq.eq(file.next_move_seq + 1),
                files::version.eq(file.version + 1),
                files::updated_at.eq(now),
            ))
            .execute(conn)?;
        if done != 1 || bumped != 1 {
            return Err(EfileError::Stale);
        }
        let note = format!("{} put up in {}", r.diary_no, file.file_no);
        let remarks = Some(remarks.unwrap_or(&note));
        let step = |file_id, receipt_id, seq| Step {
            file_id,
            receipt_id,
            seq,
            action,
            to_post: None,
            remarks,
            due_at: None,
            priority: None,
        };
        record(conn, actor, &new_id(), step(None, Some(id), r.next_move_seq))?;
        record(conn, actor, &new_id(), step(Some(file_id), None, file.next_move_seq))?;
        // The scan joins the file's correspondence (same stored original).
        let scans: Vec<(String, String, i64, String, Option<String>)> = documents::table
            .filter(documents::receipt_id.eq(id))
            .filter(documents::file_id.is_null())
            .select((documents::title, documents::sha256, documents::size, documents::mime, documents::filename))
            .load(conn)?;
        for (title, sha, size, mime, filename) in scans {
            diesel::insert_into(documents::table)
                .values((
                    documents::id.eq(new_id()),
                    documents::file_id.eq(file_id),
                    documents::receipt_id.eq(id),
                    documents::title.eq(format!("{} — {title}", r.diary_no)),
                    documents::kind.eq(DocumentKind::Receipt.as_str()),
                    documents::sha256.eq(sha),
                    documents::size.eq(size),
                    documents::mime.eq(mime),
                    documents::filename.eq(filename),
                    documents::added_by_user.eq(actor.user()),
                    documents::added_by_post.eq(&post),
                    documents::created_at.eq(now),
                ))
                .execute(conn)?;
        }
        ledger::append(
            conn,
            ledger::Event {
                kind: "receipt_put_up",
                actor_user: Some(actor.user()),
                actor_post: Some(&post),
                file_id: Some(file_id),
                receipt_id: Some(id),
                payload: json!({"diary_no": r.diary_no, "file_no": file.file_no}),
            },
        )?;
        return view(conn, actor, id);
    }
    if !matches!(action, Action::Forward | Action::Return | Action::Recall) {
        return Err(invalid("action", "a receipt can be forwarded, returned, recalled or put up"));
    }
    let last = last_move(r.last_from_post.as_deref(), r.last_opened_at);
    let state = MoveState {
        status: FileStatus::Open,
        holder_post: r.holder_post_id.clone(),
        mover_in_owning_section: false,
        last,
        referred_by: None,
        on_workflow: false,
    };
    let plan = plan_move(&state, action, &post, input.to_post_id.as_deref()).map_err(move_error)?;
    if let Some(to) = plan.to_post.as_deref().filter(|t| *t != post) {
        super::movements::check_destination(conn, to, r.clearance()?)?;
    }
    let new_priority = match priority {
        Some(p) => p,
        None => crate::store::stored::<Priority>(&r.priority)?,
    };
    let movement = new_id();
    let updated = diesel::update(receipts::table.find(id))
        .filter(receipts::version.eq(r.version))
        // As for a file: an opening that committed since the read stops a recall.
        .filter(receipts::last_opened_at.is_null().or((action != Action::Recall).into_sql::<diesel::sql_types::Bool>()))
        .set((
            receipts::holder_post_id.eq(&plan.holder_post),
            receipts::last_movement_id.eq(&movement),
            receipts::last_from_post.eq(&post),
            receipts::last_opened_at.eq(None::<i64>),
            receipts::held_since.eq(now),
            receipts::due_at.eq(due_at),
            receipts::priority.eq(new_priority.as_str()),
            receipts::urgency.eq(new_priority as i32),
            receipts::next_move_seq.eq(r.next_move_seq + 1),
            receipts::version.eq(r.version + 1),
        ))
        .execute(conn)?;
    if updated != 1 {
        return Err(EfileError::Stale);
    }
    let step = Step {
        file_id: None,
        receipt_id: Some(id),
        seq: r.next_move_seq,
        action,
        to_post: plan.to_post.as_deref(),
        remarks,
        due_at,
        priority,
    };
    record(conn, actor, &movement, step)?;
    jobs::enqueue(conn, &jobs::Job::movement_mail(&movement))?;
    view(conn, actor, id)
}
