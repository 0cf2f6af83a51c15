//! The storage layer's promise to every writer: a change that returned `Ok`
//! is committed, one that failed left nothing, whoever else wrote at the same
//! time (on SQLite, concurrent writers commit together: `store::group`).

use daftar::store::schema::serials;
use daftar::store::{Db, DbConn, StoreError};
use diesel::prelude::*;

use crate::both_backends;
use crate::helpers::fresh_db;

fn scopes(db: &Db) -> Vec<String> {
    let mut c = db.reader().unwrap();
    let c: &mut DbConn = &mut c;
    let mut s: Vec<String> = serials::table.select(serials::scope).load(c).unwrap();
    s.sort();
    s
}

fn insert(c: &mut DbConn, scope: &str) -> Result<(), StoreError> {
    diesel::insert_into(serials::table)
        .values((serials::scope.eq(scope), serials::year.eq(2026), serials::last.eq(0i64)))
        .execute(c)?;
    Ok(())
}

both_backends!(concurrent_writers_keep_what_succeeded_and_nothing_else, |backend| {
    let test_db = fresh_db(backend).unwrap();
    let db = Db::connect(&test_db.url, 8, "FULL").unwrap();
    db.migrate().unwrap();
    // 16 writers, 25 changes each; every third change writes a row and then
    // fails, every fifth of writer 0 panics after writing.
    let outcomes: Vec<Vec<(String, bool)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|w| {
                let db = &db;
                s.spawn(move || {
                    (0..25)
                        .map(|i| {
                            let scope = format!("w{w:02}-{i:02}");
                            let fails = i % 3 == 0;
                            let panics = w == 0 && i % 5 == 4;
                            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                db.write_tx(|c| -> Result<(), StoreError> {
                                    insert(c, &scope)?;
                                    if panics {
                                        panic!("a bug mid-change");
                                    }
                                    if fails {
                                        return Err(StoreError::Unavailable("refused".into()));
                                    }
                                    Ok(())
                                })
                            }));
                            (scope, matches!(r, Ok(Ok(()))))
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let told_ok: Vec<String> =
        outcomes.iter().flatten().filter(|(_, ok)| *ok).map(|(scope, _)| scope.clone()).collect();
    let mut expected = told_ok.clone();
    expected.sort();
    // Every change reported done is there, and nothing else is.
    assert_eq!(scopes(&db), expected);
    // The failing and panicking ones were refused; most others succeeded (a
    // panic fails the batch it was in, so its batch-mates are refused too).
    for (w, changes) in outcomes.iter().enumerate() {
        for (i, (scope, ok)) in changes.iter().enumerate() {
            if i % 3 == 0 || (w == 0 && i % 5 == 4) {
                assert!(!ok, "{scope} should have been refused");
            }
        }
    }
    assert!(told_ok.len() > 16 * 16 / 2, "only {} changes succeeded", told_ok.len());
    // And the writer still works afterwards.
    db.write_tx(|c| insert(c, "after")).unwrap();
    assert!(scopes(&db).contains(&"after".to_owned()));
});
