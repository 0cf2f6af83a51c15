//! `daftar bench compliance`: an entity's compliance metrics at scale,
//! beside an inbox read in the same run. Seeds a scratch SQLite database
//! with `files` e-files of MoITT (default 200,000) spread over the last 30
//! days, `moves` movements each (a third closed by their last one), one note
//! each (nine in ten signed), a receipt for one file in ten (half put up),
//! and a physical register of one file per hundred; then times the metrics
//! for the 30 days.

use std::time::Instant;

use super::{Officer, scratch, tempfile_dir};

/// An entity at scale in a scratch SQLite database: what [`run`] seeds
/// (see the module's text), and with `stays`, each file's stays at the
/// entity's desks in turn (one per movement, the last still open), lasting
/// one to 97 minutes. Returns the database, the SO, MoITT and the seconds
/// seeding took.
pub(super) fn seed_moitt(
    dir: &std::path::Path,
    files: u64,
    moves: u64,
    stays: bool,
) -> Result<(crate::store::Db, Officer, crate::compliance::Entity, f64), String> {
    let (_config, db, _ca) = scratch(dir)?;
    let so = Officer::load(&db, "so.moitt")?;
    let entity = {
        let mut c = db.reader().map_err(|e| e.to_string())?;
        crate::compliance::entity(&mut c, "MOITT").map_err(|e| e.to_string())?.ok_or("no MOITT")?
    };
    let started = Instant::now();
    {
        let mut c = db.writer().map_err(|e| e.to_string())?;
        let now = crate::store::now_micros();
        let day = 86_400_000_000i64;
        let script = format!(
            "CREATE TEMP TABLE bench_posts AS SELECT ROW_NUMBER() OVER (ORDER BY p.id) - 1 AS k, p.id AS post,
               p.org_unit_id AS unit FROM posts p JOIN org_units u ON u.id = p.org_unit_id WHERE u.entity_id = '{e}';
             INSERT INTO files (id, file_no, head, serial, year, subject, classification, priority, urgency, status,
               section_id, entity_id, created_by_post, created_by_user, holder_post_id, held_since, next_note_seq,
               next_move_seq, version, created_at, updated_at)
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {files})
             SELECT 'bc-' || i, 'No. C-' || i || '/2026-BENCH', 'C', i, 2026, 'Benchmark file ' || i, 'unclassified',
               'routine', 0, CASE WHEN i % 3 = 0 THEN 'closed' ELSE 'open' END, b.unit, '{e}', b.post, '{user}', b.post,
               {now} - (i % 30) * {day} + {moves} * 60000000, 2, {moves} + 1, 1, {now} - (i % 30) * {day} - i, {now}
             FROM n JOIN bench_posts b ON b.k = i % (SELECT COUNT(*) FROM bench_posts);
             INSERT INTO movements (id, file_id, seq, action, from_post_id, to_post_id, sent_at, by_user_id, by_post_id)
             WITH RECURSIVE m(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM m WHERE j < {moves})
             SELECT f.id || '-m' || j, f.id, j,
               CASE WHEN j = {moves} AND f.status = 'closed' THEN 'close' ELSE 'forward' END,
               f.holder_post_id, f.holder_post_id, f.created_at + j * 60000000, '{user}', f.holder_post_id
             FROM files f CROSS JOIN m WHERE f.id LIKE 'bc-%';
             INSERT INTO notes (id, file_id, seq, body, status, author_post_id, author_user_id, created_at, updated_at)
             SELECT id || '-n', id, 1, 'Benchmark note', CASE WHEN serial % 10 = 0 THEN 'draft' ELSE 'signed' END,
               holder_post_id, '{user}', created_at + 30000000, created_at + 30000000 FROM files WHERE id LIKE 'bc-%';
             INSERT INTO receipts (id, diary_no, entity_id, subject, sender, mode, form, classification, priority,
               urgency, status, created_by_post, created_by_user, holder_post_id, held_since, next_move_seq, version,
               created_at, file_id)
             SELECT id || '-r', 'MOITT/R/2026/' || serial, '{e}', 'Benchmark letter', 'PMO', 'post',
               CASE WHEN serial % 20 = 0 THEN 'physical' ELSE 'electronic' END, 'unclassified', 'routine', 0,
               CASE WHEN serial % 20 < 10 THEN 'put_up' ELSE 'open' END, holder_post_id, '{user}', holder_post_id,
               created_at, 2, 1, created_at, CASE WHEN serial % 20 < 10 THEN id END
             FROM files WHERE id LIKE 'bc-%' AND serial % 10 = 0;
             INSERT INTO movements (id, receipt_id, seq, action, from_post_id, to_post_id, sent_at, by_user_id, by_post_id)
             SELECT id || '-p', id, 1, 'put_up', holder_post_id, NULL, created_at + 7200000000, '{user}', holder_post_id
             FROM receipts WHERE id LIKE 'bc-%' AND status = 'put_up';
             INSERT INTO physical_files (id, entity_id, reference, subject, opened_on, registered_at, registered_by)
             SELECT id || '-p', '{e}', 'P-' || serial, 'Paper file', '2020-01-01', created_at, '{user}'
             FROM files WHERE id LIKE 'bc-%' AND serial % 100 = 0;
             {stays}
             ANALYZE;",
            stays = if stays { format!("{STAYS}\n{}", dwell_backfill()) } else { String::new() },
            e = entity.id,
            user = so.principal.viewer.user_id,
        );
        use diesel::connection::SimpleConnection;
        crate::on_backend!(&mut *c, |b| b.batch_execute(&script)).map_err(|e| e.to_string())?;
    }
    Ok((db, so, entity, started.elapsed().as_secs_f64()))
}

/// The stays [`seed_moitt`] adds: file `i`'s stay `j` at desk `(i + j) mod
/// desks`, from one movement to the next.
const STAYS: &str = "INSERT INTO stays (id, object_id, kind, post_id, from_at, until_at)
     WITH RECURSIVE m(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM m WHERE j < (SELECT next_move_seq - 1 FROM files WHERE id = 'bc-1'))
     SELECT f.id || '-s' || j, f.id, 'file', b.post,
       f.created_at + (j - 1) * 60000000 * (1 + (f.serial * j) % 97),
       CASE WHEN j = f.next_move_seq - 1 THEN NULL ELSE f.created_at + j * 60000000 * (1 + (f.serial * j) % 97) END
     FROM files f CROSS JOIN m JOIN bench_posts b ON b.k = (f.serial + j) % (SELECT COUNT(*) FROM bench_posts)
     WHERE f.id LIKE 'bc-%';";

/// Counts the seeded stays into `dwell_counts` with migration 19's own
/// statement (the rule the server applies as files move).
fn dwell_backfill() -> &'static str {
    let up = include_str!("../../migrations/sqlite/2026-12-06-000019_dwell_counts/up.sql");
    &up[up.find("INSERT INTO dwell_counts").unwrap_or(up.len())..]
}

/// Runs the benchmark.
pub fn run(files: u64, moves: u64) -> Result<String, String> {
    let dir = tempfile_dir()?;
    let (db, so, entity, seeded) = seed_moitt(&dir, files, moves, false)?;
    let mut out = format!(
        "seeded {files} files of MOITT, {} movements, {files} notes, {} receipts in {seeded:.1} s\n",
        files * moves + files / 20,
        files / 10
    );
    let today = crate::clock::today();
    let period = crate::compliance::Period { from: today - chrono::Days::new(30), to: today };
    let (m, (m50, m99), (i50, i99)) = super::beside_inbox(&db, &so, |c| {
        crate::compliance::metrics_of(c, &entity, period).map_err(|e| e.to_string())
    })?;
    if m.e_files == 0 {
        return Err("the metrics counted no files".into());
    }
    out.push_str(&format!(
        "metrics of MOITT for 30 days ({} e-files, adoption {:?}%, median disposal {:?} h): p50 {m50:.0} ms, max of 5 {m99:.0} ms\n",
        m.e_files, m.adoption_pct, m.median_disposal_hours
    ));
    out.push_str(&format!("inbox (first 50), same run:  p50 {i50:.2} ms, p99 {i99:.2} ms\n"));
    out.push_str(&format!("metrics p50 ÷ inbox p50: {:.0}\n", m50 / i50));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}
