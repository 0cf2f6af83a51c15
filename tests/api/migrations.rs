//! Every migration runs up, down and up again, leaving the same schema.

use daftar::store::{DbConn, revert_migrations, run_migrations};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use crate::both_backends;
use crate::helpers::fresh_db;

#[derive(QueryableByName, Debug, PartialEq)]
struct Line {
    #[diesel(sql_type = Nullable<Text>)]
    line: Option<String>,
}

fn schema_dump(conn: &mut DbConn) -> Vec<String> {
    let sql = match conn {
        DbConn::Sqlite(_) => {
            "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') AS line FROM sqlite_master \
             WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '__diesel%' ORDER BY type, name"
        }
        DbConn::Postgres(_) => {
            "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' \
             || COALESCE(column_default, '') AS line FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name NOT LIKE '__diesel%' \
             UNION ALL SELECT indexdef AS line FROM pg_indexes WHERE schemaname = 'public' \
             AND tablename NOT LIKE '__diesel%' ORDER BY line"
        }
    };
    let rows: Vec<Line> = diesel::sql_query(sql).load(conn).unwrap();
    rows.into_iter().map(|l| l.line.unwrap_or_default()).collect()
}

both_backends!(migrations_round_trip, |backend| {
    let Some(db) = fresh_db(backend) else { return };
    let mut conn = DbConn::establish(&db.url).unwrap();
    let applied = run_migrations(&mut conn).unwrap();
    assert!(!applied.is_empty());
    let up = schema_dump(&mut conn);
    assert!(up.iter().any(|l| l.contains("org_units")), "{up:?}");
    let reverted = revert_migrations(&mut conn, usize::MAX).unwrap();
    assert_eq!(reverted, applied.len());
    assert!(schema_dump(&mut conn).is_empty(), "down must remove everything up created");
    run_migrations(&mut conn).unwrap();
    assert_eq!(schema_dump(&mut conn), up);
    assert!(run_migrations(&mut conn).unwrap().is_empty(), "nothing pending after up");
});
