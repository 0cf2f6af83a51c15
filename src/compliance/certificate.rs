//! Compliance certificates: issued by an entity's administrative secretary
//! for a period, as an A4 PDF that states the figures and carries an
//! embedded PAdES B-B signature by the secretary's own signing key
//! ([`crate::pki::pades`]). Certificates are immutable and versioned: a
//! re-issue for the same period supersedes the previous version and never
//! overwrites it. Certificates from other deployments are imported after
//! their signature verifies against the configured trusted CAs.

use diesel::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};

use super::pdf::{HEIGHT, MARGIN, Pages, WIDTH};
use super::{ComplianceError, Entity, Period};
use crate::blobs::BlobStore;
use crate::domain::compliance::{Metrics, statement};
use crate::ledger;
use crate::pki::{self, Ca};
use crate::signing::pin::Opened;
use crate::store::schema::{compliance_certificates as cc, posts, signing_keys, users};
use crate::store::{Db, DbConn, new_id, now_micros, rfc3339};

/// What the certificate's embedded data is called.
pub const DATA_TYPE: &str = "daftar.compliance-certificate.v1";

/// A certificate as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CertificateView {
    /// Its id.
    pub id: String,
    /// The entity: `{code, name}` (and `id` when it is an entity of this deployment).
    #[schema(value_type = Object)]
    pub entity: Value,
    /// First day of the period.
    pub from: String,
    /// Last day of the period.
    pub to: String,
    /// 1 for the first issue for this period, then 2, 3… (each supersedes the one before).
    pub version: i32,
    /// The figures it certifies.
    #[schema(value_type = Object)]
    pub metrics: Value,
    /// When it was signed.
    pub issued_at: String,
    /// Who signed it.
    pub signer: String,
    /// `issued` here or `imported` from another deployment.
    pub source: String,
    /// The certificate that replaced it, if any.
    pub superseded_by: Option<String>,
    /// SHA-256 of the PDF.
    pub pdf_sha256: String,
}

type Row =
    (String, Option<String>, String, String, String, String, i32, String, String, String, String, i64, Option<String>);

macro_rules! columns {
    () => {
        (
            cc::id,
            cc::entity_id,
            cc::entity_code,
            cc::entity_name,
            cc::period_from,
            cc::period_to,
            cc::version,
            cc::source,
            cc::metrics,
            cc::pdf_sha256,
            cc::signer,
            cc::issued_at,
            cc::superseded_by,
        )
    };
}

fn view(r: Row) -> CertificateView {
    let mut entity = json!({"code": r.2, "name": r.3});
    if let Some(id) = r.1 {
        entity["id"] = id.into();
    }
    CertificateView {
        id: r.0,
        entity,
        from: r.4,
        to: r.5,
        version: r.6,
        source: r.7,
        metrics: serde_json::from_str(&r.8).unwrap_or(Value::Null),
        pdf_sha256: r.9,
        signer: r.10,
        issued_at: rfc3339(r.11),
        superseded_by: r.12,
    }
}

/// One certificate.
pub fn get(conn: &mut DbConn, id: &str) -> QueryResult<Option<CertificateView>> {
    Ok(cc::table.find(id).select(columns!()).first::<Row>(conn).optional()?.map(view))
}

/// The current (not superseded) certificate of an entity for exactly this
/// period: one issued here if there is one, else an imported one.
pub fn current(conn: &mut DbConn, entity_code: &str, period: Period) -> QueryResult<Option<CertificateView>> {
    let rows: Vec<Row> = cc::table
        .filter(cc::entity_code.eq(entity_code))
        .filter(cc::period_from.eq(period.from.to_string()))
        .filter(cc::period_to.eq(period.to.to_string()))
        .filter(cc::superseded_by.is_null())
        .order((cc::source.desc(), cc::version.desc()))
        .select(columns!())
        .load(conn)?;
    Ok(rows.into_iter().next().map(view))
}

/// Every certificate of an entity, newest first.
pub fn of_entity(conn: &mut DbConn, entity_code: &str) -> QueryResult<Vec<CertificateView>> {
    Ok(cc::table
        .filter(cc::entity_code.eq(entity_code))
        .order((cc::issued_at.desc(), cc::id.desc()))
        .select(columns!())
        .limit(200)
        .load::<Row>(conn)?
        .into_iter()
        .map(view)
        .collect())
}

/// Entities known only from imported certificates of `period`: (code, name).
pub fn imported_entities(conn: &mut DbConn, period: Period) -> QueryResult<Vec<(String, String)>> {
    cc::table
        .filter(cc::entity_id.is_null())
        .filter(cc::period_from.eq(period.from.to_string()))
        .filter(cc::period_to.eq(period.to.to_string()))
        .filter(cc::superseded_by.is_null())
        .select((cc::entity_code, cc::entity_name))
        .distinct()
        .load(conn)
}

fn text_of(v: Option<f64>) -> Value {
    v.map_or(Value::Null, |v| Value::String(format!("{v}")))
}

/// The metrics as canonical ledger payloads carry them: numbers as decimal text.
fn metrics_text(m: &Metrics) -> Value {
    json!({
        "e_files": m.e_files, "physical_files": m.physical_files,
        "adoption_pct": text_of(m.adoption_pct), "e_receipts_pct": text_of(m.e_receipts_pct),
        "active_users_pct": text_of(m.active_users_pct), "signed_notes_pct": text_of(m.signed_notes_pct),
        "median_disposal_hours": text_of(m.median_disposal_hours), "p90_disposal_hours": text_of(m.p90_disposal_hours),
        "avg_movements_per_file": text_of(m.avg_movements_per_file), "pending_over_sla": m.pending_over_sla,
    })
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a (nothing to measure)".to_owned(), |v| format!("{v:.1}%"))
}

fn hours(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a (nothing disposed of)".to_owned(), |v| format!("{v:.1} hours"))
}

/// The rows of the metrics table, as printed.
pub fn metric_rows(m: &Metrics) -> Vec<(&'static str, String)> {
    vec![
        ("E-files handled in the period", m.e_files.to_string()),
        ("Physical files on the register", m.physical_files.to_string()),
        ("Adoption (e-files of all files)", pct(m.adoption_pct)),
        ("Receipts received electronically", pct(m.e_receipts_pct)),
        ("Officers active on the system", pct(m.active_users_pct)),
        ("Notes signed", pct(m.signed_notes_pct)),
        ("Median disposal time", hours(m.median_disposal_hours)),
        ("90th percentile disposal time", hours(m.p90_disposal_hours)),
        (
            "Average movements per file closed",
            m.avg_movements_per_file.map_or_else(|| "n/a (no file closed)".into(), |v| format!("{v:.2}")),
        ),
        ("Workflow steps past their SLA", m.pending_over_sla.to_string()),
    ]
}

/// Who signs, as the certificate names them.
struct Signatory {
    name: String,
    username: String,
    designation: String,
    serial: String,
    certificate_der: Vec<u8>,
}

fn signatory(conn: &mut DbConn, user_id: &str, serial: &str, heads: &[String]) -> Result<Signatory, ComplianceError> {
    let (name, username): (String, String) =
        users::table.find(user_id).select((users::name, users::username)).first(conn)?;
    let designation: String = posts::table
        .filter(posts::id.eq_any(heads))
        .select(posts::title)
        .first(conn)
        .optional()?
        .unwrap_or_else(|| "Administrative Secretary".into());
    let pem: String = signing_keys::table
        .filter(signing_keys::certificate_serial.eq(serial))
        .select(signing_keys::certificate_pem)
        .first(conn)?;
    let certificate_der = pki::pem_der(&pem, "CERTIFICATE")
        .ok_or_else(|| ComplianceError::Internal("the signing certificate is damaged".into()))?;
    Ok(Signatory { name, username, designation, serial: serial.to_owned(), certificate_der })
}

fn long_date(d: chrono::NaiveDate) -> String {
    d.format("%-d %B %Y").to_string()
}

/// Draws the certificate's pages.
fn draw(facts: &Value, entity: &Entity, period: Period, m: &Metrics, s: &Signatory, organisation: &str) -> Pages {
    let mut p = Pages::new();
    let right = WIDTH - MARGIN;
    let mut y = HEIGHT - MARGIN;
    p.text(MARGIN, y, 10.0, true, &organisation.to_uppercase());
    y -= 30.0;
    p.text(MARGIN, y, 20.0, true, "Certificate of e-Office Adoption");
    y -= 26.0;
    p.text(MARGIN, y, 14.0, true, &format!("{} ({})", entity.name, entity.code));
    y -= 18.0;
    p.text(MARGIN, y, 11.0, false, &format!("Period: {} to {}", long_date(period.from), long_date(period.to)));
    y -= 12.0;
    p.line(MARGIN, y, right, y, 0.8);
    y -= 20.0;
    p.text(MARGIN, y, 10.0, true, "Metric");
    p.text_right(right, y, 10.0, true, "Value");
    y -= 6.0;
    p.line(MARGIN, y, right, y, 0.4);
    for (label, value) in metric_rows(m) {
        y -= 16.0;
        p.text(MARGIN, y, 10.0, false, label);
        p.text_right(right, y, 10.0, false, &value);
        p.line(MARGIN, y - 5.0, right, y - 5.0, 0.2);
    }
    y -= 30.0;
    p.text(MARGIN, y, 11.0, true, "Statement of adoption");
    y -= 16.0;
    y = p.paragraph(MARGIN, y, 10.5, right - MARGIN, &statement(&entity.name, m));
    y -= 12.0;
    let version = facts["version"].as_i64().unwrap_or(1);
    let mut certify = format!(
        "I certify that the figures above were computed by Daftar from the records of {} for the period, \
         and are not typed in by hand.",
        entity.name
    );
    if version > 1 {
        certify.push_str(&format!(
            " This is version {version}; it supersedes version {} for the same period.",
            version - 1
        ));
    }
    y = p.paragraph(MARGIN, y, 10.5, right - MARGIN, &certify);
    y -= 26.0;
    p.text(MARGIN, y, 11.0, true, &s.name);
    y -= 14.0;
    p.text(MARGIN, y, 10.5, false, &s.designation);
    y -= 14.0;
    p.text(
        MARGIN,
        y,
        10.0,
        false,
        &format!(
            "Signed digitally on {} (signing certificate {})",
            facts["issued_at"].as_str().unwrap_or(""),
            s.serial
        ),
    );
    y -= 30.0;
    p.line(MARGIN, y, right, y, 0.4);
    y -= 16.0;
    let cp = &facts["checkpoint"];
    let ledger_line = format!(
        "Computed at ledger checkpoint: {} entries, Merkle root {}, signed by the deployment at {}.",
        cp["size"],
        cp["root_hash"].as_str().unwrap_or(""),
        cp["at"].as_str().unwrap_or("")
    );
    y = p.paragraph(MARGIN, y, 8.5, right - MARGIN, &ledger_line);
    y -= 4.0;
    let verify_line = format!(
        "Verification: certificate {} version {}. This PDF carries a PAdES signature; check it with `daftar verify <file>.pdf` \
         or any PAdES validator (e.g. pdfsig) that trusts the deployment CA{}.",
        facts["id"].as_str().unwrap_or(""),
        version,
        facts["ca_url"].as_str().map(|u| format!(" published at {u}")).unwrap_or_default()
    );
    p.paragraph(MARGIN, y, 8.5, right - MARGIN, &verify_line);
    p
}

/// Issues a certificate for `entity` over `period`, signed with the
/// secretary's opened key. The caller has checked that `user_id` is the
/// entity's secretary; `heads` are its head posts.
#[allow(clippy::too_many_arguments)]
pub fn issue(
    db: &Db,
    ca: &Ca,
    blobs: &BlobStore,
    config: &crate::config::Config,
    user_id: &str,
    heads: &[String],
    entity: &Entity,
    period: Period,
    opened: &Opened,
) -> Result<CertificateView, ComplianceError> {
    let checkpoint = ledger::checkpoint(db, ca).map_err(ComplianceError::Internal)?;
    let (m, s, version) = {
        let mut c = db.reader()?;
        let m = super::metrics_of(&mut c, entity, period)?;
        let s = signatory(&mut c, user_id, &opened.key.serial, heads)?;
        let latest: Option<i32> = cc::table
            .filter(cc::entity_code.eq(&entity.code))
            .filter(cc::period_from.eq(period.from.to_string()))
            .filter(cc::period_to.eq(period.to.to_string()))
            .filter(cc::source.eq("issued"))
            .select(diesel::dsl::max(cc::version))
            .first(&mut c)?;
        (m, s, latest.unwrap_or(0) + 1)
    };
    let id = new_id();
    let issued_at = now_micros();
    let facts = json!({
        "type": DATA_TYPE,
        "id": id,
        "version": version,
        "organisation": config.organisation,
        "entity": {"code": entity.code, "name": entity.name},
        "from": period.from.to_string(),
        "to": period.to.to_string(),
        "metrics": m,
        "statement": statement(&entity.name, &m),
        "signer": {"name": s.name, "username": s.username, "designation": s.designation, "certificate_serial": s.serial},
        "checkpoint": {"size": checkpoint.size, "root_hash": checkpoint.root_hash, "at": checkpoint.at},
        "issued_at": rfc3339(issued_at),
        "ca_url": config.base_url.as_ref().map(|b| format!("{}/api/v1/pki/ca.pem", b.trim_end_matches('/'))),
    });
    let data = serde_json::to_vec_pretty(&facts).map_err(|e| ComplianceError::Internal(e.to_string()))?;
    let title = format!("Certificate of e-Office Adoption: {} ({} to {})", entity.name, period.from, period.to);
    let (mut doc, page) = draw(&facts, entity, period, &m, &s, &config.organisation)
        .finish(&title, Some(&data))
        .map_err(ComplianceError::Internal)?;
    let ca_der = pki::pem_der(ca.cert_pem(), "CERTIFICATE")
        .ok_or_else(|| ComplianceError::Internal("the CA certificate is damaged".into()))?;
    let how = pki::pades::Signing {
        name: &s.name,
        reason: &format!("Certificate of e-Office adoption, {} to {}", period.from, period.to),
        location: &entity.name,
        at: chrono::DateTime::from_timestamp_micros(issued_at).unwrap_or_default(),
    };
    let pdf = pki::pades::sign(&mut doc, page, &how, |digest| {
        pki::cms::sign_detached(digest, &s.certificate_der, std::slice::from_ref(&ca_der), |bytes| {
            opened.open.sign(bytes).map_err(|e| e.to_string())
        })
    })
    .map_err(ComplianceError::Internal)?;
    let sha = store_pdf(blobs, &pdf)?;
    let signer = format!("{} ({}), {}", s.name, s.username, s.designation);
    db.write_tx(|c| -> Result<(), ComplianceError> {
        insert(
            c,
            &id,
            Some(&entity.id),
            &entity.code,
            &entity.name,
            period,
            version,
            "issued",
            &m,
            &sha,
            &signer,
            Some(user_id),
            issued_at,
        )?;
        ledger::append(
            c,
            ledger::Event {
                kind: "certificate_issued",
                actor_user: Some(user_id),
                actor_post: heads.first().map(String::as_str),
                file_id: None,
                receipt_id: None,
                payload: json!({"certificate_id": id, "entity": entity.code, "from": period.from.to_string(),
                                "to": period.to.to_string(), "version": version, "pdf_sha256": sha,
                                "metrics": metrics_text(&m),
                                "checkpoint": {"size": checkpoint.size, "root_hash": checkpoint.root_hash}}),
            },
        )?;
        crate::jobs::enqueue(
            c,
            &crate::jobs::Job::tell_entity(
                &entity.id,
                &format!("certificate-{id}"),
                &format!("The e-Office compliance certificate of {} was issued", entity.code),
                &format!(
                    "{} issued the compliance certificate of {} for {} to {} (version {version}).",
                    s.name, entity.name, period.from, period.to
                ),
                "/compliance",
            ),
        )?;
        Ok(())
    })?;
    let mut c = db.reader()?;
    get(&mut c, &id)?.ok_or_else(|| ComplianceError::Internal("the certificate just stored is gone".into()))
}

fn store_pdf(blobs: &BlobStore, pdf: &[u8]) -> Result<String, ComplianceError> {
    let io = |e: std::io::Error| ComplianceError::Internal(format!("blob store: {e}"));
    let mut incoming = blobs.incoming().map_err(io)?;
    incoming.write(pdf).map_err(io)?;
    blobs.commit(incoming).map_err(io)
}

/// Stores a certificate row; a version already taken (two issues at once)
/// answers a conflict rather than overwriting; the previous current version
/// is marked superseded.
#[allow(clippy::too_many_arguments)]
fn insert(
    c: &mut DbConn,
    id: &str,
    entity_id: Option<&str>,
    code: &str,
    name: &str,
    period: Period,
    version: i32,
    source: &str,
    m: &Metrics,
    sha: &str,
    signer: &str,
    by: Option<&str>,
    at: i64,
) -> Result<(), ComplianceError> {
    let (from, to) = (period.from.to_string(), period.to.to_string());
    let taken: i64 = cc::table
        .filter(cc::entity_code.eq(code))
        .filter(cc::period_from.eq(&from))
        .filter(cc::period_to.eq(&to))
        .filter(cc::source.eq(source))
        .filter(cc::version.ge(version))
        .count()
        .get_result(c)?;
    if taken > 0 {
        return Err(ComplianceError::Conflict(format!("version {version} of this certificate already exists")));
    }
    diesel::update(
        cc::table
            .filter(cc::entity_code.eq(code))
            .filter(cc::period_from.eq(&from))
            .filter(cc::period_to.eq(&to))
            .filter(cc::superseded_by.is_null()),
    )
    .filter(cc::source.eq(source).or(cc::source.eq("imported")))
    .set(cc::superseded_by.eq(id))
    .execute(c)?;
    diesel::insert_into(cc::table)
        .values((
            cc::id.eq(id),
            cc::entity_id.eq(entity_id),
            cc::entity_code.eq(code),
            cc::entity_name.eq(name),
            cc::period_from.eq(&from),
            cc::period_to.eq(&to),
            cc::version.eq(version),
            cc::source.eq(source),
            cc::metrics.eq(serde_json::to_string(m).unwrap_or_default()),
            cc::pdf_sha256.eq(sha),
            cc::signer.eq(signer),
            cc::issued_by_user.eq(by),
            cc::issued_at.eq(at),
        ))
        .execute(c)?;
    Ok(())
}

/// The certificate authorities trusted to sign certificates: this
/// deployment's own and those in `compliance.trusted_cas`.
pub fn trusted_cas(ca: &Ca, config: &crate::config::Config) -> Vec<Vec<u8>> {
    let mut cas = pki::pem_certificates(ca.cert_pem());
    if let Some(path) = &config.compliance.trusted_cas {
        match std::fs::read_to_string(path) {
            Ok(pem) => cas.extend(pki::pem_certificates(&pem)),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "compliance.trusted_cas cannot be read"),
        }
    }
    cas
}

/// A certificate PDF whose signature verified.
#[derive(Debug)]
pub struct Verified {
    /// The facts it certifies (its embedded data).
    pub facts: Value,
    /// SHA-256 fingerprint of the CA that issued the signer's certificate.
    pub ca_fingerprint: String,
    /// The signer's certificate, DER.
    pub signer_certificate: Vec<u8>,
}

/// Verifies a certificate PDF: the PAdES signature covers the whole file
/// and verifies; the signer's certificate was issued by one of `trusted`
/// (DER CA certificates); the embedded facts name that signer.
pub fn verify(pdf: &[u8], trusted: &[Vec<u8>]) -> Result<Verified, String> {
    let signer = pki::pades::verify(pdf)?;
    let ca = pki::issuer_among(&signer.certificate, trusted)
        .ok_or("the signer's certificate was not issued by a trusted certificate authority")?;
    let facts = super::pdf::data_of(pdf).ok_or("the PDF does not carry the figures of a Daftar certificate")?;
    if facts["type"] != DATA_TYPE {
        return Err("the PDF's data is not a Daftar compliance certificate".into());
    }
    // The facts must name the key that signed them: its certificate's
    // serial, and the login the CA wrote into its name as "Name (login)".
    let parts = pki::cert_parts(&signer.certificate).ok_or("the signer's certificate cannot be read")?;
    let username = facts["signer"]["username"].as_str().unwrap_or_default();
    let login_ok = !username.is_empty()
        && username.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        && common_name(parts.subject).is_some_and(|cn| cn.ends_with(&format!("({username})")));
    let serial = facts["signer"]["certificate_serial"].as_str().unwrap_or_default();
    let serial_ok =
        !serial.is_empty() && pki::hex(parts.serial).trim_start_matches('0') == serial.trim_start_matches('0');
    if !login_ok || !serial_ok {
        return Err("the certificate names a signer other than the one whose key signed it".into());
    }
    Ok(Verified { facts, ca_fingerprint: pki::fingerprint(ca), signer_certificate: signer.certificate })
}

/// The self-signed (CA) certificates a signature carries: what an offline
/// check trusts when no CA is named.
pub fn carried_roots(signer: &pki::cms::Signer) -> Vec<Vec<u8>> {
    signer.certificates.iter().filter(|c| pki::cert_parts(c).is_some_and(|p| p.issuer == p.subject)).cloned().collect()
}

/// The common name in a DER Name, if it has one.
fn common_name(name: &[u8]) -> Option<String> {
    use pki::der::{element, elements};
    const CN: [u8; 5] = [0x06, 0x03, 0x55, 0x04, 0x03];
    let (_, rdns, _, _) = element(name)?;
    for (_, rdn, _) in elements(rdns)? {
        for (_, atv, _) in elements(rdn)? {
            let fields = elements(atv)?;
            if let [(_, _, kind), (_, value, _)] = fields.as_slice()
                && *kind == CN
            {
                return String::from_utf8(value.to_vec()).ok();
            }
        }
    }
    None
}

/// Whether a stored certificate still verifies: `verified` or `invalid`.
pub fn status(blobs: &BlobStore, c: &CertificateView, trusted: &[Vec<u8>]) -> &'static str {
    match std::fs::read(blobs.path(&c.pdf_sha256)) {
        Ok(pdf) if crate::domain::canonical::sha256_hex(&pdf) == c.pdf_sha256 => {
            if verify(&pdf, trusted).is_ok() {
                "verified"
            } else {
                "invalid"
            }
        }
        _ => "invalid",
    }
}

/// The PDF of a stored certificate.
pub fn pdf_of(blobs: &BlobStore, c: &CertificateView) -> Result<Vec<u8>, ComplianceError> {
    std::fs::read(blobs.path(&c.pdf_sha256)).map_err(|e| ComplianceError::Internal(format!("certificate PDF: {e}")))
}

/// The largest certificate PDF accepted for import.
pub const IMPORT_MAX_BYTES: usize = 10 * 1024 * 1024;

/// Imports a certificate issued by another deployment: verified against
/// `trusted` or rejected with the reason. Importing the same PDF again
/// answers the certificate already stored.
pub fn import(
    db: &Db,
    blobs: &BlobStore,
    trusted: &[Vec<u8>],
    user_id: &str,
    pdf: &[u8],
) -> Result<CertificateView, ComplianceError> {
    if pdf.len() > IMPORT_MAX_BYTES {
        return Err(ComplianceError::Rejected("the PDF is larger than 10 MiB".into()));
    }
    let v = verify(pdf, trusted).map_err(ComplianceError::Rejected)?;
    let f = &v.facts;
    let field = |k: &str| {
        f[k].as_str()
            .map(str::to_owned)
            .ok_or_else(|| ComplianceError::Rejected(format!("the certificate's data has no `{k}`")))
    };
    let (code, name) = (
        f["entity"]["code"].as_str().unwrap_or_default().to_owned(),
        f["entity"]["name"].as_str().unwrap_or_default().to_owned(),
    );
    if code.is_empty() || code.len() > 64 || name.is_empty() || name.len() > 300 {
        return Err(ComplianceError::Rejected("the certificate's data does not name its entity".into()));
    }
    let period = Period::parse(&field("from")?, &field("to")?).map_err(|e| ComplianceError::Rejected(e.to_string()))?;
    let version = f["version"]
        .as_i64()
        .filter(|v| (1..=10_000).contains(v))
        .ok_or_else(|| ComplianceError::Rejected("the certificate's data has no version".into()))?
        as i32;
    let m: Metrics = serde_json::from_value(f["metrics"].clone())
        .map_err(|_| ComplianceError::Rejected("the certificate's figures cannot be read".into()))?;
    crate::domain::compliance::plausible(&m)
        .map_err(|e| ComplianceError::Rejected(format!("the certificate's figures are not consistent: {e}")))?;
    let issued_at = chrono::DateTime::parse_from_rfc3339(&field("issued_at")?)
        .map_err(|_| ComplianceError::Rejected("the certificate's issue time cannot be read".into()))?
        .timestamp_micros();
    let sha = crate::domain::canonical::sha256_hex(pdf);
    {
        let mut c = db.reader()?;
        if super::entity(&mut c, &code)?.is_some() {
            return Err(ComplianceError::Rejected(format!(
                "{code} is an entity of this deployment: its certificate is issued here by its secretary, not imported"
            )));
        }
        let same: Option<String> = cc::table.filter(cc::pdf_sha256.eq(&sha)).select(cc::id).first(&mut c).optional()?;
        if let Some(id) = same {
            return get(&mut c, &id)?.ok_or(ComplianceError::NotFound);
        }
    }
    store_pdf(blobs, pdf)?;
    let signer = format!(
        "{} ({}), {}",
        f["signer"]["name"].as_str().unwrap_or(""),
        f["signer"]["username"].as_str().unwrap_or(""),
        f["signer"]["designation"].as_str().unwrap_or("")
    );
    let id = new_id();
    db.write_tx(|c| -> Result<(), ComplianceError> {
        let local = super::entity(c, &code)?.map(|e| e.id);
        insert(
            c,
            &id,
            local.as_deref(),
            &code,
            &name,
            period,
            version,
            "imported",
            &m,
            &sha,
            &signer,
            None,
            issued_at,
        )?;
        ledger::append(
            c,
            ledger::Event {
                kind: "certificate_imported",
                actor_user: Some(user_id),
                actor_post: None,
                file_id: None,
                receipt_id: None,
                payload: json!({"certificate_id": id, "entity": code, "from": period.from.to_string(),
                                "to": period.to.to_string(), "version": version, "pdf_sha256": sha,
                                "ca_fingerprint": v.ca_fingerprint, "metrics": metrics_text(&m)}),
            },
        )?;
        Ok(())
    })?;
    let mut c = db.reader()?;
    get(&mut c, &id)?.ok_or_else(|| ComplianceError::Internal("the certificate just stored is gone".into()))
}
