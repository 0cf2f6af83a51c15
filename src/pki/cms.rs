//! CMS SignedData (RFC 5652) for detached signatures, as PAdES baseline B-B
//! wants them: one signer, ECDSA P-256 with SHA-256, the signed attributes
//! content-type, message-digest and signing-certificate-v2 (RFC 5035), and
//! the signer's certificate chain. Assembled by hand with [`super::der`];
//! verifying reads the same structure back and checks every link.

use super::der::{element, elements, octets, oid, seq, set_of, small_int, tlv};

const DATA: &str = "1.2.840.113549.1.7.1";
const SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const SIGNING_CERTIFICATE_V2: &str = "1.2.840.113549.1.9.16.2.47";
const SHA256: &str = "2.16.840.1.101.3.4.2.1";
const ECDSA_WITH_SHA256: &str = "1.2.840.10045.4.3.2";

fn sha256(bytes: &[u8]) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().to_vec()
}

fn attribute(kind: &str, value: &[u8]) -> Vec<u8> {
    seq(&[&oid(kind), &set_of(&[value])])
}

/// The signed attributes as the SET that is signed.
fn signed_attributes(digest: &[u8], signer: &[u8], issuer: &[u8], serial: &[u8]) -> Vec<u8> {
    // ESSCertIDv2 { certHash, issuerSerial { GeneralNames { [4] Name }, serial } };
    // the hash algorithm is the default, SHA-256, and so left out.
    let issuer_serial = seq(&[&seq(&[&tlv(0xa4, issuer)]), &tlv(0x02, serial)]);
    let cert_id = seq(&[&octets(&sha256(signer)), &issuer_serial]);
    set_of(&[
        &attribute(CONTENT_TYPE, &oid(DATA)),
        &attribute(MESSAGE_DIGEST, &octets(digest)),
        &attribute(SIGNING_CERTIFICATE_V2, &seq(&[&seq(&[&cert_id])])),
    ])
}

/// A detached SignedData over content whose SHA-256 is `digest`, signed by
/// the holder of `signer` (a DER certificate) through `sign` (ECDSA P-256
/// SHA-256 over the bytes given, DER); `chain` is the rest of the path (the CA).
pub fn sign_detached(
    digest: &[u8],
    signer: &[u8],
    chain: &[Vec<u8>],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, String> {
    let parts = super::cert_parts(signer).ok_or("the signing certificate cannot be read")?;
    let attrs = signed_attributes(digest, signer, parts.issuer, parts.serial);
    let signature = sign(&attrs)?;
    let mut implicit = attrs.clone();
    implicit[0] = 0xa0;
    let sha = seq(&[&oid(SHA256)]);
    let signer_info = seq(&[
        &small_int(1),
        &seq(&[parts.issuer, &tlv(0x02, parts.serial)]),
        &sha,
        &implicit,
        &seq(&[&oid(ECDSA_WITH_SHA256)]),
        &octets(&signature),
    ]);
    let certs: Vec<&[u8]> = std::iter::once(signer).chain(chain.iter().map(Vec::as_slice)).collect();
    let mut certificates = set_of(&certs);
    certificates[0] = 0xa0;
    let signed_data =
        seq(&[&small_int(1), &set_of(&[&sha]), &seq(&[&oid(DATA)]), &certificates, &set_of(&[&signer_info])]);
    Ok(seq(&[&oid(SIGNED_DATA), &tlv(0xa0, &signed_data)]))
}

/// What a verified SignedData says about its signer.
#[derive(Debug)]
pub struct Signer {
    /// The signer's certificate, DER.
    pub certificate: Vec<u8>,
    /// Every certificate the signature carries, DER (the signer's included).
    pub certificates: Vec<Vec<u8>>,
}

/// Verifies a detached SignedData against the SHA-256 `digest` of the
/// content: the message digest, the signing-certificate-v2 binding and the
/// signature by the certificate named in the SignerInfo. Whether that
/// certificate is trusted is the caller's question.
pub fn verify_detached(cms: &[u8], digest: &[u8]) -> Result<Signer, String> {
    let bad = |what: &str| format!("the signature is not a CMS SignedData this verifier reads ({what})");
    let (0x30, info, _, _) = element(cms).ok_or_else(|| bad("ContentInfo"))? else {
        return Err(bad("ContentInfo"));
    };
    let info = elements(info).ok_or_else(|| bad("ContentInfo"))?;
    if info.len() != 2 || info[0].2 != oid(SIGNED_DATA).as_slice() || info[1].0 != 0xa0 {
        return Err(bad("content type"));
    }
    let (0x30, sd, _, _) = element(info[1].1).ok_or_else(|| bad("SignedData"))? else {
        return Err(bad("SignedData"));
    };
    let sd = elements(sd).ok_or_else(|| bad("SignedData"))?;
    let certificates: Vec<Vec<u8>> = match sd.iter().find(|e| e.0 == 0xa0) {
        Some(c) => elements(c.1).ok_or_else(|| bad("certificates"))?.into_iter().map(|e| e.2.to_vec()).collect(),
        None => Vec::new(),
    };
    let infos = sd.last().filter(|e| e.0 == 0x31).ok_or_else(|| bad("signerInfos"))?;
    let infos = elements(infos.1).ok_or_else(|| bad("signerInfos"))?;
    let [(0x30, si, _)] = infos.as_slice() else { return Err("the signature must have exactly one signer".into()) };
    let si = elements(si).ok_or_else(|| bad("SignerInfo"))?;
    if si.len() != 6 || si[1].0 != 0x30 || si[3].0 != 0xa0 || si[5].0 != 0x04 {
        return Err(bad("SignerInfo"));
    }
    if si[2].2 != seq(&[&oid(SHA256)]).as_slice() && si[2].2 != seq(&[&oid(SHA256), &[0x05, 0x00]]).as_slice() {
        return Err("the digest algorithm is not SHA-256".into());
    }
    if elements(si[4].1).and_then(|e| e.first().map(|x| x.2.to_vec())) != Some(oid(ECDSA_WITH_SHA256)) {
        return Err("the signature algorithm is not ECDSA with SHA-256".into());
    }
    let sid = elements(si[1].1).ok_or_else(|| bad("signer id"))?;
    let [(0x30, _, issuer), (0x02, serial, _)] = sid.as_slice() else { return Err(bad("signer id")) };
    let certificate = certificates
        .iter()
        .find(|c| super::cert_parts(c).is_some_and(|p| p.issuer == *issuer && p.serial == *serial))
        .ok_or("the signer's certificate is not in the signature")?
        .clone();
    let parts = super::cert_parts(&certificate).ok_or("the signer's certificate cannot be read")?;

    let mut content_type = None;
    let mut message_digest = None;
    let mut cert_hash = None;
    for (tag, attr, _) in elements(si[3].1).ok_or_else(|| bad("signed attributes"))? {
        let fields = elements(attr).filter(|_| tag == 0x30).ok_or_else(|| bad("attribute"))?;
        let [(0x06, _, kind), (0x31, values, _)] = fields.as_slice() else { return Err(bad("attribute")) };
        let values = elements(values).ok_or_else(|| bad("attribute"))?;
        let [(_, value, whole)] = values.as_slice() else { return Err(bad("attribute with several values")) };
        if *kind == oid(CONTENT_TYPE).as_slice() {
            content_type = Some(whole.to_vec());
        } else if *kind == oid(MESSAGE_DIGEST).as_slice() {
            message_digest = Some(value.to_vec());
        } else if *kind == oid(SIGNING_CERTIFICATE_V2).as_slice() {
            // SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 }: the first names the signer.
            let first = element(value).and_then(|(_, ids, _, _)| element(ids)).and_then(|(_, id, _, _)| elements(id));
            cert_hash = first.and_then(|id| id.into_iter().find(|e| e.0 == 0x04).map(|e| e.1.to_vec()));
        }
    }
    if content_type != Some(oid(DATA)) {
        return Err("the signed content type is not data".into());
    }
    if message_digest.as_deref() != Some(digest) {
        return Err("the document's digest does not match the signed digest: the file was changed after signing".into());
    }
    if cert_hash.as_deref() != Some(sha256(&certificate).as_slice()) {
        return Err("the signing-certificate-v2 attribute does not name the signer's certificate".into());
    }
    let mut signed = si[3].2.to_vec();
    signed[0] = 0x31;
    if !super::verify_p256(parts.spki, &signed, si[5].1) {
        return Err("the signature does not verify with the signer's certificate".into());
    }
    Ok(Signer { certificate, certificates })
}
