//! Public tracking of letters from outside the government (issue 26).
//!
//! When the registry diarises such a letter it is given a tracking code: 80
//! random bits, shown once (on the acknowledgement and its printed slip) and
//! kept only as a SHA-256. Anyone holding the diary number and the code may
//! ask where the letter is, without signing in; the answer names stages,
//! days and sections only (`domain::tracking`). A wrong code and an unknown
//! diary number are the same answer, and letters above `restricted` are
//! never tracked.

pub mod slip;

use diesel::prelude::*;
use ring::rand::SecureRandom;

use crate::domain::canonical::sha256_hex;
use crate::domain::org::Clearance;
use crate::domain::tracking::{self, CODE_BYTES, History, StageAt};
use crate::store::schema::{files, movements, org_units, posts, receipt_tracking, receipts};
use crate::store::{DbConn, now_micros};

/// Gives the receipt `receipt_id` (diary number `diary_no`) a tracking code
/// and returns it: the only time the code exists outside the sender's hands.
pub fn issue(conn: &mut DbConn, receipt_id: &str, diary_no: &str) -> QueryResult<String> {
    let mut bytes = [0u8; CODE_BYTES];
    ring::rand::SystemRandom::new().fill(&mut bytes).expect("the OS random source works");
    let code = tracking::code_from(&bytes);
    let stored = tracking::normalize(&code).expect("a code made here reads back");
    diesel::insert_into(receipt_tracking::table)
        .values((
            receipt_tracking::receipt_id.eq(receipt_id),
            receipt_tracking::diary_no.eq(diary_no),
            receipt_tracking::code_sha256.eq(sha256_hex(stored.as_bytes())),
            receipt_tracking::issued_at.eq(now_micros()),
        ))
        .execute(conn)?;
    Ok(code)
}

/// What the tracking page shows of one letter.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Tracked {
    /// The diary number asked about.
    pub diary_no: String,
    /// The office (entity) that received it.
    pub office: String,
    /// The day it was received.
    pub received_on: String,
    /// Where it is now.
    pub status: tracking::Stage,
    /// The section dealing with it now (none once disposed of).
    pub section: Option<String>,
    /// Each stage and the day it began.
    pub stages: Vec<StageAt>,
}

fn same_hash(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn day(micros: i64) -> String {
    crate::clock::date_at(micros).to_string()
}

/// The letter `diary_no` if `code` is its tracking code; `None` for an
/// unknown diary number, a wrong code and an untrackable letter alike.
pub fn lookup(conn: &mut DbConn, diary_no: &str, code: &str) -> QueryResult<Option<Tracked>> {
    let given = tracking::normalize(code).map(|c| sha256_hex(c.as_bytes()));
    let row: Option<(String, String)> = receipt_tracking::table
        .filter(receipt_tracking::diary_no.eq(diary_no))
        .select((receipt_tracking::receipt_id, receipt_tracking::code_sha256))
        .first(conn)
        .optional()?;
    // The hash is compared even when the code could not be read, so the
    // work done does not tell a malformed code from a wrong one.
    let given = given.unwrap_or_default();
    let Some((receipt_id, _)) = row.filter(|(_, stored)| same_hash(stored, &given)) else {
        return Ok(None);
    };
    let (entity, class, created_at, created_by_post, status, file_id): (
        String,
        String,
        i64,
        String,
        String,
        Option<String>,
    ) = receipts::table
        .find(&receipt_id)
        .select((
            receipts::entity_id,
            receipts::classification,
            receipts::created_at,
            receipts::created_by_post,
            receipts::status,
            receipts::file_id,
        ))
        .first(conn)?;
    let class: Clearance = crate::store::stored(&class)?;
    if !tracking::trackable(class) {
        return Ok(None);
    }
    let section_of = |conn: &mut DbConn, post: &str| -> QueryResult<String> {
        posts::table.inner_join(org_units::table).filter(posts::id.eq(post)).select(org_units::name).first(conn)
    };
    let moves: Vec<(String, Option<String>, i64)> = movements::table
        .filter(movements::receipt_id.eq(&receipt_id))
        .order(movements::seq)
        .select((movements::action, movements::to_post_id, movements::sent_at))
        .load(conn)?;
    let mut history = History {
        diarised: (day(created_at), section_of(conn, &created_by_post)?),
        moves: Vec::new(),
        put_up: None,
        disposed: None,
    };
    for (action, to, at) in moves {
        match (action.as_str(), to) {
            ("put_up", _) => history.put_up = Some((day(at), None)),
            (_, Some(to)) => history.moves.push((section_of(conn, &to)?, day(at))),
            _ => {}
        }
    }
    if let (Some(put_up), Some(file_id)) = (history.put_up.as_mut(), file_id.filter(|_| status == "put_up")) {
        let (holder, file_status): (String, String) =
            files::table.find(&file_id).select((files::holder_post_id, files::status)).first(conn)?;
        if file_status == "closed" {
            let closed: Option<i64> = movements::table
                .filter(movements::file_id.eq(&file_id))
                .filter(movements::action.eq("close"))
                .select(diesel::dsl::max(movements::sent_at))
                .first(conn)?;
            history.disposed = Some(day(closed.unwrap_or(created_at)));
        } else {
            put_up.1 = Some(section_of(conn, &holder)?);
        }
    }
    let office: String = org_units::table.find(&entity).select(org_units::name).first(conn)?;
    let stages = tracking::stages(&history);
    let now = stages.last().expect("a letter is at least diarised");
    Ok(Some(Tracked {
        diary_no: diary_no.to_owned(),
        office,
        received_on: history.diarised.0.clone(),
        status: now.stage,
        section: now.section.clone(),
        stages,
    }))
}
