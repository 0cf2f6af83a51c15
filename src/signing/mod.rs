//! Officers' signing keys and signatures (SPEC section 5), one room per job:
//! `keys` (generating, sealing, enrolling and opening keys), `pin` (the PIN
//! throttle and the one place a PIN is tried), `forms` (the canonical bytes
//! that notes and movements are signed over), `notes` and `movements` (storing
//! their signatures), `revocation`.
//!
//! `server` keys are generated here and kept as PKCS#8 sealed with
//! AES-256-GCM under a key derived from the officer's PIN by argon2id; they
//! are unsealed only for the moment of signing. `client` keys never leave the
//! officer: only the public half is stored, and the client sends signatures.
//! Signatures are ECDSA P-256 with SHA-256 in DER, over the RFC 8785 (JCS)
//! canonical JSON of the note, so `openssl dgst -sha256 -verify` checks them.

pub mod forms;
pub mod keys;
pub mod movements;
pub mod notes;
pub mod pin;
pub mod revocation;

/// The signature algorithm, as named in notes and bundles.
pub const ALG: &str = "ECDSA-P256-SHA256";
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
    /// Too many wrong PINs: the key is locked for this many seconds.
    #[error("too many wrong PINs; the key is locked")]
    Locked(i64),
    /// Storage or crypto failure of ours.
    #[error("{0}")]
    Internal(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl From<diesel::result::Error> for SignError {
    fn from(e: diesel::result::Error) -> Self {
        SignError::Store(e.into())
    }
}

/// A signature as shown with what it signs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Signature {
    /// Always [`ALG`].
    pub alg: String,
    /// The signing certificate.
    pub certificate_serial: String,
    /// DER ECDSA signature, base64.
    pub value_b64: String,
    /// When (RFC 3339).
    pub signed_at: String,
    /// SHA-256 of the signed bytes: recorded in the ledger, not shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canonical_sha256: Option<String>,
}

impl Signature {
    /// As shown to readers (the digest stays in the ledger).
    pub fn shown(mut self) -> Signature {
        self.canonical_sha256 = None;
        self
    }
}
