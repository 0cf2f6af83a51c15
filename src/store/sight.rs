//! The one access policy as SQL: filters derived from a [`Sight`], for list
//! queries that must return (and count) only what the caller may see. The
//! per-object form is [`Sight::sees`]; a randomised test holds the two to the
//! same answers on both backends.

use diesel::dsl::exists;
use diesel::expression::BoxableExpression;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::DbConn;
use super::schema::{files, posts, receipts, stays};
use crate::domain::access::Sight;

/// The backend both connections share through `DbConn`.
type Backend = <DbConn as Connection>::Backend;

/// A boolean condition over one table.
pub type Filter<T> = Box<dyn BoxableExpression<T, Backend, SqlType = Bool>>;

fn never<T: 'static>() -> Filter<T> {
    Box::new(diesel::dsl::sql::<Bool>("1 = 0"))
}

fn any<T: 'static>(terms: Vec<Filter<T>>) -> Filter<T> {
    terms.into_iter().reduce(|a, b| Box::new(a.or(b))).unwrap_or_else(never)
}

/// An SQL string literal. Ids here come from the database, but quoting is
/// what makes inlining them safe whatever they hold.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''").replace('\0', ""))
}

/// The stays that a sight's desks show (the desk rule over `stays` rows), as
/// plain SQL: a condition of variable shape cannot be boxed inside a
/// correlated subquery on the multi-backend connection, and a literal of
/// quoted ids and integers is valid on both backends.
fn desk_stays(sight: &Sight) -> String {
    let current: Vec<String> = sight.desks.iter().filter(|d| d.window.is_none()).map(|d| quote(&d.post_id)).collect();
    let mut terms: Vec<String> = Vec::new();
    if !current.is_empty() {
        terms.push(format!("stays.post_id IN ({})", current.join(", ")));
    }
    for d in &sight.desks {
        if let Some((from, until)) = d.window {
            terms.push(format!(
                "(stays.post_id = {} AND stays.from_at < {until} AND (stays.until_at IS NULL OR stays.until_at > {from}))",
                quote(&d.post_id)
            ));
        }
    }
    if terms.is_empty() { "1 = 0".into() } else { format!("({})", terms.join(" OR ")) }
}

fn class_names(sight: &Sight) -> Vec<&'static str> {
    sight.classes().into_iter().map(|c| c.as_str()).collect()
}

/// Files the sight may see.
pub fn files(sight: &Sight) -> Filter<files::table> {
    let mut why: Vec<Filter<files::table>> = Vec::new();
    if !sight.units.is_empty() {
        why.push(Box::new(files::section_id.eq_any(sight.units.clone())));
    }
    if !sight.audited.is_empty() {
        why.push(Box::new(files::entity_id.eq_any(sight.audited.clone()).assume_not_null()));
    }
    if !sight.desks.is_empty() {
        let desks = diesel::dsl::sql::<Bool>(&desk_stays(sight));
        why.push(Box::new(exists(stays::table.filter(stays::object_id.eq(files::id)).filter(desks))));
    }
    Box::new(files::classification.eq_any(class_names(sight)).and(any(why)))
}

/// Receipts the sight may see (their owning unit is the registry's: the
/// unit of the post that diarised them).
pub fn receipts(sight: &Sight) -> Filter<receipts::table> {
    let mut why: Vec<Filter<receipts::table>> = Vec::new();
    if !sight.units.is_empty() {
        let registry_posts = posts::table.filter(posts::org_unit_id.eq_any(sight.units.clone())).select(posts::id);
        why.push(Box::new(receipts::created_by_post.eq_any(registry_posts)));
    }
    if !sight.audited.is_empty() {
        why.push(Box::new(receipts::entity_id.eq_any(sight.audited.clone())));
    }
    if !sight.desks.is_empty() {
        let desks = diesel::dsl::sql::<Bool>(&desk_stays(sight));
        why.push(Box::new(exists(stays::table.filter(stays::object_id.eq(receipts::id)).filter(desks))));
    }
    Box::new(receipts::classification.eq_any(class_names(sight)).and(any(why)))
}

/// Of these files and receipts, the ones the sight may see (for lists
/// whose rows come from elsewhere, such as the search index or a queue).
pub fn visible_of(
    conn: &mut DbConn,
    sight: &Sight,
    file_ids: &[String],
    receipt_ids: &[String],
) -> QueryResult<std::collections::HashSet<String>> {
    let mut ok = std::collections::HashSet::new();
    for chunk in file_ids.chunks(500) {
        ok.extend(
            files::table
                .filter(files::id.eq_any(chunk))
                .filter(self::files(sight))
                .select(files::id)
                .load::<String>(conn)?,
        );
    }
    for chunk in receipt_ids.chunks(500) {
        ok.extend(
            receipts::table
                .filter(receipts::id.eq_any(chunk))
                .filter(self::receipts(sight))
                .select(receipts::id)
                .load::<String>(conn)?,
        );
    }
    Ok(ok)
}
