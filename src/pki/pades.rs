//! PDF signatures as PAdES baseline B-B (ETSI EN 319 142-1): the document is
//! saved as it is, then an incremental update appends a signature dictionary
//! (`/SubFilter /ETSI.CAdES.detached`), an invisible signature field on the
//! first page, and the catalog's `/AcroForm`. `/ByteRange` covers every byte
//! of the file but the hex `/Contents`, which holds a detached CMS
//! SignedData ([`super::cms`]) over those bytes. Verifying reads the last
//! signature back, checks it covers the whole file, and checks the CMS.

use lopdf::{Dictionary, Object, ObjectId};

/// Room kept for the CMS (bytes; written as twice as many hex digits).
const CMS_ROOM: usize = 8192;
/// The `/ByteRange` array as first written, later overwritten in place.
const BYTE_RANGE_ROOM: &str = "[0 0000000000 0000000000 0000000000]";

/// How the signature names itself.
pub struct Signing<'a> {
    /// The signer's name (`/Name`).
    pub name: &'a str,
    /// Why (`/Reason`).
    pub reason: &'a str,
    /// Where (`/Location`).
    pub location: &'a str,
    /// When (`/M`).
    pub at: chrono::DateTime<chrono::Utc>,
}

fn write(out: &mut Vec<u8>, object: &Object) -> Result<(), String> {
    lopdf::Writer::write_object(out, object).map_err(|e| format!("pdf: {e}"))
}

fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    parts.iter().for_each(|p| ctx.update(p));
    ctx.finish().as_ref().to_vec()
}

/// The offset the last `startxref` names.
fn last_startxref(pdf: &[u8]) -> Option<usize> {
    let at = pdf.windows(9).rposition(|w| w == b"startxref")?;
    let digits: String = pdf[at + 9..]
        .iter()
        .map(|&b| b as char)
        .skip_while(|c| c.is_whitespace())
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Saves `doc` and signs it on `page` with an incremental update; `cms` is
/// given the SHA-256 of the signed byte ranges and returns the DER SignedData.
pub fn sign(
    doc: &mut lopdf::Document,
    page: ObjectId,
    how: &Signing<'_>,
    cms: impl FnOnce(&[u8]) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, String> {
    let mut pdf = Vec::new();
    doc.save_to(&mut pdf).map_err(|e| format!("pdf: {e}"))?;
    if !pdf.ends_with(b"\n") {
        pdf.push(b'\n');
    }
    let prev = last_startxref(&pdf).ok_or("pdf: the saved document has no cross-reference table")?;
    let catalog_id = doc.trailer.get(b"Root").and_then(Object::as_reference).map_err(|e| format!("pdf: {e}"))?;
    let sig_id: ObjectId = (doc.max_id + 1, 0);
    let widget_id: ObjectId = (doc.max_id + 2, 0);

    let mut page_dict = doc.get_dictionary(page).map_err(|e| format!("pdf: {e}"))?.clone();
    let mut annots = page_dict.get(b"Annots").and_then(Object::as_array).cloned().unwrap_or_default();
    annots.push(Object::Reference(widget_id));
    page_dict.set("Annots", annots);
    let mut catalog = doc.get_dictionary(catalog_id).map_err(|e| format!("pdf: {e}"))?.clone();
    let mut form = Dictionary::new();
    form.set("Fields", vec![Object::Reference(widget_id)]);
    form.set("SigFlags", 3);
    catalog.set("AcroForm", form);
    let mut widget = Dictionary::new();
    widget.set("Type", Object::Name(b"Annot".to_vec()));
    widget.set("Subtype", Object::Name(b"Widget".to_vec()));
    widget.set("FT", Object::Name(b"Sig".to_vec()));
    widget.set("T", Object::string_literal("Signature1"));
    widget.set("V", Object::Reference(sig_id));
    widget.set("Rect", vec![0.into(), 0.into(), 0.into(), 0.into()]);
    widget.set("F", 132);
    widget.set("P", Object::Reference(page));

    let mut offsets: Vec<(u32, usize)> = Vec::new();
    // The signature dictionary, with room for what is known only at the end.
    offsets.push((sig_id.0, pdf.len()));
    pdf.extend_from_slice(
        format!("{} 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /Name ", sig_id.0)
            .as_bytes(),
    );
    write(&mut pdf, &Object::string_literal(how.name))?;
    pdf.extend_from_slice(b" /Reason ");
    write(&mut pdf, &Object::string_literal(how.reason))?;
    pdf.extend_from_slice(b" /Location ");
    write(&mut pdf, &Object::string_literal(how.location))?;
    pdf.extend_from_slice(b" /M ");
    write(&mut pdf, &Object::string_literal(how.at.format("D:%Y%m%d%H%M%S+00'00'").to_string()))?;
    pdf.extend_from_slice(b" /ByteRange ");
    let range_at = pdf.len();
    pdf.extend_from_slice(BYTE_RANGE_ROOM.as_bytes());
    pdf.extend_from_slice(b" /Contents ");
    let contents_at = pdf.len();
    pdf.push(b'<');
    pdf.resize(pdf.len() + 2 * CMS_ROOM, b'0');
    pdf.push(b'>');
    let contents_end = pdf.len();
    pdf.extend_from_slice(b" >>\nendobj\n");
    for (id, object) in [(widget_id, widget), (page, page_dict), (catalog_id, catalog)] {
        offsets.push((id.0, pdf.len()));
        pdf.extend_from_slice(format!("{} 0 obj\n", id.0).as_bytes());
        write(&mut pdf, &Object::Dictionary(object))?;
        pdf.extend_from_slice(b"\nendobj\n");
    }

    // The cross-reference section of the update, in runs of consecutive numbers.
    offsets.sort();
    let xref_at = pdf.len();
    pdf.extend_from_slice(b"xref\n");
    let mut i = 0;
    while i < offsets.len() {
        let mut j = i;
        while j + 1 < offsets.len() && offsets[j + 1].0 == offsets[j].0 + 1 {
            j += 1;
        }
        pdf.extend_from_slice(format!("{} {}\n", offsets[i].0, j - i + 1).as_bytes());
        for (_, at) in &offsets[i..=j] {
            pdf.extend_from_slice(format!("{at:010} 00000 n\r\n").as_bytes());
        }
        i = j + 1;
    }
    let mut trailer = Dictionary::new();
    trailer.set("Size", i64::from(widget_id.0) + 1);
    trailer.set("Root", Object::Reference(catalog_id));
    trailer.set("Prev", prev as i64);
    for key in [&b"Info"[..], b"ID"] {
        if let Ok(v) = doc.trailer.get(key) {
            trailer.set(key, v.clone());
        }
    }
    pdf.extend_from_slice(b"trailer\n");
    write(&mut pdf, &Object::Dictionary(trailer))?;
    pdf.extend_from_slice(format!("\nstartxref\n{xref_at}\n%%EOF\n").as_bytes());

    let range = format!("[0 {} {} {}]", contents_at, contents_end, pdf.len() - contents_end);
    let range = format!("{range:<width$}", width = BYTE_RANGE_ROOM.len());
    pdf[range_at..range_at + range.len()].copy_from_slice(range.as_bytes());
    let digest = sha256(&[&pdf[..contents_at], &pdf[contents_end..]]);
    let signed = cms(&digest)?;
    if signed.len() > CMS_ROOM {
        return Err("pdf: the signature is larger than the room kept for it".into());
    }
    let hex = super::hex(&signed);
    pdf[contents_at + 1..contents_at + 1 + hex.len()].copy_from_slice(hex.as_bytes());
    Ok(pdf)
}

/// The numbers of the last `/ByteRange [a b c d]` in the file, and where it is.
fn byte_range(pdf: &[u8]) -> Option<(usize, [usize; 4])> {
    let at = pdf.windows(10).rposition(|w| w == b"/ByteRange")?;
    let text: String = pdf[at + 10..].iter().take(80).map(|&b| b as char).collect();
    let inner = text.trim_start().strip_prefix('[')?;
    let inner = &inner[..inner.find(']')?];
    let numbers: Vec<usize> = inner.split_whitespace().map(str::parse).collect::<Result<_, _>>().ok()?;
    Some((at, numbers.try_into().ok()?))
}

fn unhex(hex: &[u8]) -> Option<Vec<u8>> {
    let digits: Vec<u8> = hex.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits.chunks(2).map(|p| std::str::from_utf8(p).ok().and_then(|s| u8::from_str_radix(s, 16).ok())).collect()
}

/// Verifies the last signature of a PDF: it must be a PAdES (CAdES detached)
/// signature whose byte range is the whole file but its own contents, over
/// which the CMS verifies. Says which certificate signed; whether that
/// certificate is trusted is the caller's question.
pub fn verify(pdf: &[u8]) -> Result<super::cms::Signer, String> {
    let (at, [start, a, b, c]) = byte_range(pdf).ok_or("the PDF carries no signature (no /ByteRange)")?;
    let whole = start == 0 && a < b && b.checked_add(c) == Some(pdf.len()) && at < a;
    if !whole || pdf.get(a) != Some(&b'<') || pdf.get(b - 1) != Some(&b'>') {
        return Err(
            "the signature does not cover the whole document (bytes were added or removed after signing)".into()
        );
    }
    let dict_start = pdf[..at].windows(2).rposition(|w| w == b"<<").unwrap_or(0);
    if !pdf[dict_start..a].windows(20).any(|w| w == b"/ETSI.CAdES.detached") {
        return Err("the signature is not a PAdES signature (SubFilter /ETSI.CAdES.detached)".into());
    }
    let cms = unhex(&pdf[a + 1..b - 1]).ok_or("the signature's /Contents is not hexadecimal")?;
    let cms = super::der::element(&cms)
        .map(|(_, _, whole, _)| whole.to_vec())
        .ok_or("the signature's /Contents is not DER")?;
    let digest = sha256(&[&pdf[..a], &pdf[b..]]);
    super::cms::verify_detached(&cms, &digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_range_is_read_back() {
        let pdf = b"%PDF-1.7\n<< /ByteRange [0 10 20 30]   /Contents <00> >>";
        assert_eq!(byte_range(pdf).map(|r| r.1), Some([0, 10, 20, 30]));
        assert_eq!(unhex(b"0a ff"), Some(vec![10, 255]));
        assert!(verify(b"%PDF-1.7 nothing").is_err());
    }

    #[test]
    fn a_signed_pdf_verifies_and_a_changed_byte_does_not() {
        use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};
        let dir = std::env::temp_dir().join(format!("daftar-pades-{}", crate::store::new_id()));
        let ca = crate::pki::Ca::init(&dir, "Test Government").unwrap();
        let rng = ring::rand::SystemRandom::new();
        let pk8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pk8.as_ref(), &rng).unwrap();
        let spki = crate::pki::p256_spki(pair.public_key().as_ref());
        let (_, pem) = ca.issue(&spki, "Signer (sec.test)", &["Secretary".into()]).unwrap();
        let signer = crate::pki::pem_der(&pem, "CERTIFICATE").unwrap();
        let ca_der = crate::pki::pem_der(ca.cert_pem(), "CERTIFICATE").unwrap();
        let mut pages = crate::compliance::pdf::Pages::new();
        pages.text(72.0, 700.0, 12.0, false, "Signed text");
        let (mut doc, page) = pages.finish("Test", Some(b"{\"k\": 1}")).unwrap();
        let how = Signing { name: "Signer", reason: "test", location: "here", at: chrono::Utc::now() };
        let pdf = sign(&mut doc, page, &how, |digest| {
            crate::pki::cms::sign_detached(digest, &signer, std::slice::from_ref(&ca_der), |m| {
                Ok(pair.sign(&rng, m).unwrap().as_ref().to_vec())
            })
        })
        .unwrap();
        let found = verify(&pdf).unwrap();
        assert_eq!(found.certificate, signer);
        assert_eq!(crate::pki::issuer_among(&found.certificate, &[ca_der.clone()]), Some(&ca_der[..]));
        assert_eq!(crate::compliance::pdf::data_of(&pdf), Some(serde_json::json!({"k": 1})));
        if let Some(out) = std::env::var_os("DAFTAR_PADES_SAMPLE") {
            std::fs::write(&out, &pdf).unwrap();
            std::fs::write(format!("{}.ca.pem", out.to_string_lossy()), ca.cert_pem()).unwrap();
        }
        let at = pdf.windows(11).position(|w| w == b"Signed text").unwrap();
        let mut changed = pdf.clone();
        changed[at] = b'X';
        assert!(verify(&changed).unwrap_err().contains("digest"));
        let mut longer = pdf.clone();
        longer.extend_from_slice(b"\n% appended\n");
        assert!(verify(&longer).unwrap_err().contains("whole document"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
