//! Uploading documents (streamed to disk, never held whole in memory) and
//! downloading them exactly as stored.

use std::collections::HashMap;

use actix_multipart::{Multipart, MultipartError};
use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

use super::auth::Caller;
use super::{ApiError, AppState};
use crate::blobs::{BlobStore, Incoming, sniff};
use crate::efile::{self, documents::Stored};

/// What a multipart request carried: small text fields and at most one file.
pub struct Upload {
    /// Text fields by name.
    pub fields: HashMap<String, String>,
    /// The file part, stored (not yet committed) and its given name.
    pub file: Option<(Incoming, Option<String>)>,
}

fn multipart_error(e: MultipartError) -> ApiError {
    match e {
        MultipartError::ContentTypeMissing
        | MultipartError::ContentTypeParse
        | MultipartError::ContentTypeIncompatible => ApiError::unsupported_media_type("send multipart/form-data"),
        _ => ApiError::invalid("the multipart body could not be read"),
    }
}

/// Refuses a body whose declared length is over the limit before reading it.
pub fn check_length(req: &HttpRequest, limit: u64) -> Result<(), ApiError> {
    let declared =
        req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit + 64 * 1024) {
        return Err(ApiError::too_large(format!("documents may be at most {limit} bytes")));
    }
    Ok(())
}

/// Most parts in one multipart body (a file and a few text fields).
pub const MAX_PARTS: usize = 16;
/// Most bytes of all text fields together.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// Reads a multipart body, streaming the part named `file` into the blob
/// store. Whatever the body claims (chunked bodies claim no length), it is
/// cut off at [`MAX_PARTS`] parts, [`MAX_TEXT_BYTES`] of text and `limit`
/// bytes of file, so no body can make the server hold more.
pub async fn read_upload(mut payload: Multipart, store: &BlobStore, limit: u64) -> Result<Upload, ApiError> {
    let mut fields = HashMap::new();
    let mut file = None;
    let (mut parts, mut text_bytes) = (0usize, 0usize);
    while let Some(part) = payload.next().await {
        let mut part = part.map_err(multipart_error)?;
        parts += 1;
        if parts > MAX_PARTS {
            return Err(ApiError::invalid_field("fields", format!("send at most {MAX_PARTS} parts")));
        }
        let name = part.name().unwrap_or("").to_owned();
        if name.len() > 64 {
            return Err(ApiError::invalid_field("fields", "field names may be at most 64 bytes"));
        }
        if name == "file" {
            if file.is_some() {
                return Err(ApiError::invalid_field("file", "send one file per request"));
            }
            let filename = part.content_disposition().and_then(|cd| cd.get_filename()).map(str::to_owned);
            let mut incoming = store.incoming().map_err(|e| ApiError::internal(&e))?;
            while let Some(chunk) = part.next().await {
                let chunk = chunk.map_err(multipart_error)?;
                if incoming.size() + chunk.len() as u64 > limit {
                    return Err(ApiError::too_large(format!("documents may be at most {limit} bytes")));
                }
                incoming.write(&chunk).map_err(|e| ApiError::internal(&e))?;
            }
            file = Some((incoming, filename));
        } else {
            let mut text = Vec::new();
            while let Some(chunk) = part.next().await {
                let chunk = chunk.map_err(multipart_error)?;
                if text.len() + chunk.len() > 4096 {
                    return Err(ApiError::invalid_field("fields", "text fields may be at most 4096 bytes"));
                }
                text_bytes += chunk.len();
                if text_bytes > MAX_TEXT_BYTES {
                    return Err(ApiError::invalid_field(
                        "fields",
                        format!("text may be at most {MAX_TEXT_BYTES} bytes"),
                    ));
                }
                text.extend_from_slice(&chunk);
            }
            let text = String::from_utf8(text).map_err(|_| ApiError::invalid("text fields must be UTF-8"))?;
            fields.insert(name, text);
        }
    }
    Ok(Upload { fields, file })
}

/// Checks the type by content and commits the bytes to the store.
pub fn store_upload(store: &BlobStore, incoming: Incoming, filename: Option<String>) -> Result<Stored, ApiError> {
    if incoming.size() == 0 {
        return Err(ApiError::invalid_field("file", "is empty"));
    }
    let mime = sniff(incoming.head()).ok_or_else(|| {
        ApiError::unsupported_media_type("only PDF, PNG, JPEG and TIFF documents are accepted (judged by content)")
    })?;
    let size = incoming.size() as i64;
    let sha256 = store.commit(incoming).map_err(|e| ApiError::internal(&e))?;
    Ok(Stored { sha256, size, mime, filename: filename.as_deref().and_then(efile::documents::clean_filename) })
}

/// Attaches a document (multipart: `file`, `title`, `kind`) to a file you hold.
#[utoipa::path(post, path = "/api/v1/files/{id}/documents", params(("id" = String, Path, description = "file id")),
    request_body(content_type = "multipart/form-data", description = "file, title, kind"),
    responses((status = 201, description = "{id, title, kind, sha256, size, mime}"), (status = 413, body = super::error::ErrorBody),
              (status = 415, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    payload: Multipart,
) -> Result<HttpResponse, ApiError> {
    let limit = state.config.upload_limit_bytes;
    check_length(&req, limit)?;
    let file_id = path.into_inner();
    let caller = std::sync::Arc::new(caller);
    // Refuse early, before reading the body, if the caller cannot attach here.
    let (c1, f1) = (caller.clone(), file_id.clone());
    state.read(move |c| Ok(efile::actionable_file(c, &c1.actor(), &f1).map(|_| ())?)).await?;
    let store = BlobStore::new(&state.config.data_dir);
    let upload = read_upload(payload, &store, limit).await?;
    let doc = attach_upload(&state, (*caller).clone(), file_id, upload).await?;
    Ok(HttpResponse::Created().json(doc))
}

/// Keeps an uploaded document (`file`, `title`, `kind`) and attaches it to
/// the file: what the API's upload and the web inbox's form both do once
/// the body is read (and, for the form, its anti-CSRF token checked).
pub(crate) async fn attach_upload(
    state: &web::Data<AppState>,
    caller: Caller,
    file_id: String,
    mut upload: Upload,
) -> Result<efile::documents::DocumentView, ApiError> {
    let (incoming, filename) = upload.file.take().ok_or_else(|| ApiError::invalid_field("file", "is required"))?;
    let title =
        upload.fields.remove("title").filter(|t| !t.trim().is_empty()).or_else(|| filename.clone()).unwrap_or_default();
    let kind = upload.fields.remove("kind").unwrap_or_else(|| "enclosure".into());
    let (title, kind) = efile::documents::check_meta(&title, &kind)?;
    let store = BlobStore::new(&state.config.data_dir);
    let stored =
        web::block(move || store_upload(&store, incoming, filename)).await.map_err(|e| ApiError::internal(&e))??;
    state
        .write(move |c| Ok(efile::documents::attach_to_file(c, &caller.actor(), &file_id, &title, kind, &stored)?))
        .await
}

/// The document's bytes, exactly as stored.
/// `?inline=1` of the content route.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContentQuery {
    /// `1`: a PDF is shown in the browser rather than saved (other kinds are always saved).
    pub inline: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/documents/{id}/content", params(("id" = String, Path, description = "document id"), ContentQuery),
    responses((status = 200, description = "the bytes"), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn content(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<ContentQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let want_inline = q.inline.as_deref() == Some("1");
    let (sha, mime, filename, title) =
        state.read(move |c| Ok(efile::documents::visible(c, &caller.actor(), &id)?)).await?;
    let store = BlobStore::new(&state.config.data_dir);
    let file = actix_files::NamedFile::open(store.path(&sha)).map_err(|e| ApiError::internal(&e))?;
    let ext = match mime.as_str() {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        _ => "tif",
    };
    let name = filename.unwrap_or_else(|| {
        format!("{}.{ext}", title.chars().filter(|c| c.is_alphanumeric() || *c == ' ').collect::<String>())
    });
    let mime: mime::Mime = mime.parse().map_err(|_| ApiError::internal(&"stored mime"))?;
    let inline = want_inline && mime == mime::APPLICATION_PDF;
    let file = file
        .set_content_type(mime)
        .set_content_disposition(ContentDisposition {
            // Only a PDF (its type sniffed from its bytes when stored, never
            // taken from the client) is ever shown inline, and only when asked.
            disposition: if inline { DispositionType::Inline } else { DispositionType::Attachment },
            parameters: vec![DispositionParam::Filename(name)],
        })
        .use_etag(true)
        .use_last_modified(false);
    let mut res = file.into_response(&req);
    res.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("private, no-store"),
    );
    Ok(res)
}
