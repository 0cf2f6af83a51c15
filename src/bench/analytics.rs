//! `daftar bench analytics`: an entity's bottlenecks at scale, beside an
//! inbox read in the same run. The same scratch MoITT as `bench
//! compliance` (default 200,000 files over the last 30 days, 30 movements
//! each), with one stay per movement at the entity's desks in turn: every
//! stay ends inside the default twelve-week period, the worst case for a
//! report that reads them all.

use super::tempfile_dir;

/// Runs the benchmark.
pub fn run(files: u64, moves: u64) -> Result<String, String> {
    let dir = tempfile_dir()?;
    let (db, so, entity, seeded) = super::compliance::seed_moitt(&dir, files, moves, true)?;
    let mut out = format!(
        "seeded {files} files of MOITT, {} movements and {} stays in {seeded:.1} s\n",
        files * moves + files / 20,
        files * moves
    );
    let period = crate::analytics::period(None, None).map_err(|e| e.to_string())?;
    let (b, (a50, amax), (i50, i99)) =
        super::beside_inbox(&db, &so, |c| crate::analytics::of_entity(c, &entity, period).map_err(|e| e.to_string()))?;
    if b.figures.moved == 0 {
        return Err("the analytics found no stays".into());
    }
    out.push_str(&format!(
        "bottlenecks of MOITT for {} to {} ({} stays ended, {} desks, {} files held): p50 {a50:.0} ms, max of 5 {amax:.0} ms\n",
        period.from,
        period.to,
        b.figures.moved,
        b.sections.iter().map(|s| s.desks.len()).sum::<usize>(),
        b.figures.held_files,
    ));
    out.push_str(&format!("inbox (first 50), same run:  p50 {i50:.2} ms, p99 {i99:.2} ms\n"));
    out.push_str(&format!("analytics p50 ÷ inbox p50: {:.0}\n", a50 / i50));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}
