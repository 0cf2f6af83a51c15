//! The deployment's certificate authority (ECDSA P-256, X.509), kept in
//! `data_dir/pki/` with the private key readable by the owner only. It issues
//! each officer's signing certificate.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PublicKeyData, SerialNumber,
};
use ring::rand::SecureRandom;

use der::element as der_element;

pub mod cms;
pub mod der;
pub mod pades;

/// The CA's distinguished name; the issuer is rebuilt from it and the key.
const CA_NAME: &str = "Daftar Deployment CA";

/// A loaded certificate authority.
pub struct Ca {
    key: KeyPair,
    cert_pem: String,
    organisation: String,
}

fn pki_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("pki")
}

fn ca_dn(organisation: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    dn.push(DnType::OrganizationName, organisation);
    dn
}

fn ca_params(organisation: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = ca_dn(organisation);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params
}

/// Random positive serial, hex.
fn random_serial() -> Vec<u8> {
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut bytes).expect("the OS random source works");
    bytes[0] &= 0x7f;
    bytes[0] |= 0x10;
    bytes.to_vec()
}

/// Hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Ca {
    /// Creates the CA if it does not exist yet; loads it either way.
    pub fn init(data_dir: &Path, organisation: &str) -> Result<Ca, String> {
        let dir = pki_dir(data_dir);
        let key_path = dir.join("ca-key.pem");
        let cert_path = dir.join("ca.pem");
        let org_path = dir.join("organisation.txt");
        if !key_path.exists() {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| format!("pki: {e}"))?;
            let mut params = ca_params(organisation);
            params.serial_number = Some(SerialNumber::from(random_serial()));
            let now = chrono::Utc::now();
            params.not_before = rcgen::date_time_ymd(chrono::Datelike::year(&now), 1, 1);
            params.not_after = rcgen::date_time_ymd(chrono::Datelike::year(&now) + 20, 1, 1);
            let cert = params.self_signed(&key).map_err(|e| format!("pki: {e}"))?;
            std::fs::create_dir_all(&dir).map_err(|e| format!("pki: cannot create {}: {e}", dir.display()))?;
            crate::store::files::write_private(&key_path, key.serialize_pem().as_bytes())
                .map_err(|e| format!("pki: {e}"))?;
            std::fs::write(&cert_path, cert.pem()).map_err(|e| format!("pki: {e}"))?;
            std::fs::write(&org_path, organisation).map_err(|e| format!("pki: {e}"))?;
        }
        Ca::load(data_dir)
    }

    /// Loads an existing CA.
    pub fn load(data_dir: &Path) -> Result<Ca, String> {
        let dir = pki_dir(data_dir);
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .map_err(|e| format!("pki: cannot read {}: {e} (run `daftar pki init`)", dir.join(name).display()))
        };
        let key = KeyPair::from_pem(&read("ca-key.pem")?).map_err(|e| format!("pki: CA key: {e}"))?;
        Ok(Ca { key, cert_pem: read("ca.pem")?, organisation: read("organisation.txt")? })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues a signing certificate for an officer's P-256 public key (SPKI
    /// DER); returns (serial hex, PEM).
    pub fn issue(&self, spki_der: &[u8], common_name: &str, posts: &[String]) -> Result<(String, String), String> {
        let point = p256_point(spki_der).ok_or("the public key must be an ECDSA P-256 key")?;
        let public = P256Public(point.to_vec());
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        dn.push(DnType::OrganizationName, self.organisation.as_str());
        if !posts.is_empty() {
            dn.push(DnType::OrganizationalUnitName, posts.join("; "));
        }
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::ContentCommitment];
        let serial = random_serial();
        params.serial_number = Some(SerialNumber::from(serial.clone()));
        let now = chrono::Utc::now();
        let y = chrono::Datelike::year(&now);
        params.not_before = rcgen::date_time_ymd(y - 1, 1, 1);
        params.not_after = rcgen::date_time_ymd(y + 3, 12, 31);
        let issuer = Issuer::new(ca_params(&self.organisation), &self.key);
        let cert = params.signed_by(&public, &issuer).map_err(|e| format!("pki: {e}"))?;
        Ok((hex(&serial), cert.pem()))
    }

    /// The CA's public key, SPKI DER.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key.subject_public_key_info()
    }

    /// Signs with the deployment key (ECDSA P-256 SHA-256, DER): ledger
    /// checkpoints and other statements of the deployment itself.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        rcgen::SigningKey::sign(&self.key, message).map_err(|e| format!("pki: {e}"))
    }
}

/// An officer's P-256 public key (the uncompressed point), for rcgen.
struct P256Public(Vec<u8>);

impl PublicKeyData for P256Public {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

/// DER prefix of a P-256 SubjectPublicKeyInfo before the 65-byte point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// SPKI DER of an uncompressed P-256 point.
pub fn p256_spki(point: &[u8]) -> Vec<u8> {
    let mut der = P256_SPKI_PREFIX.to_vec();
    der.extend_from_slice(point);
    der
}

/// The uncompressed point inside a P-256 SPKI DER, if it is one.
pub fn p256_point(spki: &[u8]) -> Option<&[u8]> {
    spki.strip_prefix(&P256_SPKI_PREFIX[..]).filter(|p| p.len() == 65 && p[0] == 4)
}

/// PEM of a public key.
pub fn public_key_pem(spki: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(spki);
    let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or("")).collect();
    format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"))
}

/// SPKI DER from a PEM public key.
pub fn spki_from_pem(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN PUBLIC KEY-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// The parts of an X.509 certificate a verifier needs: the signed TBS bytes,
/// the issuer's signature over them, and the subject's public key (SPKI DER).
pub struct CertParts<'a> {
    /// tbsCertificate, exactly as signed.
    pub tbs: &'a [u8],
    /// The signature value (DER ECDSA for our CA).
    pub signature: &'a [u8],
    /// subjectPublicKeyInfo, DER.
    pub spki: &'a [u8],
    /// The serial number's bytes.
    pub serial: &'a [u8],
    /// The issuer's Name, the whole DER element.
    pub issuer: &'a [u8],
    /// The subject's Name, the whole DER element.
    pub subject: &'a [u8],
}

/// Splits a DER certificate into what verification needs.
pub fn cert_parts(der: &[u8]) -> Option<CertParts<'_>> {
    let (0x30, cert, _, _) = der_element(der)? else { return None };
    let (0x30, tbs_body, tbs, rest) = der_element(cert)? else { return None };
    let (_, _, _, rest) = der_element(rest)?; // signatureAlgorithm
    let (0x03, bits, _, _) = der_element(rest)? else { return None };
    let signature = bits.split_first().filter(|(unused, _)| **unused == 0)?.1;
    let mut fields = tbs_body;
    let (tag, _, _, after) = der_element(fields)?;
    if tag == 0xa0 {
        fields = after; // explicit version
    }
    let (0x02, serial, _, after) = der_element(fields)? else { return None };
    let rest = der_element(after)?.3; // signature algorithm
    let (0x30, _, issuer, rest) = der_element(rest)? else { return None };
    let rest = der_element(rest)?.3; // validity
    let (0x30, _, subject, rest) = der_element(rest)? else { return None };
    let (0x30, _, spki, _) = der_element(rest)? else { return None };
    Some(CertParts { tbs, signature, spki, serial, issuer, subject })
}

/// The DER inside a PEM block of the given label.
pub fn pem_der(pem: &str, label: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let begin = format!("-----BEGIN {label}-----");
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != begin)
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

/// Verifies an ECDSA P-256 SHA-256 DER signature with an SPKI public key.
pub fn verify_p256(spki: &[u8], message: &[u8], signature: &[u8]) -> bool {
    p256_point(spki).is_some_and(|point| {
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, point)
            .verify(message, signature)
            .is_ok()
    })
}

/// Whether `cert_pem` was issued by the CA in `ca_pem` (signature check).
pub fn issued_by(cert_pem: &str, ca_pem: &str) -> bool {
    let (Some(cert), Some(ca)) = (pem_der(cert_pem, "CERTIFICATE"), pem_der(ca_pem, "CERTIFICATE")) else {
        return false;
    };
    match (cert_parts(&cert), cert_parts(&ca)) {
        (Some(c), Some(a)) => verify_p256(a.spki, c.tbs, c.signature),
        _ => false,
    }
}

/// Which of `cas` (DER certificates) issued `cert` (DER): the one whose
/// subject is the certificate's issuer and whose key verifies its signature.
pub fn issuer_among<'a>(cert: &[u8], cas: &'a [Vec<u8>]) -> Option<&'a [u8]> {
    let c = cert_parts(cert)?;
    cas.iter()
        .map(Vec::as_slice)
        .find(|ca| cert_parts(ca).is_some_and(|a| a.subject == c.issuer && verify_p256(a.spki, c.tbs, c.signature)))
}

/// SHA-256 fingerprint of a DER certificate, as `AA:BB:…`.
pub fn fingerprint(der: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Every certificate in a PEM text, DER.
pub fn pem_certificates(pem: &str) -> Vec<Vec<u8>> {
    use base64::Engine;
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in pem.lines().map(str::trim) {
        match (&mut body, line) {
            (None, "-----BEGIN CERTIFICATE-----") => body = Some(String::new()),
            (Some(b), "-----END CERTIFICATE-----") => {
                if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b.as_bytes()) {
                    out.push(der);
                }
                body = None;
            }
            (Some(b), l) => b.push_str(l),
            (None, _) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spki_round_trip() {
        let rng = ring::rand::SystemRandom::new();
        let pk8 = ring::signature::EcdsaKeyPair::generate_pkcs8(&ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .unwrap();
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            pk8.as_ref(),
            &rng,
        )
        .unwrap();
        use ring::signature::KeyPair as _;
        let point = pair.public_key().as_ref();
        let spki = p256_spki(point);
        assert_eq!(p256_point(&spki), Some(point));
        assert_eq!(spki_from_pem(&public_key_pem(&spki)), Some(spki));
    }

    #[test]
    fn issued_certificates_parse_and_chain() {
        let dir = std::env::temp_dir().join(format!("daftar-pki-{}", crate::store::new_id()));
        let ca = Ca::init(&dir, "Test Government").unwrap();
        let rng = ring::rand::SystemRandom::new();
        let pk8 = ring::signature::EcdsaKeyPair::generate_pkcs8(&ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .unwrap();
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            pk8.as_ref(),
            &rng,
        )
        .unwrap();
        use ring::signature::KeyPair as _;
        let spki = p256_spki(pair.public_key().as_ref());
        let (serial, pem) = ca.issue(&spki, "Officer (so.test)", &["Section Officer".into()]).unwrap();
        let der = pem_der(&pem, "CERTIFICATE").unwrap();
        let parts = cert_parts(&der).unwrap();
        assert_eq!(parts.spki, &spki[..]);
        assert_eq!(hex(parts.serial).trim_start_matches("00"), serial.trim_start_matches("00"));
        assert!(issued_by(&pem, ca.cert_pem()));
        let other = Ca::init(&dir.join("other"), "Elsewhere").unwrap();
        assert!(!issued_by(&pem, other.cert_pem()));
        let sig = ca.sign(b"checkpoint").unwrap();
        assert!(verify_p256(&ca.public_key_der(), b"checkpoint", &sig));
        let _ = std::fs::remove_dir_all(dir);
    }
}
