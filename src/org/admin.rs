//! Administration of the organisation one change at a time (the API's
//! `org_admin` routes and the `daftar user` commands): each change is checked,
//! scoped to the actor's entity, and recorded in the audit trail in the same
//! transaction.

use diesel::prelude::*;
use serde_json::json;

use crate::auth::principal::Principal;
use crate::auth::{audit, password, session};
use crate::domain::access::may_administer;
use crate::domain::org::{
    AssignmentKind, Clearance, Code, OrgKind, Role, Username, parse_date, parse_designation, parse_email, parse_text,
};
use crate::store::schema::{org_units, post_assignments, posts, user_roles, users};
use crate::store::{DbConn, StoreError, new_id, now_micros};

/// Why an administrative change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A field is wrong.
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
    /// The actor may not make this change.
    #[error("{0}")]
    Forbidden(String),
    /// Something named does not exist (or is outside the actor's reach).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A code or username is already taken.
    #[error("{0}")]
    Conflict(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for AdminError {
    fn from(e: diesel::result::Error) -> Self {
        AdminError::Store(StoreError::Query(e))
    }
}

/// Who makes a change: a logged-in administrator, or the local operator at
/// the command line (who already holds the database).
#[derive(Clone, Copy)]
pub enum Actor<'a> {
    /// A user through the API.
    User(&'a Principal),
    /// `daftar user …` on the server itself.
    Operator,
}

impl Actor<'_> {
    pub(crate) fn id(&self) -> Option<&str> {
        match self {
            Actor::User(p) => Some(&p.viewer.user_id),
            Actor::Operator => None,
        }
    }

    pub(crate) fn may_administer(&self, entity_id: Option<&str>) -> bool {
        match self {
            Actor::User(p) => may_administer(&p.viewer, entity_id),
            Actor::Operator => true,
        }
    }

    pub(crate) fn is_sysadmin(&self) -> bool {
        match self {
            Actor::User(p) => p.viewer.roles.iter().any(|(r, _)| *r == Role::Sysadmin),
            Actor::Operator => true,
        }
    }

    fn require(&self, entity_id: Option<&str>) -> Result<(), AdminError> {
        if self.may_administer(entity_id) {
            Ok(())
        } else {
            Err(AdminError::Forbidden("you may administer only your own entity".into()))
        }
    }
}

pub(crate) fn record(
    conn: &mut DbConn,
    actor: Actor,
    kind: &str,
    user_id: Option<&str>,
    details: serde_json::Value,
) -> QueryResult<()> {
    audit::record(
        conn,
        audit::Event { kind, user_id, actor_id: actor.id(), details: Some(details), ..Default::default() },
    )
}

fn invalid(field: &'static str, e: impl ToString) -> AdminError {
    AdminError::Invalid(field, e.to_string())
}

/// The entity a unit belongs to, if the unit exists.
pub(crate) fn entity_of_unit(
    conn: &mut DbConn,
    unit_id: &str,
) -> Result<Option<(Option<String>, OrgKind)>, AdminError> {
    Ok(org_units::table
        .find(unit_id)
        .select((org_units::entity_id, org_units::kind))
        .first::<(Option<String>, String)>(conn)
        .optional()?
        .map(|(e, k)| crate::store::stored::<OrgKind>(&k).map(|k| (e, k)))
        .transpose()?)
}

/// A new org unit.
pub struct UnitInput {
    /// Short code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Parent unit id.
    pub parent_id: Option<String>,
}

/// Creates an org unit under an existing one. New entities need a sysadmin.
pub fn create_unit(conn: &mut DbConn, actor: Actor, input: UnitInput) -> Result<String, AdminError> {
    let code = Code::parse(&input.code).map_err(|e| invalid("code", e))?;
    let name = parse_text(&input.name, 200).map_err(|e| invalid("name", e))?;
    let kind: OrgKind = input.kind.parse().map_err(|e| invalid("kind", e))?;
    let id = new_id();
    let (parent_entity, parent_kind) = match &input.parent_id {
        Some(p) => match entity_of_unit(conn, p)? {
            Some((entity, kind)) => (entity, Some(kind)),
            None => return Err(AdminError::NotFound("parent unit")),
        },
        None => (None, None),
    };
    if !kind.may_sit_under(parent_kind) {
        let message =
            format!("a {kind} cannot sit under {}", parent_kind.map_or("nothing".into(), |k| format!("a {k}")));
        // Only the government is a root and has no parent (the request says
        // as much); where a unit may sit under its parent depends on the parent.
        return Err(match parent_kind {
            Some(_) if kind != OrgKind::Government => AdminError::Conflict(format!("kind: {message}")),
            _ => invalid("kind", message),
        });
    }
    let entity = if kind.is_entity() { Some(id.clone()) } else { parent_entity };
    if kind.is_entity() || kind == OrgKind::Government {
        if !actor.is_sysadmin() {
            return Err(AdminError::Forbidden("only a sysadmin creates entities".into()));
        }
    } else {
        actor.require(entity.as_deref())?;
    }
    if org_units::table.filter(org_units::code.eq(code.as_str())).count().get_result::<i64>(conn)? > 0 {
        return Err(AdminError::Conflict(format!("unit code `{}` is taken", code.as_str())));
    }
    diesel::insert_into(org_units::table)
        .values((
            org_units::id.eq(&id),
            org_units::code.eq(code.as_str()),
            org_units::name.eq(&name),
            org_units::kind.eq(kind.as_str()),
            org_units::parent_id.eq(&input.parent_id),
            org_units::entity_id.eq(&entity),
            org_units::created_at.eq(now_micros()),
        ))
        .execute(conn)?;
    record(conn, actor, "unit_created", None, json!({"unit": id, "code": code.as_str()}))?;
    Ok(id)
}

/// A new post.
pub struct PostInput {
    /// Short code.
    pub code: String,
    /// Unit id.
    pub org_unit_id: String,
    /// e.g. `section_officer`.
    pub designation: String,
    /// Title.
    pub title: String,
    /// Post id above in the chain.
    pub reports_to: Option<String>,
}

/// Creates a post in a unit of the actor's entity.
pub fn create_post(conn: &mut DbConn, actor: Actor, input: PostInput) -> Result<String, AdminError> {
    let code = Code::parse(&input.code).map_err(|e| invalid("code", e))?;
    let title = parse_text(&input.title, 200).map_err(|e| invalid("title", e))?;
    let designation = parse_designation(&input.designation).map_err(|e| invalid("designation", e))?;
    let Some((entity, _)) = entity_of_unit(conn, &input.org_unit_id)? else {
        return Err(AdminError::NotFound("org unit"));
    };
    actor.require(entity.as_deref())?;
    if let Some(up) = &input.reports_to
        && posts::table.find(up).count().get_result::<i64>(conn)? == 0
    {
        return Err(AdminError::NotFound("reports_to post"));
    }
    if posts::table.filter(posts::code.eq(code.as_str())).count().get_result::<i64>(conn)? > 0 {
        return Err(AdminError::Conflict(format!("post code `{}` is taken", code.as_str())));
    }
    let id = new_id();
    diesel::insert_into(posts::table)
        .values((
            posts::id.eq(&id),
            posts::code.eq(code.as_str()),
            posts::org_unit_id.eq(&input.org_unit_id),
            posts::designation.eq(designation),
            posts::title.eq(&title),
            posts::reports_to.eq(&input.reports_to),
            posts::created_at.eq(now_micros()),
        ))
        .execute(conn)?;
    record(conn, actor, "post_created", None, json!({"post": id, "code": code.as_str()}))?;
    Ok(id)
}

/// A new user.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct UserInput {
    /// Login name.
    pub username: String,
    /// Full name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Clearance.
    pub clearance: String,
    /// Initial password (hashed by the caller; never stored, never kept).
    #[serde(skip)]
    pub password: String,
    /// `role` or `role:ENTITY_CODE`.
    pub roles: Vec<String>,
}

/// Checks a new password: long enough, not absurdly long.
pub fn check_password(pw: &str) -> Result<(), AdminError> {
    crate::domain::org::check_new_password(pw).map_err(|m| invalid("password", m))
}

/// Creates a user; roles scoped to an entity need that entity's administrator,
/// unscoped roles (`compliance`, `sysadmin`) a sysadmin. `password_hash` is the
/// argon2id hash of `input.password`, computed by the caller outside any lock.
pub fn create_user(
    conn: &mut DbConn,
    actor: Actor,
    input: &UserInput,
    password_hash: &str,
) -> Result<String, AdminError> {
    let username = Username::parse(&input.username).map_err(|e| invalid("username", e))?;
    let name = parse_text(&input.name, 200).map_err(|e| invalid("name", e))?;
    let clearance: Clearance = input.clearance.parse().map_err(|e| invalid("clearance", e))?;
    if let Actor::User(p) = actor
        && !actor.is_sysadmin()
        && clearance > p.viewer.clearance
    {
        return Err(AdminError::Forbidden("you cannot grant a clearance above your own".into()));
    }
    let email = parse_email(input.email.as_deref()).map_err(|e| invalid("email", e))?;
    let mut roles = Vec::new();
    for spec in &input.roles {
        let (role, scope) = match spec.split_once(':') {
            Some((r, e)) => (r.trim(), Some(e.trim())),
            None => (spec.trim(), None),
        };
        let role: Role = role.parse().map_err(|e| invalid("roles", e))?;
        let entity = match (role.is_entity_scoped(), scope) {
            (true, Some(code)) => {
                let found = org_units::table
                    .filter(org_units::code.eq(code))
                    .select((org_units::id, org_units::kind))
                    .first::<(String, String)>(conn)
                    .optional()?;
                // The entity named is looked up, like a path's id: none is 404.
                match found {
                    Some((id, kind)) if kind.parse::<OrgKind>().is_ok_and(OrgKind::is_entity) => Some(id),
                    _ => return Err(AdminError::NotFound("entity")),
                }
            }
            (true, None) => {
                return Err(invalid("roles", format!("`{role}` must name its entity, e.g. `{role}:MOITT`")));
            }
            (false, Some(_)) => return Err(invalid("roles", format!("`{role}` is not scoped to an entity"))),
            (false, None) => None,
        };
        match &entity {
            Some(e) => actor.require(Some(e))?,
            None if role != Role::Officer && !actor.is_sysadmin() => {
                return Err(AdminError::Forbidden(format!("only a sysadmin grants `{role}`")));
            }
            None => {}
        }
        if role != Role::Officer {
            roles.push((role, entity));
        }
    }
    if roles.is_empty() && !actor.is_sysadmin() && !actor_admins_anything(actor) {
        return Err(AdminError::Forbidden("you may not create users".into()));
    }
    if users::table.filter(users::username.eq(username.as_str())).count().get_result::<i64>(conn)? > 0 {
        return Err(AdminError::Conflict(format!("username `{}` is taken", username.as_str())));
    }
    let id = new_id();
    let now = now_micros();
    diesel::insert_into(users::table)
        .values((
            users::id.eq(&id),
            users::username.eq(username.as_str()),
            users::name.eq(&name),
            users::email.eq(email),
            users::password_hash.eq(password_hash),
            users::clearance.eq(clearance.as_str()),
            users::disabled.eq(false),
            users::token_version.eq(0i64),
            users::created_at.eq(now),
        ))
        .execute(conn)?;
    for (role, entity) in &roles {
        diesel::insert_into(user_roles::table)
            .values((
                user_roles::id.eq(new_id()),
                user_roles::user_id.eq(&id),
                user_roles::role.eq(role.as_str()),
                user_roles::entity_id.eq(entity),
                user_roles::created_at.eq(now),
            ))
            .execute(conn)?;
        record(conn, actor, "role_granted", Some(&id), json!({"role": role.as_str(), "entity": entity}))?;
    }
    record(
        conn,
        actor,
        "user_created",
        Some(&id),
        json!({"username": username.as_str(), "clearance": clearance.as_str()}),
    )?;
    Ok(id)
}

/// Whether the actor administers at least one entity.
pub fn actor_admins_anything(actor: Actor) -> bool {
    match actor {
        Actor::User(p) => p.viewer.has_any_role(&[Role::OrgAdmin, Role::Sysadmin]),
        Actor::Operator => true,
    }
}

/// A new assignment of a user to a post.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AssignmentInput {
    /// The user.
    pub user_id: String,
    /// `regular`, `additional_charge` or `acting`.
    pub kind: String,
    /// First day (`YYYY-MM-DD`, default today).
    pub starts_on: Option<String>,
    /// Last day, if it ends.
    pub ends_on: Option<String>,
    /// Whether this becomes the user's primary post.
    pub primary: bool,
}

/// Assigns a user to a post of the actor's entity.
pub fn add_assignment(
    conn: &mut DbConn,
    actor: Actor,
    post_id: &str,
    input: AssignmentInput,
) -> Result<String, AdminError> {
    let kind: AssignmentKind = input.kind.parse().map_err(|e| invalid("kind", e))?;
    let today = crate::org::today();
    let starts = parse_date(input.starts_on.as_deref().unwrap_or(&today)).map_err(|e| invalid("starts_on", e))?;
    let ends = match input.ends_on.as_deref() {
        Some(d) => Some(parse_date(d).map_err(|e| invalid("ends_on", e))?),
        None => None,
    };
    if ends.is_some_and(|e| e < starts) {
        return Err(invalid("ends_on", "is before starts_on"));
    }
    let unit = posts::table.find(post_id).select(posts::org_unit_id).first::<String>(conn).optional()?;
    let Some(unit) = unit else { return Err(AdminError::NotFound("post")) };
    let (entity, _) = entity_of_unit(conn, &unit)?.ok_or(AdminError::NotFound("org unit"))?;
    actor.require(entity.as_deref())?;
    // Separation of duties: an org_admin does not give themselves a desk (and
    // with it that desk's files); another administrator must.
    if actor.id() == Some(input.user_id.as_str()) && !actor.is_sysadmin() {
        return Err(AdminError::Forbidden("you may not assign a post to yourself; ask another administrator".into()));
    }
    if users::table.find(&input.user_id).count().get_result::<i64>(conn)? == 0 {
        return Err(AdminError::NotFound("user"));
    }
    // Only users of the actor's own entity, or not yet placed anywhere.
    require_reach(conn, actor, &input.user_id, true)?;
    if input.primary {
        diesel::update(post_assignments::table.filter(post_assignments::user_id.eq(&input.user_id)))
            .set(post_assignments::is_primary.eq(false))
            .execute(conn)?;
    }
    let id = new_id();
    diesel::insert_into(post_assignments::table)
        .values((
            post_assignments::id.eq(&id),
            post_assignments::post_id.eq(post_id),
            post_assignments::user_id.eq(&input.user_id),
            post_assignments::kind.eq(kind.as_str()),
            post_assignments::is_primary.eq(input.primary),
            post_assignments::starts_on.eq(starts.to_string()),
            post_assignments::ends_on.eq(ends.map(|d| d.to_string())),
            post_assignments::created_at.eq(now_micros()),
        ))
        .execute(conn)?;
    record(
        conn,
        actor,
        "assignment_added",
        Some(&input.user_id),
        json!({"assignment": id, "post": post_id, "kind": kind.as_str(), "starts_on": starts.to_string(), "ends_on": ends.map(|d| d.to_string())}),
    )?;
    Ok(id)
}

/// Ends an assignment as of yesterday (history is kept: it decides what a
/// former holder may still see); one that has not started yet is removed.
pub fn end_assignment(conn: &mut DbConn, actor: Actor, assignment_id: &str) -> Result<(), AdminError> {
    let row = post_assignments::table
        .inner_join(posts::table.inner_join(org_units::table))
        .filter(post_assignments::id.eq(assignment_id))
        .select((
            post_assignments::user_id,
            post_assignments::starts_on,
            post_assignments::ends_on,
            org_units::entity_id,
        ))
        .first::<(String, String, Option<String>, Option<String>)>(conn)
        .optional()?;
    let Some((user_id, starts_on, ends_on, entity)) = row else { return Err(AdminError::NotFound("assignment")) };
    actor.require(entity.as_deref())?;
    let today = crate::clock::today();
    let yesterday = today.pred_opt().unwrap_or(today).to_string();
    if starts_on >= today.to_string() {
        diesel::delete(post_assignments::table.find(assignment_id)).execute(conn)?;
    } else if ends_on.as_deref().is_none_or(|e| e > yesterday.as_str()) {
        diesel::update(post_assignments::table.find(assignment_id))
            .set(post_assignments::ends_on.eq(&yesterday))
            .execute(conn)?;
    }
    record(conn, actor, "assignment_ended", Some(&user_id), json!({"assignment": assignment_id}))?;
    Ok(())
}

/// Finds a user by username.
pub fn user_id_by_name(conn: &mut DbConn, username: &str) -> Result<String, AdminError> {
    let name = Username::parse(username).map_err(|e| invalid("username", e))?;
    users::table
        .filter(users::username.eq(name.as_str()))
        .select(users::id)
        .first(conn)
        .optional()?
        .ok_or(AdminError::NotFound("user"))
}

/// The entities a user holds posts in (to scope an org_admin's reach over them).
fn entities_of_user(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<Option<String>>> {
    post_assignments::table
        .inner_join(posts::table.inner_join(org_units::table))
        .filter(post_assignments::user_id.eq(user_id))
        .select(org_units::entity_id)
        .load(conn)
}

/// Refuses unless the actor may administer the user: a sysadmin anyone; an
/// org_admin only users whose posts and roles all lie in their entity, and
/// never a holder of an unscoped role (sysadmin, compliance).
pub fn require_over_user(conn: &mut DbConn, actor: Actor, user_id: &str) -> Result<(), AdminError> {
    require_reach(conn, actor, user_id, false)
}

/// [`require_over_user`]; with `unplaced`, a user holding no post at all
/// (just created, say) is within reach too.
fn require_reach(conn: &mut DbConn, actor: Actor, user_id: &str, unplaced: bool) -> Result<(), AdminError> {
    if actor.is_sysadmin() {
        return Ok(());
    }
    let refused = || AdminError::Forbidden("you may administer only users of your own entity".into());
    let roles: Vec<(String, Option<String>)> = user_roles::table
        .filter(user_roles::user_id.eq(user_id))
        .select((user_roles::role, user_roles::entity_id))
        .load(conn)?;
    if roles.iter().any(|(role, entity)| role != Role::Officer.as_str() && !actor.may_administer(entity.as_deref())) {
        return Err(refused());
    }
    let entities = entities_of_user(conn, user_id)?;
    if (entities.is_empty() && !unplaced) || !entities.iter().all(|e| actor.may_administer(e.as_deref())) {
        return Err(refused());
    }
    Ok(())
}

/// Sets a new password (hashed by the caller) and ends every session of the user.
pub fn set_password(conn: &mut DbConn, actor: Actor, user_id: &str, password_hash: &str) -> Result<(), AdminError> {
    require_over_user(conn, actor, user_id)?;
    diesel::update(users::table.find(user_id)).set(users::password_hash.eq(password_hash)).execute(conn)?;
    session::end_all(conn, user_id, "password_changed")?;
    record(conn, actor, "password_changed", Some(user_id), json!({}))?;
    let when = crate::clock::civil_minute(crate::store::now_micros());
    crate::jobs::enqueue(
        conn,
        &crate::jobs::Job::tell_user(
            user_id,
            &format!("password-{}", crate::store::new_id()),
            "Your Daftar password was changed",
            &format!(
                "The password of your Daftar account was changed on {when} and every session of yours was ended. \
                 If you did not change it, tell your administrator at once."
            ),
            "/",
        ),
    )?;
    Ok(())
}

/// Disables a user and ends every session at once.
/// Only administrators may; to an administrator, a user outside their reach
/// answers exactly as an unknown id does, so ids cannot be probed.
pub fn disable_user(conn: &mut DbConn, actor: Actor, user_id: &str) -> Result<(), AdminError> {
    if !actor_admins_anything(actor) {
        return Err(AdminError::Forbidden("only administrators disable users".into()));
    }
    match require_over_user(conn, actor, user_id) {
        Ok(()) if user_exists(conn, user_id)? => {}
        Ok(()) | Err(AdminError::Forbidden(_)) => return Err(AdminError::NotFound("user")),
        Err(e) => return Err(e),
    }
    if actor.id() == Some(user_id) {
        // An administrator who locks themselves out may leave none behind.
        return Err(AdminError::Conflict(
            "you cannot disable your own account; another administrator (or `daftar user disable`) can".into(),
        ));
    }
    diesel::update(users::table.find(user_id)).set(users::disabled.eq(true)).execute(conn)?;
    session::end_all(conn, user_id, "disabled")?;
    record(conn, actor, "user_disabled", Some(user_id), json!({}))?;
    Ok(())
}

/// Hashes a new password after checking it.
pub fn hash_new_password(pw: &str) -> Result<String, AdminError> {
    check_password(pw)?;
    Ok(password::hash_password(pw))
}

/// Whether a user exists.
pub fn user_exists(conn: &mut DbConn, user_id: &str) -> Result<bool, AdminError> {
    Ok(users::table.find(user_id).count().get_result::<i64>(conn)? > 0)
}

/// A user's stored password hash.
pub fn password_hash_of(conn: &mut DbConn, user_id: &str) -> Result<String, AdminError> {
    users::table.find(user_id).select(users::password_hash).first(conn).optional()?.ok_or(AdminError::NotFound("user"))
}
