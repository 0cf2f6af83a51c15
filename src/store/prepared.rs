//! Conditions that stay prepared. Diesel prepares again, on every call, any
//! statement that holds an `sql()` literal or (on SQLite) an `eq_any` list,
//! because their text can change between calls of the same Rust type. The
//! inbox and the sight filter run on nearly every request, and preparing
//! them cost a quarter of the server's CPU in the inbox benchmark.
//!
//! [`Sql`] and [`one_of`] are written as bound values in text whose shape
//! depends only on how many values there are, and lists are padded to a
//! power of two (repeating their last value, which changes no answer), so a
//! connection keeps a handful of shapes prepared, keyed by their text.
//!
//! Diesel also never keeps an `UPDATE` or an upsert prepared. The few that
//! every movement runs are written as a [`Statement`]: the same bound text,
//! run whole, so that PostgreSQL parses and plans them once per connection
//! rather than on every call (and SQLite compiles them once).
//!
//! And through `MultiConnection` diesel writes a statement's SQL text again
//! on every run, even a prepared one, quoting each column name into a new
//! string: for the inbox's joined query that was a tenth of the server's
//! CPU. The hottest reads are therefore written whole as [`Rows`], whose
//! text is a few static pieces.

use std::borrow::Cow;

use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, Bool, HasSqlType, Integer, Nullable, Text};

/// A backend that binds the values [`Sql`] carries: `MultiConnection`'s,
/// and each concrete one (so that hot reads can run through
/// [`crate::on_backend`], which finds a prepared statement without writing
/// its SQL text again).
///
/// Each impl below still names the values' `ToSql` bounds: Rust does not
/// carry bounds on other types through a trait.
pub trait Binds:
    Backend
    + HasSqlType<Text>
    + HasSqlType<BigInt>
    + HasSqlType<Integer>
    + HasSqlType<Nullable<Text>>
    + HasSqlType<Nullable<BigInt>>
{
}

impl<DB> Binds for DB where
    DB: Backend
        + HasSqlType<Text>
        + HasSqlType<BigInt>
        + HasSqlType<Integer>
        + HasSqlType<Nullable<Text>>
        + HasSqlType<Nullable<BigInt>>
{
}

/// How many values a list of `n` is padded to.
fn padded(n: usize) -> usize {
    n.max(1).next_power_of_two()
}

/// The items of a list padded to a power of two by repeating the last one
/// (nothing for an empty list). Every list bound into a statement goes
/// through this, so its shape depends only on the padded length.
pub fn padded_items<T>(items: &[T]) -> impl Iterator<Item = &T> {
    let n = if items.is_empty() { 0 } else { padded(items.len()) };
    (0..n).filter_map(move |k| items.get(k).or(items.last()))
}

enum Part {
    Sql(Cow<'static, str>),
    Text(String),
    Int(i64),
    Int4(i32),
    OptText(Option<String>),
    OptInt(Option<i64>),
}

/// A boolean condition as SQL text with bound values. Its text must not
/// carry values (only identifiers and keywords): values go through
/// [`Sql::text`], [`Sql::int`] and [`Sql::texts`].
#[derive(Default)]
pub struct Sql {
    parts: Vec<Part>,
}

impl Sql {
    /// An empty condition (to be pushed to).
    pub fn new() -> Sql {
        Sql::default()
    }

    /// Appends SQL text.
    pub fn push(&mut self, sql: impl Into<Cow<'static, str>>) -> &mut Sql {
        self.parts.push(Part::Sql(sql.into()));
        self
    }

    /// Appends one bound text value.
    pub fn text(&mut self, value: &str) -> &mut Sql {
        self.parts.push(Part::Text(value.to_owned()));
        self
    }

    /// Appends one bound integer.
    pub fn int(&mut self, value: i64) -> &mut Sql {
        self.parts.push(Part::Int(value));
        self
    }

    /// Appends another condition's text and values.
    pub fn append(&mut self, other: Sql) -> &mut Sql {
        self.parts.extend(other.parts);
        self
    }

    /// Appends one bound 32-bit integer.
    pub fn int4(&mut self, value: i32) -> &mut Sql {
        self.parts.push(Part::Int4(value));
        self
    }

    /// Appends one bound text value or NULL.
    pub fn opt_text(&mut self, value: Option<&str>) -> &mut Sql {
        self.parts.push(Part::OptText(value.map(str::to_owned)));
        self
    }

    /// Appends one bound integer or NULL.
    pub fn opt_int(&mut self, value: Option<i64>) -> &mut Sql {
        self.parts.push(Part::OptInt(value));
        self
    }

    /// Appends `v1, v2, …` bound, padded to a power of two; `values` must
    /// not be empty (an empty list is not valid SQL: test for it first).
    pub fn texts<S: AsRef<str>>(&mut self, values: &[S]) -> &mut Sql {
        debug_assert!(!values.is_empty(), "an empty IN list");
        for (k, v) in padded_items(values).enumerate() {
            if k > 0 {
                self.push(", ");
            }
            self.text(v.as_ref());
        }
        self
    }
}

impl Sql {
    /// Makes this text a whole statement, to be `execute`d.
    pub fn statement(&mut self) -> Statement {
        Statement(std::mem::take(self))
    }

    /// Makes this text a whole statement that returns rows of SQL type
    /// `ST` (a `SELECT`, an `UPDATE … RETURNING …`), to be `load`ed.
    pub fn rows<ST>(&mut self) -> Rows<ST> {
        Rows(std::mem::take(self), std::marker::PhantomData)
    }
}

impl Expression for Sql {
    type SqlType = Bool;
}

impl<QS> AppearsOnTable<QS> for Sql {}

impl<QS> SelectableExpression<QS> for Sql {}

impl ValidGrouping<()> for Sql {
    type IsAggregate = is_aggregate::Never;
}

impl QueryId for Sql {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: Binds> QueryFragment<DB> for Sql
where
    String: ToSql<Text, DB>,
    i64: ToSql<BigInt, DB>,
    i32: ToSql<Integer, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        for part in &self.parts {
            match part {
                Part::Sql(s) => out.push_sql(s),
                Part::Text(v) => out.push_bind_param::<Text, String>(v)?,
                Part::Int(v) => out.push_bind_param::<BigInt, i64>(v)?,
                Part::Int4(v) => out.push_bind_param::<Integer, i32>(v)?,
                Part::OptText(v) => out.push_bind_param::<Nullable<Text>, Option<String>>(v)?,
                Part::OptInt(v) => out.push_bind_param::<Nullable<BigInt>, Option<i64>>(v)?,
            }
        }
        Ok(())
    }
}

/// A whole statement (an `UPDATE`, an upsert) written as [`Sql`], kept
/// prepared by its text. Start one with `Sql::new().push("UPDATE …")`, end
/// it with [`Sql::statement`], and run it with `execute`. Its text names
/// tables and columns as the migrations do, which the tests of its callers
/// check on both backends.
pub struct Statement(Sql);

impl QueryId for Statement {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<DB: Binds> QueryFragment<DB> for Statement
where
    String: ToSql<Text, DB>,
    i64: ToSql<BigInt, DB>,
    i32: ToSql<Integer, DB>,
{
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }
}

impl<Conn> RunQueryDsl<Conn> for Statement {}

/// A [`Statement`] that returns rows of SQL type `ST`: see [`Sql::rows`].
pub struct Rows<ST>(Sql, std::marker::PhantomData<ST>);

impl<ST> QueryId for Rows<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, DB: Binds> QueryFragment<DB> for Rows<ST>
where
    String: ToSql<Text, DB>,
    i64: ToSql<BigInt, DB>,
    i32: ToSql<Integer, DB>,
{
    fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(out)
    }
}

impl<ST> diesel::query_builder::Query for Rows<ST> {
    type SqlType = ST;
}

impl<ST, Conn> RunQueryDsl<Conn> for Rows<ST> {}

/// `column IN (values…)`, prepared once per padded length; false when
/// `values` is empty. For text columns (ids).
pub fn one_of<C, S: AsRef<str>>(column: C, values: &[S]) -> OneOf<C> {
    OneOf { column, values: values.iter().map(|s| s.as_ref().to_owned()).collect() }
}

/// See [`one_of`].
pub struct OneOf<C> {
    column: C,
    values: Vec<String>,
}

impl<C: Expression> Expression for OneOf<C> {
    type SqlType = Bool;
}

impl<C: AppearsOnTable<QS>, QS> AppearsOnTable<QS> for OneOf<C> {}

impl<C: SelectableExpression<QS>, QS> SelectableExpression<QS> for OneOf<C> {}

impl<C: ValidGrouping<()>> ValidGrouping<()> for OneOf<C> {
    type IsAggregate = C::IsAggregate;
}

impl<C> QueryId for OneOf<C> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<C: QueryFragment<DB>, DB: Backend + HasSqlType<Text>> QueryFragment<DB> for OneOf<C>
where
    String: ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        if self.values.is_empty() {
            out.push_sql("1 = 0");
            return Ok(());
        }
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (");
        for (k, v) in padded_items(&self.values).enumerate() {
            if k > 0 {
                out.push_sql(", ");
            }
            out.push_bind_param::<Text, String>(v)?;
        }
        out.push_sql(")");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{padded, padded_items};

    #[test]
    fn lists_pad_to_a_power_of_two() {
        let got: Vec<usize> = [0, 1, 2, 3, 4, 5, 8, 9, 200].iter().map(|&n| padded(n)).collect();
        assert_eq!(got, [1, 1, 2, 4, 4, 8, 8, 16, 256]);
    }

    #[test]
    fn padding_repeats_the_last_item() {
        let pad = |v: &[i32]| padded_items(v).copied().collect::<Vec<_>>();
        assert_eq!(pad(&[]), Vec::<i32>::new());
        assert_eq!(pad(&[7]), [7]);
        assert_eq!(pad(&[1, 2, 3]), [1, 2, 3, 3]);
        assert_eq!(pad(&[1, 2, 3, 4, 5]), [1, 2, 3, 4, 5, 5, 5, 5]);
    }
}
