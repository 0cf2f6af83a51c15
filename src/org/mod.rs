//! The organisation: units, posts, users, assignments and roles, as stored,
//! and the queries the API and CLI need.

pub mod admin;
pub mod import;
pub mod requests;

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::schema::{org_units, post_assignments, posts, user_roles, users};
use crate::store::{DbConn, StoreError};

/// A node of the government tree.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = org_units)]
pub struct OrgUnit {
    /// Opaque id.
    pub id: String,
    /// Short code, e.g. `MOITT`.
    pub code: String,
    /// Full name.
    pub name: String,
    /// `government`, `ministry`, … `section`.
    pub kind: String,
    /// The unit above, if any.
    pub parent_id: Option<String>,
    /// The reporting entity this unit belongs to.
    #[serde(skip)]
    pub entity_id: Option<String>,
    /// Creation time (µs).
    #[serde(skip)]
    pub created_at: i64,
}

/// A desk: files are marked to posts, not people.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = posts)]
pub struct Post {
    /// Opaque id.
    pub id: String,
    /// Short code, e.g. `MOITT/SO-ADMIN`.
    pub code: String,
    /// The unit the post sits in.
    pub org_unit_id: String,
    /// e.g. `section_officer`.
    pub designation: String,
    /// e.g. "Section Officer (Admin-I)".
    pub title: String,
    /// The post above in the chain.
    pub reports_to: Option<String>,
    /// Creation time (µs).
    pub created_at: i64,
}

/// The person currently at a desk.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Holder {
    /// User id.
    pub id: String,
    /// Full name.
    pub name: String,
}

/// A post as listed by `GET /posts`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PostView {
    /// Opaque id.
    pub id: String,
    /// Short code.
    pub code: String,
    /// e.g. `deputy_secretary`.
    pub designation: String,
    /// Human title.
    pub title: String,
    /// The unit the post sits in.
    pub org_unit_id: String,
    /// The post above in the chain.
    pub reports_to: Option<String>,
    /// Who holds it today, if anyone.
    pub holder: Option<Holder>,
}

/// One page of a list, ordered by id.
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Where the next page starts, if there is one.
    pub next_cursor: Option<String>,
}

/// Cuts `limit + 1` fetched rows to a page and computes the cursor.
fn paginate<T>(mut rows: Vec<T>, limit: i64, id: impl Fn(&T) -> &str) -> Page<T> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more { rows.last().map(|r| id(r).to_owned()) } else { None };
    Page { items: rows, next_cursor }
}

/// Lists org units in id order.
pub fn list_units(conn: &mut DbConn, cursor: Option<&str>, limit: i64) -> Result<Page<OrgUnit>, StoreError> {
    let mut q = org_units::table.select(OrgUnit::as_select()).order(org_units::id).limit(limit + 1).into_boxed();
    if let Some(c) = cursor {
        q = q.filter(org_units::id.gt(c.to_owned()));
    }
    Ok(paginate(q.load(conn)?, limit, |u| &u.id))
}

diesel::define_sql_function! {
    /// SQL `lower()`, so that searches are case-insensitive on both backends.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// Escapes `%`, `_` and `\` so user text matches literally inside LIKE.
pub fn like_pattern(q: &str) -> String {
    let mut out = String::from("%");
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Finds posts whose code, title or designation contains `q`, with today's holder.
pub fn search_posts(
    conn: &mut DbConn,
    q: Option<&str>,
    cursor: Option<&str>,
    limit: i64,
    today: &str,
) -> Result<Page<PostView>, StoreError> {
    let mut query = posts::table.select(Post::as_select()).order(posts::id).limit(limit + 1).into_boxed();
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        let pat = like_pattern(q);
        query = query.filter(
            lower(posts::title)
                .like(pat.clone())
                .escape('\\')
                .or(lower(posts::code).like(pat.clone()).escape('\\'))
                .or(posts::designation.like(pat).escape('\\')),
        );
    }
    if let Some(c) = cursor {
        query = query.filter(posts::id.gt(c.to_owned()));
    }
    let page = paginate(query.load(conn)?, limit, |p| &p.id);
    let ids: Vec<&str> = page.items.iter().map(|p| p.id.as_str()).collect();
    let holders = current_holders(conn, &ids, today)?;
    let items = page
        .items
        .into_iter()
        .map(|p| {
            let holder = holders.iter().find(|(post, _)| *post == p.id).map(|(_, h)| h.clone());
            PostView {
                id: p.id,
                code: p.code,
                designation: p.designation,
                title: p.title,
                org_unit_id: p.org_unit_id,
                reports_to: p.reports_to,
                holder,
            }
        })
        .collect();
    Ok(Page { items, next_cursor: page.next_cursor })
}

/// The id of the post with this code.
pub fn post_id_by_code(conn: &mut DbConn, code: &str) -> QueryResult<Option<String>> {
    posts::table.filter(posts::code.eq(code)).select(posts::id).first(conn).optional()
}

/// Today's holder of each of `post_ids`: a regular holder if there is one,
/// else whoever holds additional charge or acts.
pub fn current_holders(conn: &mut DbConn, post_ids: &[&str], today: &str) -> Result<Vec<(String, Holder)>, StoreError> {
    if post_ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(String, String, String, String)> = post_assignments::table
        .inner_join(users::table)
        .filter(post_assignments::post_id.eq_any(post_ids))
        .filter(post_assignments::starts_on.le(today))
        .filter(post_assignments::ends_on.is_null().or(post_assignments::ends_on.ge(today)))
        .filter(users::disabled.eq(false))
        .select((post_assignments::post_id, post_assignments::kind, users::id, users::name))
        .load(conn)?;
    let mut out: Vec<(String, Holder)> = Vec::new();
    for (post, kind, id, name) in rows {
        let holder = Holder { id, name };
        match out.iter_mut().find(|(p, _)| *p == post) {
            Some(slot) if kind == "regular" => slot.1 = holder,
            Some(_) => {}
            None => out.push((post, holder)),
        }
    }
    Ok(out)
}

/// Today's civil date in the form stored on assignments.
pub fn today() -> String {
    crate::clock::today().format("%Y-%m-%d").to_string()
}

/// A post as `GET /me` lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MyPost {
    /// Post id (send as `X-Post-Id` to act as it).
    pub id: String,
    /// e.g. `section_officer`.
    pub designation: String,
    /// Human title.
    pub title: String,
    /// `regular`, `additional_charge` or `acting`.
    pub assignment: String,
    /// Whether this is the post acting when no `X-Post-Id` is sent.
    pub primary: bool,
    /// Last day held (`YYYY-MM-DD`), if the assignment ends.
    pub until: Option<String>,
    /// Where the post sits.
    pub org_unit: UnitRef,
}

/// A short reference to an org unit.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnitRef {
    /// Id.
    pub id: String,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
}

/// The posts a user holds on `today`, primary first.
pub fn posts_held(conn: &mut DbConn, user_id: &str, today: &str) -> Result<Vec<MyPost>, StoreError> {
    let rows = post_assignments::table
        .inner_join(posts::table.inner_join(org_units::table))
        .filter(post_assignments::user_id.eq(user_id))
        .filter(post_assignments::starts_on.le(today))
        .filter(post_assignments::ends_on.is_null().or(post_assignments::ends_on.ge(today)))
        .order((post_assignments::is_primary.desc(), post_assignments::starts_on))
        .select((
            posts::id,
            posts::designation,
            posts::title,
            post_assignments::kind,
            post_assignments::is_primary,
            post_assignments::ends_on,
            (org_units::id, org_units::code, org_units::name, org_units::kind),
        ))
        .load::<(String, String, String, String, bool, Option<String>, (String, String, String, String))>(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, designation, title, assignment, primary, until, (uid, code, name, kind))| MyPost {
            id,
            designation,
            title,
            assignment,
            primary,
            until,
            org_unit: UnitRef { id: uid, code, name, kind },
        })
        .collect())
}

/// A user's roles as `role` or `role:ENTITY_CODE`; every user is an `officer`.
pub fn role_names(conn: &mut DbConn, user_id: &str) -> Result<Vec<String>, StoreError> {
    let rows = user_roles::table
        .left_join(org_units::table.on(user_roles::entity_id.eq(org_units::id.nullable())))
        .filter(user_roles::user_id.eq(user_id))
        .select((user_roles::role, org_units::code.nullable()))
        .load::<(String, Option<String>)>(conn)?;
    let mut names = vec!["officer".to_owned()];
    names.extend(rows.into_iter().filter(|(r, _)| r != "officer").map(|(r, e)| match e {
        Some(code) => format!("{r}:{code}"),
        None => r,
    }));
    Ok(names)
}
