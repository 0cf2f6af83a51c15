//! Four eyes on privilege (SPEC section 3, Organisation): a change that
//! widens what someone may see (a clearance above unclassified, a role
//! beyond `officer`, a desk), made by an administrator through the API,
//! waits as a request until a second authorised administrator, neither the
//! requester nor the beneficiary, approves it. The operator at the command
//! line (`daftar user`, `daftar org import`, `daftar demo`) acts at once.
//! Submitting, approving and rejecting are each ledgered.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::admin::{self, Actor, AdminError, AssignmentInput, UserInput};
use crate::domain::org::{Clearance, Role};
use crate::store::schema::{admin_requests, org_units, posts};
use crate::store::{DbConn, new_id, now_micros, rfc3339};

/// A change an administrator asks for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// Create a user.
    User {
        /// The user, as given.
        input: UserInput,
        /// The argon2id hash of their initial password.
        password_hash: String,
    },
    /// Assign a user to a post.
    Assignment {
        /// The post.
        post_id: String,
        /// The assignment, as given.
        input: AssignmentInput,
    },
}

impl Change {
    fn kind(&self) -> &'static str {
        match self {
            Change::User { .. } => "user",
            Change::Assignment { .. } => "assignment",
        }
    }

    /// Whether it widens what someone may see.
    fn widens_sight(&self) -> bool {
        match self {
            Change::User { input, .. } => {
                input.clearance.parse::<Clearance>().is_ok_and(|c| c > Clearance::Unclassified)
                    || input.roles.iter().any(|r| r.split(':').next().unwrap_or("").trim() != Role::Officer.as_str())
            }
            Change::Assignment { .. } => true,
        }
    }

    fn beneficiary(&self) -> Option<&str> {
        match self {
            Change::User { .. } => None,
            Change::Assignment { input, .. } => Some(&input.user_id),
        }
    }

    fn summary(&self) -> String {
        match self {
            Change::User { input, .. } => format!(
                "create user {} ({}), clearance {}, roles [{}]",
                input.username,
                input.name,
                input.clearance,
                input.roles.join(", ")
            ),
            Change::Assignment { post_id, input } => {
                format!(
                    "assign user {} to post {} ({}) from {}",
                    input.user_id,
                    post_id,
                    input.kind,
                    input.starts_on.as_deref().unwrap_or("today")
                )
            }
        }
    }

    /// Makes the change, as `actor`; the new row's id.
    fn apply(&self, conn: &mut DbConn, actor: Actor) -> Result<String, AdminError> {
        match self {
            Change::User { input, password_hash } => admin::create_user(conn, actor, input, password_hash),
            Change::Assignment { post_id, input } => admin::add_assignment(conn, actor, post_id, input.clone()),
        }
    }

    /// The entity whose administrators decide it (none: a sysadmin).
    fn entity(&self, conn: &mut DbConn) -> Result<Option<String>, AdminError> {
        match self {
            Change::User { input, .. } => {
                let code = input.roles.iter().find_map(|r| r.split_once(':').map(|(_, e)| e.trim().to_owned()));
                Ok(match code {
                    Some(code) => org_units::table
                        .filter(org_units::code.eq(code))
                        .select(org_units::id)
                        .first(conn)
                        .optional()?,
                    None => None,
                })
            }
            Change::Assignment { post_id, .. } => {
                let unit: Option<String> =
                    posts::table.find(post_id).select(posts::org_unit_id).first(conn).optional()?;
                Ok(match unit {
                    Some(u) => admin::entity_of_unit(conn, &u)?.and_then(|(e, _)| e),
                    None => None,
                })
            }
        }
    }
}

/// A request as administrators see it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    /// Its id.
    pub id: String,
    /// `user` or `assignment`.
    pub kind: String,
    /// What is asked, in words.
    pub summary: String,
    /// Who asked.
    pub requested_by: String,
    /// Whom it benefits, if an existing user.
    pub beneficiary: Option<String>,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// Who decided.
    pub decided_by: Option<String>,
    /// The user or assignment made, once approved.
    pub result_id: Option<String>,
    /// When asked (RFC 3339).
    pub created_at: String,
    /// When decided.
    pub decided_at: Option<String>,
}

/// What became of a submitted change.
pub enum Submitted {
    /// Made at once (it widens no one's sight, or the operator made it): the new id.
    Done(String),
    /// Waiting for a second administrator.
    Pending(Box<RequestView>),
}

/// Submits a change: made at once if it widens no one's sight or comes from
/// the operator; otherwise checked in full now (as `actor`, then undone) and
/// kept as a pending request.
pub fn submit(conn: &mut DbConn, actor: Actor, change: Change) -> Result<Submitted, AdminError> {
    let Actor::User(requester) = actor else { return Ok(Submitted::Done(change.apply(conn, actor)?)) };
    if !change.widens_sight() {
        return Ok(Submitted::Done(change.apply(conn, actor)?));
    }
    // Everything the change would check, checked now: the request is one the
    // requester may make and that could be made as it stands.
    let mut outcome = None;
    let undone = conn.transaction::<(), diesel::result::Error, _>(|c| {
        outcome = Some(change.apply(c, actor));
        Err(diesel::result::Error::RollbackTransaction)
    });
    match (outcome, undone) {
        (Some(Err(e)), _) => return Err(e),
        (Some(Ok(_)), Err(diesel::result::Error::RollbackTransaction)) => {}
        (_, Err(e)) => return Err(e.into()),
        (_, Ok(())) => return Err(AdminError::Conflict("the change could not be checked".into())),
    }
    let id = new_id();
    let now = now_micros();
    let entity = change.entity(conn)?;
    let payload = serde_json::to_string(&change).map_err(|e| AdminError::Invalid("body", e.to_string()))?;
    diesel::insert_into(admin_requests::table)
        .values((
            admin_requests::id.eq(&id),
            admin_requests::kind.eq(change.kind()),
            admin_requests::payload.eq(&payload),
            admin_requests::summary.eq(change.summary()),
            admin_requests::entity_id.eq(&entity),
            admin_requests::beneficiary.eq(change.beneficiary()),
            admin_requests::requested_by.eq(&requester.viewer.user_id),
            admin_requests::status.eq("pending"),
            admin_requests::created_at.eq(now),
        ))
        .execute(conn)?;
    admin::record(
        conn,
        actor,
        "admin_request_submitted",
        change.beneficiary(),
        json!({"request": id, "summary": change.summary()}),
    )?;
    Ok(Submitted::Pending(Box::new(view(conn, &id)?)))
}

/// A request's row as read back.
#[derive(Queryable, Selectable)]
#[diesel(table_name = admin_requests)]
struct RequestRow {
    id: String,
    kind: String,
    summary: String,
    requested_by: String,
    beneficiary: Option<String>,
    status: String,
    decided_by: Option<String>,
    result_id: Option<String>,
    created_at: i64,
    decided_at: Option<i64>,
}

impl From<RequestRow> for RequestView {
    fn from(r: RequestRow) -> RequestView {
        RequestView {
            id: r.id,
            kind: r.kind,
            summary: r.summary,
            requested_by: r.requested_by,
            beneficiary: r.beneficiary,
            status: r.status,
            decided_by: r.decided_by,
            result_id: r.result_id,
            created_at: rfc3339(r.created_at),
            decided_at: r.decided_at.map(rfc3339),
        }
    }
}

fn view(conn: &mut DbConn, id: &str) -> Result<RequestView, AdminError> {
    Ok(admin_requests::table.find(id).select(RequestRow::as_select()).first(conn)?.into())
}

/// Pending requests within the actor's reach (their entity's; all for a
/// sysadmin), oldest first.
pub fn pending(conn: &mut DbConn, actor: Actor) -> Result<Vec<RequestView>, AdminError> {
    if !admin::actor_admins_anything(actor) {
        return Err(AdminError::Forbidden("only administrators see requests".into()));
    }
    let rows: Vec<(RequestRow, Option<String>)> = admin_requests::table
        .filter(admin_requests::status.eq("pending"))
        .order(admin_requests::created_at)
        .limit(200)
        .select((RequestRow::as_select(), admin_requests::entity_id))
        .load(conn)?;
    Ok(rows.into_iter().filter(|(_, e)| actor.may_administer(e.as_deref())).map(|(r, _)| r.into()).collect())
}

/// Approves or rejects a pending request. The decider is an administrator
/// of its scope who is neither the requester nor the beneficiary; approving
/// makes the change as the decider (so it is within their authority too).
pub fn decide(conn: &mut DbConn, actor: Actor, id: &str, approve: bool) -> Result<RequestView, AdminError> {
    type Pending = (String, String, Option<String>, Option<String>, String);
    let row: Option<Pending> = admin_requests::table
        .find(id)
        .select((
            admin_requests::payload,
            admin_requests::requested_by,
            admin_requests::beneficiary,
            admin_requests::entity_id,
            admin_requests::status,
        ))
        .first(conn)
        .optional()?;
    let Some((payload, requested_by, beneficiary, entity, status)) = row else {
        return Err(AdminError::NotFound("request"));
    };
    if !actor.may_administer(entity.as_deref()) {
        return Err(AdminError::NotFound("request"));
    }
    if status != "pending" {
        return Err(AdminError::Conflict(format!("the request is already {status}")));
    }
    let me = actor.id();
    if me == Some(requested_by.as_str()) {
        return Err(AdminError::Forbidden("another administrator must decide your own request".into()));
    }
    if me.is_some() && me == beneficiary.as_deref() {
        return Err(AdminError::Forbidden("you may not decide a request that benefits you".into()));
    }
    let change: Change = serde_json::from_str(&payload)
        .map_err(|e| AdminError::Store(crate::store::StoreError::Unavailable(e.to_string())))?;
    let result = if approve { Some(change.apply(conn, actor)?) } else { None };
    let now = now_micros();
    // The stored password hash has done its work either way.
    let cleared = match &change {
        Change::User { input, .. } => {
            serde_json::to_string(&Change::User { input: input.clone(), password_hash: String::new() })
        }
        other => serde_json::to_string(other),
    }
    .unwrap_or_default();
    let changed = diesel::update(admin_requests::table.find(id))
        .filter(admin_requests::status.eq("pending"))
        .set((
            admin_requests::status.eq(if approve { "approved" } else { "rejected" }),
            admin_requests::decided_by.eq(me),
            admin_requests::decided_at.eq(now),
            admin_requests::result_id.eq(&result),
            admin_requests::payload.eq(cleared),
        ))
        .execute(conn)?;
    if changed != 1 {
        return Err(AdminError::Conflict("the request was decided meanwhile".into()));
    }
    let kind = if approve { "admin_request_approved" } else { "admin_request_rejected" };
    admin::record(conn, actor, kind, beneficiary.as_deref(), json!({"request": id, "result": result}))?;
    view(conn, id)
}
