//! What the server checks that the request types alone do not say, stated in
//! the API document: patterns, formats and lengths of fields and query
//! parameters, fields that go together, and the media types of the routes
//! that answer bytes. Each rule is built from the limit or pattern of the
//! parser it describes (`domain::pattern`, the validated names), so that a
//! request the document calls valid is one the server accepts, and the other
//! way round; `scripts/schemathesis.sh` holds the two to that.
//!
//! Written on the generated document as JSON: JSON Schema says more than
//! utoipa's model of it (`oneOf` of alternatives, `const`, `uniqueItems`).

use serde_json::{Value, json};

use crate::domain::efile::head_pattern;
use crate::domain::org::{
    Clearance, Code, MAX_EMAIL, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, Username, designation_pattern, email_pattern,
};
use crate::domain::pattern::{self, WHITESPACE};

/// Plain text of at most `max` characters, not blank (`org::parse_text`).
fn text(max: usize) -> Value {
    json!({"pattern": pattern::plain_text(), "minLength": 1, "maxLength": max})
}

/// A note body (or a note sent with a movement).
fn note() -> Value {
    json!({"pattern": pattern::multiline_text(), "minLength": 1, "maxLength": crate::efile::notes::MAX_NOTE_CHARS})
}

/// Optional remarks (`efile::check_remarks`).
fn remarks() -> Value {
    json!({"pattern": pattern::remarks(), "maxLength": crate::efile::MAX_REMARKS})
}

/// A query parameter's text (`search::short`): at most `max` characters, no control characters.
fn plain_param(max: usize) -> Value {
    json!({"pattern": "^[^\\x00-\\x1F\\x7F-\\x9F]*$", "maxLength": max})
}

/// One of `words`, or blank (absent), with spaces around it, in at most `max` characters.
fn word_param(words: &[&str], max: usize) -> Value {
    // Whitespace that is not a control character: the parameter refuses those.
    let space = r"[ \xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";
    json!({"pattern": format!("^{space}*(?:{})?{space}*$", words.join("|")), "maxLength": max})
}

/// One of `words`, exactly, or empty (the default).
fn choice(words: &[&str]) -> Value {
    json!({"pattern": format!("^(?:{})?$", words.join("|"))})
}

fn date() -> Value {
    json!({"format": "date"})
}

fn password() -> Value {
    json!({"minLength": MIN_PASSWORD_CHARS, "maxLength": MAX_PASSWORD_CHARS})
}

fn refresh_token() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": super::auth::MAX_REFRESH_TOKEN})
}

/// `role` or `role:ENTITY_CODE` as `org::admin::create_user` reads it: the
/// roles of one entity name it, the others do not.
fn role_pattern() -> String {
    use crate::domain::org::Role;
    let names = |scoped: bool| -> String {
        let names: Vec<&str> =
            Role::ALL.iter().filter(|r| r.is_entity_scoped() == scoped).map(|r| r.as_str()).collect();
        names.join("|")
    };
    let code = Code::core_pattern();
    pattern::padded(&format!("(?:{})|(?:{}){WHITESPACE}*:{WHITESPACE}*{code}", names(false), names(true)))
}

/// Constraints on the properties of request schemas: (schema, property, keywords).
fn properties() -> Vec<(&'static str, &'static str, Value)> {
    let base64 = json!({"pattern": pattern::base64()});
    vec![
        ("LoginRequest", "password", json!({"maxLength": MAX_PASSWORD_CHARS})),
        ("RefreshRequest", "refresh_token", refresh_token()),
        ("LogoutRequest", "refresh_token", refresh_token()),
        ("NewUnit", "code", json!({"pattern": Code::pattern()})),
        ("NewUnit", "name", text(200)),
        ("NewPost", "code", json!({"pattern": Code::pattern()})),
        ("NewPost", "designation", json!({"pattern": designation_pattern()})),
        ("NewPost", "title", text(200)),
        ("NewUser", "username", json!({"pattern": Username::pattern()})),
        ("NewUser", "name", text(200)),
        ("NewUser", "email", json!({"pattern": email_pattern(), "maxLength": MAX_EMAIL})),
        ("NewUser", "password", password()),
        ("NewUser", "roles", json!({"items": {"type": "string", "pattern": role_pattern()}})),
        ("NewAssignment", "starts_on", date()),
        ("NewAssignment", "ends_on", date()),
        ("PasswordChange", "new_password", password()),
        ("NewFile", "subject", text(500)),
        ("NewFile", "head", json!({"pattern": head_pattern()})),
        ("NewFile", "fields", json!({"additionalProperties": {"type": "number", "minimum": 0}})),
        ("NoteBody", "body", note()),
        ("NewMovement", "remarks", remarks()),
        ("NewMovement", "note", note()),
        ("NewMovement", "due_at", json!({"format": "date-time"})),
        ("ReceiptBody", "subject", text(500)),
        ("ReceiptBody", "sender", text(300)),
        ("ReceiptBody", "letter_no", text(100)),
        ("ReceiptBody", "letter_date", date()),
        ("ReceiptMovement", "remarks", remarks()),
        ("ReceiptMovement", "due_at", json!({"format": "date-time"})),
        ("SignRequest", "signature_b64", base64.clone()),
        ("MovementSignature", "signature_b64", base64.clone()),
        ("Enrol", "proof", base64),
        ("Enrol", "pin", json!({"minLength": 6, "maxLength": 64})),
        (
            "BulkApprove",
            "file_ids",
            json!({"minItems": 1, "maxItems": crate::workflow::queue::BULK_MAX, "uniqueItems": true}),
        ),
        ("BulkApprove", "remarks", remarks()),
        ("BulkApprove", "note", note()),
        ("ConcurrenceAnswer", "remarks", remarks()),
        ("IssueCertificate", "from", date()),
        ("IssueCertificate", "to", date()),
        ("RegisterPhysical", "files", json!({"minItems": 1, "maxItems": crate::compliance::physical::BATCH_MAX})),
        ("NewPhysical", "reference", text(100)),
        ("NewPhysical", "subject", text(500)),
        ("NewPhysical", "opened_on", date()),
    ]
}

/// Fields that go together, as JSON Schema alternatives: (schema, keywords).
fn combinations() -> Vec<(&'static str, Value)> {
    let string = json!({"type": "string"});
    let none = json!({"type": "null"});
    vec![
        // Only the government is a root; every other unit sits under a parent.
        (
            "NewUnit",
            json!({"oneOf": [
                {"properties": {"kind": {"const": "government"}, "parent_id": none}},
                {"required": ["parent_id"], "properties": {"kind": {"not": {"const": "government"}}, "parent_id": string}},
            ]}),
        ),
        // A workflow's numeric fields come only with the workflow.
        (
            "NewFile",
            json!({"anyOf": [
                {"not": {"required": ["fields"]}},
                {"properties": {"fields": none}},
                {"required": ["workflow"], "properties": {"workflow": string}},
            ]}),
        ),
        // Forward and refer name the destination; an approval goes where the workflow says.
        (
            "NewMovement",
            json!({"anyOf": [
                {"required": ["to_post_id"], "properties": {"action": {"enum": ["forward", "refer"]}, "to_post_id": string}},
                {"properties": {"action": {"const": "approve"}, "to_post_id": none}},
                {"properties": {"action": {"enum": ["return", "recall", "park", "unpark", "close", "reopen"]}}},
            ]}),
        ),
        (
            "ReceiptMovement",
            json!({"anyOf": [
                {"required": ["to_post_id"], "properties": {"action": {"const": "forward"}, "to_post_id": string}},
                {"required": ["file_id"], "properties": {"action": {"const": "put_up"}, "file_id": string}},
                {"properties": {"action": {"enum": ["return", "recall"]}}},
            ]}),
        ),
        // A PIN (server-mode key) or a signature (client-mode key), not both.
        (
            "SignRequest",
            json!({"oneOf": [
                {"required": ["pin"], "properties": {"pin": string, "signature_b64": none}},
                {"required": ["signature_b64"], "properties": {"signature_b64": string, "pin": none}},
            ]}),
        ),
        // Always the password; a server-mode key its PIN, a client-mode key its public key and proof.
        (
            "Enrol",
            json!({"required": ["password"], "properties": {"password": string}, "oneOf": [
                {"required": ["pin"], "properties": {"mode": {"const": "server"}, "pin": string}},
                {"required": ["public_key_pem", "proof"],
                 "properties": {"mode": {"const": "client"}, "public_key_pem": string, "proof": string}},
            ]}),
        ),
        // Declining says why.
        (
            "ConcurrenceAnswer",
            json!({"anyOf": [
                {"properties": {"decision": {"const": "concur"}}},
                {"required": ["remarks"], "properties": {"remarks": {"type": "string", "pattern": pattern::multiline_text()}}},
            ]}),
        ),
        // A digitised file names the e-file that replaces it; no other does.
        (
            "Retire",
            json!({"oneOf": [
                {"required": ["e_file_id"], "properties": {"how": {"const": "digitised"}, "e_file_id": string}},
                {"properties": {"how": {"enum": ["closed", "transferred"]}, "e_file_id": none}},
            ]}),
        ),
        ("RefreshRequest", json!({"required": ["refresh_token"]})),
        ("LogoutRequest", json!({"required": ["refresh_token"]})),
    ]
}

/// Constraints on query parameters: (path, parameter, keywords, required).
fn parameters() -> Vec<(&'static str, &'static str, Value, bool)> {
    let offset = json!({"pattern": super::offset_cursor_pattern(super::MAX_OFFSET)});
    let clearances: Vec<&str> = Clearance::ALL.iter().map(|c| c.as_str()).collect();
    let date_or_time = json!({"anyOf": [{"format": "date"}, {"format": "date-time"}]});
    let entity = super::compliance::MAX_ENTITY_PARAM;
    vec![
        ("/api/v1/org/units", "cursor", json!({"pattern": super::KEY_CURSOR}), false),
        ("/api/v1/posts", "cursor", json!({"pattern": super::KEY_CURSOR}), false),
        ("/api/v1/posts", "q", plain_param(100), false),
        ("/api/v1/inbox", "cursor", offset.clone(), false),
        ("/api/v1/inbox", "kind", choice(&["files", "receipts"]), false),
        ("/api/v1/sent", "cursor", offset.clone(), false),
        ("/api/v1/queue", "cursor", offset.clone(), false),
        ("/api/v1/compliance/physical-files", "cursor", offset, false),
        (
            "/api/v1/search",
            "cursor",
            json!({"pattern": super::offset_cursor_pattern(super::search::MAX_OFFSET)}),
            false,
        ),
        ("/api/v1/search", "q", text(1000), true),
        ("/api/v1/search", "kind", word_param(&["file", "note", "document", "receipt"], 20), false),
        ("/api/v1/search", "status", plain_param(20), false),
        ("/api/v1/search", "classification", word_param(&clearances, 20), false),
        ("/api/v1/search", "org_unit", plain_param(100), false),
        ("/api/v1/search", "from", date_or_time.clone(), false),
        ("/api/v1/search", "to", date_or_time, false),
        ("/api/v1/compliance/metrics", "entity", text(entity), true),
        ("/api/v1/compliance/metrics", "from", date(), false),
        ("/api/v1/compliance/metrics", "to", date(), false),
        ("/api/v1/compliance/certificates", "entity", text(entity), true),
        ("/api/v1/compliance/consolidated", "from", date(), false),
        ("/api/v1/compliance/consolidated", "to", date(), false),
        ("/api/v1/compliance/consolidated", "format", choice(&["json", "csv", "pdf"]), false),
        ("/api/v1/analytics/bottlenecks", "entity", plain_param(entity), false),
        ("/api/v1/analytics/bottlenecks", "from", date(), false),
        ("/api/v1/analytics/bottlenecks", "to", date(), false),
        ("/api/v1/analytics/bottlenecks", "format", choice(&["json", "csv"]), false),
    ]
}

/// Routes that answer bytes: (path, method, status, media types).
fn media() -> Vec<(&'static str, &'static str, &'static str, &'static [&'static str])> {
    vec![
        ("/api/v1/files/{id}/export", "get", "200", &["application/zip"]),
        ("/api/v1/files/{id}/notes/{note_id}/signing-bytes", "get", "200", &["application/octet-stream"]),
        ("/api/v1/files/{id}/movements/{movement_id}/signing-bytes", "get", "200", &["application/octet-stream"]),
        ("/api/v1/me/keys/challenge", "get", "200", &["application/octet-stream"]),
        ("/api/v1/pki/ca.pem", "get", "200", &["application/x-pem-file"]),
        ("/api/v1/pki/certificates/{serial}", "get", "200", &["application/x-pem-file"]),
        ("/api/v1/documents/{id}/content", "get", "200", &["application/pdf", "image/png", "image/jpeg", "image/tiff"]),
        ("/api/v1/compliance/certificates/{id}/pdf", "get", "200", &["application/pdf"]),
        ("/api/v1/compliance/consolidated", "get", "200", &["application/json", "text/csv", "application/pdf"]),
        ("/api/v1/analytics/bottlenecks", "get", "200", &["application/json", "text/csv"]),
    ]
}

/// Merges `patch`'s keys into the object `target`: `properties` one by one,
/// `required` as the union, anything else replaced.
fn merge(target: &mut Value, patch: &Value) {
    let (Some(t), Some(p)) = (target.as_object_mut(), patch.as_object()) else { return };
    for (k, v) in p {
        match (k.as_str(), t.get_mut(k)) {
            ("properties", Some(existing)) => merge(existing, v),
            ("required", Some(Value::Array(names))) => names
                .extend(v.as_array().into_iter().flatten().filter(|n| !names.contains(n)).cloned().collect::<Vec<_>>()),
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
    }
}

/// States the rules above in the generated document `doc`, and gives each
/// operation the tag of its resource (the first segment after `/api/v1/`).
pub fn refine(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    for (schema, field, patch) in properties() {
        let property = &mut schemas[schema]["properties"][field];
        assert!(property.is_object(), "{schema}.{field} is not in the document");
        merge(property, &patch);
    }
    for (schema, patch) in combinations() {
        assert!(schemas[schema].is_object(), "{schema} is not in the document");
        merge(&mut schemas[schema], &patch);
    }
    let paths = &mut doc["paths"];
    for (path, name, patch, required) in parameters() {
        let params = paths[path]["get"]["parameters"].as_array_mut();
        let param = params.into_iter().flatten().find(|p| p["name"] == name);
        let param = param.unwrap_or_else(|| panic!("{path} has no parameter {name}"));
        merge(&mut param["schema"], &patch);
        param["required"] = json!(required);
    }
    for (path, method, status, types) in media() {
        let response = &mut paths[path][method]["responses"][status];
        assert!(response.is_object(), "{method} {path} does not answer {status}");
        let content: serde_json::Map<String, Value> = types
            .iter()
            .map(|t| {
                let schema = if t.starts_with("application/json") {
                    json!({"type": "object"})
                } else {
                    json!({"type": "string", "format": "binary"})
                };
                (t.to_string(), json!({"schema": schema}))
            })
            .collect();
        response["content"] = Value::Object(content);
    }
    for path in ["/api/v1/auth/refresh", "/api/v1/auth/logout"] {
        paths[path]["post"]["requestBody"]["required"] = json!(true);
    }
    let binary = json!({"type": "string", "format": "binary"});
    paths["/api/v1/compliance/certificates/import"]["post"]["requestBody"]["content"] =
        json!({"application/pdf": {"schema": binary}});
    let kinds: Vec<&str> = crate::domain::efile::DocumentKind::ALL.iter().map(|k| k.as_str()).collect();
    paths["/api/v1/files/{id}/documents"]["post"]["requestBody"]["content"] = json!({"multipart/form-data": {"schema": {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": binary,
            "title": {"type": "string", "maxLength": 300, "pattern": "^[^\\x00-\\x1F\\x7F-\\x9F]*$",
                      "description": "default: the file's name"},
            "kind": {"type": "string", "enum": kinds, "description": "default `enclosure`"},
        },
    }, "encoding": {"file": {"contentType": "application/pdf, image/png, image/jpeg, image/tiff"}}}});
    for (path, item) in paths.as_object_mut().into_iter().flatten() {
        let tag = path.trim_start_matches("/api/v1/").split('/').next().unwrap_or("api").to_owned();
        for op in item.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
            op["tags"] = json!([tag]);
        }
    }
}
