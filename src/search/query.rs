//! Searching as a caller: the text query AND the caller's sight, so hits,
//! `total` and facets count only what the caller may see.
//!
//! The sight's terms are exact for everything but desks the caller held in
//! the past and holds no more (they see only what passed the desk while
//! they held it, a window the index does not carry). Hits that only such a
//! desk could explain are checked against the database with the SQL form of
//! the same sight before they are shown or counted.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::Serialize;
use tantivy::collector::{Collector, Count, SegmentCollector, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, TantivyDocument, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, DocId, Score, SegmentOrdinal, SegmentReader, Term};

use super::{Fields, Search, SearchError};
use crate::domain::access::Sight;
use crate::store::{DbConn, sight};

/// `GET /search` parameters, checked.
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// The query text.
    pub q: String,
    /// `file`, `note`, `document`, `receipt`.
    pub kind: Option<String>,
    /// `open`, `parked`, `closed`, …
    pub status: Option<String>,
    /// A classification.
    pub classification: Option<String>,
    /// An owning unit id.
    pub org_unit: Option<String>,
    /// From (UTC µs, inclusive).
    pub from: Option<i64>,
    /// To (UTC µs, exclusive).
    pub to: Option<i64>,
    /// Page size.
    pub limit: usize,
    /// Hits skipped.
    pub offset: usize,
}

/// One hit.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    /// `file`, `note`, `document`, `receipt`.
    pub kind: String,
    /// The file.
    pub file_id: Option<String>,
    /// The receipt.
    pub receipt_id: Option<String>,
    /// The file or diary number.
    pub file_no: String,
    /// The subject.
    pub subject: String,
    /// The matching passage, with matches in `<b>` (HTML-escaped).
    pub snippet: String,
    /// Relevance.
    pub score: f32,
}

/// The answer.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// Visible hits in all.
    pub total: usize,
    /// This page.
    pub items: Vec<Hit>,
    /// Visible hits by entity, status, kind and year.
    pub facets: Facets,
    /// The next page's cursor.
    pub next_cursor: Option<String>,
}

/// Counts of visible hits.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Facets {
    /// By entity id.
    pub entity: BTreeMap<String, u64>,
    /// By status.
    pub status: BTreeMap<String, u64>,
    /// By kind.
    pub kind: BTreeMap<String, u64>,
    /// By year.
    pub year: BTreeMap<String, u64>,
}

impl Facets {
    fn add(&mut self, other: Facets) {
        for (mine, theirs) in [
            (&mut self.entity, other.entity),
            (&mut self.status, other.status),
            (&mut self.kind, other.kind),
            (&mut self.year, other.year),
        ] {
            for (k, v) in theirs {
                *mine.entry(k).or_default() += v;
            }
        }
    }
}

/// Why a search was refused.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query text does not parse (`position` in characters, if known).
    #[error("{message}")]
    Syntax {
        /// What is wrong.
        message: String,
        /// Where, counting characters from 0.
        position: Option<usize>,
    },
    /// The index failed.
    #[error(transparent)]
    Index(#[from] SearchError),
}

impl From<tantivy::TantivyError> for QueryError {
    fn from(e: tantivy::TantivyError) -> Self {
        QueryError::Index(e.into())
    }
}

impl From<diesel::result::Error> for QueryError {
    fn from(e: diesel::result::Error) -> Self {
        QueryError::Index(e.into())
    }
}

/// Finds unbalanced quotes and parentheses, naming where.
fn check_syntax(q: &str) -> Result<(), QueryError> {
    let mut open_quote: Option<usize> = None;
    let mut parens: Vec<usize> = Vec::new();
    for (i, c) in q.chars().enumerate() {
        match c {
            '"' => open_quote = if open_quote.is_some() { None } else { Some(i) },
            '(' if open_quote.is_none() => parens.push(i),
            ')' if open_quote.is_none() => {
                if parens.pop().is_none() {
                    return Err(QueryError::Syntax {
                        message: format!("a `)` at position {i} closes nothing"),
                        position: Some(i),
                    });
                }
            }
            _ => {}
        }
    }
    if let Some(i) = open_quote {
        return Err(QueryError::Syntax {
            message: format!("the quote at position {i} is not closed"),
            position: Some(i),
        });
    }
    if let Some(i) = parens.pop() {
        return Err(QueryError::Syntax {
            message: format!("the `(` at position {i} is not closed"),
            position: Some(i),
        });
    }
    Ok(())
}

fn term(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, text), IndexRecordOption::Basic))
}

fn any_of(field: Field, texts: impl IntoIterator<Item = String>) -> Option<Box<dyn Query>> {
    let qs: Vec<(Occur, Box<dyn Query>)> = texts.into_iter().map(|t| (Occur::Should, term(field, &t))).collect();
    (!qs.is_empty()).then(|| Box::new(BooleanQuery::new(qs)) as Box<dyn Query>)
}

/// Counts hits by the facet fields.
struct FacetCount {
    fields: Fields,
}

struct SegmentFacets {
    kind: Option<tantivy::columnar::StrColumn>,
    status: Option<tantivy::columnar::StrColumn>,
    entity: Option<tantivy::columnar::StrColumn>,
    year: Option<tantivy::columnar::Column<u64>>,
    counts: [BTreeMap<u64, u64>; 3],
    years: BTreeMap<u64, u64>,
}

type SegmentFruit = (Vec<BTreeMap<String, u64>>, BTreeMap<String, u64>);

impl Collector for FacetCount {
    type Fruit = Facets;
    type Child = SegmentFacets;

    fn for_segment(&self, _: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<SegmentFacets> {
        let ff = reader.fast_fields();
        let _ = self.fields;
        Ok(SegmentFacets {
            kind: ff.str("kind")?,
            status: ff.str("status")?,
            entity: ff.str("entity")?,
            year: ff.u64("year").ok(),
            counts: Default::default(),
            years: BTreeMap::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<SegmentFruit>) -> tantivy::Result<Facets> {
        let mut out = Facets::default();
        for (strs, years) in fruits {
            let mut it = strs.into_iter();
            let (kind, status, entity) =
                (it.next().unwrap_or_default(), it.next().unwrap_or_default(), it.next().unwrap_or_default());
            out.add(Facets { kind, status, entity, year: years });
        }
        Ok(out)
    }
}

impl SegmentCollector for SegmentFacets {
    type Fruit = SegmentFruit;

    fn collect(&mut self, doc: DocId, _: Score) {
        for (i, col) in [&self.kind, &self.status, &self.entity].into_iter().enumerate() {
            if let Some(col) = col {
                for ord in col.term_ords(doc) {
                    *self.counts[i].entry(ord).or_default() += 1;
                }
            }
        }
        if let Some(y) = self.year.as_ref().and_then(|c| c.first(doc)) {
            *self.years.entry(y).or_default() += 1;
        }
    }

    fn harvest(self) -> SegmentFruit {
        let cols = [&self.kind, &self.status, &self.entity];
        let strs = self
            .counts
            .iter()
            .zip(cols)
            .map(|(counts, col)| {
                let mut named = BTreeMap::new();
                if let Some(col) = col {
                    for (ord, n) in counts {
                        let mut s = String::new();
                        if col.ord_to_str(*ord, &mut s).unwrap_or(false) {
                            *named.entry(s).or_default() += n;
                        }
                    }
                }
                named
            })
            .collect();
        let years = self.years.into_iter().map(|(y, n)| (y.to_string(), n)).collect();
        (strs, years)
    }
}

/// Searches the index as `sight` (of `user_id`) may.
pub fn search(s: &Search, conn: &mut DbConn, sight: &Sight, p: &Params) -> Result<Results, QueryError> {
    let user_id = sight.user_id.as_str();
    let f = s.fields;
    check_syntax(&p.q)?;
    let mut parser = QueryParser::for_index(&s.index, vec![f.number, f.subject, f.body]);
    parser.set_conjunction_by_default();
    parser.set_field_boost(f.number, 3.0);
    parser.set_field_boost(f.subject, 2.0);
    // Past balanced quotes and parentheses, whatever does not parse as the
    // query language (`xyz:word`, a lone `-word`) is searched for as words.
    let (text, _) = parser.parse_query_lenient(&p.q);

    // What the caller may see, and what they asked to narrow to.
    let mut must: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, text.box_clone())];
    let classes: Vec<String> = sight
        .classes()
        .into_iter()
        .map(|c| c.as_str().to_owned())
        .filter(|c| p.classification.as_deref().is_none_or(|want| want == c))
        .collect();
    let Some(class) = any_of(f.class, classes) else { return Ok(empty()) };
    must.push((Occur::Must, class));
    let vis = any_of(f.vis, ["public".to_owned(), format!("u:{user_id}")]).expect("two terms");
    must.push((Occur::Must, vis));
    for (field, want) in [(f.kind, &p.kind), (f.status, &p.status), (f.section, &p.org_unit)] {
        if let Some(w) = want {
            must.push((Occur::Must, term(field, w)));
        }
    }
    if p.from.is_some() || p.to.is_some() {
        let lo = p.from.map_or(Bound::Unbounded, |t| Bound::Included(Term::from_field_i64(f.date, t)));
        let hi = p.to.map_or(Bound::Unbounded, |t| Bound::Excluded(Term::from_field_i64(f.date, t)));
        must.push((Occur::Must, Box::new(RangeQuery::new(lo, hi))));
    }
    let mut certain_terms: Vec<String> = sight.units.iter().map(|u| format!("unit:{u}")).collect();
    certain_terms.extend(sight.audited.iter().map(|e| format!("entity:{e}")));
    certain_terms.extend(sight.desks.iter().filter(|d| d.window.is_none()).map(|d| format!("post:{}", d.post_id)));
    let past_terms: Vec<String> = sight
        .desks
        .iter()
        .filter(|d| d.window.is_some())
        .map(|d| format!("post:{}", d.post_id))
        .filter(|t| !certain_terms.contains(t))
        .collect();
    let base = |extra: Vec<(Occur, Box<dyn Query>)>| -> BooleanQuery {
        let mut all: Vec<(Occur, Box<dyn Query>)> = must.iter().map(|(o, q)| (*o, q.box_clone())).collect();
        all.extend(extra);
        BooleanQuery::new(all)
    };
    let certain = any_of(f.who, certain_terms.clone()).map(|who| base(vec![(Occur::Must, who)]));

    let searcher = s.reader.searcher();
    let want = p.offset + p.limit;
    let mut total = 0usize;
    let mut facets = Facets::default();
    let mut scored: Vec<(Score, DocAddress)> = Vec::new();
    if let Some(q) = &certain {
        let (n, top, fc) = searcher
            .search(q, &(Count, TopDocs::with_limit(want.max(1)).order_by_score(), FacetCount { fields: f }))?;
        total += n;
        scored.extend(top);
        facets.add(fc);
    }
    // Hits only a past desk explains: checked against the database.
    if let Some(who) = any_of(f.who, past_terms) {
        let mut extra = vec![(Occur::Must, who)];
        if let Some(c) = any_of(f.who, certain_terms) {
            extra.push((Occur::MustNot, c));
        }
        let q = base(extra);
        let unsure = searcher.search(&q, &TopDocs::with_limit(10_000).order_by_score())?;
        let docs: Vec<(Score, DocAddress, TantivyDocument)> = unsure
            .into_iter()
            .map(|(sc, a)| searcher.doc::<TantivyDocument>(a).map(|d| (sc, a, d)))
            .collect::<Result<_, _>>()?;
        let file_ids: Vec<String> = docs.iter().filter_map(|(_, _, d)| text_of(d, f.file_id)).collect();
        let receipt_ids: Vec<String> = docs
            .iter()
            .filter(|(_, _, d)| text_of(d, f.file_id).is_none())
            .filter_map(|(_, _, d)| text_of(d, f.receipt_id))
            .collect();
        let ok = sight::visible_of(conn, sight, &file_ids, &receipt_ids)?;
        for (sc, a, d) in docs {
            let obj = text_of(&d, f.file_id).or_else(|| text_of(&d, f.receipt_id)).unwrap_or_default();
            if ok.contains(&obj) {
                total += 1;
                scored.push((sc, a));
                facets.add(facets_of(&d, f, &searcher, a));
            }
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let page: Vec<(Score, DocAddress)> = scored.into_iter().skip(p.offset).take(p.limit).collect();
    let mut body_snippets = SnippetGenerator::create(&searcher, &*text, f.body)?;
    body_snippets.set_max_num_chars(200);
    let subject_snippets = SnippetGenerator::create(&searcher, &*text, f.subject)?;
    let mut items = Vec::with_capacity(page.len());
    for (score, a) in page {
        let d: TantivyDocument = searcher.doc(a)?;
        let mut snippet = body_snippets.snippet_from_doc(&d).to_html();
        if snippet.is_empty() {
            snippet = subject_snippets.snippet_from_doc(&d).to_html();
        }
        items.push(Hit {
            kind: text_of(&d, f.kind).unwrap_or_default(),
            file_id: text_of(&d, f.file_id),
            receipt_id: text_of(&d, f.receipt_id),
            file_no: text_of(&d, f.number).unwrap_or_default(),
            subject: text_of(&d, f.subject).unwrap_or_default(),
            snippet,
            score,
        });
    }
    let next_cursor = (total > want).then(|| want.to_string());
    Ok(Results { total, items, facets, next_cursor })
}

fn empty() -> Results {
    Results { total: 0, items: Vec::new(), facets: Facets::default(), next_cursor: None }
}

fn text_of(d: &TantivyDocument, field: Field) -> Option<String> {
    d.get_first(field).and_then(|v| v.as_str()).map(str::to_owned)
}

/// The facet values of one stored hit (for hits checked one by one).
fn facets_of(d: &TantivyDocument, f: Fields, searcher: &tantivy::Searcher, a: DocAddress) -> Facets {
    let mut out = Facets::default();
    if let Some(k) = text_of(d, f.kind) {
        out.kind.insert(k, 1);
    }
    // Status, entity and year are fast fields only.
    let seg = searcher.segment_reader(a.segment_ord);
    let ff = seg.fast_fields();
    for (col, into) in [("status", &mut out.status), ("entity", &mut out.entity)] {
        if let Ok(Some(c)) = ff.str(col) {
            for ord in c.term_ords(a.doc_id) {
                let mut s = String::new();
                if c.ord_to_str(ord, &mut s).unwrap_or(false) {
                    into.insert(s, 1);
                }
            }
        }
    }
    if let Some(y) = ff.u64("year").ok().and_then(|c| c.first(a.doc_id)) {
        out.year.insert(y.to_string(), 1);
    }
    out
}
