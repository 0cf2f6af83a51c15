//! The one access policy as SQL: filters derived from a [`Sight`], for list
//! queries that must return (and count) only what the caller may see. The
//! per-object form is [`Sight::sees`]; a randomised test holds the two to the
//! same answers on both backends.

use diesel::prelude::*;

use super::DbConn;
use super::prepared::{self, Sql};
use super::schema::{files, receipts};
use crate::domain::access::Sight;

/// The sight over `table` (`files` or `receipts`) as one condition with
/// bound values, so that it stays prepared ([`super::prepared`]). `units`
/// writes the owning-unit test for the unit ids it is given.
fn visible(sight: &Sight, table: &'static str, units: fn(&mut Sql, &[String])) -> Sql {
    let mut q = Sql::new();
    let classes: Vec<&str> = sight.classes().into_iter().map(|c| c.as_str()).collect();
    if classes.is_empty() {
        q.push("1 = 0");
        return q;
    }
    q.push(format!("({table}.classification IN (")).texts(&classes).push(") AND (");
    let mut terms = 0;
    let mut or = |q: &mut Sql| {
        if terms > 0 {
            q.push(" OR ");
        }
        terms += 1;
    };
    if !sight.units.is_empty() {
        or(&mut q);
        units(&mut q, &sight.units);
    }
    if !sight.audited.is_empty() {
        or(&mut q);
        q.push(format!("{table}.entity_id IN (")).texts(&sight.audited).push(")");
    }
    if !sight.desks.is_empty() {
        or(&mut q);
        q.push(format!("EXISTS (SELECT 1 FROM stays WHERE stays.object_id = {table}.id AND ("));
        desk_stays(&mut q, sight);
        q.push("))");
    }
    if terms == 0 {
        q.push("1 = 0");
    }
    q.push("))");
    q
}

/// The stays that a sight's desks show (the desk rule over `stays` rows):
/// those at a desk held now, and those at a desk held before that overlap
/// the time it was held. Past desks are padded to a power of two, as lists
/// are, by repeating the last.
fn desk_stays(q: &mut Sql, sight: &Sight) {
    let current: Vec<&str> = sight.desks.iter().filter(|d| d.window.is_none()).map(|d| d.post_id.as_str()).collect();
    let past: Vec<(&str, i64, i64)> =
        sight.desks.iter().filter_map(|d| d.window.map(|(from, until)| (d.post_id.as_str(), from, until))).collect();
    let mut first = true;
    if !current.is_empty() {
        q.push("stays.post_id IN (").texts(&current).push(")");
        first = false;
    }
    for (post, from, until) in prepared::padded_items(&past) {
        if !first {
            q.push(" OR ");
        }
        first = false;
        q.push("(stays.post_id = ").text(post).push(" AND stays.from_at < ").int(*until);
        q.push(" AND (stays.until_at IS NULL OR stays.until_at > ").int(*from).push("))");
    }
}

/// Files the sight may see: a condition on `files`, which may be joined
/// to other tables.
pub fn files(sight: &Sight) -> Sql {
    visible(sight, "files", |q, units| {
        q.push("files.section_id IN (").texts(units).push(")");
    })
}

/// Receipts the sight may see (their owning unit is the registry's: the
/// unit of the post that diarised them).
pub fn receipts(sight: &Sight) -> Sql {
    visible(sight, "receipts", |q, units| {
        q.push("receipts.created_by_post IN (SELECT posts.id FROM posts WHERE posts.org_unit_id IN (")
            .texts(units)
            .push("))");
    })
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
                .filter(prepared::one_of(files::id, chunk))
                .filter(self::files(sight))
                .select(files::id)
                .load::<String>(conn)?,
        );
    }
    for chunk in receipt_ids.chunks(500) {
        ok.extend(
            receipts::table
                .filter(prepared::one_of(receipts::id, chunk))
                .filter(self::receipts(sight))
                .select(receipts::id)
                .load::<String>(conn)?,
        );
    }
    Ok(ok)
}
