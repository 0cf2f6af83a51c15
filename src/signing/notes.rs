//! Note signatures: made over the note's canonical bytes, stored only while
//! the key is unrevoked, shown with the note.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::keys::{ActiveKey, OpenKey, verify};
use super::revocation::{live_key, revoked};
use super::{ALG, SignError, Signature};
use crate::domain::canonical::sha256_hex;
use crate::store::schema::{note_signatures, notes, signing_keys};
use crate::store::{DbConn, now_micros, rfc3339};

/// Signs a note (inside the caller's transaction, after the caller checked
/// that the actor holds the file): builds the canonical bytes, signs or checks
/// the client's signature, stores it, and marks the note signed.
pub fn sign_note(
    conn: &mut DbConn,
    key: &ActiveKey,
    unsealed: Option<&OpenKey>,
    client_signature: Option<&[u8]>,
    note_id: &str,
) -> Result<Signature, SignError> {
    let canonical = super::forms::note_canonical(conn, note_id)?;
    // A server key was matched to its certificate when unsealed; a client's
    // signature is checked against the certificate's key here.
    let signature = match (unsealed, client_signature) {
        (Some(open), _) => open.sign(&canonical)?,
        (None, Some(sig)) if verify(&key.public_key, &canonical, sig) => sig.to_vec(),
        (None, Some(_)) => {
            return Err(SignError::Forbidden("signature_b64: does not verify against your certificate's key".into()));
        }
        (None, None) => return Err(SignError::Invalid("pin", "send pin or signature_b64".into())),
    };
    let now = now_micros();
    let value_b64 = B64.encode(&signature);
    // Stored only if the key is still unrevoked at this moment (one statement:
    // a revocation is never outrun by a slow PIN check, at no extra round trip).
    let canonical_text = String::from_utf8_lossy(&canonical).into_owned();
    let stored = diesel::insert_into(note_signatures::table)
        .values(live_key(&key.id).select((
            note_id.into_sql::<Text>(),
            signing_keys::id,
            signing_keys::certificate_serial,
            ALG.into_sql::<Text>(),
            canonical_text.as_str().into_sql::<Text>(),
            value_b64.as_str().into_sql::<Text>(),
            now.into_sql::<BigInt>(),
        )))
        .into_columns((
            note_signatures::note_id,
            note_signatures::key_id,
            note_signatures::certificate_serial,
            note_signatures::alg,
            note_signatures::canonical,
            note_signatures::signature_b64,
            note_signatures::signed_at,
        ))
        .execute(conn)
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _) => {
                SignError::Conflict("the note is already signed".into())
            }
            e => e.into(),
        })?;
    if stored != 1 {
        return Err(revoked());
    }
    Ok(Signature {
        alg: ALG.into(),
        certificate_serial: key.serial.clone(),
        value_b64,
        signed_at: rfc3339(now),
        canonical_sha256: Some(sha256_hex(&canonical)),
    })
}

type SignatureRow = (String, String, String, String, i64);

fn render_signature((_, alg, serial, value, at): SignatureRow) -> Signature {
    Signature { alg, certificate_serial: serial, value_b64: value, signed_at: rfc3339(at), canonical_sha256: None }
}

fn select_signature() -> (
    note_signatures::note_id,
    note_signatures::alg,
    note_signatures::certificate_serial,
    note_signatures::signature_b64,
    note_signatures::signed_at,
) {
    (
        note_signatures::note_id,
        note_signatures::alg,
        note_signatures::certificate_serial,
        note_signatures::signature_b64,
        note_signatures::signed_at,
    )
}

/// A note's signature as shown with the note, if it is signed.
pub fn signature_of(conn: &mut DbConn, note_id: &str) -> QueryResult<Option<Signature>> {
    let row: Option<SignatureRow> =
        note_signatures::table.find(note_id).select(select_signature()).first(conn).optional()?;
    Ok(row.map(render_signature))
}

/// The signatures of every signed note of a file, by note id.
pub fn signatures_of_file(
    conn: &mut DbConn,
    file_id: &str,
) -> QueryResult<std::collections::HashMap<String, Signature>> {
    let rows: Vec<SignatureRow> = crate::on_backend!(conn, |c| note_signatures::table
        .inner_join(notes::table)
        .filter(notes::file_id.eq(file_id))
        .select(select_signature())
        .load(c))?;
    Ok(rows.into_iter().map(|r| (r.0.clone(), render_signature(r))).collect())
}
