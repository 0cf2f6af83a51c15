//! Taking the text out of attached PDFs for the index, in a job, with
//! limits a hostile file cannot pass: files over 20 MiB are not opened, at
//! most 500 pages and 1 MiB of text are read, and a file that takes longer
//! than 10 seconds is given up (the worker moves on; the parsing thread is
//! left to finish on its own). Scans and other kinds have no text: they are
//! found by their title and file name.

use std::time::Duration;

use diesel::prelude::*;
use serde_json::json;

use crate::blobs::BlobStore;
use crate::ledger;
use crate::store::schema::{document_texts, documents};
use crate::store::{Db, now_micros};

const MAX_BYTES: i64 = 20 * 1024 * 1024;
const MAX_PAGES: usize = 500;
const MAX_CHARS: usize = 1024 * 1024;
const MAX_TIME: Duration = Duration::from_secs(10);

/// The text of a PDF's pages, within the limits.
pub fn pdf_text(bytes: &[u8]) -> Result<String, String> {
    let doc = lopdf::Document::load_mem(bytes).map_err(|e| format!("not a readable PDF: {e}"))?;
    let mut out = String::new();
    for (n, _) in doc.get_pages().into_iter().take(MAX_PAGES) {
        if let Ok(t) = doc.extract_text(&[n]) {
            out.push_str(&t);
            out.push('\n');
        }
        if out.len() >= MAX_CHARS {
            let mut cut = MAX_CHARS;
            while !out.is_char_boundary(cut) {
                cut -= 1;
            }
            out.truncate(cut);
            break;
        }
    }
    Ok(out)
}

/// Runs `pdf_text` on its own thread, giving up after `MAX_TIME`.
fn bounded(bytes: Vec<u8>) -> (&'static str, String) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(pdf_text(&bytes));
    });
    match rx.recv_timeout(MAX_TIME) {
        Ok(Ok(text)) if text.trim().is_empty() => ("no_text", String::new()),
        Ok(Ok(text)) => ("extracted", text),
        Ok(Err(_)) => ("unreadable", String::new()),
        Err(_) => ("timed_out", String::new()),
    }
}

/// The job: extracts a document's text once and records it with a ledger
/// event (which brings its file or receipt back to the indexer).
pub fn run(db: &Db, blobs: &BlobStore, document_id: &str) -> Result<(), String> {
    type Row = (String, String, i64, Option<String>, Option<String>);
    let row: Option<Row> = {
        let mut c = db.reader().map_err(|e| e.to_string())?;
        documents::table
            .find(document_id)
            .select((documents::sha256, documents::mime, documents::size, documents::file_id, documents::receipt_id))
            .first(&mut *c)
            .optional()
            .map_err(|e| e.to_string())?
    };
    let Some((sha, mime, size, file_id, receipt_id)) = row else { return Ok(()) };
    let (status, text) = if mime != "application/pdf" {
        ("no_text", String::new())
    } else if size > MAX_BYTES {
        ("too_large", String::new())
    } else {
        match std::fs::read(blobs.path(&sha)) {
            Ok(bytes) => bounded(bytes),
            Err(e) => return Err(format!("document {document_id}: {e}")),
        }
    };
    db.write_tx(|c| -> Result<(), crate::store::StoreError> {
        let row = (
            document_texts::document_id.eq(document_id),
            document_texts::status.eq(status),
            document_texts::text.eq(&text),
            document_texts::extracted_at.eq(now_micros()),
        );
        let n = crate::on_backend!(c, |b| diesel::insert_into(document_texts::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(b))?;
        if n == 1 {
            ledger::append(
                c,
                ledger::Event {
                    kind: "document_text",
                    actor_user: None,
                    actor_post: None,
                    file_id: file_id.as_deref(),
                    receipt_id: receipt_id.as_deref(),
                    payload: json!({"document_id": document_id, "status": status, "chars": text.chars().count()}),
                },
            )?;
        }
        Ok(())
    })
    .map_err(|e| e.to_string())
}
