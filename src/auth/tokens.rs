//! Access tokens: short-lived JWTs signed with the deployment's Ed25519 key,
//! which is generated on first start and kept in `data_dir/keys/`.

use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};

/// Who issues tokens.
pub const ISSUER: &str = "daftar";
/// Who they are for.
pub const AUDIENCE: &str = "daftar-api";

/// What an access token says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The user id.
    pub sub: String,
    /// The session the token belongs to.
    pub sid: String,
    /// The user's token version when issued.
    pub ver: i64,
    /// Issued at (s).
    pub iat: i64,
    /// Not before (s).
    pub nbf: i64,
    /// Expires (s).
    pub exp: i64,
    /// Anti-CSRF token of a web (cookie) session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
    /// The session's signing secret: the only key to the signing key the
    /// server keeps sealed between PIN and expiry. The server never stores it;
    /// it travels in the session's tokens (and the refresh token) only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sk: Option<String>,
}

/// The signing and verifying keys.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

/// Why keys could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("token key {path}: {reason}")]
pub struct KeyError {
    path: String,
    reason: String,
}

impl TokenKeys {
    /// Loads `data_dir/keys/jwt-ed25519.pk8`, creating it (mode 0600) if absent.
    pub fn load_or_create(data_dir: &Path) -> Result<TokenKeys, KeyError> {
        let path = data_dir.join("keys").join("jwt-ed25519.pk8");
        let err = |reason: String| KeyError { path: path.display().to_string(), reason };
        let pkcs8 = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let rng = ring::rand::SystemRandom::new();
                let doc = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| err("cannot generate".into()))?;
                crate::store::files::write_private(&path, doc.as_ref()).map_err(|e| err(e.to_string()))?;
                doc.as_ref().to_vec()
            }
            Err(e) => return Err(err(e.to_string())),
        };
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8).map_err(|_| err("not an Ed25519 key".into()))?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        Ok(TokenKeys {
            encoding: EncodingKey::from_ed_der(&pkcs8),
            decoding: DecodingKey::from_ed_der(pair.public_key().as_ref()),
            validation,
        })
    }

    /// Signs claims as an EdDSA JWT.
    pub fn sign(&self, claims: &Claims) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &self.encoding)
            .expect("signing with a loaded Ed25519 key cannot fail")
    }

    /// Verifies signature, algorithm (EdDSA only), issuer, audience, `exp` and `nbf`.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok().map(|d| d.claims)
    }
}

/// A fresh random secret (refresh tokens, CSRF tokens): 32 bytes, base64url.
pub fn random_token() -> String {
    use base64::Engine;
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut bytes).expect("the OS random source works");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a token, hex: what is stored instead of the token.
pub fn token_hash(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares secrets without leaking where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
