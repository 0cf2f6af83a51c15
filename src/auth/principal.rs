//! Loading who a user is and what they hold, for the access policy.

use diesel::prelude::*;

use crate::domain::access::{Held, Viewer};
use crate::domain::org::{Clearance, Role};
use crate::store::DbConn;
use crate::store::schema::{org_units, post_assignments, posts, user_roles, users};

/// A user as the API shows and checks them.
#[derive(Debug, Clone)]
pub struct Principal {
    /// What the access policy needs.
    pub viewer: Viewer,
    /// Login name.
    pub username: String,
    /// Full name.
    pub name: String,
    /// Email address.
    pub email: Option<String>,
    /// Disabled users cannot log in or use tokens.
    pub disabled: bool,
    /// Bumped to end every session.
    pub token_version: i64,
}

/// The instant a `YYYY-MM-DD` civil date (plus `days`) begins, in microseconds.
fn day_start(date: &str, days: i64) -> i64 {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.checked_add_days(chrono::Days::new(days as u64)))
        .map(crate::clock::day_start)
        .unwrap_or(0)
}

/// A user's own row as a principal starts from: id, username, name, email,
/// clearance, disabled, token version.
pub type UserRow = (String, String, String, Option<String>, String, bool, i64);

/// [`UserRow`]'s columns, for a query that reads them beside others (the
/// session check of every new caller reads them with the session's row).
#[allow(clippy::type_complexity)]
pub const USER_COLUMNS: (
    users::id,
    users::username,
    users::name,
    users::email,
    users::clearance,
    users::disabled,
    users::token_version,
) = (users::id, users::username, users::name, users::email, users::clearance, users::disabled, users::token_version);

/// Loads a user with roles and every assignment; `None` if there is no such user.
pub fn load(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<Principal>> {
    let user = users::table.find(user_id).select(USER_COLUMNS).first::<UserRow>(conn).optional()?;
    user.map(|u| complete(conn, u)).transpose()
}

/// The principal of a user whose row has been read: their roles and every
/// assignment loaded beside it.
pub fn complete(conn: &mut DbConn, user: UserRow) -> QueryResult<Principal> {
    let (id, username, name, email, clearance, disabled, token_version) = user;
    let roles = user_roles::table
        .filter(user_roles::user_id.eq(&id))
        .select((user_roles::role, user_roles::entity_id))
        .load::<(String, Option<String>)>(conn)?
        .into_iter()
        .map(|(r, e)| crate::store::stored::<Role>(&r).map(|r| (r, e)))
        .collect::<QueryResult<Vec<_>>>()?;
    let held = post_assignments::table
        .inner_join(posts::table.inner_join(org_units::table))
        .filter(post_assignments::user_id.eq(&id))
        .select((
            post_assignments::post_id,
            posts::org_unit_id,
            org_units::entity_id,
            post_assignments::starts_on,
            post_assignments::ends_on,
            post_assignments::is_primary,
        ))
        .load::<(String, String, Option<String>, String, Option<String>, bool)>(conn)?
        .into_iter()
        .map(|(post_id, org_unit_id, entity_id, from, until, primary)| Held {
            post_id,
            org_unit_id,
            entity_id,
            from: day_start(&from, 0),
            // An assignment ending on a date includes that whole day.
            until: until.map(|u| day_start(&u, 1)),
            primary,
        })
        .collect();
    Ok(Principal {
        viewer: Viewer { user_id: id, clearance: crate::store::stored::<Clearance>(&clearance)?, roles, held },
        username,
        name,
        email,
        disabled,
        token_version,
    })
}
