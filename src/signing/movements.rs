//! Movement signatures: the mover signs what they did, with its ledger event.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde_json::json;

use super::keys::{ActiveKey, OpenKey};
use super::revocation::{live_key, revoked};
use super::{ALG, SignError, Signature};
use crate::domain::canonical::sha256_hex;
use crate::store::schema::signing_keys;
use crate::store::{DbConn, now_micros, rfc3339};

/// Signs a movement with the mover's unsealed key (inside its transaction).
pub fn sign_movement(
    conn: &mut DbConn,
    key: &ActiveKey,
    open: &OpenKey,
    movement_id: &str,
) -> Result<Signature, SignError> {
    let facts = super::forms::movement_facts(conn, movement_id, super::forms::MovementForm::V2)?;
    let signature = open.sign(&facts.0)?;
    store(conn, key, movement_id, facts, &signature)
}

/// Takes a client-mode key's signature of a movement (over the bytes of
/// its signing-bytes route), checked against the key's certificate.
pub fn sign_movement_by_client(
    conn: &mut DbConn,
    key: &ActiveKey,
    movement_id: &str,
    signature: &[u8],
) -> Result<Signature, SignError> {
    let facts = super::forms::movement_facts(conn, movement_id, super::forms::MovementForm::V2)?;
    if !super::keys::verify(&key.public_key, &facts.0, signature) {
        return Err(SignError::Forbidden("signature_b64: does not verify against your certificate's key".into()));
    }
    store(conn, key, movement_id, facts, signature)
}

/// Stores a movement's signature while its key is unrevoked, with its ledger event.
fn store(
    conn: &mut DbConn,
    key: &ActiveKey,
    movement_id: &str,
    (canonical, file_id, receipt_id, by): (Vec<u8>, Option<String>, Option<String>, String),
    signature: &[u8],
) -> Result<Signature, SignError> {
    use crate::store::schema::movement_signatures as ms;
    let canonical = canonical.as_slice();
    let now = now_micros();
    let value_b64 = B64.encode(signature);
    let canonical_text = String::from_utf8_lossy(canonical).into_owned();
    let stored = diesel::insert_into(ms::table)
        .values(live_key(&key.id).select((
            movement_id.into_sql::<Text>(),
            signing_keys::id,
            signing_keys::certificate_serial,
            canonical_text.as_str().into_sql::<Text>(),
            value_b64.as_str().into_sql::<Text>(),
            now.into_sql::<BigInt>(),
        )))
        .into_columns((
            ms::movement_id,
            ms::key_id,
            ms::certificate_serial,
            ms::canonical,
            ms::signature_b64,
            ms::signed_at,
        ))
        .execute(conn)
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                SignError::Conflict("the movement is already signed".into())
            }
            e => e.into(),
        })?;
    if stored != 1 {
        return Err(revoked());
    }
    crate::ledger::append(
        conn,
        crate::ledger::Event {
            kind: "movement_signed",
            actor_user: Some(&by),
            actor_post: None,
            file_id: file_id.as_deref(),
            receipt_id: receipt_id.as_deref(),
            payload: json!({"movement_id": movement_id, "certificate_serial": key.serial,
                            "signature": {"canonical_sha256": sha256_hex(canonical), "value_b64": value_b64}}),
        },
    )?;
    Ok(Signature {
        alg: ALG.into(),
        certificate_serial: key.serial.clone(),
        value_b64,
        signed_at: rfc3339(now),
        canonical_sha256: None,
    })
}

/// A movement's signature, if it was signed.
pub fn movement_signature_of(conn: &mut DbConn, movement_id: &str) -> QueryResult<Option<Signature>> {
    Ok(movement_signatures_of(conn, &[movement_id])?.remove(movement_id))
}

/// The signatures of those of `movement_ids` that were signed, by movement id.
pub fn movement_signatures_of(
    conn: &mut DbConn,
    movement_ids: &[&str],
) -> QueryResult<std::collections::HashMap<String, Signature>> {
    use crate::store::schema::movement_signatures as ms;
    if movement_ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(String, String, String, i64)> = ms::table
        .filter(crate::store::prepared::one_of(ms::movement_id, movement_ids))
        .select((ms::movement_id, ms::certificate_serial, ms::signature_b64, ms::signed_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, serial, value, at)| {
            let signature = Signature {
                alg: ALG.into(),
                certificate_serial: serial,
                value_b64: value,
                signed_at: rfc3339(at),
                canonical_sha256: None,
            };
            (id, signature)
        })
        .collect())
}
