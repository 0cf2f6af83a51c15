//! `daftar bench search`: a generated corpus of notes in the demo
//! government's shape (English with some Urdu; 40 entities, their sections
//! and desks; five classifications), indexed by Daftar's tantivy index and,
//! over the same notes and the same queries with the same permission filter,
//! by SQLite FTS5 and (with `--postgres`) PostgreSQL tsvector/GIN. Prints the
//! indexing rate and query p50/p99 of each, side by side.

use std::time::Instant;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

use crate::domain::access::{Desk, Sight};
use crate::domain::org::Clearance;
use crate::search::Search;
use crate::search::indexer::{Common, item};
use crate::search::query::{Params, search};

/// A seeded generator: the same seed, the same corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Skewed towards small values (a word's rank in a Zipf-like vocabulary).
    fn skewed(&mut self, n: u64) -> u64 {
        let u = (self.next() as f64 + 1.0) / (2f64.powi(31) + 1.0);
        ((n as f64).powf(u) - 1.0) as u64 % n.max(1)
    }
}

const ENGLISH: &[&str] = &[
    "the",
    "file",
    "case",
    "submitted",
    "approval",
    "ministry",
    "division",
    "secretary",
    "section",
    "officer",
    "budget",
    "procurement",
    "tender",
    "committee",
    "meeting",
    "minutes",
    "policy",
    "draft",
    "summary",
    "cabinet",
    "finance",
    "concurrence",
    "advice",
    "law",
    "justice",
    "telecom",
    "broadband",
    "spectrum",
    "licence",
    "authority",
    "postal",
    "services",
    "project",
    "development",
    "schedule",
    "estimate",
    "expenditure",
    "allocation",
    "release",
    "funds",
    "salary",
    "pension",
    "leave",
    "transfer",
    "posting",
    "promotion",
    "inquiry",
    "report",
    "audit",
    "para",
    "reply",
    "letter",
    "reference",
    "dated",
    "orders",
    "directions",
    "implementation",
    "compliance",
    "e-office",
    "digital",
    "training",
    "officers",
    "staff",
    "vehicle",
    "purchase",
    "repair",
    "building",
    "rent",
    "utility",
    "bills",
    "internet",
    "connectivity",
    "servers",
    "software",
    "hardware",
    "maintenance",
    "contract",
    "vendor",
];
const URDU: &[&str] = &[
    "حکومت",
    "پاکستان",
    "وزارت",
    "فائل",
    "منظوری",
    "سیکرٹری",
    "خط",
    "اجلاس",
    "بجٹ",
    "رپورٹ",
    "ہدایت",
    "کمیٹی",
    "تعمیل",
    "دفتر",
    "افسر",
    "درخواست",
    "فیصلہ",
    "نوٹ",
    "مالیات",
    "ٹیلی",
];

/// A pseudo-word of rank `r` beyond the fixed vocabulary: rare words.
fn rare(r: u64) -> String {
    const SYL: &[&str] = &["ka", "ri", "mo", "ten", "sal", "vor", "qu", "zen", "dil", "bar", "nu", "pex"];
    let mut s = String::new();
    let mut x = r;
    for _ in 0..3 {
        s.push_str(SYL[(x % SYL.len() as u64) as usize]);
        x /= SYL.len() as u64;
    }
    s
}

struct Note {
    body: String,
    class: usize,
    entity: usize,
    section: usize,
    posts: Vec<usize>,
}

const ENTITIES: usize = 40;
const SECTIONS_PER: usize = 10;
const POSTS_PER: usize = 50;

fn note(rng: &mut Rng) -> Note {
    let n = 20 + rng.below(40) as usize;
    let mut words = Vec::with_capacity(n);
    for _ in 0..n {
        let r = rng.skewed(20_000);
        let w = if rng.below(10) == 0 {
            URDU[(r as usize) % URDU.len()].to_owned()
        } else if (r as usize) < ENGLISH.len() {
            ENGLISH[r as usize].to_owned()
        } else {
            rare(r)
        };
        words.push(w);
    }
    let entity = rng.below(ENTITIES as u64) as usize;
    let section = entity * SECTIONS_PER + rng.below(SECTIONS_PER as u64) as usize;
    let posts = (0..1 + rng.below(3)).map(|_| entity * POSTS_PER + rng.below(POSTS_PER as u64) as usize).collect();
    Note { body: words.join(" "), class: rng.below(5) as usize, entity, section, posts }
}

/// The query mix: (Daftar/tantivy, FTS5 MATCH, PostgreSQL tsquery).
fn queries() -> Vec<(String, String, String)> {
    let rare1 = rare(4_000);
    let rare2 = rare(900);
    vec![
        ("file".into(), "file".into(), "file".into()),
        ("procurement".into(), "procurement".into(), "procurement".into()),
        (rare1.clone(), rare1.clone(), rare1.clone()),
        ("budget approval".into(), "budget approval".into(), "budget & approval".into()),
        (format!("secretary {rare2}"), format!("secretary {rare2}"), format!("secretary & {rare2}")),
        ("\"the file\"".into(), "\"the file\"".into(), "the <-> file".into()),
        ("procur*".into(), "procur*".into(), "procur:*".into()),
        ("حکومت".into(), "حکومت".into(), "حکومت".into()),
        ("وزارت منظوری".into(), "وزارت منظوری".into(), "وزارت & منظوری".into()),
        ("broadband connectivity".into(), "broadband connectivity".into(), "broadband & connectivity".into()),
    ]
}

/// The caller whose permissions filter every query: two desks and a section
/// of entity 3, cleared up to secret.
fn viewer() -> (Vec<usize>, usize, usize) {
    (vec![3 * POSTS_PER + 1, 3 * POSTS_PER + 2], 3 * SECTIONS_PER + 4, 3)
}

fn percentiles(ms: &mut [f64]) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// Runs the mix `rounds` times: latencies in ms and total hits of the last round.
fn run_mix(rounds: usize, mut f: impl FnMut(usize) -> Result<usize, String>) -> Result<(Vec<f64>, usize), String> {
    let n = queries().len();
    for i in 0..n {
        f(i)?; // warm
    }
    let mut ms = Vec::new();
    let mut hits = 0;
    for _ in 0..rounds {
        hits = 0;
        for i in 0..n {
            let t = Instant::now();
            hits += f(i)?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    Ok((ms, hits))
}

#[derive(QueryableByName)]
struct Hit {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// `daftar bench search`: `notes` notes (the README's full size is
/// 1,000,000), `rounds` of the query mix per engine.
pub fn run(notes: usize, rounds: usize, postgres_admin_url: Option<&str>) -> Result<String, String> {
    let dir = super::tempfile_dir()?;
    let mut rng = Rng(20261206);
    let started = Instant::now();
    let corpus: Vec<Note> = (0..notes).map(|_| note(&mut rng)).collect();
    let mut out = format!("{notes} notes generated in {:.1} s\n", started.elapsed().as_secs_f64());
    let classes = Clearance::ALL;
    let (my_posts, my_section, ceiling) = viewer();
    let mut table = Vec::new();

    // Daftar: the index, analyzer and query path of the server.
    let index = Search::open(&dir.join("tantivy")).map_err(|e| e.to_string())?;
    let f = index.fields;
    let t = Instant::now();
    index
        .with_writer(|w| -> Result<(), String> {
            for (i, n) in corpus.iter().enumerate() {
                let who: Vec<String> = n
                    .posts
                    .iter()
                    .map(|p| format!("post:p{p}"))
                    .chain([format!("unit:s{}", n.section), format!("entity:e{}", n.entity)])
                    .collect();
                let (id, entity, section) =
                    (format!("f{}", i / 20), format!("e{}", n.entity), format!("s{}", n.section));
                let c = Common {
                    obj: &id,
                    file_id: Some(&id),
                    receipt_id: None,
                    number: "No. 1-1/2026-B",
                    subject: "Benchmark file",
                    entity: Some(&entity),
                    section: &section,
                    status: "open",
                    class: classes[n.class].as_str(),
                    who: &who,
                };
                let d = item(&f, &c, format!("n:{i}"), "note", &n.body, "public", 1_780_000_000_000_000);
                w.add_document(d).map_err(|e| e.to_string())?;
            }
            w.commit().map_err(|e| e.to_string())?;
            Ok(())
        })
        .ok_or("the benchmark index is locked")??;
    index.reader.reload().map_err(|e| e.to_string())?;
    let tantivy_rate = notes as f64 / t.elapsed().as_secs_f64();
    let sight = Sight {
        user_id: "bench".into(),
        ceiling: classes[ceiling],
        desks: my_posts.iter().map(|p| Desk { post_id: format!("p{p}"), window: None }).collect(),
        units: vec![format!("s{my_section}")],
        audited: vec![],
    };
    let scratch =
        crate::store::Db::connect(&dir.join("scratch.db").to_string_lossy(), 1, "NORMAL").map_err(|e| e.to_string())?;
    let mut conn = scratch.writer().map_err(|e| e.to_string())?;
    let qs = queries();
    let (mut ms, tantivy_hits) = run_mix(rounds, |i| {
        let p = Params { q: qs[i].0.clone(), limit: 20, ..Default::default() };
        search(&index, &mut conn, &sight, &p).map(|r| r.total).map_err(|e| e.to_string())
    })?;
    let (t50, t99) = percentiles(&mut ms);
    table.push(("Daftar (tantivy)", tantivy_rate, t50, t99, tantivy_hits));
    drop(conn);

    // SQLite FTS5 over the same notes, the same filter as SQL.
    let mut lite =
        diesel::SqliteConnection::establish(&dir.join("fts.db").to_string_lossy()).map_err(|e| e.to_string())?;
    lite.batch_execute(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
         CREATE VIRTUAL TABLE fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2');
         CREATE TABLE meta (id INTEGER PRIMARY KEY, class INTEGER NOT NULL, section TEXT NOT NULL);
         CREATE TABLE note_posts (post TEXT NOT NULL, id INTEGER NOT NULL);",
    )
    .map_err(|e| e.to_string())?;
    let t = Instant::now();
    lite.transaction(|c| -> QueryResult<()> {
        for (i, n) in corpus.iter().enumerate() {
            diesel::sql_query("INSERT INTO fts (rowid, body) VALUES (?, ?)")
                .bind::<BigInt, _>(i as i64)
                .bind::<Text, _>(&n.body)
                .execute(c)?;
            diesel::sql_query("INSERT INTO meta (id, class, section) VALUES (?, ?, ?)")
                .bind::<BigInt, _>(i as i64)
                .bind::<Integer, _>(n.class as i32)
                .bind::<Text, _>(format!("s{}", n.section))
                .execute(c)?;
            for p in &n.posts {
                diesel::sql_query("INSERT INTO note_posts (post, id) VALUES (?, ?)")
                    .bind::<Text, _>(format!("p{p}"))
                    .bind::<BigInt, _>(i as i64)
                    .execute(c)?;
            }
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    lite.batch_execute(
        "CREATE INDEX note_posts_id ON note_posts (id, post); CREATE INDEX meta_section ON meta (section);",
    )
    .map_err(|e| e.to_string())?;
    let fts_rate = notes as f64 / t.elapsed().as_secs_f64();
    let posts_sql = my_posts.iter().map(|p| format!("'p{p}'")).collect::<Vec<_>>().join(", ");
    let filter = format!(
        "m.class <= {ceiling} AND (m.section = 's{my_section}' OR EXISTS (SELECT 1 FROM note_posts p WHERE p.id = f.rowid AND p.post IN ({posts_sql})))"
    );
    let (mut ms, fts_hits) = run_mix(rounds, |i| {
        let m = &qs[i].1;
        let total: Total = diesel::sql_query(format!(
            "SELECT COUNT(*) AS n FROM fts f JOIN meta m ON m.id = f.rowid WHERE fts MATCH ? AND {filter}"
        ))
        .bind::<Text, _>(m)
        .get_result(&mut lite)
        .map_err(|e| e.to_string())?;
        let top: Vec<Hit> = diesel::sql_query(format!(
            "SELECT f.rowid AS id FROM fts f JOIN meta m ON m.id = f.rowid WHERE fts MATCH ? AND {filter} ORDER BY bm25(fts) LIMIT 20"
        ))
        .bind::<Text, _>(m)
        .load(&mut lite)
        .map_err(|e| e.to_string())?;
        std::hint::black_box(top.iter().map(|h| h.id).sum::<i64>());
        Ok(total.n as usize)
    })?;
    let (f50, f99) = percentiles(&mut ms);
    table.push(("SQLite FTS5", fts_rate, f50, f99, fts_hits));

    if let Some(admin) = postgres_admin_url {
        match postgres(admin, &corpus, rounds, &my_posts, my_section, ceiling) {
            Ok(row) => table.push(row),
            Err(e) => out.push_str(&format!("PostgreSQL skipped: {e}\n")),
        }
    }

    out.push_str(&format!(
        "query mix: {} queries x {rounds} rounds, each a count and the top 20 of what one officer may see\n\n",
        qs.len()
    ));
    out.push_str("| engine | notes indexed/s | query p50 | query p99 | hits (last round) | p50 vs Daftar |\n|---|---|---|---|---|---|\n");
    for (name, rate, p50, p99, hits) in &table {
        out.push_str(&format!(
            "| {name} | {rate:.0} | {p50:.2} ms | {p99:.2} ms | {hits} | {:.1}x |\n",
            p50 / t50.max(1e-6)
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}

type Row = (&'static str, f64, f64, f64, usize);

fn postgres(
    admin: &str,
    corpus: &[Note],
    rounds: usize,
    my_posts: &[usize],
    my_section: usize,
    ceiling: usize,
) -> Result<Row, String> {
    // A scratch database there, dropped when `scratch` is.
    let scratch = super::ScratchDir::new(Some(admin))?;
    let url = scratch.database_url.clone().ok_or("no scratch database")?;
    let result = (|| -> Result<Row, String> {
        let mut pg = diesel::PgConnection::establish(&url).map_err(|e| e.to_string())?;
        pg.batch_execute(
            "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL, tsv TSVECTOR NOT NULL,
                                 class INT NOT NULL, section TEXT NOT NULL, posts TEXT[] NOT NULL);",
        )
        .map_err(|e| e.to_string())?;
        let t = Instant::now();
        for chunk in corpus.chunks(2000).enumerate() {
            let (c, notes) = chunk;
            let mut sql = String::from("INSERT INTO notes (id, body, tsv, class, section, posts) VALUES ");
            for (j, n) in notes.iter().enumerate() {
                let id = c * 2000 + j;
                let body = n.body.replace('\'', "''");
                let posts = n.posts.iter().map(|p| format!("\"p{p}\"")).collect::<Vec<_>>().join(",");
                if j > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "({id}, '{body}', to_tsvector('simple', '{body}'), {}, 's{}', '{{{posts}}}')",
                    n.class, n.section
                ));
            }
            pg.batch_execute(&sql).map_err(|e| e.to_string())?;
        }
        pg.batch_execute(
            "CREATE INDEX notes_tsv ON notes USING GIN (tsv); CREATE INDEX notes_posts ON notes USING GIN (posts);
             CREATE INDEX notes_section ON notes (section); ANALYZE notes;",
        )
        .map_err(|e| e.to_string())?;
        let rate = corpus.len() as f64 / t.elapsed().as_secs_f64();
        let posts = my_posts.iter().map(|p| format!("\"p{p}\"")).collect::<Vec<_>>().join(",");
        let filter = format!("class <= {ceiling} AND (section = 's{my_section}' OR posts && '{{{posts}}}')");
        let qs = queries();
        let (mut ms, hits) = run_mix(rounds, |i| {
            let q = &qs[i].2;
            let total: Total = diesel::sql_query(format!(
                "SELECT COUNT(*) AS n FROM notes WHERE tsv @@ to_tsquery('simple', $1) AND {filter}"
            ))
            .bind::<Text, _>(q)
            .get_result(&mut pg)
            .map_err(|e| e.to_string())?;
            let top: Vec<Hit> = diesel::sql_query(format!(
                "SELECT id FROM notes WHERE tsv @@ to_tsquery('simple', $1) AND {filter}
                 ORDER BY ts_rank(tsv, to_tsquery('simple', $1)) DESC LIMIT 20"
            ))
            .bind::<Text, _>(q)
            .load(&mut pg)
            .map_err(|e| e.to_string())?;
            std::hint::black_box(top.len());
            Ok(total.n as usize)
        })?;
        let (p50, p99) = percentiles(&mut ms);
        Ok(("PostgreSQL tsvector/GIN", rate, p50, p99, hits))
    })();
    drop(scratch);
    result
}
