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

/// Loads a user with roles and every assignment; `None` if there is no such user.
pub fn load(conn: &mut DbConn, user_id: &str) -> QueryResult<Option<Principal>> {
    let Some((id, username, name, email, clearance, disabled, token_version)) = users::table
        .find(user_id)
        .select((
            users::id,
            users::username,
            users::name,
            users::email,
            users::clearance,
            users::disabled,
            users::token_version,
        ))
        .first::<(String, String, String, Option<String>, String, bool, i64)>(conn)
        .optional()?
    else {
        return Ok(None);
    };
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
    Ok(Some(Principal {
        viewer: Viewer { user_id: id, clearance: crate::store::stored::<Clearance>(&clearance)?, roles, held },
        username,
        name,
        email,
        disabled,
        token_version,
    }))
}
