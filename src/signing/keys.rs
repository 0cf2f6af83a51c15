//! Officers' keys: generated and sealed under a PIN (server mode) or given
//! as a public key (client mode), certified by the deployment CA, opened
//! for the moment of a signature.

use argon2::{Algorithm, Argon2, Params, Version};
use diesel::prelude::*;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{
    ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey,
};
use serde_json::json;

use super::SignError;
use crate::pki::{self, Ca, hex};
use crate::store::schema::{post_assignments, posts, signing_keys, users};
use crate::store::{DbConn, new_id, now_micros};

fn check_pin(pin: &str) -> Result<(), SignError> {
    if !(6..=64).contains(&pin.chars().count()) {
        return Err(SignError::Invalid("pin", "must be 6 to 64 characters".into()));
    }
    Ok(())
}

/// How a server key is sealed under its PIN (`signing_keys.sealed_with`).
///
/// `pin-wrap-hmac`: the AES-256-GCM key is HMAC-SHA256, under the
/// deployment's key-wrapping key, of the salt and the PIN. The wrapping key
/// is kept outside the database ([`PinWrap`]), so a copy of the database
/// alone gives no way to try PINs at all; SECURITY.md says why this, not a
/// slow hash, is what protects a six-digit PIN.
pub const SEALED_WITH_PIN_WRAP: &str = "pin-wrap-hmac";

/// Keys sealed before the wrapping key existed: argon2id of the PIN alone
/// (25 ms a try). They still open, and are sealed again under the wrapping
/// key the first time their PIN is given.
pub const SEALED_WITH_ARGON2ID: &str = "argon2id";

/// The deployment's key-wrapping key for PIN-sealed signing keys: 32
/// random bytes in `data_dir/keys/pin-wrap.key` (mode 0600), never in the
/// database. Backups carry it with the token keys (`keys/`).
#[derive(Clone)]
pub struct PinWrap(ring::hmac::Key);

impl std::fmt::Debug for PinWrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinWrap(..)")
    }
}

impl PinWrap {
    /// Loads `data_dir/keys/pin-wrap.key`, creating it if absent.
    pub fn load_or_create(data_dir: &std::path::Path) -> Result<PinWrap, String> {
        let path = data_dir.join("keys").join("pin-wrap.key");
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut fresh = [0u8; 32];
                SystemRandom::new().fill(&mut fresh).map_err(|_| "no random bytes for the PIN wrapping key")?;
                crate::store::files::write_private(&path, &fresh).map_err(|e| format!("{}: {e}", path.display()))?;
                fresh.to_vec()
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        if bytes.len() != 32 {
            return Err(format!("{}: not a 32-byte key", path.display()));
        }
        Ok(PinWrap(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &bytes)))
    }

    /// A wrapping key for tests.
    #[cfg(test)]
    pub(crate) fn for_test() -> PinWrap {
        PinWrap(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[7u8; 32]))
    }
}

/// The AES-256-GCM key a PIN opens, by the key's sealing scheme.
fn pin_key(wrap: &PinWrap, sealed_with: &str, pin: &str, salt: &[u8]) -> Result<LessSafeKey, SignError> {
    let mut key = [0u8; 32];
    match sealed_with {
        SEALED_WITH_PIN_WRAP => {
            let mut ctx = ring::hmac::Context::with_key(&wrap.0);
            ctx.update(b"daftar.pin-seal.v2\0");
            ctx.update(&(salt.len() as u32).to_be_bytes());
            ctx.update(salt);
            ctx.update(pin.as_bytes());
            key.copy_from_slice(&ctx.sign().as_ref()[..32]);
        }
        SEALED_WITH_ARGON2ID => {
            let params = Params::new(19 * 1024, 2, 1, Some(32)).map_err(|e| SignError::Internal(e.to_string()))?;
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password_into(pin.as_bytes(), salt, &mut key)
                .map_err(|e| SignError::Internal(e.to_string()))?;
        }
        other => return Err(SignError::Internal(format!("unknown key sealing {other}"))),
    }
    let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| SignError::Internal("aead key".into()));
    key.iter_mut().for_each(|b| *b = 0);
    Ok(LessSafeKey::new(unbound?))
}

/// Seals PKCS#8 bytes under `pin` and the wrapping key: (sealed, salt, nonce), hex.
pub(crate) fn seal(wrap: &PinWrap, pin: &str, pkcs8: &[u8]) -> Result<(String, String, String), SignError> {
    let rng = SystemRandom::new();
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 12];
    rng.fill(&mut salt).map_err(|_| SignError::Internal("rng".into()))?;
    rng.fill(&mut nonce).map_err(|_| SignError::Internal("rng".into()))?;
    let mut sealed = pkcs8.to_vec();
    pin_key(wrap, SEALED_WITH_PIN_WRAP, pin, &salt)?
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut sealed)
        .map_err(|_| SignError::Internal("seal".into()))?;
    Ok((hex(&sealed), hex(&salt), hex(&nonce)))
}

/// Stores `key` sealed afresh under the wrapping key (from an older sealing).
pub fn reseal(conn: &mut DbConn, key_id: &str, sealed: &(String, String, String)) -> QueryResult<()> {
    diesel::update(signing_keys::table.find(key_id))
        .set((
            signing_keys::wrapped_key.eq(&sealed.0),
            signing_keys::salt.eq(&sealed.1),
            signing_keys::nonce.eq(&sealed.2),
            signing_keys::sealed_with.eq(SEALED_WITH_PIN_WRAP),
        ))
        .execute(conn)?;
    Ok(())
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
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

/// Generates a server-mode key sealed under `pin` and the wrapping key.
pub fn new_server_key(wrap: &PinWrap, pin: &str) -> Result<NewKey, SignError> {
    check_pin(pin)?;
    let rng = SystemRandom::new();
    let pk8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .map_err(|_| SignError::Internal("keygen".into()))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pk8.as_ref(), &rng)
        .map_err(|_| SignError::Internal("keygen".into()))?;
    Ok(NewKey {
        mode: "server",
        point: pair.public_key().as_ref().to_vec(),
        wrapped: Some(seal(wrap, pin, pk8.as_ref())?),
    })
}

/// What a client-mode key signs to prove its holder has it: a statement
/// naming the officer, so that nobody can enrol another officer's public key
/// (they cannot sign with it) and a proof made for one officer is no use to
/// another. `GET /me/keys/challenge` answers exactly these bytes.
pub fn enrolment_statement(user_id: &str) -> Vec<u8> {
    crate::domain::canonical::canonical_json(&json!({"type": "daftar.key-enrolment.v1", "user_id": user_id}))
}

/// Takes a client-mode public key (PEM, ECDSA P-256) with its proof of
/// possession: a DER signature by the key over [`enrolment_statement`]. A
/// point that is not on the curve fails the proof too.
pub fn new_client_key(public_key_pem: &str, user_id: &str, proof: &[u8]) -> Result<NewKey, SignError> {
    let bad = || SignError::Invalid("public_key_pem", "must be a PEM ECDSA P-256 public key".into());
    let spki = pki::spki_from_pem(public_key_pem).ok_or_else(bad)?;
    let point = pki::p256_point(&spki).ok_or_else(bad)?.to_vec();
    if !verify(&hex(&point), &enrolment_statement(user_id), proof) {
        return Err(SignError::Invalid(
            "proof",
            "must be a signature by this key over the bytes of GET /api/v1/me/keys/challenge".into(),
        ));
    }
    Ok(NewKey { mode: "client", point, wrapped: None })
}

/// Stores a key with a certificate the CA issues for it; returns (serial, PEM).
pub fn enrol(conn: &mut DbConn, ca: &Ca, user_id: &str, key: NewKey) -> Result<(String, String), SignError> {
    // One public key, one officer: a key certified to someone else is refused.
    let taken = signing_keys::table
        .filter(signing_keys::public_key.eq(hex(&key.point)))
        .filter(signing_keys::user_id.ne(user_id))
        .count()
        .get_result::<i64>(conn)?;
    if taken > 0 {
        return Err(SignError::Conflict("this public key is certified to another officer".into()));
    }
    let (username, name): (String, String) =
        users::table.find(user_id).select((users::username, users::name)).first(conn)?;
    let titles = post_titles(conn, user_id)?;
    let (serial, pem) =
        ca.issue(&pki::p256_spki(&key.point), &format!("{name} ({username})"), &titles).map_err(SignError::Internal)?;
    let sealed_with = if key.wrapped.is_some() { SEALED_WITH_PIN_WRAP } else { "none" };
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
            signing_keys::sealed_with.eq(sealed_with),
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
    /// How it is sealed: [`SEALED_WITH_PIN_WRAP`] or [`SEALED_WITH_ARGON2ID`].
    pub sealed_with: String,
    /// The certificate's serial.
    pub serial: String,
}

/// Loads the user's active key.
pub fn active_key(conn: &mut DbConn, user_id: &str) -> Result<ActiveKey, SignError> {
    type Row = (String, String, String, Option<String>, Option<String>, Option<String>, String, String);
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
            signing_keys::sealed_with,
            signing_keys::certificate_serial,
        ))
        .first(conn)
        .optional()?;
    let Some((id, mode, public_key, w, s, n, sealed_with, serial)) = row else {
        return Err(SignError::Forbidden(
            "you have no valid signing certificate; enrol a key with POST /api/v1/me/keys".into(),
        ));
    };
    let wrapped = match (w, s, n) {
        (Some(w), Some(s), Some(n)) => Some((w, s, n)),
        _ => None,
    };
    Ok(ActiveKey { id, mode, public_key, wrapped, sealed_with, serial })
}

/// What the officer presents to sign.
pub enum Proof {
    /// Server mode: the PIN that unseals the key.
    Pin(String),
    /// Client mode: a DER signature made by the officer's own key.
    Signature(Vec<u8>),
}

/// Unseals a server key with a PIN (slow; outside transactions). `None` if the PIN is wrong.
pub fn unseal(wrap: &PinWrap, key: &ActiveKey, pin: &str) -> Result<Option<OpenKey>, SignError> {
    unseal_then(wrap, key, pin, |_| ())
}

/// [`unseal`], also handing the key's PKCS#8 bytes to `also` (to keep them
/// sealed for a signing session) before they are wiped.
pub fn unseal_then(
    wrap: &PinWrap,
    key: &ActiveKey,
    pin: &str,
    also: impl FnOnce(&[u8]),
) -> Result<Option<OpenKey>, SignError> {
    let Some((w, s, n)) = &key.wrapped else {
        return Err(SignError::Conflict("your key is a client key: send signature_b64 instead".into()));
    };
    let (mut sealed, salt, nonce) = match (unhex(w), unhex(s), unhex(n)) {
        (Some(w), Some(s), Some(n)) if n.len() == 12 => (w, s, n),
        _ => return Err(SignError::Internal("stored key is damaged".into())),
    };
    let nonce = Nonce::try_assume_unique_for_key(&nonce).map_err(|_| SignError::Internal("nonce".into()))?;
    let opened = match pin_key(wrap, &key.sealed_with, pin, &salt)?.open_in_place(nonce, Aad::empty(), &mut sealed) {
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
    pub(crate) fn new(pkcs8: &[u8], public_key_hex: &str) -> Result<OpenKey, SignError> {
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

/// A certificate's PEM by serial.
pub fn certificate_pem(conn: &mut DbConn, serial: &str) -> QueryResult<Option<String>> {
    signing_keys::table
        .filter(signing_keys::certificate_serial.eq(serial))
        .select(signing_keys::certificate_pem)
        .first(conn)
        .optional()
}

/// A sealed server key as it would be stored, for tests of what opens it.
#[cfg(test)]
pub(crate) fn new_server_key_for_test(pin: &str) -> ActiveKey {
    let key = new_server_key(&PinWrap::for_test(), pin).expect("key");
    ActiveKey {
        id: "k".into(),
        mode: "server".into(),
        public_key: hex(&key.point),
        wrapped: key.wrapped,
        sealed_with: SEALED_WITH_PIN_WRAP.into(),
        serial: "s".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_with_their_pin() {
        let active = new_server_key_for_test("246810");
        let wrap = PinWrap::for_test();
        assert!(unseal(&wrap, &active, "135790").unwrap().is_none());
        let open = unseal(&wrap, &active, "246810").unwrap().unwrap();
        let sig = open.sign(b"message").unwrap();
        assert!(verify(&active.public_key, b"message", &sig));
        assert!(!verify(&active.public_key, b"messagE", &sig));
        assert!(check_pin("123").is_err());
        // The PIN alone, without the deployment's wrapping key, opens nothing.
        let other = PinWrap(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &[8u8; 32]));
        assert!(unseal(&other, &active, "246810").unwrap().is_none());
    }

    #[test]
    fn keys_sealed_by_argon2id_alone_still_open_and_can_be_sealed_again() {
        let wrap = PinWrap::for_test();
        let rng = SystemRandom::new();
        let pk8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pk8.as_ref(), &rng).unwrap();
        let (salt, nonce) = ([3u8; 16], [4u8; 12]);
        let mut sealed = pk8.as_ref().to_vec();
        pin_key(&wrap, SEALED_WITH_ARGON2ID, "246810", &salt)
            .unwrap()
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut sealed)
            .unwrap();
        let legacy = ActiveKey {
            id: "k".into(),
            mode: "server".into(),
            public_key: hex(pair.public_key().as_ref()),
            wrapped: Some((hex(&sealed), hex(&salt), hex(&nonce))),
            sealed_with: SEALED_WITH_ARGON2ID.into(),
            serial: "s".into(),
        };
        let mut again = None;
        assert!(
            unseal_then(&wrap, &legacy, "246810", |pk8| again = seal(&wrap, "246810", pk8).ok()).unwrap().is_some()
        );
        let resealed = ActiveKey { wrapped: again, sealed_with: SEALED_WITH_PIN_WRAP.into(), ..legacy };
        assert!(unseal(&wrap, &resealed, "246810").unwrap().is_some());
        assert!(unseal(&wrap, &resealed, "135790").unwrap().is_none());
    }
}
