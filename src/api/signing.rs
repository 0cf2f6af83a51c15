//! Enrolling signing keys, signing notes, and the public PKI material.

use actix_web::{HttpResponse, web};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::ErrorCode;
use super::{ApiError, AppState};
use crate::signing::keys::{self, Proof};
use crate::signing::{SignError, pin, revocation};

impl From<SignError> for ApiError {
    fn from(e: SignError) -> Self {
        match e {
            SignError::Invalid(field, m) => ApiError::invalid_field(field, m),
            SignError::Forbidden(m) => ApiError::forbidden(m),
            SignError::Conflict(m) => ApiError::new(ErrorCode::Conflict, m),
            SignError::NotFound => ApiError::not_found(),
            SignError::Locked(wait) => ApiError::rate_limited(std::time::Duration::from_secs(wait.max(1) as u64))
                .with_details(json!({"reason": "too many wrong PINs; the key is locked"})),
            SignError::Internal(m) => ApiError::internal(&m),
            SignError::Store(e) => e.into(),
        }
    }
}

/// `POST /me/keys`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrol {
    /// `server` (key kept here, sealed under your PIN) or `client` (your own key).
    pub mode: String,
    /// Server mode: the signing PIN (6–64 characters).
    pub pin: Option<String>,
    /// Client mode: your ECDSA P-256 public key, PEM.
    pub public_key_pem: Option<String>,
    /// Your account password: a new key replaces the old one, so a stolen
    /// access token alone cannot take over your signature.
    pub password: Option<String>,
    /// Client mode: proof of possession, a DER ECDSA signature (base64) by
    /// the new key over the bytes of `GET /me/keys/challenge`.
    pub proof: Option<String>,
}

/// Enrols a signing key; the deployment CA certifies it for your current posts.
#[utoipa::path(post, path = "/api/v1/me/keys", request_body = Enrol,
    responses((status = 201, description = "{certificate_serial, certificate_pem}"), (status = 400, body = super::error::ErrorBody),
              (status = 403, description = "the password is wrong", body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn enrol(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<Enrol>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let password = b.password.ok_or_else(|| ApiError::invalid_field("password", "is required to enrol a key"))?;
    if !matches!(b.mode.as_str(), "server" | "client") {
        return Err(ApiError::invalid_field("mode", "must be server or client"));
    }
    if b.mode == "server" && b.pin.is_none() {
        return Err(ApiError::invalid_field("pin", "is required in server mode"));
    }
    reauthenticate(&state, caller.user_id(), password).await?;
    let key = match b.mode.as_str() {
        "server" => {
            let pin = b.pin.unwrap_or_default();
            let wrap = state.pin_wrap.clone();
            web::block(move || keys::new_server_key(&wrap, &pin)).await.map_err(|e| ApiError::internal(&e))??
        }
        "client" => {
            let pem = b
                .public_key_pem
                .ok_or_else(|| ApiError::invalid_field("public_key_pem", "is required in client mode"))?;
            let proof = b.proof.ok_or_else(|| ApiError::invalid_field("proof", "is required in client mode"))?;
            let proof = base64::engine::general_purpose::STANDARD
                .decode(proof.trim())
                .map_err(|_| ApiError::invalid_field("proof", "is not base64"))?;
            keys::new_client_key(&pem, caller.user_id(), &proof)?
        }
        _ => return Err(ApiError::invalid_field("mode", "must be server or client")),
    };
    let (serial, pem) = enrol_key(&state, caller.user_id(), key).await?;
    Ok(HttpResponse::Created().json(json!({"certificate_serial": serial, "certificate_pem": pem})))
}

/// Checks the account password again (throttled), before a key is enrolled.
pub(crate) async fn reauthenticate(
    state: &web::Data<AppState>,
    user_id: &str,
    password: String,
) -> Result<(), ApiError> {
    let (st, uid) = (state.clone(), user_id.to_owned());
    web::block(move || crate::auth::login::reauthenticate(&st.db, st.auth.throttle(), &uid, &password))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| super::auth::reauth_error(e, "the password is wrong"))
}

/// Enrols a new key for the user (the CA certifies it; the old one is
/// superseded): its certificate's serial and PEM.
pub(crate) async fn enrol_key(
    state: &web::Data<AppState>,
    user_id: &str,
    key: keys::NewKey,
) -> Result<(String, String), ApiError> {
    let (ca, uid) = (state.ca.clone(), user_id.to_owned());
    state
        .write(move |c| {
            let (serial, pem) = keys::enrol(c, &ca, &uid, key)?;
            let when = crate::clock::civil_minute(crate::store::now_micros());
            crate::jobs::enqueue(
                c,
                &crate::jobs::Job::tell_user(
                    &uid,
                    &format!("key-{serial}"),
                    "A new signing key was enrolled for you",
                    &format!(
                        "A new signing key (certificate {serial}) was enrolled for your Daftar account on {when}; \
                         your previous key signs no more. If you did not do this, tell your administrator at once."
                    ),
                    "/keys",
                ),
            )?;
            Ok((serial, pem))
        })
        .await
}

/// The exact bytes a client-mode key signs to enrol (its proof of possession).
#[utoipa::path(get, path = "/api/v1/me/keys/challenge",
    responses((status = 200, description = "the bytes to sign, as they are")), security(("bearer" = [])))]
pub async fn challenge(caller: Caller) -> HttpResponse {
    HttpResponse::Ok().content_type("application/octet-stream").body(keys::enrolment_statement(caller.user_id()))
}

/// The exact bytes a client-mode key signs for your draft note (RFC 8785
/// JSON; they name the note signed before it, so fetch them just before
/// signing).
#[utoipa::path(get, path = "/api/v1/files/{id}/notes/{note_id}/signing-bytes",
    params(("id" = String, Path, description = "file id"), ("note_id" = String, Path, description = "note id")),
    responses((status = 200, description = "the bytes to sign, as they are"), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn signing_bytes(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (file_id, note_id) = path.into_inner();
    let bytes =
        state.read(move |c| Ok(crate::efile::notes::signing_bytes(c, &caller.actor(), &file_id, &note_id)?)).await?;
    Ok(HttpResponse::Ok().content_type("application/octet-stream").body(bytes))
}

/// The exact bytes a client-mode key signs for a movement you made.
#[utoipa::path(get, path = "/api/v1/files/{id}/movements/{movement_id}/signing-bytes",
    params(("id" = String, Path, description = "file id"), ("movement_id" = String, Path, description = "movement id")),
    responses((status = 200, description = "the bytes to sign, as they are"), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn movement_signing_bytes(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (file_id, movement_id) = path.into_inner();
    let bytes = state
        .read(move |c| Ok(crate::efile::movements::signing_bytes(c, &caller.actor(), &file_id, &movement_id)?))
        .await?;
    Ok(HttpResponse::Ok().content_type("application/octet-stream").body(bytes))
}

/// `POST /files/{id}/movements/{movement_id}/sign`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MovementSignature {
    /// DER ECDSA signature over the movement's signing bytes, base64.
    pub signature_b64: String,
}

/// Signs a movement you made, with your client-mode key.
#[utoipa::path(post, path = "/api/v1/files/{id}/movements/{movement_id}/sign", request_body = MovementSignature,
    params(("id" = String, Path, description = "file id"), ("movement_id" = String, Path, description = "movement id")),
    responses((status = 200, description = "the signature"), (status = 400, body = super::error::ErrorBody),
              (status = 403, description = "the signature does not verify", body = super::error::ErrorBody),
              (status = 404, body = super::error::ErrorBody), (status = 409, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn sign_movement(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<MovementSignature>,
) -> Result<web::Json<crate::signing::Signature>, ApiError> {
    let (file_id, movement_id) = path.into_inner();
    let signature = base64::engine::general_purpose::STANDARD
        .decode(body.into_inner().signature_b64.trim())
        .map_err(|_| ApiError::invalid_field("signature_b64", "is not base64"))?;
    let signed = state
        .write(move |c| {
            Ok(crate::efile::movements::sign_by_client(c, &caller.actor(), &file_id, &movement_id, &signature)?)
        })
        .await?;
    Ok(web::Json(signed))
}

/// `POST /files/{id}/notes/{note_id}/sign`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// Server-mode keys: your signing PIN.
    pub pin: Option<String>,
    /// Client-mode keys: DER ECDSA signature over the note's canonical bytes, base64.
    pub signature_b64: Option<String>,
}

/// Signs your draft note; afterwards it can never change.
#[utoipa::path(post, path = "/api/v1/files/{id}/notes/{note_id}/sign", request_body = SignRequest,
    params(("id" = String, Path, description = "file id"), ("note_id" = String, Path, description = "note id")),
    responses((status = 200, description = "the signed note"), (status = 403, body = super::error::ErrorBody),
              (status = 409, body = super::error::ErrorBody), (status = 429, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn sign_note(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<SignRequest>,
) -> Result<web::Json<crate::efile::notes::NoteView>, ApiError> {
    let (file_id, note_id) = path.into_inner();
    let b = body.into_inner();
    let proof = match (b.pin, b.signature_b64) {
        (Some(pin), None) => Proof::Pin(pin),
        (None, Some(sig)) => Proof::Signature(
            base64::engine::general_purpose::STANDARD
                .decode(sig.trim())
                .map_err(|_| ApiError::invalid_field("signature_b64", "is not base64"))?,
        ),
        _ => return Err(ApiError::invalid("send exactly one of pin or signature_b64")),
    };
    let st = state.clone();
    let note = web::block(move || {
        let (sessions, session, secret) = (&st.signing_sessions, &caller.session_id, caller.signing_secret.as_ref());
        let keep = |key: &keys::ActiveKey, pkcs8: &[u8]| sessions.put(session, secret, key, pkcs8);
        crate::efile::notes::sign(&st.db, &st.pin_wrap, &caller.actor(), &file_id, &note_id, proof, keep)
    })
    .await
    .map_err(|e| ApiError::internal(&e))??;
    Ok(web::Json(note))
}

/// The deployment CA certificate.
#[utoipa::path(get, path = "/api/v1/pki/ca.pem", responses((status = 200, description = "PEM")))]
pub async fn ca_pem(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("application/x-pem-file").body(state.ca.cert_pem().to_owned())
}

/// An officer's signing certificate by serial (`{serial}.pem`).
#[utoipa::path(get, path = "/api/v1/pki/certificates/{serial}", params(("serial" = String, Path, description = "serial, hex, with .pem")),
    responses((status = 200, description = "PEM"), (status = 404, body = super::error::ErrorBody)))]
pub async fn certificate(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let serial = path.into_inner();
    let serial = serial.strip_suffix(".pem").unwrap_or(&serial).to_owned();
    if serial.is_empty() || serial.len() > 64 || !serial.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::not_found());
    }
    let pem = state.read(move |c| Ok(keys::certificate_pem(c, &serial.to_ascii_lowercase())?)).await?;
    let pem = pem.ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().content_type("application/x-pem-file").body(pem))
}

/// Revokes a certificate (the holder's org_admin, or a sysadmin): it signs
/// nothing new; older signatures stay valid as of their time.
#[utoipa::path(post, path = "/api/v1/pki/certificates/{serial}/revoke", params(("serial" = String, Path, description = "serial, hex")),
    responses((status = 204), (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let serial = path.into_inner().to_ascii_lowercase();
    state
        .write(move |c| Ok(revocation::revoke(c, crate::org::admin::Actor::User(&caller.principal), &serial)?))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The mover's key for signing a movement: opened with the PIN sent with
/// the move (which also opens their signing session), or still open in their
/// signing session. `Ok(None)` when neither. Slow with a PIN: call it off
/// the async runtime.
pub fn mover_key(state: &AppState, caller: &Caller, pin: Option<&str>) -> Result<Option<pin::Opened>, SignError> {
    let (sessions, session, secret) = (&state.signing_sessions, &caller.session_id, caller.signing_secret.as_ref());
    pin::mover_key(
        &state.db,
        &state.pin_wrap,
        caller.user_id(),
        pin,
        |key_id| sessions.get(session, secret).filter(|(id, _)| id == key_id).map(|(_, open)| open),
        |key, pkcs8| sessions.put(session, secret, key, pkcs8),
    )
}
