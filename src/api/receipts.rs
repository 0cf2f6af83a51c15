//! Receipts (dak): diarising, showing, forwarding and putting up in files.

use actix_multipart::Multipart;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::Caller;
use super::documents::{check_length, read_upload, store_upload};
use super::{ApiError, AppState};
use crate::blobs::BlobStore;
use crate::domain::org::Role;
use crate::efile::{self, receipts::NewReceipt};

/// `POST /receipts` as JSON (a physical receipt; metadata only).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptBody {
    /// What the letter is about.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub subject: String,
    /// Who sent it.
    #[schema(
        min_length = 1,
        max_length = 300,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub sender: String,
    /// The sender's reference.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub letter_no: Option<String>,
    /// The letter's date, `YYYY-MM-DD`.
    pub letter_date: Option<String>,
    /// `post`, `email`, `hand`, `fax` or `courier`.
    pub mode: String,
    /// Default `unclassified`.
    pub classification: Option<String>,
    /// Default `routine`.
    pub priority: Option<String>,
    /// Whether the letter came from outside the government (default
    /// `true`): then, unless classified above `restricted`, the answer
    /// carries a tracking code for its sender, shown this once.
    pub external: Option<bool>,
}

impl From<ReceiptBody> for NewReceipt {
    fn from(b: ReceiptBody) -> Self {
        NewReceipt {
            subject: b.subject,
            sender: b.sender,
            letter_no: b.letter_no,
            letter_date: b.letter_date,
            mode: b.mode,
            classification: b.classification,
            priority: b.priority,
            external: b.external,
        }
    }
}

/// A receipt sent as a multipart form: its fields, its scan (read, not yet
/// kept), and any other fields (the web inbox's anti-CSRF token).
pub(crate) struct ReceiptForm {
    /// The receipt's fields.
    pub receipt: NewReceipt,
    /// The scan's title.
    pub title: String,
    /// The scan, and its given name.
    pub file: Option<(crate::blobs::Incoming, Option<String>)>,
    /// Fields not part of the receipt.
    pub rest: std::collections::HashMap<String, String>,
}

/// Reads a multipart receipt form (within the upload limit).
pub(crate) async fn read_receipt_form(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    payload: &mut actix_web::dev::Payload,
) -> Result<ReceiptForm, ApiError> {
    let limit = state.config.upload_limit_bytes;
    check_length(req, limit)?;
    let multipart = Multipart::from_request(req, payload).await.map_err(|_| ApiError::invalid("bad multipart body"))?;
    let store = BlobStore::new(&state.config.data_dir);
    let mut upload = read_upload(multipart, &store, limit).await?;
    let mut field = |name: &str| upload.fields.remove(name).filter(|v| !v.trim().is_empty());
    let body = ReceiptBody {
        subject: field("subject").unwrap_or_default(),
        sender: field("sender").unwrap_or_default(),
        letter_no: field("letter_no"),
        letter_date: field("letter_date"),
        mode: field("mode").unwrap_or_default(),
        classification: field("classification"),
        priority: field("priority"),
        external: match field("external").as_deref() {
            None => None,
            Some("true" | "on" | "1" | "yes") => Some(true),
            Some("false" | "off" | "0" | "no") => Some(false),
            Some(_) => return Err(ApiError::invalid_field("external", "must be true or false")),
        },
    };
    let title = field("title").unwrap_or_else(|| "Scanned receipt".into());
    Ok(ReceiptForm { receipt: NewReceipt::from(body), title, file: upload.file.take(), rest: upload.fields })
}

/// A receipt as diarised: the receipt as shown, and for a letter from
/// outside, its acknowledgement (diary number and tracking code, shown once).
#[derive(serde::Serialize)]
pub(crate) struct Diarised {
    #[serde(flatten)]
    pub receipt: efile::receipts::ReceiptView,
    /// The acknowledgement for the sender, if the letter may be tracked.
    pub tracking: Option<Acknowledgement>,
}

/// What the sender of a letter is given to follow it.
#[derive(serde::Serialize)]
pub(crate) struct Acknowledgement {
    /// The tracking code: shown only in this answer.
    pub code: String,
    /// The public tracking page for this letter and code.
    pub url: String,
    /// The printable acknowledgement slip (PDF, with the code as a QR code).
    pub slip_url: String,
}

/// Keeps the scan (if any) and diarises the receipt; returns it as shown,
/// with its acknowledgement.
pub(crate) async fn diarise_form(
    state: &web::Data<AppState>,
    caller: Caller,
    form: ReceiptForm,
) -> Result<Diarised, ApiError> {
    let scan = match form.file {
        Some((incoming, filename)) => {
            let store = BlobStore::new(&state.config.data_dir);
            let stored = web::block(move || store_upload(&store, incoming, filename))
                .await
                .map_err(|e| ApiError::internal(&e))??;
            Some((form.title, stored))
        }
        None => None,
    };
    let input = form.receipt;
    state
        .write(move |c| {
            let actor = caller.actor();
            let scan_ref = scan.as_ref().map(|(t, s)| (t.as_str(), s));
            let done = efile::receipts::diarise(c, &actor, input, scan_ref)?;
            Ok((efile::receipts::view(c, &actor, &done.id)?, done.tracking_code))
        })
        .await
        .map(|(receipt, code)| {
            let base = state.config.public_base_url();
            let tracking = code.map(|code| {
                let url = crate::tracking::slip::link(&base, &receipt.diary_no, &code);
                Acknowledgement { slip_url: format!("{url}&format=pdf"), url, code }
            });
            Diarised { receipt, tracking }
        })
}

/// Diarises an incoming letter (registry): JSON for a physical receipt, or
/// multipart (the same fields plus the scanned `file`) for an electronic one.
#[utoipa::path(post, path = "/api/v1/receipts", request_body = ReceiptBody,
    responses((status = 201, description = "the receipt with its diary_no; for a letter from outside (`external`, default true) classified at most `restricted`, `tracking: {code, url, slip_url}`, the sender's tracking code, shown only here"), (status = 403, body = super::error::ErrorBody),
              (status = 415, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn diarise(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let is_multipart = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let mut payload = payload.into_inner();
    let form = if is_multipart {
        // Nothing is stored for someone who may not diarise at all.
        if !caller.principal.viewer.has_any_role(&[Role::Registry]) {
            return Err(ApiError::forbidden("only the registry of your entity diarises receipts").into());
        }
        read_receipt_form(&state, &req, &mut payload).await?
    } else {
        let json = web::Json::<ReceiptBody>::from_request(&req, &mut payload).await?;
        ReceiptForm {
            receipt: NewReceipt::from(json.into_inner()),
            title: String::new(),
            file: None,
            rest: Default::default(),
        }
    };
    let receipt = diarise_form(&state, caller, form).await?;
    Ok(HttpResponse::Created().json(receipt))
}

/// Shows a receipt you may see.
#[utoipa::path(get, path = "/api/v1/receipts/{id}", params(("id" = String, Path, description = "receipt id")),
    responses((status = 200, description = "the receipt"), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn show(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<web::Json<efile::receipts::ReceiptView>, ApiError> {
    let id = path.into_inner();
    Ok(web::Json(state.write(move |c| Ok(efile::receipts::view(c, &caller.actor(), &id)?)).await?))
}

/// `POST /receipts/{id}/movements`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptMovement {
    /// `forward`, `return`, `recall` or `put_up`.
    pub action: String,
    /// Destination of a forward.
    pub to_post_id: Option<String>,
    /// The file to put it up in (`put_up`).
    pub file_id: Option<String>,
    /// Remarks.
    #[schema(max_length = 5000, pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$")]
    pub remarks: Option<String>,
    /// RFC 3339 due date for the receiver (forward, return).
    pub due_at: Option<String>,
    /// New priority: `routine`, `priority`, `immediate`, `most_immediate`.
    pub priority: Option<String>,
}

/// Moves a receipt, or puts it up in a file you hold.
#[utoipa::path(post, path = "/api/v1/receipts/{id}/movements", request_body = ReceiptMovement,
    params(("id" = String, Path, description = "receipt id")),
    responses((status = 201, description = "the receipt"), (status = 409, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn move_receipt(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<ReceiptMovement>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let b = body.into_inner();
    let input = efile::receipts::ReceiptMove {
        action: b.action,
        to_post_id: b.to_post_id,
        file_id: b.file_id,
        remarks: b.remarks,
        due_at: b.due_at,
        priority: b.priority,
    };
    let r = state.write(move |c| Ok(efile::receipts::move_receipt(c, &caller.actor(), &id, input)?)).await?;
    Ok(HttpResponse::Created().json(r))
}
