//! Officers' signing keys and signatures on notes (SPEC section 5).
//!
//! `server` keys are generated here and kept as PKCS#8 sealed with
//! AES-256-GCM under a key derived from the officer's PIN by argon2id; they
//! are unsealed only for the moment of signing. `client` keys never leave the
//! officer: only the public half is stored, and the client sends signatures.
//! Signatures are ECDSA P-256 with SHA-256 in DER, over the RFC 8785 (JCS)
//! canonical JSON of the note, so `openssl dgst -sha256 -verify` checks them.

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey,
};
use serde_json::{Value, json};

use crate::pki::{self, Ca, hex};
use crate::store::schema::{files, note_signatures, notes, post_assignments, posts, signing_keys, users};
use crate::store::{DbConn, new_id, now_micros, rfc3339};

/// The signature algorithm, as named in notes and bundles.
pub const ALG: &str = "ECDSA-P256-SHA256";
/// Wrong PINs allowed before the key locks.
pub const PIN_TRIES: i32 = 5;
/// How long a locked key stays locked.
pub const PIN_LOCK_SECS: i64 = 15 * 60;

/// Why signing or enrolling failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// A field is wrong.
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
    /// No usable key, wrong PIN, locked key.
    #[error("{0}")]
    Forbidden(String),
    /// Not in a state to sign.
    #[error("{0}")]
    Conflict(String),
    /// The note or file is not there (for the caller).
    #[error("not found")]
    NotFound,
    /// Storage or crypto failure of ours.
    #[error("{0}")]
    Internal(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl From<crate::efile::EfileError> for SignError {
    fn from(e: crate::efile::EfileError) -> Self {
        use crate::efile::EfileError as E;
        match e {
            E::NotFound => SignError::NotFound,
            E::Invalid(f, m) => SignError::Invalid(f, m),
            E::Forbidden(m) => SignError::Forbidden(m),
            E::Store(s) => SignError::Store(s),
            other => SignError::Conflict(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for SignError {
    fn from(e: diesel::result::Error) -> Self {
        SignError::Store(e.into())
    }
}

/// RFC 8785 canonical JSON of a value made of objects, arrays, strings,
/// integers, booleans and null: keys sorted, no insignificant whitespace.
/// (serde_json's maps are ordered and its string escaping matches JCS.)
pub fn canonical_json(value: &Value) -> Vec<u8> {
    debug_assert!(!contains_float(value), "canonical payloads carry no floats");
    serde_json::to_vec(value).expect("a JSON value always serialises")
}

fn contains_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(a) => a.iter().any(contains_float),
        Value::Object(o) => o.values().any(contains_float),
        _ => false,
    }
}

/// SHA-256, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

fn check_pin(pin: &str) -> Result<(), SignError> {
    if pin.len() < 6 || pin.len() > 64 {
        return Err(SignError::Invalid("pin", "must be 6 to 64 characters".into()));
    }
    Ok(())
}

fn pin_key(pin: &str, salt: &[u8]) -> Result<LessSafeKey, SignError> {
    let params = Params::new(19 * 1024, 2, 1, Some(32)).map_err(|e| SignError::Internal(e.to_string()))?;
    let mut key = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(pin.as_bytes(), salt, &mut key)
        .map_err(|e| SignError::Internal(e.to_string()))?;
    let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| SignError::Internal("aead key".into()))?;
    Ok(LessSafeKey::new(unbound))
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

/// Titles of the posts a user holds today, for the certificate subject.
fn post_titles(conn: &mut DbConn, user_id: &str) -> QueryResult<Vec<String>> {
    let today = crate::org::today();
    post_assignments::table
        .inner_join(posts::table)
        .filter(post_assignments::user_id.eq(user_id))
        .filter(post_assignments::starts_on.le(&today))
        .filter(post_assignments::ends_on.is_null().or(post_assignments::ends_on.ge(&today)))
        .select(posts::title)
        .load(conn)
}

/// A key made ready to store: generated (server mode) or given (client mode).
pub struct NewKey {
    mode: &'static str,
    point: Vec<u8>,
    wrapped: Option<(String, String, String)>,
}

/// Generates a server-mode key sealed under `pin` (slow: argon2id; call it
/// outside any transaction).
pub fn new_server_key(pin: &str) -> Result<NewKey, SignError> {
    check_pin(pin)?;
    let rng = SystemRandom::new();
    let pk8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .map_err(|_| SignError::Internal("keygen".into()))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pk8.as_ref(), &rng)
        .map_err(|_| SignError::Internal("keygen".into()))?;
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 12];
    rng.fill(&mut salt).map_err(|_| SignError::Internal("rng".into()))?;
    rng.fill(&mut nonce).map_err(|_| SignError::Internal("rng".into()))?;
    let mut sealed = pk8.as_ref().to_vec();
    pin_key(pin, &salt)?
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut sealed)
        .map_err(|_| SignError::Internal("seal".into()))?;
    Ok(NewKey {
        mode: "server",
        point: pair.public_key().as_ref().to_vec(),
        wrapped: Some((hex(&sealed), hex(&salt), hex(&nonce))),
    })
}

/// Takes a client-mode public key (PEM, ECDSA P-256).
pub fn new_client_key(public_key_pem: &str) -> Result<NewKey, SignError> {
    let bad = || SignError::Invalid("public_key_pem", "must be a PEM ECDSA P-256 public key".into());
    let spki = pki::spki_from_pem(public_key_pem).ok_or_else(bad)?;
    let point = pki::p256_point(&spki).ok_or_else(bad)?.to_vec();
    Ok(NewKey { mode: "client", point, wrapped: None })
}

/// Stores a key with a certificate the CA issues for it; returns (serial, PEM).
pub fn enrol(conn: &mut DbConn, ca: &Ca, user_id: &str, key: NewKey) -> Result<(String, String), SignError> {
    let (username, name): (String, String) =
        users::table.find(user_id).select((users::username, users::name)).first(conn)?;
    let titles = post_titles(conn, user_id)?;
    let (serial, pem) =
        ca.issue(&pki::p256_spki(&key.point), &format!("{name} ({username})"), &titles).map_err(SignError::Internal)?;
    let (wrapped, salt, nonce) = match key.wrapped {
        Some((w, s, n)) => (Some(w), Some(s), Some(n)),
        None => (None, None, None),
    };
    // One live certificate per officer: the new key supersedes the old, whose
    // signatures stay valid as of their time.
    let now = now_micros();
    let superseded: Vec<String> = signing_keys::table
        .filter(signing_keys::user_id.eq(user_id))
        .filter(signing_keys::revoked_at.is_null())
        .select(signing_keys::certificate_serial)
        .load(conn)?;
    diesel::update(
        signing_keys::table.filter(signing_keys::user_id.eq(user_id)).filter(signing_keys::revoked_at.is_null()),
    )
    .set((signing_keys::revoked_at.eq(now), signing_keys::revoked_by.eq(user_id)))
    .execute(conn)?;
    diesel::insert_into(signing_keys::table)
        .values((
            signing_keys::id.eq(new_id()),
            signing_keys::user_id.eq(user_id),
            signing_keys::mode.eq(key.mode),
            signing_keys::public_key.eq(hex(&key.point)),
            signing_keys::wrapped_key.eq(wrapped),
            signing_keys::salt.eq(salt),
            signing_keys::nonce.eq(nonce),
            signing_keys::certificate_serial.eq(&serial),
            signing_keys::certificate_pem.eq(&pem),
            signing_keys::created_at.eq(now),
        ))
        .execute(conn)?;
    crate::auth::audit::record(
        conn,
        crate::auth::audit::Event {
            kind: "signing_key_enrolled",
            user_id: Some(user_id),
            details: Some(json!({"certificate_serial": serial, "mode": key.mode, "superseded": superseded})),
            ..Default::default()
        },
    )?;
    Ok((serial, pem))
}

/// The key a user signs with now: their newest unrevoked one.
#[derive(Debug, Clone)]
pub struct ActiveKey {
    /// Key id.
    pub id: String,
    /// `server` or `client`.
    pub mode: String,
    /// Public point, hex.
    pub public_key: String,
    /// Sealed PKCS#8 (server mode), salt, nonce.
    pub wrapped: Option<(String, String, String)>,
    /// The certificate's serial.
    pub serial: String,
}

/// Loads the user's active key.
pub fn active_key(conn: &mut DbConn, user_id: &str) -> Result<ActiveKey, SignError> {
    type Row = (String, String, String, Option<String>, Option<String>, Option<String>, String);
    let row: Option<Row> = signing_keys::table
        .filter(signing_keys::user_id.eq(user_id))
        .filter(signing_keys::revoked_at.is_null())
        .order(signing_keys::created_at.desc())
        .select((
            signing_keys::id,
            signing_keys::mode,
            signing_keys::public_key,
            signing_keys::wrapped_key,
            signing_keys::salt,
            signing_keys::nonce,
            signing_keys::certificate_serial,
        ))
        .first(conn)
        .optional()?;
    let Some((id, mode, public_key, w, s, n, serial)) = row else {
        return Err(SignError::Forbidden(
            "you have no valid signing certificate; enrol a key with POST /api/v1/me/keys".into(),
        ));
    };
    let wrapped = match (w, s, n) {
        (Some(w), Some(s), Some(n)) => Some((w, s, n)),
        _ => None,
    };
    Ok(ActiveKey { id, mode, public_key, wrapped, serial })
}

/// What the officer presents to sign.
pub enum Proof {
    /// Server mode: the PIN that unseals the key.
    Pin(String),
    /// Client mode: a DER signature made by the officer's own key.
    Signature(Vec<u8>),
}

/// Unseals a server key with a PIN (slow; outside transactions). `None` if the PIN is wrong.
pub fn unseal(key: &ActiveKey, pin: &str) -> Result<Option<OpenKey>, SignError> {
    unseal_then(key, pin, |_| ())
}

/// [`unseal`], also handing the key's PKCS#8 bytes to `also` (to keep them
/// sealed for a signing session) before they are wiped.
pub fn unseal_then(key: &ActiveKey, pin: &str, also: impl FnOnce(&[u8])) -> Result<Option<OpenKey>, SignError> {
    let Some((w, s, n)) = &key.wrapped else {
        return Err(SignError::Invalid("pin", "your key is a client key: send signature_b64 instead".into()));
    };
    let (mut sealed, salt, nonce) = match (unhex(w), unhex(s), unhex(n)) {
        (Some(w), Some(s), Some(n)) if n.len() == 12 => (w, s, n),
        _ => return Err(SignError::Internal("stored key is damaged".into())),
    };
    let nonce = Nonce::try_assume_unique_for_key(&nonce).map_err(|_| SignError::Internal("nonce".into()))?;
    let opened = match pin_key(pin, &salt)?.open_in_place(nonce, Aad::empty(), &mut sealed) {
        Ok(plain) => {
            let open = OpenKey::new(plain, &key.public_key).map(Some);
            if open.is_ok() {
                also(plain);
            }
            open
        }
        Err(_) => Ok(None),
    };
    sealed.iter_mut().for_each(|b| *b = 0);
    opened
}

/// Counts a PIN attempt before the PIN is tried, atomically, so parallel
/// guesses cannot outrun the lock: `Err(seconds)` when the key is locked or
/// [`PIN_TRIES`] attempts are already counted. A right PIN then calls
/// [`pin_succeeded`]; a wrong one [`pin_failed`].
pub fn reserve_pin_attempt(conn: &mut DbConn, key_id: &str) -> QueryResult<Result<(), i64>> {
    let now = now_micros();
    let counted = diesel::update(signing_keys::table.find(key_id))
        .filter(signing_keys::pin_locked_until.is_null().or(signing_keys::pin_locked_until.le(now)))
        .filter(signing_keys::pin_failures.lt(PIN_TRIES))
        .set((
            signing_keys::pin_failures.eq(signing_keys::pin_failures + 1),
            signing_keys::pin_locked_until.eq(None::<i64>),
        ))
        .execute(conn)?;
    if counted == 1 {
        return Ok(Ok(()));
    }
    // Attempts counted but never settled (a dropped request, say) lock the key
    // like failures would, and so heal after one lock period.
    pin_failed(conn, key_id)?;
    let until: Option<i64> = signing_keys::table.find(key_id).select(signing_keys::pin_locked_until).first(conn)?;
    Ok(Err(until.map_or(PIN_LOCK_SECS, |u| ((u - now) / 1_000_000).max(1))))
}

/// A wrong PIN was tried: once [`PIN_TRIES`] attempts are counted the key
/// locks for [`PIN_LOCK_SECS`] (the count is then back at zero, so a lock in
/// force is never renewed or lifted here).
pub fn pin_failed(conn: &mut DbConn, key_id: &str) -> QueryResult<()> {
    let until = now_micros() + PIN_LOCK_SECS * 1_000_000;
    diesel::update(signing_keys::table.find(key_id))
        .filter(signing_keys::pin_failures.ge(PIN_TRIES))
        .set((signing_keys::pin_failures.eq(0), signing_keys::pin_locked_until.eq(until)))
        .execute(conn)?;
    Ok(())
}

/// The right PIN was given: the count starts again.
pub fn pin_succeeded(conn: &mut DbConn, key_id: &str) -> QueryResult<()> {
    diesel::update(signing_keys::table.find(key_id)).set(signing_keys::pin_failures.eq(0)).execute(conn)?;
    Ok(())
}

/// The canonical bytes of a note (SPEC section 5).
pub fn note_canonical(conn: &mut DbConn, note_id: &str) -> Result<Vec<u8>, SignError> {
    type Row = (String, String, i64, String, String, String, i64, Option<i64>);
    let (file_id, file_no, seq, body, post, user, created, signed_at): Row = notes::table
        .inner_join(files::table)
        .left_join(note_signatures::table)
        .filter(notes::id.eq(note_id))
        .select((
            notes::file_id,
            files::file_no,
            notes::seq,
            notes::body,
            notes::author_post_id,
            notes::author_user_id,
            notes::created_at,
            note_signatures::signed_at.nullable(),
        ))
        .first(conn)?;
    // The previous note signed before this one chains it to the sheet; "before"
    // is judged by signing time, so the bytes are the same when recomputed.
    let previous: Option<String> = note_signatures::table
        .inner_join(notes::table)
        .filter(notes::file_id.eq(&file_id))
        .filter(notes::seq.lt(seq))
        .filter(note_signatures::signed_at.lt(signed_at.unwrap_or(i64::MAX)))
        .order(notes::seq.desc())
        .select(note_signatures::canonical)
        .first(conn)
        .optional()?;
    Ok(canonical_json(&json!({
        "type": "daftar.note.v1",
        "file_id": file_id,
        "file_no": file_no,
        "seq": seq,
        "author_post_id": post,
        "author_user_id": user,
        "body_sha256": sha256_hex(body.as_bytes()),
        "created_at": rfc3339(created),
        "previous_note_sha256": previous.map(|p| sha256_hex(p.as_bytes())),
    })))
}

/// Verifies a DER signature by a P-256 public point (hex).
pub fn verify(public_key_hex: &str, message: &[u8], signature_der: &[u8]) -> bool {
    unhex(public_key_hex)
        .is_some_and(|p| UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, p).verify(message, signature_der).is_ok())
}

/// A server key unsealed by its PIN: parsed once and checked against its
/// certificate's public key, so that each signature afterwards is a single
/// ECDSA operation with nothing left to go wrong.
#[derive(Clone)]
pub struct OpenKey(std::sync::Arc<EcdsaKeyPair>);

impl OpenKey {
    fn new(pkcs8: &[u8], public_key_hex: &str) -> Result<OpenKey, SignError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8, &SystemRandom::new())
            .map_err(|_| SignError::Internal("stored key is damaged".into()))?;
        if unhex(public_key_hex).as_deref() != Some(pair.public_key().as_ref()) {
            return Err(SignError::Internal("the stored key does not match its certificate".into()));
        }
        Ok(OpenKey(std::sync::Arc::new(pair)))
    }

    /// Signs `message` (ECDSA P-256 over SHA-256, DER).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        self.0
            .sign(&SystemRandom::new(), message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| SignError::Internal("signing failed".into()))
    }
}

/// The key's row while it is unrevoked: what a signature is stored from.
fn live_key(
    key_id: &str,
) -> diesel::dsl::Filter<diesel::dsl::Find<signing_keys::table, &str>, diesel::dsl::IsNull<signing_keys::revoked_at>> {
    signing_keys::table.find(key_id).filter(signing_keys::revoked_at.is_null())
}

fn revoked() -> SignError {
    SignError::Forbidden("your signing certificate has been revoked".into())
}

/// Signs a note (inside the caller's transaction, after the caller checked
/// that the actor holds the file): builds the canonical bytes, signs or checks
/// the client's signature, stores it, and marks the note signed.
pub fn sign_note(
    conn: &mut DbConn,
    key: &ActiveKey,
    unsealed: Option<&OpenKey>,
    client_signature: Option<&[u8]>,
    note_id: &str,
) -> Result<Value, SignError> {
    let canonical = note_canonical(conn, note_id)?;
    // A server key was matched to its certificate when unsealed; a client's
    // signature is checked against the certificate's key here.
    let signature = match (unsealed, client_signature) {
        (Some(open), _) => open.sign(&canonical)?,
        (None, Some(sig)) if verify(&key.public_key, &canonical, sig) => sig.to_vec(),
        (None, Some(_)) => {
            return Err(SignError::Invalid("signature_b64", "does not verify against your certificate's key".into()));
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
    Ok(json!({"alg": ALG, "certificate_serial": key.serial, "value_b64": value_b64, "signed_at": rfc3339(now),
              "canonical_sha256": sha256_hex(&canonical)}))
}

type SignatureRow = (String, String, String, String, i64);

fn render_signature((_, alg, serial, value, at): SignatureRow) -> Value {
    json!({"alg": alg, "certificate_serial": serial, "value_b64": value, "signed_at": rfc3339(at)})
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
pub fn signature_of(conn: &mut DbConn, note_id: &str) -> QueryResult<Option<Value>> {
    let row: Option<SignatureRow> =
        note_signatures::table.find(note_id).select(select_signature()).first(conn).optional()?;
    Ok(row.map(render_signature))
}

/// The signatures of every signed note of a file, by note id.
pub fn signatures_of_file(conn: &mut DbConn, file_id: &str) -> QueryResult<std::collections::HashMap<String, Value>> {
    let rows: Vec<SignatureRow> = note_signatures::table
        .inner_join(notes::table)
        .filter(notes::file_id.eq(file_id))
        .select(select_signature())
        .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.0.clone(), render_signature(r))).collect())
}

/// A certificate's PEM by serial.
pub fn certificate_pem(conn: &mut DbConn, serial: &str) -> QueryResult<Option<String>> {
    signing_keys::table
        .filter(signing_keys::certificate_serial.eq(serial))
        .select(signing_keys::certificate_pem)
        .first(conn)
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_json_sorts_keys_and_keeps_text_exactly() {
        let v = json!({"b": 1, "a": "یہ فائل\n\"x\"", "c": null});
        assert_eq!(
            String::from_utf8(canonical_json(&v)).unwrap(),
            "{\"a\":\"یہ فائل\\n\\\"x\\\"\",\"b\":1,\"c\":null}"
        );
    }

    #[test]
    fn sealed_keys_open_only_with_their_pin() {
        let key = new_server_key("246810").unwrap();
        let active = ActiveKey {
            id: "k".into(),
            mode: "server".into(),
            public_key: hex(&key.point),
            wrapped: key.wrapped.clone(),
            serial: "s".into(),
        };
        assert!(unseal(&active, "135790").unwrap().is_none());
        let open = unseal(&active, "246810").unwrap().unwrap();
        let sig = open.sign(b"message").unwrap();
        assert!(verify(&active.public_key, b"message", &sig));
        assert!(!verify(&active.public_key, b"messagE", &sig));
        assert!(check_pin("123").is_err());

        // A signing session keeps the key sealed under the session's secret:
        // the wrong secret, another session or no secret opens nothing.
        let sessions = Sessions::new(std::time::Duration::from_secs(60));
        let secret = SessionSecret(crate::auth::tokens::random_token());
        let other = SessionSecret(crate::auth::tokens::random_token());
        let mut plain = Vec::new();
        unseal_then(&active, "246810", |pkcs8| {
            plain = pkcs8.to_vec();
            sessions.put("s1", Some(&secret), &active, pkcs8)
        })
        .unwrap()
        .unwrap();
        let stored = sessions.open.lock().unwrap().get("s1").map(|k| k.sealed.clone()).unwrap();
        assert!(
            plain.len() > 64 && !stored.windows(16).any(|w| plain.windows(16).any(|p| p == w)),
            "nothing kept in clear"
        );
        assert!(sessions.get("s1", Some(&other)).is_none());
        assert!(sessions.get("s1", None).is_none());
        assert!(sessions.get("s2", Some(&secret)).is_none());
        let (id, reopened) = sessions.get("s1", Some(&secret)).unwrap();
        assert_eq!(id, "k");
        assert!(verify(&active.public_key, b"moved", &reopened.sign(b"moved").unwrap()));
        assert_eq!(format!("{secret:?}"), "SessionSecret(..)");
    }
}

/// Revokes a certificate: it signs nothing from now on; what it signed before
/// stays valid as of its time. The holder's org_admin or a sysadmin may.
pub fn revoke(
    conn: &mut DbConn,
    actor: crate::org::admin::Actor,
    serial: &str,
) -> Result<(), crate::org::admin::AdminError> {
    use crate::org::admin::AdminError;
    let row: Option<(String, String, Option<i64>)> = signing_keys::table
        .filter(signing_keys::certificate_serial.eq(serial))
        .select((signing_keys::id, signing_keys::user_id, signing_keys::revoked_at))
        .first(conn)
        .optional()?;
    let Some((id, user_id, revoked)) = row else { return Err(AdminError::NotFound("certificate")) };
    crate::org::admin::require_over_user(conn, actor, &user_id)?;
    if revoked.is_some() {
        return Err(AdminError::Conflict("the certificate is already revoked".into()));
    }
    let by = match actor {
        crate::org::admin::Actor::User(p) => Some(p.viewer.user_id.clone()),
        crate::org::admin::Actor::Operator => None,
    };
    diesel::update(signing_keys::table.find(&id))
        .set((signing_keys::revoked_at.eq(now_micros()), signing_keys::revoked_by.eq(&by)))
        .execute(conn)?;
    crate::auth::audit::record(
        conn,
        crate::auth::audit::Event {
            kind: "certificate_revoked",
            user_id: Some(&user_id),
            actor_id: by.as_deref(),
            details: Some(json!({"certificate_serial": serial})),
            ..Default::default()
        },
    )?;
    Ok(())
}

/// When a certificate was revoked, if it was.
pub fn revoked_at(conn: &mut DbConn, serial: &str) -> QueryResult<Option<i64>> {
    signing_keys::table
        .filter(signing_keys::certificate_serial.eq(serial))
        .select(signing_keys::revoked_at)
        .first::<Option<i64>>(conn)
        .optional()
        .map(Option::flatten)
}

/// A login session's signing secret, as carried by its tokens (base64url).
/// Shown as `SessionSecret(..)` in logs.
#[derive(Clone)]
pub struct SessionSecret(pub String);

impl std::fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionSecret(..)")
    }
}

impl SessionSecret {
    fn aead(&self) -> Option<LessSafeKey> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&self.0).ok()?;
        let digest = ring::digest::digest(&ring::digest::SHA256, &raw);
        UnboundKey::new(&AES_256_GCM, digest.as_ref()).ok().map(LessSafeKey::new)
    }
}

/// Signing sessions: after an officer gives their PIN, the moves that follow
/// in the same login session are signed too without asking again, for a
/// short while. The key is kept sealed (AES-256-GCM) under the session's
/// signing secret, which only the session's own tokens carry: the server
/// holds nothing it can open by itself, and the key is decrypted only for the
/// moment of each signature. Memory only; a restart or the expiry closes it.
#[derive(Default)]
pub struct Sessions {
    open: std::sync::Mutex<std::collections::HashMap<String, SealedKey>>,
    ttl: std::time::Duration,
}

struct SealedKey {
    key_id: String,
    public_key_hex: String,
    nonce: [u8; 12],
    sealed: Vec<u8>,
    until: std::time::Instant,
}

impl Sessions {
    /// Keys stay usable this long after the last PIN.
    pub fn new(ttl: std::time::Duration) -> Sessions {
        Sessions { open: Default::default(), ttl }
    }

    /// Keeps a key (PKCS#8, just unsealed by its PIN) for a login session,
    /// sealed under the session's secret. Nothing is kept without a secret.
    pub fn put(&self, session_id: &str, secret: Option<&SessionSecret>, key: &ActiveKey, pkcs8: &[u8]) {
        let Some(aead) = secret.and_then(SessionSecret::aead) else { return };
        if self.ttl.is_zero() {
            return;
        }
        let mut nonce = [0u8; 12];
        if SystemRandom::new().fill(&mut nonce).is_err() {
            return;
        }
        let mut sealed = pkcs8.to_vec();
        if aead
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(session_id), &mut sealed)
            .is_err()
        {
            return;
        }
        let now = std::time::Instant::now();
        let entry = SealedKey {
            key_id: key.id.clone(),
            public_key_hex: key.public_key.clone(),
            nonce,
            sealed,
            until: now + self.ttl,
        };
        let mut open = self.open.lock().expect("signing sessions lock");
        open.retain(|_, k| k.until > now);
        open.insert(session_id.to_owned(), entry);
    }

    /// The session's key, opened with its secret for one use: (key id, key).
    pub fn get(&self, session_id: &str, secret: Option<&SessionSecret>) -> Option<(String, OpenKey)> {
        let aead = secret?.aead()?;
        let (key_id, public_key_hex, nonce, mut sealed) = {
            let open = self.open.lock().expect("signing sessions lock");
            let k = open.get(session_id).filter(|k| k.until > std::time::Instant::now())?;
            (k.key_id.clone(), k.public_key_hex.clone(), k.nonce, k.sealed.clone())
        };
        let opened = match aead.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(session_id), &mut sealed) {
            Ok(plain) => OpenKey::new(plain, &public_key_hex).ok(),
            Err(_) => None,
        };
        sealed.iter_mut().for_each(|b| *b = 0);
        opened.map(|k| (key_id, k))
    }
}

/// The canonical bytes of a movement: what its mover signs.
pub fn movement_canonical(conn: &mut DbConn, movement_id: &str) -> Result<Vec<u8>, SignError> {
    Ok(movement_facts(conn, movement_id)?.0)
}

/// A movement's canonical bytes, with what it moved and who moved it.
#[allow(clippy::type_complexity)]
fn movement_facts(
    conn: &mut DbConn,
    movement_id: &str,
) -> Result<(Vec<u8>, Option<String>, Option<String>, String), SignError> {
    use crate::store::schema::movements as mv;
    type Row = (
        Option<String>,
        Option<String>,
        i64,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<i64>,
        i64,
        String,
    );
    let (file_id, receipt_id, seq, action, from, to, remarks, due, sent, by): Row = mv::table
        .find(movement_id)
        .select((
            mv::file_id,
            mv::receipt_id,
            mv::seq,
            mv::action,
            mv::from_post_id,
            mv::to_post_id,
            mv::remarks,
            mv::due_at,
            mv::sent_at,
            mv::by_user_id,
        ))
        .first(conn)?;
    let canonical = canonical_json(&json!({
        "type": "daftar.movement.v1", "movement_id": movement_id, "file_id": file_id, "receipt_id": receipt_id, "seq": seq,
        "action": action, "from_post_id": from, "to_post_id": to,
        "remarks_sha256": remarks.map(|r| sha256_hex(r.as_bytes())), "due_at": due.map(rfc3339), "sent_at": rfc3339(sent),
        "by_user_id": by,
    }));
    Ok((canonical, file_id, receipt_id, by))
}

/// Signs a movement with the mover's unsealed key (inside its transaction).
pub fn sign_movement(
    conn: &mut DbConn,
    key: &ActiveKey,
    open: &OpenKey,
    movement_id: &str,
) -> Result<Value, SignError> {
    use crate::store::schema::movement_signatures as ms;
    let (canonical, file_id, receipt_id, by) = movement_facts(conn, movement_id)?;
    let signature = open.sign(&canonical)?;
    let now = now_micros();
    let value_b64 = B64.encode(&signature);
    let canonical_text = String::from_utf8_lossy(&canonical).into_owned();
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
        .execute(conn)?;
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
                            "signature": {"canonical_sha256": sha256_hex(&canonical), "value_b64": value_b64}}),
        },
    )?;
    Ok(json!({"alg": ALG, "certificate_serial": key.serial, "value_b64": value_b64, "signed_at": rfc3339(now)}))
}

/// A movement's signature, if it was signed.
pub fn movement_signature_of(conn: &mut DbConn, movement_id: &str) -> QueryResult<Option<Value>> {
    Ok(movement_signatures_of(conn, &[movement_id])?.remove(movement_id))
}

/// The signatures of those of `movement_ids` that were signed, by movement id.
pub fn movement_signatures_of(
    conn: &mut DbConn,
    movement_ids: &[&str],
) -> QueryResult<std::collections::HashMap<String, Value>> {
    use crate::store::schema::movement_signatures as ms;
    if movement_ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(String, String, String, i64)> = ms::table
        .filter(ms::movement_id.eq_any(movement_ids))
        .select((ms::movement_id, ms::certificate_serial, ms::signature_b64, ms::signed_at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, serial, value, at)| {
            (id, json!({"alg": ALG, "certificate_serial": serial, "value_b64": value, "signed_at": rfc3339(at)}))
        })
        .collect())
}
