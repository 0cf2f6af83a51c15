//! Compliance certificates and MoITT's consolidated report, from outside:
//! the secretary issues a certificate over HTTP, poppler's `pdfsig` (with
//! the deployment CA trusted in an NSS database made by `certutil`) and
//! `daftar verify` check the PAdES signature, `pdftotext` reads the figures,
//! `pdftoppm` renders the report. Those tools come from poppler-utils and
//! libnss3-tools (`.ci/run` installs them); without them the PDF checks are
//! skipped, saying so.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::both_backends;
use crate::documents::post_multipart;
use crate::helpers::{Backend, TestApp, my_post, spawn_app, spawn_app_with};
use crate::signing::{PIN, note_and_sign};

fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
}

fn pdf_tools() -> bool {
    let ok = ["pdfsig", "pdftotext", "pdftoppm", "certutil"].iter().all(|t| have(t));
    if !ok {
        eprintln!(
            "skipping the PDF checks: pdfsig, pdftotext, pdftoppm and certutil (poppler-utils, libnss3-tools) are needed"
        );
    }
    ok
}

fn today() -> String {
    // The deployment's civil day (PKT, the default `utc_offset`), which is
    // not UTC's between 19:00 and midnight UTC.
    (chrono::Utc::now() + chrono::Duration::hours(5)).format("%Y-%m-%d").to_string()
}

fn get_bytes(app: &TestApp, token: &str, path: &str) -> (u16, Option<String>, Vec<u8>) {
    let r = ureq::get(&format!("{}{path}", app.base)).set("Authorization", &format!("Bearer {token}")).call();
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let (status, ctype) = (resp.status(), resp.header("content-type").map(str::to_owned));
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut resp.into_reader(), &mut out).unwrap();
    (status, ctype, out)
}

fn post_pdf(app: &TestApp, token: &str, pdf: &[u8]) -> (u16, Value) {
    post_multipart(app, token, "/api/v1/compliance/certificates/import", "application/pdf", pdf)
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("run a tool");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// An NSS database in `dir` that trusts `ca_pem` for signing (C,C,C).
fn nss_trusting(dir: &Path, ca_pem: &[u8]) -> String {
    let db = dir.join("nss");
    std::fs::create_dir_all(&db).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let spec = format!("sql:{}", db.display());
    let (ok, out) = run(Command::new("certutil").args(["-N", "-d", &spec, "--empty-password"]));
    assert!(ok, "{out}");
    let (ok, out) =
        run(Command::new("certutil").args(["-A", "-d", &spec, "-n", "daftar-ca", "-t", "C,C,C", "-i"]).arg(&ca));
    assert!(ok, "{out}");
    spec
}

fn daftar_verify(pdf: &Path, ca: Option<&Path>) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_daftar"));
    cmd.arg("verify").arg(pdf).env("DAFTAR_LOG", "warn");
    if let Some(ca) = ca {
        cmd.arg("--ca").arg(ca);
    }
    run(&mut cmd)
}

/// Some activity at MoITT: a file noted, signed and forwarded; a file
/// closed; a physical file on the register; an electronic-less receipt.
fn activity(app: &TestApp) -> String {
    let so = app.login("so.moitt");
    let ds = app.login("ds.moitt");
    let registry = app.login("registry.moitt");
    let file = app.post_as(&so, "/api/v1/files", &json!({"subject": "e-Office rollout"})).body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    note_and_sign(app, &so, &file, "Put up for approval of the rollout plan.");
    let r = app.post_as(
        &so,
        &format!("/api/v1/files/{file}/movements"),
        &json!({"action": "forward", "to_post_id": my_post(app, &ds)}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let closed =
        app.post_as(&so, "/api/v1/files", &json!({"subject": "Closed matter"})).body["id"].as_str().unwrap().to_owned();
    assert_eq!(app.post_as(&so, &format!("/api/v1/files/{closed}/movements"), &json!({"action": "close"})).status, 201);
    let r = app.post_as(
        &registry,
        "/api/v1/compliance/physical-files",
        &json!({"entity": "MOITT", "files": [{"reference": "IT-1/2019", "subject": "Old paper file", "opened_on": "2019-03-01"}]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app.post_as(
        &registry,
        "/api/v1/receipts",
        &json!({"subject": "Letter on paper", "sender": "PMO", "mode": "post"}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    file
}

fn issue(app: &TestApp, token: &str, entity: &str) -> (u16, Value) {
    let r = app.post_as(
        token,
        "/api/v1/compliance/certificates",
        &json!({"entity": entity, "from": today(), "to": today(), "pin": PIN}),
    );
    (r.status, r.body)
}

both_backends!(the_secretary_certifies_and_pdfsig_trusts_the_signature, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    activity(&app);
    let secretary = app.login("secretary.moitt");
    let (status, cert) = issue(&app, &secretary, "MOITT");
    assert_eq!(status, 201, "{cert}");
    let m = &cert["metrics"];
    assert_eq!(m["e_files"], 2, "{cert}");
    assert_eq!(m["physical_files"], 1);
    assert_eq!(m["adoption_pct"], 66.6, "rounded down, never up to a claim the figures do not make");
    assert_eq!(m["e_receipts_pct"], 0.0);
    assert_eq!(m["signed_notes_pct"], 100.0);
    assert_eq!(m["avg_movements_per_file"], 0.0);
    assert!(m["median_disposal_hours"].is_number());
    assert_eq!(cert["version"], 1);

    // compliance.moitt downloads it; the tools check it.
    let compliance = app.login("compliance.moitt");
    let (status, ctype, pdf) =
        get_bytes(&app, &compliance, &format!("/api/v1/compliance/certificates/{}/pdf", cert["id"].as_str().unwrap()));
    assert_eq!(status, 200);
    assert_eq!(ctype.as_deref(), Some("application/pdf"));
    assert!(pdf.starts_with(b"%PDF"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("certificate.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let (_, _, ca_pem) = get_bytes(&app, &compliance, "/api/v1/pki/ca.pem");
    let (ok, out) = daftar_verify(&path, None);
    assert!(ok, "daftar verify agrees: {out}");
    std::fs::write(dir.path().join("ca.pem"), &ca_pem).unwrap();
    let (ok, out) = daftar_verify(&path, Some(&dir.path().join("ca.pem")));
    assert!(ok && out.contains("certificate is valid") && out.contains("66.6%"), "{out}");
    if !pdf_tools() {
        return;
    }
    let nss = nss_trusting(dir.path(), &ca_pem);
    let (_, out) = run(Command::new("pdfsig").args(["-nssdir", &nss]).arg(&path));
    assert!(out.contains("Signature is Valid."), "{out}");
    assert!(out.contains("Total document signed"), "{out}");
    assert!(out.contains("Certificate is Trusted."), "{out}");
    assert!(out.contains("ETSI.CAdES.detached"), "{out}");
    let (ok, text) = run(Command::new("pdftotext").args(["-layout"]).arg(&path).arg("-"));
    assert!(ok, "{text}");
    for shown in [
        "Certificate of e-Office Adoption",
        "Ministry of Information Technology",
        "66.6%",
        "100.0%",
        "Physical files on the register",
        "ledger checkpoint",
        "partly adopted",
        "Secretary MoITT",
    ] {
        assert!(text.contains(shown), "pdftotext shows {shown:?}: {text}");
    }
    assert!(!text.contains("fully adopted"), "{text}");

    // One changed byte: pdfsig sees the digest mismatch, daftar verify fails.
    let mut changed = pdf.clone();
    let at = changed.windows(7).position(|w| w == b"Adoptio").expect("the text is in the PDF");
    changed[at] = b'a';
    let bad = dir.path().join("changed.pdf");
    std::fs::write(&bad, &changed).unwrap();
    let (_, out) = run(Command::new("pdfsig").args(["-nssdir", &nss]).arg(&bad));
    assert!(out.contains("Digest Mismatch") && !out.contains("Signature is Valid."), "{out}");
    let (ok, out) = daftar_verify(&bad, Some(&dir.path().join("ca.pem")));
    assert!(!ok && out.contains("changed after signing"), "{out}");
});

both_backends!(only_the_entitys_secretary_certifies, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    for user in ["so.moitt", "js.moitt", "compliance.moitt", "secretary.fin", "admin"] {
        let token = app.login(user);
        let (status, body) = issue(&app, &token, "MOITT");
        assert_eq!(status, 403, "{user}: {body}");
    }
    let secretary = app.login("secretary.moitt");
    let r = app.post_as(
        &secretary,
        "/api/v1/compliance/certificates",
        &json!({"entity": "MOITT", "from": today(), "to": today(), "pin": "000000"}),
    );
    assert_eq!(r.status, 403, "a wrong PIN: {}", r.text);
    assert_eq!(issue(&app, &secretary, "NOPE").0, 404);
    let r = app.post_as(
        &secretary,
        "/api/v1/compliance/certificates",
        &json!({"entity": "MOITT", "from": "2026-13-01", "to": today(), "pin": PIN}),
    );
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["details"]["fields"]["from"].is_string(), "{}", r.text);
    let r = app.post_as(
        &secretary,
        "/api/v1/compliance/certificates",
        &json!({"entity": "MOITT", "from": today(), "to": "2000-01-01", "pin": PIN}),
    );
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["details"]["fields"]["to"].is_string(), "{}", r.text);
    // Figures are of what has happened: no period reaching past today.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(2)).format("%Y-%m-%d").to_string();
    for to in [tomorrow.as_str(), "+10000-12-31"] {
        let r = app.post_as(
            &secretary,
            "/api/v1/compliance/certificates",
            &json!({"entity": "MOITT", "from": today(), "to": to, "pin": PIN}),
        );
        assert_eq!(r.status, 400, "{to}: {}", r.text);
    }
    // The secretary of Finance certifies Finance, not MoITT.
    let fin = app.login("secretary.fin");
    assert_eq!(issue(&app, &fin, "FIN").0, 201);
});

both_backends!(compliance_sees_every_entitys_figures_and_no_file, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let file = activity(&app);
    let compliance = app.login("compliance.moitt");
    for entity in ["MOITT", "FIN", "MOC", "PPOST", "CAB", "PTA"] {
        let r = app.get_as(
            &compliance,
            &format!("/api/v1/compliance/metrics?entity={entity}&from={}&to={}", today(), today()),
        );
        assert_eq!(r.status, 200, "{entity}: {}", r.text);
        assert_eq!(r.body["entity"]["code"], entity);
    }
    assert_eq!(app.get_as(&compliance, &format!("/api/v1/files/{file}")).status, 404);
    assert_eq!(app.get_as(&compliance, &format!("/api/v1/files/{file}/export")).status, 404);
    let found = app.get_as(&compliance, "/api/v1/search?q=rollout");
    assert!(!found.text.contains(&file), "{}", found.text);
    // The secretary sees their own entity; others get what an unknown entity gets.
    let path = format!("/api/v1/compliance/metrics?entity=MOITT&from={}&to={}", today(), today());
    assert_eq!(app.get_as(&app.login("secretary.moitt"), &path).status, 200);
    for user in ["secretary.fin", "so.moitt", "registry.moitt"] {
        let r = app.get_as(&app.login(user), &path);
        assert_eq!(r.status, 404, "{user}: {}", r.text);
    }
    assert_eq!(app.get_as(&compliance, "/api/v1/compliance/metrics?entity=NOPE").status, 404);
    assert_eq!(app.get_as(&compliance, "/api/v1/compliance/metrics?entity=MOITT&from=yesterday").status, 400);
});

both_backends!(the_consolidated_report_ranks_every_entity, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    activity(&app);
    let secretary = app.login("secretary.moitt");
    let (status, cert) = issue(&app, &secretary, "MOITT");
    assert_eq!(status, 201, "{cert}");
    let compliance = app.login("compliance.moitt");
    let q = format!("from={}&to={}", today(), today());

    let json = app.get_as(&compliance, &format!("/api/v1/compliance/consolidated?{q}"));
    assert_eq!(json.status, 200, "{}", json.text);
    let items = json.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 6, "one row per entity of the demo government");
    assert_eq!(items[0]["entity"]["code"], "MOITT", "the only entity with activity ranks first");
    assert_eq!(items[0]["certificate_status"], "verified");
    assert!(items[1..].iter().all(|i| i["certificate_status"] == "missing"));
    assert_eq!(json.body["top_three"].as_array().unwrap().len(), 3);
    assert!(json.body["score_formula"].as_str().unwrap().contains("0.40 x adoption%"));

    let (status, ctype, csv) = get_bytes(&app, &compliance, &format!("/api/v1/compliance/consolidated?{q}&format=csv"));
    assert_eq!(status, 200);
    assert!(ctype.unwrap().starts_with("text/csv"));
    let csv = String::from_utf8(csv).unwrap();
    let csv = csv.strip_prefix('\u{feff}').expect("a UTF-8 byte-order mark, as documented");
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "rank,entity_code,entity_name,e_files,physical_files,adoption_pct,e_receipts_pct,active_users_pct,\
         signed_notes_pct,median_disposal_hours,p90_disposal_hours,avg_movements_per_file,pending_over_sla,score,\
         certificate_status,certificate_id"
    );
    assert_eq!(lines.len(), 7, "one header row and one row per entity: {csv}");
    assert!(
        lines[1].starts_with("1,MOITT,Ministry of Information Technology & Telecommunication,2,1,66.6,"),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with(&format!("verified,{}", cert["id"].as_str().unwrap())), "{}", lines[1]);

    let (status, ctype, pdf) = get_bytes(&app, &compliance, &format!("/api/v1/compliance/consolidated?{q}&format=pdf"));
    assert_eq!(status, 200);
    assert_eq!(ctype.as_deref(), Some("application/pdf"));
    // Only the compliance cell gets the report.
    assert_eq!(app.get_as(&secretary, &format!("/api/v1/compliance/consolidated?{q}")).status, 403);
    assert_eq!(app.get_as(&compliance, &format!("/api/v1/compliance/consolidated?{q}&format=xls")).status, 400);
    if !pdf_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let (ok, out) = run(Command::new("pdftoppm").args(["-png", "-r", "40"]).arg(&path).arg(dir.path().join("page")));
    assert!(ok, "the report renders: {out}");
    assert!(dir.path().join("page-1.png").exists() || dir.path().join("page-01.png").exists());
    let (_, text) = run(Command::new("pdftotext").arg(&path).arg("-"));
    for top in json.body["top_three"].as_array().unwrap() {
        let name = top["name"].as_str().unwrap();
        assert!(text.contains(name), "the report names {name}: {text}");
    }
    assert!(text.contains("Adoption by entity"), "{text}");
});

both_backends!(a_reissue_supersedes_and_never_overwrites, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let secretary = app.login("secretary.moitt");
    let (_, first) = issue(&app, &secretary, "MOITT");
    activity(&app);
    let (status, second) = issue(&app, &secretary, "MOITT");
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["version"], 2);
    let compliance = app.login("compliance.moitt");
    let old = app.get_as(&compliance, &format!("/api/v1/compliance/certificates/{}", first["id"].as_str().unwrap()));
    assert_eq!(old.body["superseded_by"], second["id"], "{}", old.text);
    assert_eq!(old.body["metrics"]["e_files"], 0, "the first version keeps its own figures");
    let (status, _, _) =
        get_bytes(&app, &compliance, &format!("/api/v1/compliance/certificates/{}/pdf", first["id"].as_str().unwrap()));
    assert_eq!(status, 200);
    let list = app.get_as(&compliance, "/api/v1/compliance/certificates?entity=MOITT");
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
    let ledger = app.get_as(&app.login("admin"), "/api/v1/ledger/verify");
    assert_eq!(ledger.body["ok"], true, "{}", ledger.text);
});

/// Another deployment with an entity this one does not have (NTC, an SOE
/// under MoITT, loaded by `daftar org import`), whose managing director
/// enrols a key and certifies it: the PDF, and the same deployment's MoITT
/// certificate.
fn foreign_certificates(backend: Backend) -> Option<(TestApp, Vec<u8>, Vec<u8>)> {
    let other = spawn_app(backend)?;
    let chart = other.test_db.dir.path().join("ntc.toml");
    std::fs::write(
        &chart,
        format!(
            "[[unit]]\ncode = \"NTC\"\nname = \"National Telecom Corporation\"\nkind = \"soe\"\nparent = \"MOITT\"\n\n\
             [[post]]\ncode = \"NTC/MD\"\nunit = \"NTC\"\ndesignation = \"managing_director\"\ntitle = \"Managing Director, NTC\"\n\n\
             [[user]]\nusername = \"md.ntc\"\nname = \"MD NTC\"\nemail = \"md.ntc@ntc.example\"\nclearance = \"top_secret\"\n\
             password = \"{}\"\nposts = [\"NTC/MD\"]\n",
            crate::helpers::DEMO_PASSWORD
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_daftar"))
        .args(["org", "import"])
        .arg(&chart)
        .current_dir(other.test_db.dir.path())
        .env("DAFTAR_DATABASE_URL", &other.test_db.url)
        .env("DAFTAR_DATA_DIR", other.test_db.dir.path())
        .env("DAFTAR_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let md = other.login("md.ntc");
    let r = other.post_as(
        &md,
        "/api/v1/me/keys",
        &json!({"mode": "server", "pin": PIN, "password": crate::helpers::DEMO_PASSWORD}),
    );
    assert!(r.status == 200 || r.status == 201, "{}", r.text);
    let (status, ntc) = issue(&other, &md, "NTC");
    assert_eq!(status, 201, "{ntc}");
    let (_, _, ntc_pdf) =
        get_bytes(&other, &md, &format!("/api/v1/compliance/certificates/{}/pdf", ntc["id"].as_str().unwrap()));
    let secretary = other.login("secretary.moitt");
    let (status, moitt) = issue(&other, &secretary, "MOITT");
    assert_eq!(status, 201, "{moitt}");
    let (_, _, moitt_pdf) = get_bytes(
        &other,
        &secretary,
        &format!("/api/v1/compliance/certificates/{}/pdf", moitt["id"].as_str().unwrap()),
    );
    Some((other, ntc_pdf, moitt_pdf))
}

both_backends!(certificates_from_another_deployment_are_verified_on_import, |backend| {
    let Some((other, pdf, moitt_pdf)) = foreign_certificates(backend) else { return };
    // Not trusted here: rejected with the reason, nothing stored.
    let Some(app) = spawn_app(backend) else { return };
    let compliance = app.login("compliance.moitt");
    let (status, body) = post_pdf(&app, &compliance, &pdf);
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("trusted"), "{body}");
    // Trusted through compliance.trusted_cas.
    let ca = other.test_db.dir.path().join("pki").join("ca.pem");
    let Some(trusting) = spawn_app_with(backend, |c| c.compliance.trusted_cas = Some(ca.clone())) else { return };
    let compliance = trusting.login("compliance.moitt");
    let (status, imported) = post_pdf(&trusting, &compliance, &pdf);
    assert_eq!(status, 201, "{imported}");
    assert_eq!(imported["source"], "imported");
    assert_eq!(imported["entity"]["code"], "NTC");
    let (again, same) = post_pdf(&trusting, &compliance, &pdf);
    assert_eq!((again, &same["id"]), (201, &imported["id"]), "importing twice stores it once");
    // A certificate for one of this deployment's own entities is issued here, never imported.
    let (status, body) = post_pdf(&trusting, &compliance, &moitt_pdf);
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("entity of this deployment"), "{body}");
    // Tampered, not a PDF, not the compliance cell, not sent as a PDF.
    let mut changed = pdf.clone();
    let at = changed.windows(7).position(|w| w == b"Adoptio").unwrap();
    changed[at] = b'a';
    let (status, body) = post_pdf(&trusting, &compliance, &changed);
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("changed after signing"), "{body}");
    assert_eq!(post_pdf(&trusting, &compliance, b"%PDF-1.7 not really").0, 400);
    assert_eq!(post_pdf(&trusting, &trusting.login("secretary.moitt"), &pdf).0, 403);
    let r = trusting.request(
        "POST",
        "/api/v1/compliance/certificates/import",
        &[("Authorization", &format!("Bearer {compliance}")), ("Content-Type", "text/plain")],
        Some("hello"),
    );
    assert_eq!(r.status, 415, "{}", r.text);
    // The report lists the imported entity with its certified figures.
    let today = today();
    let report = trusting.get_as(&compliance, &format!("/api/v1/compliance/consolidated?from={today}&to={today}"));
    let ntc = report.body["items"].as_array().unwrap().iter().find(|i| i["entity"]["code"] == "NTC").cloned();
    let ntc = ntc.unwrap_or_else(|| panic!("NTC is in the report: {}", report.text));
    assert_eq!(ntc["certificate_status"], "verified", "{ntc}");
});

both_backends!(the_register_of_physical_files, |backend| {
    let Some(app) = spawn_app(backend) else { return };
    let registry = app.login("registry.moitt");
    let so = app.login("so.moitt");
    let files = json!({"entity": "MOITT", "files": [
        {"reference": "IT-7/2015", "subject": "Telecom policy (paper)", "opened_on": "2015-01-10"},
        {"reference": "IT-8/2015", "subject": "Postal reform (paper)"}]});
    assert_eq!(app.post_as(&so, "/api/v1/compliance/physical-files", &files).status, 403);
    assert_eq!(
        app.post_as(
            &app.login("registry.moitt"),
            "/api/v1/compliance/physical-files",
            &json!({"entity": "FIN", "files": [{"reference": "X", "subject": "Y"}]})
        )
        .status,
        403,
        "another entity's register"
    );
    let r = app.post_as(&registry, "/api/v1/compliance/physical-files", &files);
    assert_eq!(r.status, 201, "{}", r.text);
    let ids: Vec<String> =
        r.body["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_owned()).collect();
    let r = app.post_as(
        &registry,
        "/api/v1/compliance/physical-files",
        &json!({"entity": "MOITT", "files": [{"reference": "IT-7/2015", "subject": "again"}]}),
    );
    assert_eq!(r.status, 409, "a reference is registered once: {}", r.text);
    let r = app.post_as(
        &registry,
        "/api/v1/compliance/physical-files",
        &json!({"entity": "MOITT", "files": [{"reference": "", "subject": "x"}]}),
    );
    assert_eq!(r.status, 400);
    assert!(r.body["error"]["details"]["fields"]["reference"].is_string(), "{}", r.text);

    // Digitised into an e-file: it leaves the register (but still counts for the period it was on it).
    let efile = app.post_as(&so, "/api/v1/files", &json!({"subject": "Telecom policy"})).body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let retire = format!("/api/v1/compliance/physical-files/{}/retire", ids[0]);
    assert_eq!(app.post_as(&registry, &retire, &json!({"how": "digitised"})).status, 400, "name the e-file");
    let r = app.post_as(&registry, &retire, &json!({"how": "digitised", "e_file_id": efile}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(app.post_as(&registry, &retire, &json!({"how": "closed"})).status, 409, "only once");
    let list = app.get_as(&registry, "/api/v1/compliance/physical-files?entity=MOITT");
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1, "{}", list.text);
    let all = app.get_as(&registry, "/api/v1/compliance/physical-files?entity=MOITT&all=true");
    assert_eq!(all.body["items"].as_array().unwrap().len(), 2);
    let compliance = app.login("compliance.moitt");
    let m =
        app.get_as(&compliance, &format!("/api/v1/compliance/metrics?entity=MOITT&from={}&to={}", today(), today()));
    assert_eq!(m.body["physical_files"], 2, "{}", m.text);
    assert_eq!(m.body["e_files"], 1);
    assert_eq!(m.body["adoption_pct"], 33.3);
    assert_eq!(app.get_as(&so, "/api/v1/compliance/physical-files?entity=MOITT").status, 404);
});
