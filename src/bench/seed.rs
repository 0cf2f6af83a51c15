//! `daftar bench seed --scale N`: a synthetic government shaped like the
//! demo one, written through the same domain code as the API (checks,
//! signatures and ledger included), batched inside the domain's own
//! transactions. At scale 1: 40 ministries, 10,000 officers, 200,000 files,
//! 2,000,000 signed notes, 6,000,000 signed movements and 200,000 receipts.
//!
//! Each ministry has sections of ten desks (eight section officers, a deputy
//! and a joint secretary), one officer each, with a server-mode key under
//! the demo PIN. Each file is opened at a desk and moved thirty times round
//! its section, a signed note with every third move; each file has one
//! letter, diarised by the ministry's registry desk, sent to the section and
//! put up in the file.

use std::time::Instant;

use super::Officer;
use crate::efile;
use crate::pki::Ca;
use crate::signing::keys::PinWrap;
use crate::signing::pin::Opened;
use crate::store::Db;

/// Desks per section.
const DESKS: usize = 10;
/// Movements per file, and a note with every `NOTE_EVERY`th.
const MOVES: usize = 30;
const NOTE_EVERY: usize = 3;
/// Files written per transaction.
const FILES_PER_TX: usize = 10;
/// Connections seeding at once on PostgreSQL (at most the pool's size).
const SEED_CONNECTIONS: usize = 4;

/// What a scale means.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Ministries.
    pub entities: usize,
    /// Sections per ministry.
    pub sections: usize,
    /// Files per section.
    pub files_per_section: usize,
}

impl Shape {
    /// The shape of scale `scale` (1.0: the whole federal government).
    pub fn of(scale: f64) -> Shape {
        let scale = scale.max(0.0);
        let entities = ((40.0 * scale).round() as usize).max(1);
        let officers = 10_000.0 * scale / entities as f64;
        let sections = ((officers / DESKS as f64).round() as usize).max(1);
        let files = 200_000.0 * scale / (entities * sections) as f64;
        Shape { entities, sections, files_per_section: files.round() as usize }
    }

    /// Officers in all.
    pub fn officers(&self) -> usize {
        self.entities * self.sections * DESKS
    }

    /// Files in all.
    pub fn files(&self) -> usize {
        self.entities * self.sections * self.files_per_section
    }
}

/// What was written.
pub struct Seeded {
    /// The shape.
    pub shape: Shape,
    /// Seconds spent on the org chart and keys, and on the files.
    pub org_secs: f64,
    /// Seconds spent on files, notes, movements and receipts.
    pub files_secs: f64,
    /// The desks, by ministry and section.
    pub(super) desks: Vec<Vec<Vec<Desk>>>,
}

/// One desk: its officer, and the officer's key opened with the PIN.
pub(super) struct Desk {
    /// The officer.
    pub(super) officer: Officer,
    /// The key, open (as after a PIN).
    pub(super) open: crate::signing::keys::OpenKey,
}

impl Desk {
    fn opened(&self) -> Opened {
        Opened { key: self.officer.key.clone(), open: self.open.clone(), by_pin: true }
    }
}

/// The org chart of `shape`, in the format of `daftar org import`; every
/// password is the demo one (one hash for all: seeding is not about argon2id).
fn chart(shape: Shape) -> String {
    use std::fmt::Write;
    let hash = crate::auth::password::hash_password(crate::demo::PASSWORD);
    let mut t = String::new();
    for e in 0..shape.entities {
        let m = format!("BENCH-M{e:02}");
        let _ = writeln!(
            t,
            "[[unit]]\ncode = \"{m}\"\nname = \"Ministry {e} (benchmark)\"\nkind = \"ministry\"\nparent = \"GOP\"\n"
        );
        for s in 0..shape.sections {
            let sec = format!("{m}-S{s:03}");
            let _ = writeln!(
                t,
                "[[unit]]\ncode = \"{sec}\"\nname = \"Section {s}, ministry {e}\"\nkind = \"section\"\nparent = \"{m}\"\n"
            );
            for d in 0..DESKS {
                let (designation, title) = match d {
                    9 => ("joint_secretary", "Joint Secretary"),
                    8 => ("deputy_secretary", "Deputy Secretary"),
                    _ => ("section_officer", "Section Officer"),
                };
                let post = format!("{sec}/D{d}");
                let _ = writeln!(
                    t,
                    "[[post]]\ncode = \"{post}\"\nunit = \"{sec}\"\ndesignation = \"{designation}\"\ntitle = \"{title} {d}, section {s}, ministry {e}\"\n"
                );
                // The first section's first desk is the ministry's registry.
                let roles = if s == 0 && d == 0 { format!("[\"registry:{m}\"]") } else { "[]".into() };
                let _ = writeln!(
                    t,
                    "[[user]]\nusername = \"b.m{e}.s{s}.d{d}\"\nname = \"Officer {d} of section {s}, ministry {e}\"\n\
                     clearance = \"confidential\"\npassword_hash = \"{hash}\"\nroles = {roles}\nposts = [\"{post}\"]\n"
                );
            }
        }
    }
    t
}

/// Seeds `shape` into `db` (which already holds the demo government);
/// `progress` is told how far it has got.
pub fn government(
    db: &Db,
    ca: &Ca,
    wrap: &PinWrap,
    shape: Shape,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Seeded, String> {
    let started = Instant::now();
    crate::org::import::import_str(db, "bench seed", &chart(shape)).map_err(|e| e.to_string())?;
    // Keys, sealed under the demo PIN and certified by the CA.
    let users: Vec<String> = {
        use crate::store::schema::users;
        use diesel::prelude::*;
        let mut c = db.reader().map_err(|e| e.to_string())?;
        users::table.filter(users::username.like("b.m%")).select(users::id).load(&mut *c).map_err(|e| e.to_string())?
    };
    for chunk in users.chunks(500) {
        let keys = chunk
            .iter()
            .map(|_| crate::signing::keys::new_server_key(wrap, crate::demo::PIN).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        db.write_tx(|c| {
            for (id, key) in chunk.iter().zip(keys) {
                crate::signing::keys::enrol(c, ca, id, key)?;
            }
            Ok::<_, crate::signing::SignError>(())
        })
        .map_err(|e| e.to_string())?;
    }
    let desks = desks_of(db, wrap, shape)?;
    let org_secs = started.elapsed().as_secs_f64();
    progress(&format!("org chart: {} officers with keys in {org_secs:.1} s", shape.officers()));

    let started = Instant::now();
    let since = crate::store::now_micros();
    // PostgreSQL answers each statement over a round trip, so one writer
    // leaves it mostly idle: sections are seeded on several connections at
    // once. SQLite has one writer, kept busy by one thread.
    let threads = SEED_CONNECTIONS.min(db.writers());
    let sections: Vec<(usize, usize)> =
        (0..shape.entities).flat_map(|e| (0..shape.sections).map(move |s| (e, s))).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let forget_mail = std::sync::Mutex::new(());
    let seed_sections = || -> Result<(), String> {
        use std::sync::atomic::Ordering::Relaxed;
        while let Some(&(e, s)) = sections.get(next.fetch_add(1, Relaxed)) {
            let section = &desks[e][s];
            let mut n = 0;
            while n < shape.files_per_section {
                let batch = FILES_PER_TX.min(shape.files_per_section - n);
                db.write_tx(|c| {
                    let moved = (n..n + batch)
                        .map(|i| one_file(c, section, e, s, i).map(|held| (i, held)))
                        .collect::<Result<Vec<_>, _>>()?;
                    // The letters last: the ministry's diary number is one
                    // counter, locked from its first use to the commit.
                    for (i, (file, at)) in moved {
                        one_letter(c, &desks[e][0][0], section, e, s, i, file, at)?;
                    }
                    Ok::<_, efile::EfileError>(())
                })
                .map_err(|err| format!("seeding ministry {e} section {s}: {err}"))?;
                // The seeded history's emails count as sent long ago (one
                // deleter at a time: on PostgreSQL two deleting the same
                // rows would wait on each other, or deadlock);
                // its search indexing is left for the server to do.
                {
                    use crate::store::schema::jobs;
                    use diesel::prelude::*;
                    let _one = forget_mail.lock().unwrap_or_else(|p| p.into_inner());
                    db.write_tx(|c| {
                        diesel::delete(jobs::table.filter(jobs::kind.like("mail.%")).filter(jobs::created_at.ge(since)))
                            .execute(c)
                            .map_err(crate::store::StoreError::from)
                    })
                    .map_err(|err| err.to_string())?;
                }
                n += batch;
            }
            let total = done.fetch_add(shape.files_per_section, Relaxed) + shape.files_per_section;
            let sections_done = total / shape.files_per_section.max(1);
            if total == shape.files() || sections_done % 10 == 0 {
                let secs = started.elapsed().as_secs_f64();
                progress(&format!(
                    "files: {total} of {} ({:.0} files/s, {:.0} movements/s)",
                    shape.files(),
                    total as f64 / secs,
                    (total * (MOVES + 2)) as f64 / secs
                ));
            }
        }
        Ok(())
    };
    // A thread that fails stops the others after their current section.
    let seed_or_stop = || {
        let seeded = seed_sections();
        if seeded.is_err() {
            next.store(sections.len(), std::sync::atomic::Ordering::Relaxed);
        }
        seeded
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads).map(|_| scope.spawn(seed_or_stop)).collect();
        workers.into_iter().try_for_each(|w| w.join().unwrap_or_else(|_| Err("a seeding thread panicked".into())))
    })?;
    // As after any bulk load: PostgreSQL plans the server's first queries
    // (the sealer's, say) from statistics, which nothing has gathered yet
    // where autovacuum is off or has not come round.
    if let crate::store::DbConn::Postgres(pg) = &mut *db.writer().map_err(|e| e.to_string())? {
        use diesel::RunQueryDsl;
        diesel::sql_query("ANALYZE").execute(pg).map_err(|e| e.to_string())?;
    }
    Ok(Seeded { shape, org_secs, files_secs: started.elapsed().as_secs_f64(), desks })
}

/// The desks of `shape`, as seeded: each officer loaded, their key opened
/// with the demo PIN.
fn desks_of(db: &Db, wrap: &PinWrap, shape: Shape) -> Result<Vec<Vec<Vec<Desk>>>, String> {
    (0..shape.entities)
        .map(|e| {
            (0..shape.sections)
                .map(|s| {
                    (0..DESKS)
                        .map(|d| {
                            let officer = Officer::load(db, &format!("b.m{e}.s{s}.d{d}"))?;
                            let open = crate::signing::keys::unseal(wrap, &officer.key, crate::demo::PIN)
                                .map_err(|e| e.to_string())?
                                .ok_or("the demo PIN does not open a seeded key")?;
                            Ok(Desk { officer, open })
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// The government an earlier `bench seed` wrote into `db`, read back (its
/// shape from the org chart and the files it holds), so that a long seed
/// serves several runs. None if it holds none.
pub fn read_back(db: &Db, wrap: &PinWrap) -> Result<Option<Seeded>, String> {
    use crate::store::schema::{files, org_units};
    use diesel::dsl::count_star;
    use diesel::prelude::*;
    let started = Instant::now();
    let (entities, sections, seeded_files) = {
        let mut c = db.reader().map_err(|e| e.to_string())?;
        let units = |kind: &str, c: &mut crate::store::DbConn| {
            org_units::table
                .filter(org_units::code.like("BENCH-M%"))
                .filter(org_units::kind.eq(kind.to_owned()))
                .select(count_star())
                .first::<i64>(c)
        };
        let entities = units("ministry", &mut c).map_err(|e| e.to_string())? as usize;
        let sections = units("section", &mut c).map_err(|e| e.to_string())? as usize;
        let seeded_files: i64 = files::table
            .filter(files::subject.like("Proposal % of section %, ministry %"))
            .select(count_star())
            .first(&mut *c)
            .map_err(|e| e.to_string())?;
        (entities, sections, seeded_files as usize)
    };
    if entities == 0 {
        return Ok(None);
    }
    let sections = sections / entities;
    let shape = Shape { entities, sections, files_per_section: seeded_files / (entities * sections).max(1) };
    let desks = desks_of(db, wrap, shape)?;
    Ok(Some(Seeded { shape, org_secs: started.elapsed().as_secs_f64(), files_secs: 0.0, desks }))
}

/// File `i` of a section: opened at a desk, moved round the section with a
/// signed note every third move, each move signed. Returns the file and
/// the desk (index into `section`) that holds it at the end.
fn one_file(
    c: &mut crate::store::DbConn,
    section: &[Desk],
    e: usize,
    s: usize,
    i: usize,
) -> Result<(String, usize), efile::EfileError> {
    let first = i % (DESKS - 2);
    let new = efile::file::NewFile {
        subject: format!("Proposal {i} of section {s}, ministry {e}: {}", SUBJECTS[i % SUBJECTS.len()]),
        classification: None,
        priority: None,
        workflow: None,
        section_id: None,
        head: None,
    };
    let file = efile::file::create(c, &section[first].officer.actor(), new)?;
    let mut at = first;
    for j in 0..MOVES {
        let (me, next) = (&section[at], (at + 1 + j % 3) % DESKS);
        if j % NOTE_EVERY == 0 {
            let body = NOTES[(i + j) % NOTES.len()];
            let draft = efile::notes::add(c, &me.officer.actor(), &file, body)?;
            let opened = me.opened();
            let signature = crate::signing::notes::sign_note(c, &opened.key, Some(&opened.open), None, &draft.id)?;
            efile::notes::mark_signed(c, &me.officer.actor(), &file, &draft.id, signature)?;
        }
        let input = efile::movements::MoveInput {
            action: "forward".into(),
            to_post_id: Some(section[next].officer.post.clone()),
            remarks: Some("Please see".into()),
            due_at: None,
            priority: None,
        };
        let m = efile::movements::move_file(c, &me.officer.actor(), &file, input)?;
        crate::signing::movements::sign_movement(c, &me.officer.key, &me.open, &m.id)?;
        at = next;
    }
    Ok((file, at))
}

/// The letter of file `i`: diarised by the ministry's registry, sent to the
/// desk (`at`) holding the file and put up in it.
#[allow(clippy::too_many_arguments)]
fn one_letter(
    c: &mut crate::store::DbConn,
    registry: &Desk,
    section: &[Desk],
    e: usize,
    s: usize,
    i: usize,
    file: String,
    at: usize,
) -> Result<(), efile::EfileError> {
    let letter = efile::receipts::NewReceipt {
        subject: format!("Letter about proposal {i}"),
        sender: "Planning Commission".into(),
        letter_no: Some(format!("PC/{e}/{s}/{i}")),
        letter_date: None,
        mode: "post".into(),
        classification: None,
        priority: None,
        external: Some(false),
    };
    let receipt = efile::receipts::diarise(c, &registry.officer.actor(), letter, None)?.id;
    let send = efile::receipts::ReceiptMove {
        action: "forward".into(),
        to_post_id: Some(section[at].officer.post.clone()),
        file_id: None,
        remarks: None,
        due_at: None,
        priority: None,
    };
    // (The registry desk may itself hold the file: then it puts the letter up.)
    if registry.officer.post != section[at].officer.post {
        efile::receipts::move_receipt(c, &registry.officer.actor(), &receipt, send)?;
    }
    let put_up = efile::receipts::ReceiptMove {
        action: "put_up".into(),
        to_post_id: None,
        file_id: Some(file),
        remarks: None,
        due_at: None,
        priority: None,
    };
    efile::receipts::move_receipt(c, &section[at].officer.actor(), &receipt, put_up)?;
    Ok(())
}

const SUBJECTS: [&str; 6] = [
    "procurement of servers for the data centre",
    "revision of the telecom licensing fee",
    "broadband for rural schools",
    "annual budget of the e-Office cell",
    "training of officers in e-filing",
    "cyber security audit of the ministry's portals",
];

const NOTES: [&str; 5] = [
    "Examined the proposal; the figures agree with the budget. Submitted for orders.",
    "The Finance Division's concurrence may be obtained before approval.",
    "Approved as proposed. Issue the sanction.",
    "Please put up the draft letter for signature.",
    "Discussed with the Joint Secretary; may be processed as suggested at para 2.",
];
