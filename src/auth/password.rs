//! Password hashes: argon2id with OWASP's minimum cost (19 MiB, t=2, p=1),
//! stored as PHC strings so the parameters can be raised later.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, Version};

fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password with a fresh random salt.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with valid parameters cannot fail")
        .to_string()
}

/// Checks a password against a stored PHC hash; a malformed hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Whether a string is a PHC argon2id hash (for importing pre-hashed passwords).
pub fn is_argon2id_hash(s: &str) -> bool {
    PasswordHash::new(s).map(|h| h.algorithm.as_str() == "argon2id").unwrap_or(false)
}

/// Hashes many passwords using every core (the demo and org imports create dozens).
pub fn hash_many(passwords: &[&str]) -> Vec<String> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let chunk = passwords.len().div_ceil(cores).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = passwords
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|p| hash_password(p)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("hashing thread")).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash_password("daftar-demo-2026");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert!(verify_password("daftar-demo-2026", &a));
        assert!(!verify_password("daftar-demo-2025", &a));
        assert!(!verify_password("x", "not a hash"));
        assert!(is_argon2id_hash(&a));
        let many = hash_many(&["p1", "p2", "p3"]);
        assert_eq!(many.len(), 3);
        assert!(verify_password("p3", &many[2]));
        assert_ne!(many[0], a);
    }
}
