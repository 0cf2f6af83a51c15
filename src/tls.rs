//! HTTPS with rustls: TLS 1.3 and 1.2 only, ring's modern AEAD suites, and a
//! development certificate on demand (`daftar tls self-signed`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Builds the server's TLS configuration from PEM files.
pub fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("tls.cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("tls.cert {}: no certificate in the file", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("tls.key {}: {e}", key.display()))?;
    ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("tls: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls: the certificate and key do not fit together: {e}"))
}

/// Writes a self-signed development certificate and key for `hosts` into
/// `dir` (`cert.pem`, and `key.pem` readable by the owner only).
pub fn self_signed(dir: &Path, hosts: &[String]) -> Result<(PathBuf, PathBuf), String> {
    let certified =
        rcgen::generate_simple_self_signed(hosts.to_vec()).map_err(|e| format!("cannot make a certificate: {e}"))?;
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    std::fs::write(&cert_path, certified.cert.pem())
        .map_err(|e| format!("cannot write {}: {e}", cert_path.display()))?;
    crate::store::files::write_private(&key_path, certified.signing_key.serialize_pem().as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", key_path.display()))?;
    Ok((cert_path, key_path))
}
