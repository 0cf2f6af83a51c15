//! The tamper-evident ledger. Every change appends its event in its own
//! transaction (no lock on the hot path); the sealer then gives each event its
//! position, its leaf hash (RFC 9162: SHA-256(0x00 ‖ canonical entry)) and the
//! previous entry's hash; checkpoints sign the Merkle root with the deployment
//! key. `verify` recomputes all of it and checks that the notes, signatures
//! and movements the events describe are still as recorded.

use diesel::prelude::*;
use serde_json::Value;

use crate::domain::merkle::{self, Hash, leaf_hash};
use crate::pki::{Ca, hex};
use crate::store::schema::{ledger_checkpoints, ledger_events, ledger_nodes, ledger_tree};
use crate::store::{Db, DbConn, StoreError, new_id, now_micros, rfc3339};

/// An event to append.
pub struct Event<'a> {
    /// e.g. `file_created`, `note_added`, `movement`, `receipt_diarised`, `document_attached`.
    pub kind: &'a str,
    /// Who did it.
    pub actor_user: Option<&'a str>,
    /// At which post.
    pub actor_post: Option<&'a str>,
    /// The file concerned.
    pub file_id: Option<&'a str>,
    /// The receipt concerned.
    pub receipt_id: Option<&'a str>,
    /// What happened, in full.
    pub payload: Value,
}

/// An event as it is written, before the sealer gives it a position.
struct Appended {
    id: String,
    at: i64,
    kind: String,
    actor_user: Option<String>,
    actor_post: Option<String>,
    file_id: Option<String>,
    receipt_id: Option<String>,
    payload: String,
}

thread_local! {
    /// The events a [`batched`] scope on this thread has held back, in the
    /// order they were appended; `None` outside such a scope.
    static HELD: std::cell::RefCell<Option<Vec<Appended>>> = const { std::cell::RefCell::new(None) };
}

/// Appends an event; returns its id. Inside [`batched`] the row is written
/// when the scope's work has succeeded, in the same transaction.
pub fn append(conn: &mut DbConn, e: Event<'_>) -> QueryResult<String> {
    let id = new_id();
    let row = Appended {
        id: id.clone(),
        at: now_micros(),
        kind: e.kind.to_owned(),
        actor_user: e.actor_user.map(str::to_owned),
        actor_post: e.actor_post.map(str::to_owned),
        file_id: e.file_id.map(str::to_owned),
        receipt_id: e.receipt_id.map(str::to_owned),
        payload: e.payload.to_string(),
    };
    let unheld = HELD.with(|held| match held.borrow_mut().as_mut() {
        Some(rows) => {
            rows.push(row);
            None
        }
        None => Some(row),
    });
    if let Some(row) = unheld {
        write(conn, &[row])?;
    }
    Ok(id)
}

/// Runs `f` (one request's work, inside its transaction), holding back the
/// events it appends, and then writes them all in one statement: a
/// movement with a signed note appends four. If `f` fails nothing is
/// written, as its transaction rolls back. `f` must not roll back part of
/// its work and go on (a savepoint it recovers from): events of the part
/// undone would still be written. A scope inside a scope leaves the
/// writing to the outer one.
pub fn batched<T, E>(conn: &mut DbConn, f: impl FnOnce(&mut DbConn) -> Result<T, E>) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    if HELD.with(|held| held.borrow().is_some()) {
        return f(conn);
    }
    /// Ends the scope however `f` ends (a panic included).
    struct Scope;
    impl Drop for Scope {
        fn drop(&mut self) {
            HELD.with(|held| held.borrow_mut().take());
        }
    }
    HELD.with(|held| *held.borrow_mut() = Some(Vec::new()));
    let scope = Scope;
    let out = f(conn)?;
    let rows = HELD.with(|held| held.borrow_mut().take()).unwrap_or_default();
    drop(scope);
    write(conn, &rows)?;
    Ok(out)
}

/// Rows per prepared multi-row insert. Longer runs (the seed's) go in
/// chunks of this many, so the statement cache holds at most this many
/// shapes of the insert.
const PREPARED_ROWS: usize = 8;

/// Events sealed per transaction.
const SEAL_BATCH: i64 = 5000;

/// Inserts appended events.
fn write(conn: &mut DbConn, rows: &[Appended]) -> QueryResult<()> {
    for chunk in rows.chunks(PREPARED_ROWS) {
        let mut q = crate::store::prepared::Sql::new();
        q.push(
            "INSERT INTO ledger_events (id, at, kind, actor_user, actor_post, file_id, receipt_id, payload) VALUES ",
        );
        for (k, r) in chunk.iter().enumerate() {
            q.push(if k == 0 { "(" } else { ", (" });
            q.text(&r.id).push(", ").int(r.at).push(", ").text(&r.kind).push(", ");
            q.opt_text(r.actor_user.as_deref()).push(", ").opt_text(r.actor_post.as_deref()).push(", ");
            q.opt_text(r.file_id.as_deref()).push(", ").opt_text(r.receipt_id.as_deref()).push(", ");
            q.text(&r.payload).push(")");
        }
        q.statement().execute(conn)?;
    }
    Ok(())
}

/// The canonical bytes of a stored event: what its leaf hash covers.
pub fn canonical_entry(row: &EventRow) -> Vec<u8> {
    let payload: Value = serde_json::from_str(&row.payload).unwrap_or(Value::String(row.payload.clone()));
    crate::domain::canonical::canonical_json(&serde_json::json!({
        "id": row.id, "at": row.at, "kind": row.kind, "actor_user": row.actor_user, "actor_post": row.actor_post,
        "file_id": row.file_id, "receipt_id": row.receipt_id, "payload": payload,
    }))
}

/// A stored event.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = ledger_events)]
pub struct EventRow {
    pub id: String,
    pub at: i64,
    pub kind: String,
    pub actor_user: Option<String>,
    pub actor_post: Option<String>,
    pub file_id: Option<String>,
    pub receipt_id: Option<String>,
    pub payload: String,
    pub position: Option<i64>,
    pub hash: Option<String>,
    pub prev_hash: Option<String>,
}

fn unhex32(s: &str) -> Option<Hash> {
    let bytes: Option<Vec<u8>> =
        (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect();
    bytes?.try_into().ok()
}

/// Seals appended events into the chain: each gets the next position, its
/// leaf hash, and the previous entry's hash. One sealer at a time; events
/// are sealed in the order they were appended. Returns how many were sealed.
pub fn seal(db: &Db) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let n = db.write_tx(|c: &mut DbConn| -> Result<usize, StoreError> {
            // Sealers in other processes (or `daftar ledger seal`) wait here on
            // PostgreSQL; SQLite has a single writer anyway.
            if let DbConn::Postgres(pg) = c {
                diesel::sql_query("SELECT pg_advisory_xact_lock(7263001)").execute(pg)?;
            }
            let last: Option<(i64, Option<String>)> = ledger_events::table
                .filter(ledger_events::position.is_not_null())
                .order(ledger_events::position.desc())
                .select((ledger_events::position.assume_not_null(), ledger_events::hash))
                .first(c)
                .optional()?;
            let (mut next, mut prev) = match last {
                Some((p, h)) => (p + 1, h),
                None => (0, None),
            };
            let pending: Vec<EventRow> = pending(c)?;
            let mut seals = Vec::with_capacity(pending.len());
            for row in &pending {
                let hash = hex(&leaf_hash(&canonical_entry(row)));
                seals.push(Seal { id: &row.id, position: next, hash: hash.clone(), prev_hash: prev.replace(hash) });
                next += 1;
            }
            for chunk in seals.chunks(seals_per_statement(c)) {
                write_seals(c, chunk)?;
            }
            let folded = fold(c)?;
            Ok(pending.len().max(folded))
        })?;
        total += n;
        if n == 0 {
            return Ok(total);
        }
    }
}

/// Events whose seals one statement writes. On PostgreSQL each statement
/// is a round trip, and one per event sealed about 4,000 events a second
/// (the 8.7 million of half a scale-1 seed took over half an hour): 256 at
/// a time, `daftar ledger checkpoint` over 172,097 events took 9–10 s
/// against 19–37 s. SQLite has no round trip, and its plain `UPDATE` by
/// id was a little quicker than the join (5.3–5.6 s against 5.8 s).
fn seals_per_statement(c: &DbConn) -> usize {
    match c {
        DbConn::Sqlite(_) => 1,
        DbConn::Postgres(_) => 256,
    }
}

/// What sealing writes on one event.
struct Seal<'a> {
    id: &'a str,
    position: i64,
    hash: String,
    prev_hash: Option<String>,
}

/// Writes `seals` in one statement, kept prepared (diesel prepares an
/// `UPDATE` again on every call, and after a bulk load this runs millions
/// of times): one event by its id, or many as an `UPDATE … FROM (VALUES
/// …)` whose rows are padded to a power of two (a repeated row sets the
/// same values again).
fn write_seals(c: &mut DbConn, seals: &[Seal]) -> QueryResult<usize> {
    let mut q = crate::store::prepared::Sql::new();
    if let [seal] = seals {
        q.push("UPDATE ledger_events SET position = ").int(seal.position);
        q.push(", hash = ").text(&seal.hash).push(", prev_hash = ").opt_text(seal.prev_hash.as_deref());
        q.push(" WHERE id = ").text(seal.id);
        return q.statement().execute(c);
    }
    q.push("UPDATE ledger_events SET position = v.column2, hash = v.column3, prev_hash = v.column4 FROM (VALUES ");
    for (k, seal) in crate::store::prepared::padded_items(seals).enumerate() {
        q.push(if k == 0 { "(" } else { ", (" });
        q.text(seal.id).push(", ").int(seal.position).push(", ").text(&seal.hash).push(", ");
        q.opt_text(seal.prev_hash.as_deref()).push(")");
    }
    q.push(") AS v WHERE ledger_events.id = v.column1");
    q.statement().execute(c)
}

/// The next events to seal, oldest first, read through the index that holds
/// only them (migration 23). SQLite is told to use it: without statistics
/// it takes `position IS NULL` on the unique index of `position` for one
/// row, and then sorts every unsealed event (17 million after a scale-1
/// seed, seconds per batch while holding the one writer).
fn pending(c: &mut DbConn) -> QueryResult<Vec<EventRow>> {
    // Read by column name into `EventRow`, so no column list is written
    // here beside its definition; prepared once per batch.
    let from = match c {
        DbConn::Sqlite(_) => "ledger_events INDEXED BY ledger_events_pending",
        DbConn::Postgres(_) => "ledger_events",
    };
    diesel::sql_query(format!("SELECT * FROM {from} WHERE position IS NULL ORDER BY at, id LIMIT {SEAL_BATCH}")).load(c)
}

/// Adds the sealed leaves not yet in the Merkle tree to it (at most a batch),
/// inside the sealer's transaction; returns how many were added.
fn fold(c: &mut DbConn) -> Result<usize, StoreError> {
    let size: i64 = ledger_tree::table.find(1).select(ledger_tree::leaves).first(c)?;
    let new: Vec<Option<String>> = ledger_events::table
        .filter(ledger_events::position.ge(size))
        .order(ledger_events::position)
        .limit(20_000)
        .select(ledger_events::hash)
        .load(c)?;
    if new.is_empty() {
        return Ok(0);
    }
    let leaves: Vec<Hash> = new.iter().map(|h| h.as_deref().and_then(unhex32).unwrap_or_default()).collect();
    let front_ids = merkle::frontier(size as u64);
    let front = nodes(c, &front_ids)?;
    let front: Vec<Hash> = front_ids.iter().map(|id| front.get(id).copied().unwrap_or_default()).collect();
    let rows: Vec<_> = merkle::append(size as u64, &front, &leaves)
        .into_iter()
        .map(|((level, idx), h)| {
            (ledger_nodes::level.eq(level as i32), ledger_nodes::idx.eq(idx as i64), ledger_nodes::hash.eq(hex(&h)))
        })
        .collect();
    for chunk in rows.chunks(1000) {
        crate::on_backend!(&mut *c, |b| diesel::insert_into(ledger_nodes::table).values(chunk).execute(b))?;
    }
    diesel::update(ledger_tree::table.find(1)).set(ledger_tree::leaves.eq(size + leaves.len() as i64)).execute(c)?;
    Ok(leaves.len())
}

/// The stored hashes of the given subtrees (leaves from the events, the rest
/// from `ledger_nodes`); absent ones are left out.
fn nodes(c: &mut DbConn, ids: &[merkle::NodeId]) -> QueryResult<std::collections::HashMap<merkle::NodeId, Hash>> {
    let mut out = std::collections::HashMap::new();
    let leaves: Vec<i64> = ids.iter().filter(|(l, _)| *l == 0).map(|(_, i)| *i as i64).collect();
    if !leaves.is_empty() {
        let rows: Vec<(Option<i64>, Option<String>)> = ledger_events::table
            .filter(ledger_events::position.eq_any(&leaves))
            .select((ledger_events::position, ledger_events::hash))
            .load(c)?;
        for (p, h) in rows {
            if let (Some(p), Some(h)) = (p, h.as_deref().and_then(unhex32)) {
                out.insert((0, p as u64), h);
            }
        }
    }
    let inner: Vec<&merkle::NodeId> = ids.iter().filter(|(l, _)| *l > 0).collect();
    if !inner.is_empty() {
        let levels: Vec<i32> = inner.iter().map(|(l, _)| *l as i32).collect();
        let idxs: Vec<i64> = inner.iter().map(|(_, i)| *i as i64).collect();
        let rows: Vec<(i32, i64, String)> = ledger_nodes::table
            .filter(ledger_nodes::level.eq_any(&levels))
            .filter(ledger_nodes::idx.eq_any(&idxs))
            .select((ledger_nodes::level, ledger_nodes::idx, ledger_nodes::hash))
            .load(c)?;
        for (l, i, h) in rows {
            if let Some(h) = unhex32(&h) {
                out.insert((l as u32, i as u64), h);
            }
        }
    }
    Ok(out)
}

/// The root of the first `size` sealed leaves, from O(log n) stored subtrees.
fn root_of(c: &mut DbConn, size: u64) -> Result<Hash, StoreError> {
    let mut ids = Vec::new();
    merkle::range_nodes(0, size, &mut ids);
    let found = nodes(c, &ids)?;
    merkle::range_hash(0, size, &|id| found.get(&id).copied())
        .ok_or_else(|| StoreError::Unavailable("the ledger's Merkle tree is incomplete".into()))
}

/// Inclusion proofs of the leaves at `positions` in the tree of the first
/// `size` sealed leaves, each as RFC 9162 orders its path.
pub fn inclusion_proofs(c: &mut DbConn, positions: &[u64], size: u64) -> Result<Vec<Vec<Hash>>, StoreError> {
    let ranges: Vec<Vec<(u64, u64)>> = positions.iter().map(|p| merkle::proof_ranges(*p, size)).collect();
    let mut ids = Vec::new();
    for (a, b) in ranges.iter().flatten() {
        merkle::range_nodes(*a, *b, &mut ids);
    }
    ids.sort_unstable();
    ids.dedup();
    let found = nodes(c, &ids)?;
    let node = |id| found.get(&id).copied();
    ranges
        .iter()
        .map(|path| {
            path.iter()
                .map(|(a, b)| merkle::range_hash(*a, *b, &node))
                .collect::<Option<Vec<Hash>>>()
                .ok_or_else(|| StoreError::Unavailable("the ledger's Merkle tree is incomplete".into()))
        })
        .collect()
}

/// A signed checkpoint.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Checkpoint {
    /// Entries covered.
    pub size: i64,
    /// Merkle root over them, hex.
    pub root_hash: String,
    /// When (RFC 3339).
    pub at: String,
    /// The signed bytes.
    pub canonical: String,
    /// The deployment key's signature, base64 DER.
    pub signature_b64: String,
}

/// Seals what is pending and writes a checkpoint signed by the deployment key.
pub fn checkpoint(db: &Db, ca: &Ca) -> Result<Checkpoint, String> {
    seal(db).map_err(|e| e.to_string())?;
    let mut conn = db.writer().map_err(|e| e.to_string())?;
    let size: i64 =
        ledger_tree::table.find(1).select(ledger_tree::leaves).first(&mut *conn).map_err(|e| e.to_string())?;
    let root = hex(&root_of(&mut conn, size as u64).map_err(|e| e.to_string())?);
    let at = now_micros();
    let canonical = crate::domain::canonical::canonical_json(&serde_json::json!({
        "type": "daftar.checkpoint.v1", "size": size, "root_hash": root, "at": rfc3339(at),
    }));
    use base64::Engine;
    let signature_b64 = base64::engine::general_purpose::STANDARD.encode(ca.sign(&canonical)?);
    let canonical = String::from_utf8_lossy(&canonical).into_owned();
    diesel::insert_into(ledger_checkpoints::table)
        .values((
            ledger_checkpoints::id.eq(new_id()),
            ledger_checkpoints::size.eq(size),
            ledger_checkpoints::root_hash.eq(&root),
            ledger_checkpoints::at.eq(at),
            ledger_checkpoints::canonical.eq(&canonical),
            ledger_checkpoints::signature_b64.eq(&signature_b64),
        ))
        .execute(&mut *conn)
        .map_err(|e| e.to_string())?;
    Ok(Checkpoint { size, root_hash: root, at: rfc3339(at), canonical, signature_b64 })
}

/// The newest checkpoint.
pub fn latest_checkpoint(conn: &mut DbConn) -> QueryResult<Option<Checkpoint>> {
    let row: Option<(i64, String, i64, String, String)> = ledger_checkpoints::table
        .order(ledger_checkpoints::at.desc())
        .select((
            ledger_checkpoints::size,
            ledger_checkpoints::root_hash,
            ledger_checkpoints::at,
            ledger_checkpoints::canonical,
            ledger_checkpoints::signature_b64,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(size, root_hash, at, canonical, signature_b64)| Checkpoint {
        size,
        root_hash,
        at: rfc3339(at),
        canonical,
        signature_b64,
    }))
}

/// The outcome of verifying the ledger.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Sealed entries checked.
    pub entries: i64,
    /// Whether everything held.
    pub ok: bool,
    /// The position of the first entry found bad.
    pub first_bad_seq: Option<i64>,
    /// What was wrong with it.
    pub problem: Option<String>,
    /// Hash of the last entry.
    pub head_hash: Option<String>,
    /// The newest checkpoint, if any.
    pub checkpoint: Option<Checkpoint>,
    /// Checkpoints checked.
    pub checkpoints_checked: usize,
}

/// Recomputes everything: the chain of hashes, every checkpoint's root and
/// signature, and that the rows the events describe (notes, signatures,
/// movements) are still as recorded. Names the first bad entry.
pub fn verify(conn: &mut DbConn, ca_spki: &[u8]) -> Result<Report, StoreError> {
    let rows: Vec<EventRow> = ledger_events::table
        .filter(ledger_events::position.is_not_null())
        .order(ledger_events::position)
        .select(EventRow::as_select())
        .load(conn)?;
    let mut problems: Vec<(i64, String)> = Vec::new();
    let mut leaves: Vec<Hash> = Vec::with_capacity(rows.len());
    let mut prev: Option<String> = None;
    for (i, row) in rows.iter().enumerate() {
        let pos = row.position.unwrap_or(-1);
        let computed = leaf_hash(&canonical_entry(row));
        let name = format!("entry {pos} ({} {})", row.kind, row.id);
        if pos != i as i64 {
            problems.push((i as i64, format!("entry {i} is missing or out of place (found {name})")));
            break;
        }
        if row.hash.as_deref() != Some(hex(&computed).as_str()) {
            problems.push((pos, format!("{name}: its content does not match its hash")));
            break;
        }
        if row.prev_hash != prev {
            problems.push((pos, format!("{name}: it does not link to the entry before it")));
            break;
        }
        prev = row.hash.clone();
        leaves.push(computed);
    }
    // Checkpoints: each root over its prefix, each signature by the deployment key.
    let checkpoints: Vec<(i64, String, String, String)> = ledger_checkpoints::table
        .order(ledger_checkpoints::at)
        .select((
            ledger_checkpoints::size,
            ledger_checkpoints::root_hash,
            ledger_checkpoints::canonical,
            ledger_checkpoints::signature_b64,
        ))
        .load(conn)?;
    use base64::Engine;
    for (size, root, canonical, sig) in &checkpoints {
        let signed = base64::engine::general_purpose::STANDARD
            .decode(sig)
            .is_ok_and(|s| crate::pki::verify_p256(ca_spki, canonical.as_bytes(), &s));
        let claims: Value = serde_json::from_str(canonical).unwrap_or(Value::Null);
        if !signed || claims["root_hash"] != *root || claims["size"] != *size {
            problems.push((*size - 1, format!("the checkpoint of {size} entries is not signed by this deployment")));
        } else if *size as usize <= leaves.len() && hex(&merkle::root(&leaves[..*size as usize])) != *root {
            problems.push((*size - 1, format!("the entries do not add up to the signed checkpoint of {size} entries")));
        }
    }
    // The rows the events describe are still as recorded.
    problems.extend(cross_check(conn, &rows)?);
    problems.sort_by_key(|(p, _)| *p);
    let first = problems.into_iter().next();
    Ok(Report {
        entries: rows.len() as i64,
        ok: first.is_none(),
        first_bad_seq: first.as_ref().map(|(p, _)| *p),
        problem: first.map(|(_, m)| m),
        head_hash: prev,
        checkpoint: latest_checkpoint(conn)?,
        checkpoints_checked: checkpoints.len(),
    })
}

fn cross_check(conn: &mut DbConn, rows: &[EventRow]) -> Result<Vec<(i64, String)>, StoreError> {
    use crate::store::schema::{movements, note_signatures, notes};
    let mut problems = Vec::new();
    let mut last_body: std::collections::HashMap<String, (i64, String)> = std::collections::HashMap::new();
    let mut movement_ids = std::collections::HashSet::new();
    for row in rows {
        let pos = row.position.unwrap_or(-1);
        let payload: Value = serde_json::from_str(&row.payload).unwrap_or(Value::Null);
        match row.kind.as_str() {
            "note_added" | "note_edited" => {
                if let (Some(id), Some(h)) = (payload["note_id"].as_str(), payload["body_sha256"].as_str()) {
                    last_body.insert(id.to_owned(), (pos, h.to_owned()));
                }
            }
            "note_signed" => {
                let Some(id) = payload["note_id"].as_str() else { continue };
                let stored: Option<(String, String)> = note_signatures::table
                    .find(id)
                    .select((note_signatures::canonical, note_signatures::signature_b64))
                    .first(conn)
                    .optional()?;
                let recorded = payload["signature"]["canonical_sha256"].as_str();
                match stored {
                    None => {
                        problems.push((pos, format!("entry {pos} (note_signed {}): the signature row is gone", row.id)))
                    }
                    Some((canonical, sig)) => {
                        let same = recorded
                            .is_none_or(|r| r == crate::domain::canonical::sha256_hex(canonical.as_bytes()))
                            && payload["signature"]["value_b64"].as_str().is_none_or(|v| v == sig);
                        let now = crate::signing::forms::note_canonical(conn, id)
                            .ok()
                            .map(|c| String::from_utf8_lossy(&c).into_owned());
                        if !same || now.as_deref() != Some(canonical.as_str()) {
                            problems.push((
                                pos,
                                format!("entry {pos} (note_signed {}): the signed note {id} has changed", row.id),
                            ));
                        }
                    }
                }
            }
            "movement_signed" => {
                use crate::store::schema::movement_signatures;
                let Some(id) = payload["movement_id"].as_str() else { continue };
                let stored: Option<String> = movement_signatures::table
                    .find(id)
                    .select(movement_signatures::canonical)
                    .first(conn)
                    .optional()?;
                let form = crate::signing::forms::MovementForm::of(stored.as_deref().unwrap_or(""));
                let now = crate::signing::forms::movement_canonical(conn, id, form)
                    .ok()
                    .map(|c| String::from_utf8_lossy(&c).into_owned());
                let recorded = payload["signature"]["canonical_sha256"].as_str();
                let same = stored.as_deref().is_some_and(|s| {
                    now.as_deref() == Some(s)
                        && recorded.is_none_or(|r| r == crate::domain::canonical::sha256_hex(s.as_bytes()))
                });
                if !same {
                    problems.push((
                        pos,
                        format!("entry {pos} (movement_signed {}): signed movement {id} has changed", row.id),
                    ));
                }
            }
            "movement" => {
                let Some(id) = payload["movement_id"].as_str() else { continue };
                movement_ids.insert(id.to_owned());
                type Moved = (
                    String,
                    Option<String>,
                    Option<String>,
                    i64,
                    Option<String>,
                    Option<i64>,
                    Option<String>,
                    i64,
                    String,
                    String,
                );
                let found: Option<Moved> = movements::table
                    .find(id)
                    .select((
                        movements::action,
                        movements::from_post_id,
                        movements::to_post_id,
                        movements::seq,
                        movements::remarks,
                        movements::due_at,
                        movements::priority,
                        movements::sent_at,
                        movements::by_user_id,
                        movements::by_post_id,
                    ))
                    .first(conn)
                    .optional()?;
                // Every column that carries meaning is in the event; fields
                // that older events did not record are not asked of them.
                let recorded = |key: &str, now: Value| payload.get(key).is_none_or(|v| *v == now);
                let same =
                    found.as_ref().is_some_and(|(action, from, to, seq, remarks, due, priority, sent, by, by_post)| {
                        payload["action"] == action.as_str()
                            && payload["from_post_id"].as_str() == from.as_deref()
                            && payload["to_post_id"].as_str() == to.as_deref()
                            && recorded("seq", Value::from(*seq))
                            && recorded("remarks", serde_json::json!(remarks))
                            && recorded("due_at", serde_json::json!(due))
                            && recorded("priority", serde_json::json!(priority))
                            && recorded("sent_at", Value::from(*sent))
                            && row.actor_user.as_deref() == Some(by.as_str())
                            && row.actor_post.as_deref() == Some(by_post.as_str())
                    });
                if !same {
                    problems
                        .push((pos, format!("entry {pos} (movement {}): movement {id} is missing or altered", row.id)));
                }
            }
            _ => {}
        }
    }
    for (note_id, (pos, hash)) in last_body {
        let body: Option<String> = notes::table.find(&note_id).select(notes::body).first(conn).optional()?;
        if body.map(|b| crate::domain::canonical::sha256_hex(b.as_bytes())) != Some(hash) {
            problems.push((pos, format!("entry {pos}: the text of note {note_id} is not what was recorded")));
        }
    }
    Ok(problems)
}

/// One round of the sealer: seals what was appended, and signs a checkpoint
/// when the newest is older than `max_age` (or there is none). Returns the
/// checkpoint it signed, if it signed one.
pub fn tick(db: &Db, ca: &Ca, max_age: chrono::Duration) -> Result<Option<Checkpoint>, String> {
    seal(db).map_err(|e| e.to_string())?;
    let latest = {
        let mut c = db.reader().map_err(|e| e.to_string())?;
        latest_checkpoint(&mut c).map_err(|e| e.to_string())?
    };
    let fresh = |at: &str| {
        chrono::DateTime::parse_from_rfc3339(at).is_ok_and(|t| chrono::Utc::now().signed_duration_since(t) <= max_age)
    };
    let due = latest.is_none_or(|cp| !fresh(&cp.at));
    if due { checkpoint(db, ca).map(Some) } else { Ok(None) }
}
