//! File bundles (SPEC section 5): a zip that proves a file's notes offline.
//!
//! ```text
//! manifest.json                 what is inside and how it fits together
//! ca.pem                        the deployment CA
//! certs/{serial}.pem            each signer's certificate
//! certs/{serial}-pubkey.pem     its public key, for plain `openssl dgst`
//! notes/note-{seq}.json         the canonical bytes each signature covers
//! notes/note-{seq}.sig          the DER ECDSA P-256 SHA-256 signature
//! ledger/entries.jsonl          the file's ledger entries (position, hash, canonical)
//! ledger/proofs.json            an RFC 9162 inclusion proof for each entry
//! ledger/checkpoint.json        the signed checkpoint the proofs lead to
//! ledger/checkpoint.sig         its signature by the deployment key
//! ```

use std::io::{Cursor, Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use diesel::prelude::*;
use serde_json::{Value, json};

use crate::domain::merkle::{self, Hash};
use crate::efile::{Actor, EfileError, visible_file};
use crate::ledger::{self, EventRow};
use crate::pki::{self, Ca, hex};
use crate::store::schema::{ledger_events, movement_signatures, movements, note_signatures, notes, signing_keys};
use crate::store::{Db, rfc3339};

fn unhex32(s: &str) -> Option<Hash> {
    let bytes: Option<Vec<u8>> =
        (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect();
    bytes?.try_into().ok()
}

/// Builds the bundle of a file the actor may see, proven against the latest
/// checkpoint; only when the file has events newer than it is the ledger
/// sealed and a new checkpoint signed first. Either way the proofs cost
/// O(log² n) stored hashes, not a read of the whole ledger.
pub fn export(db: &Db, ca: &Ca, actor: &Actor, file_id: &str) -> Result<Vec<u8>, EfileError> {
    let latest = {
        let mut c = db.reader()?;
        visible_file(&mut c, actor.viewer, file_id)?;
        let newest: Option<Option<i64>> = ledger_events::table
            .filter(ledger_events::file_id.eq(file_id))
            .order((ledger_events::position.is_not_null(), ledger_events::position.desc()))
            .select(ledger_events::position)
            .first(&mut c)
            .optional()?;
        let cp = ledger::latest_checkpoint(&mut c)?;
        match (newest, cp) {
            // Every event of the file is in the newest checkpoint.
            (Some(Some(p)), Some(cp)) if p < cp.size => Some(cp),
            (None, Some(cp)) => Some(cp),
            _ => None,
        }
    };
    let cp = match latest {
        Some(cp) => cp,
        None => ledger::checkpoint(db, ca).map_err(|e| EfileError::Store(crate::store::StoreError::Unavailable(e)))?,
    };
    let mut conn = db.reader()?;
    let c = &mut *conn;
    let (file, _) = visible_file(c, actor.viewer, file_id)?;

    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let put = |zip: &mut zip::ZipWriter<Cursor<Vec<u8>>>, name: &str, bytes: &[u8]| -> Result<(), EfileError> {
        zip.start_file(name, opts).map_err(|e| EfileError::Conflict(format!("bundle: {e}")))?;
        zip.write_all(bytes).map_err(|e| EfileError::Conflict(format!("bundle: {e}")))
    };
    put(&mut zip, "ca.pem", ca.cert_pem().as_bytes())?;

    // Signed notes, their certificates.
    type SigRow = (i64, String, String, String, String, i64, String, Option<i64>, String);
    let sigs: Vec<SigRow> = note_signatures::table
        .inner_join(notes::table)
        .inner_join(signing_keys::table.on(signing_keys::id.eq(note_signatures::key_id)))
        .filter(notes::file_id.eq(&file.id))
        .order(notes::seq)
        .select((
            notes::seq,
            notes::id,
            note_signatures::canonical,
            note_signatures::signature_b64,
            note_signatures::certificate_serial,
            note_signatures::signed_at,
            signing_keys::certificate_pem,
            signing_keys::revoked_at,
            signing_keys::public_key,
        ))
        .load(c)?;
    let mut manifest_notes = Vec::new();
    let mut certs_done = std::collections::HashSet::new();
    for (seq, id, canonical, sig, serial, signed_at, cert, revoked, public_key) in sigs {
        let sig = B64.decode(sig).unwrap_or_default();
        put(&mut zip, &format!("notes/note-{seq}.json"), canonical.as_bytes())?;
        put(&mut zip, &format!("notes/note-{seq}.sig"), &sig)?;
        if certs_done.insert(serial.clone()) {
            put(&mut zip, &format!("certs/{serial}.pem"), cert.as_bytes())?;
            let point: Vec<u8> = (0..public_key.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(&public_key[i..i + 2], 16).ok())
                .collect();
            put(
                &mut zip,
                &format!("certs/{serial}-pubkey.pem"),
                pki::public_key_pem(&pki::p256_spki(&point)).as_bytes(),
            )?;
        }
        manifest_notes.push(json!({
            "seq": seq, "note_id": id, "canonical": format!("notes/note-{seq}.json"), "signature": format!("notes/note-{seq}.sig"),
            "certificate": format!("certs/{serial}.pem"), "certificate_serial": serial, "signed_at": rfc3339(signed_at),
            "certificate_revoked_at": revoked.map(rfc3339),
        }));
    }

    // Signed movements.
    type MoveSig = (i64, String, String, String, String, i64, String, String);
    let moves: Vec<MoveSig> = movement_signatures::table
        .inner_join(movements::table)
        .inner_join(signing_keys::table.on(signing_keys::id.eq(movement_signatures::key_id)))
        .filter(movements::file_id.eq(&file.id))
        .order(movements::seq)
        .select((
            movements::seq,
            movements::action,
            movement_signatures::canonical,
            movement_signatures::signature_b64,
            movement_signatures::certificate_serial,
            movement_signatures::signed_at,
            signing_keys::certificate_pem,
            signing_keys::public_key,
        ))
        .load(c)?;
    let mut manifest_moves = Vec::new();
    for (seq, action, canonical, sig, serial, signed_at, cert, public_key) in moves {
        put(&mut zip, &format!("movements/move-{seq}.json"), canonical.as_bytes())?;
        put(&mut zip, &format!("movements/move-{seq}.sig"), &B64.decode(sig).unwrap_or_default())?;
        if certs_done.insert(serial.clone()) {
            put(&mut zip, &format!("certs/{serial}.pem"), cert.as_bytes())?;
            let point: Vec<u8> = (0..public_key.len())
                .step_by(2)
                .filter_map(|i| u8::from_str_radix(&public_key[i..i + 2], 16).ok())
                .collect();
            put(
                &mut zip,
                &format!("certs/{serial}-pubkey.pem"),
                pki::public_key_pem(&pki::p256_spki(&point)).as_bytes(),
            )?;
        }
        manifest_moves.push(json!({
            "seq": seq, "action": action, "canonical": format!("movements/move-{seq}.json"),
            "signature": format!("movements/move-{seq}.sig"), "certificate": format!("certs/{serial}.pem"),
            "certificate_serial": serial, "signed_at": rfc3339(signed_at),
        }));
    }

    // The file's ledger entries with inclusion proofs against the checkpoint.
    let mine: Vec<EventRow> = ledger_events::table
        .filter(ledger_events::file_id.eq(&file.id))
        .filter(ledger_events::position.is_not_null())
        .filter(ledger_events::position.lt(cp.size))
        .order(ledger_events::position)
        .select(EventRow::as_select())
        .load(c)?;
    // Others' drafts are theirs alone: the events that record them (with the
    // digest of their text, which a short draft could be guessed from) stay
    // out of the bundle. The rest still prove themselves leaf by leaf.
    let sight = crate::domain::access::Sight::of(actor.viewer, crate::store::now_micros());
    let drafts: std::collections::HashSet<String> = notes::table
        .filter(notes::file_id.eq(&file.id))
        .filter(notes::status.eq("draft"))
        .select((notes::id, notes::author_user_id))
        .load::<(String, String)>(c)?
        .into_iter()
        .filter(|(_, author)| !sight.sees_note(false, author))
        .map(|(id, _)| id)
        .collect();
    let hidden = |row: &EventRow| {
        serde_json::from_str::<Value>(&row.payload)
            .ok()
            .and_then(|p| p["note_id"].as_str().map(|n| drafts.contains(n)))
            .unwrap_or(false)
    };
    let mine: Vec<EventRow> = mine.into_iter().filter(|row| !hidden(row)).collect();
    let positions: Vec<u64> = mine.iter().map(|r| r.position.unwrap_or(0) as u64).collect();
    let paths = ledger::inclusion_proofs(c, &positions, cp.size as u64)?;
    let mut lines = String::new();
    let mut proofs = serde_json::Map::new();
    for (row, path) in mine.iter().zip(paths) {
        let pos = row.position.unwrap_or(0);
        let canonical = String::from_utf8_lossy(&ledger::canonical_entry(row)).into_owned();
        lines.push_str(&json!({"position": pos, "hash": row.hash, "canonical": canonical}).to_string());
        lines.push('\n');
        let path: Vec<String> = path.iter().map(|h| hex(h)).collect();
        proofs.insert(pos.to_string(), json!(path));
    }
    put(&mut zip, "ledger/entries.jsonl", lines.as_bytes())?;
    put(&mut zip, "ledger/proofs.json", Value::Object(proofs).to_string().as_bytes())?;
    put(&mut zip, "ledger/checkpoint.json", cp.canonical.as_bytes())?;
    put(&mut zip, "ledger/checkpoint.sig", &B64.decode(&cp.signature_b64).unwrap_or_default())?;

    let manifest = json!({
        "format": "daftar.bundle.v1",
        "exported_at": rfc3339(crate::store::now_micros()),
        "file": {"id": file.id, "file_no": file.file_no, "subject": file.subject, "classification": file.classification,
                 "status": file.status},
        "notes": manifest_notes,
        "movements": manifest_moves,
        "ledger": {"entries": "ledger/entries.jsonl", "proofs": "ledger/proofs.json", "checkpoint": "ledger/checkpoint.json",
                   "checkpoint_signature": "ledger/checkpoint.sig"},
        "ca": "ca.pem",
        "signature_algorithm": crate::signing::ALG,
    });
    put(&mut zip, "manifest.json", serde_json::to_string_pretty(&manifest).unwrap_or_default().as_bytes())?;
    let out = zip.finish().map_err(|e| EfileError::Conflict(format!("bundle: {e}")))?;
    Ok(out.into_inner())
}

/// One line of a verification report.
#[derive(Debug, Clone)]
pub struct Item {
    /// What was checked.
    pub what: String,
    /// Whether it held.
    pub ok: bool,
    /// Why not, or what it showed.
    pub detail: String,
}

/// Verifies a bundle offline; every item is reported.
pub fn verify(bytes: &[u8]) -> Result<Vec<Item>, String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("not a bundle (zip): {e}"))?;
    let mut read = |name: &str| -> Result<Vec<u8>, String> {
        let mut f = zip.by_name(name).map_err(|_| format!("{name} is missing from the bundle"))?;
        let mut out = Vec::new();
        f.read_to_end(&mut out).map_err(|e| format!("{name}: {e}"))?;
        Ok(out)
    };
    let manifest: Value = serde_json::from_slice(&read("manifest.json")?).map_err(|e| format!("manifest.json: {e}"))?;
    let ca_pem = String::from_utf8(read("ca.pem")?).map_err(|_| "ca.pem is not text".to_owned())?;
    let ca_der = pki::pem_der(&ca_pem, "CERTIFICATE").ok_or("ca.pem holds no certificate")?;
    let ca_spki = pki::cert_parts(&ca_der).ok_or("ca.pem is not a certificate")?.spki.to_vec();
    let mut items = Vec::new();
    let mut item = |what: String, ok: bool, detail: String| items.push(Item { what, ok, detail });

    // The checkpoint, signed by the deployment key.
    let cp_bytes = read("ledger/checkpoint.json")?;
    let cp_sig = read("ledger/checkpoint.sig")?;
    let cp: Value = serde_json::from_slice(&cp_bytes).unwrap_or(Value::Null);
    let cp_ok = pki::verify_p256(&ca_spki, &cp_bytes, &cp_sig);
    let size = cp["size"].as_u64().unwrap_or(0);
    let root = cp["root_hash"].as_str().and_then(unhex32);
    item(
        "ledger/checkpoint.json".into(),
        cp_ok && root.is_some(),
        format!("{size} entries, signed by the deployment CA"),
    );

    // Ledger entries: hash and inclusion proof.
    let proofs: Value = serde_json::from_slice(&read("ledger/proofs.json")?).unwrap_or(Value::Null);
    let entries =
        String::from_utf8(read("ledger/entries.jsonl")?).map_err(|_| "entries.jsonl is not text".to_owned())?;
    let mut signed_hashes = std::collections::HashSet::new();
    for line in entries.lines().filter(|l| !l.trim().is_empty()) {
        let e: Value = serde_json::from_str(line).unwrap_or(Value::Null);
        let pos = e["position"].as_u64().unwrap_or(u64::MAX);
        let canonical = e["canonical"].as_str().unwrap_or("");
        let leaf = merkle::leaf_hash(canonical.as_bytes());
        let path: Vec<Hash> = proofs[pos.to_string()]
            .as_array()
            .map(|a| a.iter().filter_map(|h| h.as_str().and_then(unhex32)).collect())
            .unwrap_or_default();
        let proven = root.is_some_and(|r| merkle::verify_inclusion(&leaf, pos, size, &path, &r));
        let hash_ok = e["hash"].as_str() == Some(hex(&leaf).as_str());
        let entry: Value = serde_json::from_str(canonical).unwrap_or(Value::Null);
        if let Some(h) = entry["payload"]["signature"]["canonical_sha256"].as_str() {
            signed_hashes.insert(h.to_owned());
        }
        item(
            format!("ledger entry {pos} ({})", entry["kind"].as_str().unwrap_or("?")),
            proven && hash_ok && cp_ok,
            if proven && hash_ok {
                "included in the signed checkpoint".into()
            } else {
                "not proven by the checkpoint".into()
            },
        );
    }

    // Each note and signed movement: certificate chains to the CA, signature
    // verifies, recorded in the ledger.
    let notes = manifest["notes"].as_array().cloned().unwrap_or_default().into_iter().map(|n| ("note", n));
    let moves = manifest["movements"].as_array().cloned().unwrap_or_default().into_iter().map(|n| ("movement", n));
    for (label, n) in notes.chain(moves) {
        let seq = n["seq"].as_i64().unwrap_or(0);
        let what = format!("{label} {seq}");
        let (Some(c), Some(s), Some(cert)) =
            (n["canonical"].as_str(), n["signature"].as_str(), n["certificate"].as_str())
        else {
            item(what, false, "manifest entry is incomplete".into());
            continue;
        };
        let (canonical, sig, cert_pem) = match (read(c), read(s), read(cert)) {
            (Ok(a), Ok(b), Ok(d)) => (a, b, String::from_utf8_lossy(&d).into_owned()),
            (a, b, d) => {
                let why = [a.err(), b.err(), d.err()].into_iter().flatten().collect::<Vec<_>>().join("; ");
                item(what, false, format!("cannot be read: {why}"));
                continue;
            }
        };
        let chained = pki::issued_by(&cert_pem, &ca_pem);
        let spki = pki::pem_der(&cert_pem, "CERTIFICATE").and_then(|d| pki::cert_parts(&d).map(|p| p.spki.to_vec()));
        let signed = spki.as_ref().is_some_and(|k| pki::verify_p256(k, &canonical, &sig));
        let recorded = signed_hashes.contains(&crate::domain::canonical::sha256_hex(&canonical));
        let in_time = match (n["certificate_revoked_at"].as_str(), n["signed_at"].as_str()) {
            (Some(revoked), Some(at)) => at < revoked,
            _ => true,
        };
        let detail = match (chained, signed, recorded, in_time) {
            (false, ..) => "the certificate was not issued by this CA".to_owned(),
            (_, false, ..) => "the signature does not verify".to_owned(),
            (_, _, false, _) => format!("the signed {label} is not recorded in the ledger"),
            (_, _, _, false) => "signed after its certificate was revoked".to_owned(),
            _ => format!(
                "signed {} by certificate {}",
                n["signed_at"].as_str().unwrap_or("?"),
                n["certificate_serial"].as_str().unwrap_or("?")
            ),
        };
        item(what, chained && signed && recorded && in_time, detail);
    }
    Ok(items)
}
