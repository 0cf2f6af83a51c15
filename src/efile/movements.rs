//! Moving files: forward, return, refer, recall, park, unpark, close, reopen.
//! Exactly one of several simultaneous moves of a file wins: the update is
//! conditional on the version that was checked.

use diesel::prelude::*;
use serde_json::json;

use super::notes::NoteView;
use super::{Actor, EfileError, FileRow, PostRef, Refs, UserRef, check_remarks, invalid, visible_file};
use crate::domain::access::Subject;
use crate::domain::efile::{Action, FileStatus, LastMove, MoveError, MoveState, Priority, plan_move};
use crate::domain::org::Clearance;
use crate::jobs;
use crate::ledger;
use crate::signing::Signature;
use crate::signing::pin::Opened;
use crate::store::prepared::Sql;
use crate::store::schema::{movements as mv, post_assignments, posts, users};
use crate::store::{Db, DbConn, new_id, now_micros, rfc3339};

/// `POST /files/{id}/movements`.
pub struct MoveInput {
    /// The action.
    pub action: String,
    /// Destination for forward and refer.
    pub to_post_id: Option<String>,
    /// Remarks for the receiver.
    pub remarks: Option<String>,
    /// RFC 3339 due date.
    pub due_at: Option<String>,
    /// New priority of the file.
    pub priority: Option<String>,
}

/// Parses an RFC 3339 time into stored microseconds.
pub fn parse_time(field: &'static str, s: &str) -> Result<i64, EfileError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_micros())
        .map_err(|_| invalid(field, "must be an RFC 3339 time, e.g. 2026-12-01T17:00:00Z"))
}

/// A movement's optional due date (RFC 3339) and new priority, parsed.
pub fn due_and_priority(
    due_at: Option<&str>,
    priority: Option<&str>,
) -> Result<(Option<i64>, Option<Priority>), EfileError> {
    let due_at = due_at.map(|d| parse_time("due_at", d)).transpose()?;
    let priority = priority.map(str::parse).transpose().map_err(|e| invalid("priority", e))?;
    Ok((due_at, priority))
}

/// Checks that a destination post exists and that someone cleared for the
/// file holds it (a vacant desk may still receive files).
pub fn check_destination(conn: &mut DbConn, to_post: &str, classification: Clearance) -> Result<(), EfileError> {
    let today = crate::org::today();
    // One query: the post (no row: no such post) with each cleared holder today.
    let rows: Vec<Option<String>> = posts::table
        .left_join(
            post_assignments::table.on(post_assignments::post_id
                .eq(posts::id)
                .and(post_assignments::starts_on.le(today.clone()))
                .and(post_assignments::ends_on.is_null().or(post_assignments::ends_on.ge(today.clone())))),
        )
        .left_join(users::table.on(users::id.eq(post_assignments::user_id).and(users::disabled.eq(false))))
        .filter(posts::id.eq(to_post))
        .select(users::clearance.nullable())
        .load(conn)?;
    // The post named is a thing looked up, like a path's id: unknown is 404.
    if rows.is_empty() {
        return Err(EfileError::NotFound);
    }
    let holders: Vec<String> = rows.into_iter().flatten().collect();
    if !holders.is_empty() && holders.iter().all(|c| c.parse::<Clearance>().is_ok_and(|c| c < classification)) {
        return Err(EfileError::Conflict(format!("to_post_id: nobody at that post is cleared for {classification}")));
    }
    Ok(())
}

/// What brought something to its holder, as its row keeps it: the post that
/// sent it (none while with its creator) and when the holder opened it.
pub fn last_move(from_post: Option<&str>, opened_at: Option<i64>) -> Option<LastMove> {
    from_post.map(|f| LastMove { from_post: f.to_owned(), opened: opened_at.is_some() })
}

/// One step to record, of a file or of a receipt.
pub struct Step<'a> {
    /// The file moved (or the file a receipt was put up in).
    pub file_id: Option<&'a str>,
    /// The receipt moved.
    pub receipt_id: Option<&'a str>,
    /// Its number in the file's (or receipt's) history.
    pub seq: i64,
    /// What was done.
    pub action: Action,
    /// Where it went.
    pub to_post: Option<&'a str>,
    /// Remarks.
    pub remarks: Option<&'a str>,
    /// Due date (µs).
    pub due_at: Option<i64>,
    /// New priority.
    pub priority: Option<Priority>,
}

/// Records movement `id` by the actor and its ledger event; returns when it
/// was sent.
pub fn record(conn: &mut DbConn, actor: &Actor, id: &str, step: Step<'_>) -> Result<i64, EfileError> {
    let post = actor.post()?.to_owned();
    let sent_at = now_micros();
    diesel::insert_into(mv::table)
        .values((
            mv::id.eq(id),
            mv::file_id.eq(step.file_id),
            mv::receipt_id.eq(step.receipt_id),
            mv::seq.eq(step.seq),
            mv::action.eq(step.action.as_str()),
            mv::from_post_id.eq(&post),
            mv::to_post_id.eq(step.to_post),
            mv::remarks.eq(step.remarks),
            mv::due_at.eq(step.due_at),
            mv::priority.eq(step.priority.map(|p| p.as_str())),
            mv::sent_at.eq(sent_at),
            mv::by_user_id.eq(actor.user()),
            mv::by_post_id.eq(&post),
        ))
        .execute(conn)?;
    if let Some(to) = step.to_post {
        if let Some(file) = step.file_id {
            super::next_stay(conn, file, "file", to, sent_at)?;
        }
        if let Some(receipt) = step.receipt_id {
            super::next_stay(conn, receipt, "receipt", to, sent_at)?;
        }
    }
    ledger::append(
        conn,
        ledger::Event {
            kind: "movement",
            actor_user: Some(actor.user()),
            actor_post: Some(&post),
            file_id: step.file_id,
            receipt_id: step.receipt_id,
            payload: json!({"movement_id": id, "seq": step.seq, "action": step.action.as_str(), "from_post_id": post,
                            "to_post_id": step.to_post, "remarks": step.remarks, "due_at": step.due_at,
                            "priority": step.priority.map(|p| p.as_str()), "sent_at": sent_at}),
        },
    )?;
    Ok(sent_at)
}

/// Maps the rules' refusal to the e-file's errors.
pub fn move_error(e: MoveError) -> EfileError {
    match e {
        MoveError::NotHolder => EfileError::NotHolder("you do not hold this file at your acting post".into()),
        MoveError::Conflict(m) => EfileError::Conflict(m),
        MoveError::Invalid(f, m) => EfileError::Invalid(f, m),
    }
}

/// Moves a file; returns the movement as the timeline shows it.
pub fn move_file(
    conn: &mut DbConn,
    actor: &Actor,
    file_id: &str,
    input: MoveInput,
) -> Result<MovementView, EfileError> {
    move_loaded(conn, actor, file_id, None, input)
}

/// [`move_file`], given the file and its access subject when the same
/// transaction has already loaded and checked them (as writing the note
/// sent with the move does), so that they are not read again.
fn move_loaded(
    conn: &mut DbConn,
    actor: &Actor,
    file_id: &str,
    loaded: Option<(FileRow, Subject)>,
    input: MoveInput,
) -> Result<MovementView, EfileError> {
    let action: Action = input.action.parse().map_err(|e| invalid("action", e))?;
    if action == Action::Approve && input.to_post_id.is_some() {
        return Err(invalid("to_post_id", "an approval goes where the workflow says; leave this out"));
    }
    let remarks = check_remarks(input.remarks.as_deref())?;
    let (due_at, priority) = due_and_priority(input.due_at.as_deref(), input.priority.as_deref())?;
    let post = actor.post()?.to_owned();
    let (file, subject) = match loaded {
        Some(loaded) => loaded,
        None => visible_file(conn, actor.viewer, file_id)?,
    };
    let now = now_micros();
    // Acting at a post the user does not hold now is refused before anything else.
    if !actor.viewer.holds(&post, now) {
        return Err(EfileError::NotHolder("you do not hold your acting post".into()));
    }
    let mut last = last_move(file.last_from_post.as_deref(), file.last_opened_at);
    // A receiver who has worked on the file has opened it, whether or not they
    // viewed it first: checked only for a recall, to keep their work plain inserts.
    if action == Action::Recall
        && let Some(l) = last.as_mut().filter(|l| !l.opened)
    {
        l.opened = super::notes::worked_on_since(conn, file_id, &file.holder_post_id, file.held_since)?;
    }
    // Closing and reopening belong to the file's own section: the one it was
    // opened in, and the creator's section if that differs.
    let mut in_section = actor.viewer.held.iter().any(|h| h.post_id == post && h.org_unit_id == file.section_id);
    if !in_section && matches!(action, Action::Close | Action::Reopen) {
        let creators: Option<String> =
            posts::table.find(&file.created_by_post).select(posts::org_unit_id).first(conn).optional()?;
        in_section = actor.viewer.held.iter().any(|h| h.post_id == post && Some(&h.org_unit_id) == creators.as_ref());
    }
    // Approvals, and returns by the post a step waits on, go where the
    // file's workflow says; every other move goes where the mover says.
    let route = match action {
        Action::Approve | Action::Return => super::route::route_of(conn, file_id)?,
        _ => None,
    };
    let state = MoveState {
        status: crate::store::stored::<FileStatus>(&file.status)?,
        holder_post: file.holder_post_id.clone(),
        mover_in_owning_section: in_section,
        last,
        referred_by: file.referred_by_post.clone(),
        on_workflow: route.is_some(),
    };
    // The rules first (holder, open), so a refusal names the real reason.
    if matches!(action, Action::Approve | Action::Return) {
        plan_move(&state, action, &post, Some(&post)).map_err(move_error)?;
    }
    let decision = super::route::decide(conn, &file, route.as_ref(), action, &post)?;
    let target = match (&decision, action) {
        (Some(d), _) => Some(d.to_post.as_str()),
        (None, Action::Return) => None,
        (None, _) => input.to_post_id.as_deref(),
    };
    let plan = plan_move(&state, action, &post, target).map_err(move_error)?;
    if matches!(action, Action::Forward | Action::Refer | Action::Return | Action::Approve | Action::Close)
        && super::notes::has_drafts(conn, file_id, actor.user())?
    {
        return Err(EfileError::UnsignedNotes);
    }
    // Steps were routed to cleared holders; the originator, at the end or
    // on a return, is checked as any destination is.
    let routed_to_step = decision.as_ref().is_some_and(|d| matches!(d.arrives, super::route::Position::Step(_)));
    if let Some(to) = &plan.to_post
        && to != &post
        && !routed_to_step
    {
        check_destination(conn, to, subject.classification)?;
    }
    let moved = plan.holder_post != file.holder_post_id || action == Action::Reopen;
    let new_priority = match priority {
        Some(p) => p,
        None => crate::store::stored::<Priority>(&file.priority)?,
    };
    let movement_id = new_id();
    // One conditional update: exactly one of simultaneous moves wins.
    let mut update = Sql::new();
    update
        .push("UPDATE files SET holder_post_id = ")
        .text(&plan.holder_post)
        .push(", status = ")
        .text(plan.status.as_str())
        .push(", referred_by_post = ")
        .opt_text(plan.referred_by.as_deref())
        .push(", priority = ")
        .text(new_priority.as_str())
        .push(", urgency = ")
        .int4(new_priority as i32)
        .push(", next_move_seq = ")
        .int(file.next_move_seq + 1)
        .push(", version = ")
        .int(file.version + 1)
        .push(", updated_at = ")
        .int(now);
    if moved {
        update.push(", last_movement_id = ").text(&movement_id).push(", held_since = ").int(now);
        update.push(", last_from_post = ").text(&post).push(", last_opened_at = NULL");
        update.push(", due_at = ").opt_int(due_at);
    }
    update.push(" WHERE id = ").text(file_id).push(" AND version = ").int(file.version);
    if action == Action::Recall {
        // Opening a file does not change its version: a first opening that
        // commits after this transaction read the file must still stop the
        // recall (on PostgreSQL the two can cross).
        update.push(" AND last_opened_at IS NULL");
    }
    let updated = update.statement().execute(conn)?;
    if updated != 1 {
        return Err(EfileError::Stale);
    }
    let step = Step {
        file_id: Some(file_id),
        receipt_id: None,
        seq: file.next_move_seq,
        action,
        to_post: plan.to_post.as_deref(),
        remarks: remarks.as_deref(),
        due_at,
        priority,
    };
    let sent_at = record(conn, actor, &movement_id, step)?;
    if let (Some(d), Some(r)) = (&decision, &route) {
        super::route::arrive(conn, actor, &file, r, d, now)?;
    }
    if moved {
        jobs::enqueue(conn, &jobs::Job::movement_mail(&movement_id))?;
    }
    let row: MoveRow = (
        movement_id,
        file.next_move_seq,
        action.as_str().to_owned(),
        Some(post),
        plan.to_post,
        remarks,
        due_at,
        priority.map(|p| p.as_str().to_owned()),
        sent_at,
        None,
        actor.user().to_owned(),
    );
    let refs = Refs::load(conn, [row.3.as_deref(), row.4.as_deref()], [actor.user()])?;
    Ok(render(&refs, row, None))
}

type MoveRow = (
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    i64,
    Option<i64>,
    String,
);

/// A movement as the timeline shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MovementView {
    /// Its id.
    pub id: String,
    /// The mover's signature, if they signed it.
    pub signature: Option<Signature>,
    /// Its number in the file's history.
    pub seq: i64,
    /// What was done.
    pub action: String,
    /// From which post.
    pub from_post: Option<PostRef>,
    /// To which post (none for park, close, …).
    pub to_post: Option<PostRef>,
    /// Remarks for the receiver.
    pub remarks: Option<String>,
    /// Due date set with it.
    pub due_at: Option<String>,
    /// Priority set with it.
    pub priority: Option<String>,
    /// When (RFC 3339).
    pub sent_at: String,
    /// When the receiver opened it.
    pub opened_at: Option<String>,
    /// Who moved it.
    pub by_user: UserRef,
    /// The note added and signed with it (noting and marking in one step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<NoteView>,
}

fn render(refs: &Refs, row: MoveRow, signature: Option<Signature>) -> MovementView {
    let (id, seq, action, from, to, remarks, due, priority, sent, opened, by_user) = row;
    MovementView {
        id,
        signature,
        seq,
        action,
        from_post: refs.post_ref(from.as_deref()),
        to_post: refs.post_ref(to.as_deref()),
        remarks,
        due_at: due.map(rfc3339),
        priority,
        sent_at: rfc3339(sent),
        opened_at: opened.map(rfc3339),
        by_user: refs.user_ref(&by_user),
        note: None,
    }
}

fn select_move() -> (
    mv::id,
    mv::seq,
    mv::action,
    mv::from_post_id,
    mv::to_post_id,
    mv::remarks,
    mv::due_at,
    mv::priority,
    mv::sent_at,
    mv::opened_at,
    mv::by_user_id,
) {
    (
        mv::id,
        mv::seq,
        mv::action,
        mv::from_post_id,
        mv::to_post_id,
        mv::remarks,
        mv::due_at,
        mv::priority,
        mv::sent_at,
        mv::opened_at,
        mv::by_user_id,
    )
}

/// The file's movements, oldest first: where it has been, and since when.
pub fn timeline(conn: &mut DbConn, actor: &Actor, file_id: &str) -> Result<Vec<MovementView>, EfileError> {
    let (file, _) = visible_file(conn, actor.viewer, file_id)?;
    let rows: Vec<MoveRow> =
        mv::table.filter(mv::file_id.eq(&file.id)).order(mv::seq).select(select_move()).load(conn)?;
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let mut signatures = crate::signing::movements::movement_signatures_of(conn, &ids)?;
    let refs = Refs::load(
        conn,
        rows.iter().flat_map(|r| [r.3.as_deref(), r.4.as_deref()]),
        rows.iter().map(|r| r.10.as_str()),
    )?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let signature = signatures.remove(&r.0);
            render(&refs, r, signature)
        })
        .collect())
}

/// Moves a file, signed by the mover when their key is at hand, and with a
/// note added and signed first when one is given (the use case of
/// `POST /files/{id}/movements`): all of it in one transaction, or nothing.
/// A note needs the key opened by a PIN given with the request: it is never
/// added unsigned this way, and a signing session (which signs moves without
/// asking again) never signs a note. `key` finds the mover's key (with a
/// PIN: slow, and counted), and is asked only once the request has passed
/// the checks that need no key.
pub fn move_signed(
    db: &Db,
    actor: &Actor,
    file_id: &str,
    input: MoveInput,
    note: Option<&str>,
    key: impl FnOnce() -> Result<Option<Opened>, crate::signing::SignError>,
) -> Result<MovementView, EfileError> {
    if let Some(body) = note {
        // Checked before any PIN is tried; named as the route names it.
        super::notes::check_body(body).map_err(|e| match e {
            EfileError::Invalid(_, m) => EfileError::Invalid("note", m),
            other => other,
        })?;
    }
    let key = key()?;
    if note.is_some() && !key.as_ref().is_some_and(|k| k.by_pin) {
        return Err(EfileError::Forbidden("a note sent with a movement is signed: send your pin".into()));
    }
    db.write_tx(|c| {
        ledger::batched(c, |c| {
            let mut loaded = None;
            let note = match (note, &key) {
                (Some(body), Some(Opened { key, open, .. })) => {
                    let (mut file, subject) = super::actionable_file(c, actor, file_id)?;
                    let draft = super::notes::insert_draft(c, actor, &mut file, body)?;
                    let signature = crate::signing::notes::sign_note(c, key, Some(open), None, &draft.id)?;
                    let signed = super::notes::mark_signed(c, actor, file_id, &draft.id, signature)?;
                    // Signing and marking leave the file row as it is.
                    loaded = Some((file, subject));
                    Some(signed)
                }
                _ => None,
            };
            let mut m = move_loaded(c, actor, file_id, loaded, input)?;
            if let Some(Opened { key, open, .. }) = &key {
                m.signature = Some(crate::signing::movements::sign_movement(c, key, open, &m.id)?);
            }
            m.note = note;
            Ok(m)
        })
    })
}

/// A movement the actor made on a visible file and has not signed yet.
fn own_unsigned_move(conn: &mut DbConn, actor: &Actor, file_id: &str, movement_id: &str) -> Result<(), EfileError> {
    use crate::store::schema::movement_signatures as ms;
    visible_file(conn, actor.viewer, file_id)?;
    let by: Option<String> =
        mv::table.find(movement_id).filter(mv::file_id.eq(file_id)).select(mv::by_user_id).first(conn).optional()?;
    match by {
        Some(by) if by == actor.user() => {}
        _ => return Err(EfileError::NotFound),
    }
    if ms::table.find(movement_id).count().get_result::<i64>(conn)? > 0 {
        return Err(EfileError::Conflict("the movement is already signed".into()));
    }
    Ok(())
}

/// The bytes a client-mode key signs for a movement the actor made.
pub fn signing_bytes(
    conn: &mut DbConn,
    actor: &Actor,
    file_id: &str,
    movement_id: &str,
) -> Result<Vec<u8>, EfileError> {
    own_unsigned_move(conn, actor, file_id, movement_id)?;
    let form = crate::signing::forms::MovementForm::V2;
    Ok(crate::signing::forms::movement_canonical(conn, movement_id, form)?)
}

/// Signs a movement the actor made with their client-mode key's signature.
pub fn sign_by_client(
    conn: &mut DbConn,
    actor: &Actor,
    file_id: &str,
    movement_id: &str,
    signature: &[u8],
) -> Result<Signature, EfileError> {
    own_unsigned_move(conn, actor, file_id, movement_id)?;
    let key = crate::signing::keys::active_key(conn, actor.user())?;
    Ok(crate::signing::movements::sign_movement_by_client(conn, &key, movement_id, signature)?)
}
