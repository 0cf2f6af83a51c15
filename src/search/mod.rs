//! Full-text search (SPEC section 3, "Search"): a tantivy index of files,
//! notes, receipts and documents, in English and Urdu, that never shows or
//! counts what its caller may not see.
//!
//! - Each item carries the principals that may see it, derived as the one
//!   sight derives them ([`crate::domain::access::Sight`]): the posts that
//!   hold or held it (`post:`), its owning unit (`unit:`) and entity
//!   (`entity:`), its classification, and for a draft note its author
//!   (`vis`). A query is the text AND the caller's principals and classes
//!   ([`query`]).
//! - The index is derived from the database by following the ledger
//!   ([`indexer`]): every event names the file or receipt it changed, and
//!   that object's items are rebuilt from the database. The last sealed
//!   ledger position applied is the commit's payload, so a process that
//!   died catches up from there on start; events not yet sealed are applied
//!   as they appear, so a change is searchable well within two seconds.
//! - Every server process keeps an index of its own in `data_dir/index/`
//!   fed from the shared database; processes sharing one data directory
//!   share it: the one holding the writer lock writes, the others read
//!   (and take over the writer if it goes).

pub mod extract;
pub mod indexer;
pub mod query;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{Language, RemoveLongFilter, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy};

/// Bumped when the index's schema or analysis changes: a server finding an
/// index of another version builds a new one on start.
pub const SCHEMA_VERSION: u32 = 1;

/// The analyzer's name in the index.
const ANALYZER: &str = "daftar";

/// Splits text into the words of [`crate::domain::text::words`] (Urdu folded,
/// lower case, each with its place in the original text).
#[derive(Clone, Default)]
pub struct WordTokenizer {
    tokens: Vec<Token>,
}

/// The words of one text.
pub struct WordStream<'a> {
    tokens: &'a mut Vec<Token>,
    next: usize,
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordStream<'a> {
        self.tokens.clear();
        for (position, (from, to, word)) in crate::domain::text::words(text).into_iter().enumerate() {
            self.tokens.push(Token { offset_from: from, offset_to: to, position, text: word, position_length: 1 });
        }
        WordStream { tokens: &mut self.tokens, next: 0 }
    }
}

impl TokenStream for WordStream<'_> {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// The analyzer every text field uses: words, English stemming.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WordTokenizer::default())
        .filter(RemoveLongFilter::limit(64))
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The index's fields.
#[derive(Clone, Copy)]
pub struct Fields {
    /// `f:`, `n:`, `r:` or `d:` and the item's id.
    pub key: Field,
    /// The file or receipt the item belongs to (all of its items are rebuilt together).
    pub obj: Field,
    /// `file`, `note`, `receipt`, `document`.
    pub kind: Field,
    /// The file.
    pub file_id: Field,
    /// The receipt.
    pub receipt_id: Field,
    /// File or diary number.
    pub number: Field,
    /// The file's or receipt's subject.
    pub subject: Field,
    /// The note's text, the receipt's sender and letter, a document's title.
    pub body: Field,
    /// Entity id.
    pub entity: Field,
    /// Owning unit id.
    pub section: Field,
    /// `open`, `parked`, `closed` (files; receipts as stored).
    pub status: Field,
    /// Classification.
    pub class: Field,
    /// Principals that may see it.
    pub who: Field,
    /// `public`, or `u:<author>` for a draft note.
    pub vis: Field,
    /// Civil year.
    pub year: Field,
    /// When (UTC µs).
    pub date: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        key: b.add_text_field("key", STRING | STORED),
        obj: b.add_text_field("obj", STRING),
        kind: b.add_text_field("kind", STRING | FAST | STORED),
        file_id: b.add_text_field("file_id", STRING | STORED),
        receipt_id: b.add_text_field("receipt_id", STRING | STORED),
        number: b.add_text_field("number", text.clone()),
        subject: b.add_text_field("subject", text.clone()),
        body: b.add_text_field("body", text),
        entity: b.add_text_field("entity", STRING | FAST),
        section: b.add_text_field("section", STRING),
        status: b.add_text_field("status", STRING | FAST),
        class: b.add_text_field("class", STRING),
        who: b.add_text_field("who", STRING),
        vis: b.add_text_field("vis", STRING),
        year: b.add_u64_field("year", INDEXED | FAST),
        date: b.add_i64_field("date", INDEXED | FAST),
    };
    (b.build(), fields)
}

/// The search index of this process.
pub struct Search {
    /// The index.
    pub index: Index,
    /// Its reader, reloaded after each commit.
    pub reader: IndexReader,
    /// Its fields.
    pub fields: Fields,
    /// The writer, when this process owns the index.
    writer: Mutex<Option<IndexWriter>>,
    /// Where it lives.
    pub dir: PathBuf,
}

/// Why the index could not be opened or written.
#[derive(Debug, thiserror::Error)]
#[error("search index: {0}")]
pub struct SearchError(pub String);

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        SearchError(e.to_string())
    }
}

/// The directory of this schema version's index under `base` (the
/// configured index directory).
pub fn index_dir(base: &Path) -> PathBuf {
    base.join(format!("v{SCHEMA_VERSION}"))
}

/// Removes the indexes of other schema versions beside `current` (once
/// this version's index is this process's to write).
pub fn remove_old_versions(current: &Path) {
    let Some(base) = current.parent() else { return };
    let Ok(entries) = std::fs::read_dir(base) else { return };
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p != current && p.is_dir() && name.starts_with('v') && name[1..].chars().all(|c| c.is_ascii_digit()) {
            match std::fs::remove_dir_all(&p) {
                Ok(()) => tracing::info!(dir = %p.display(), "removed a search index of another schema version"),
                Err(e) => tracing::warn!(dir = %p.display(), error = %e, "could not remove an old search index"),
            }
        }
    }
}

impl Search {
    /// Opens (or creates) the index in `dir`, and takes its writer if no
    /// other process holds it.
    pub fn open(dir: &Path) -> Result<Search, SearchError> {
        std::fs::create_dir_all(dir).map_err(|e| SearchError(format!("{}: {e}", dir.display())))?;
        let (schema, fields) = schema();
        let mmap = tantivy::directory::MmapDirectory::open(dir).map_err(|e| SearchError(e.to_string()))?;
        let index = Index::open_or_create(mmap, schema)?;
        index.tokenizers().register(ANALYZER, analyzer());
        let reader = index.reader_builder().reload_policy(ReloadPolicy::OnCommitWithDelay).try_into()?;
        let search = Search { index, reader, fields, writer: Mutex::new(None), dir: dir.to_owned() };
        search.take_writer();
        Ok(search)
    }

    /// Takes the writer if it is free; whether this process now writes.
    pub fn take_writer(&self) -> bool {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if w.is_none() {
            // One thread: the index is fed by one tailing loop; 50 MB of buffer.
            if let Ok(writer) = self.index.writer_with_num_threads(1, 50_000_000) {
                *w = Some(writer);
            }
        }
        w.is_some()
    }

    /// Whether this process writes the index.
    pub fn writes(&self) -> bool {
        self.writer.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Runs `f` with the writer, if this process owns it.
    pub fn with_writer<T>(&self, f: impl FnOnce(&mut IndexWriter) -> T) -> Option<T> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.as_mut().map(f)
    }

    /// The last sealed ledger position the index has applied (from the
    /// newest commit's payload); `None` for an index never built.
    pub fn applied(&self) -> Option<i64> {
        self.index.load_metas().ok()?.payload?.parse().ok()
    }
}
