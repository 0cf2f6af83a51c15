//! The one sight, held to one answer: for random users (clearances, current,
//! past, future, acting and additional-charge assignments, auditor roles)
//! and random files and receipts (moved around over months), the predicate
//! `Sight::sees` and the SQL filter of `store::sight` agree on every pair,
//! on both backends. The seed is printed on failure; set
//! `DAFTAR_SIGHT_SEED` to replay it.

use std::collections::{BTreeSet, HashMap};

use daftar::domain::access::{Held, Sight, Stay, Subject, Viewer, may_see};
use daftar::domain::org::{Clearance, Role};
use daftar::store::schema::{
    concurrences, file_routes, files, org_units, posts, receipts, stays, users, workflow_versions,
};
use daftar::store::{Db, DbConn, new_id, now_micros};
use diesel::prelude::*;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{fresh_db, my_post, spawn_app};

const DAY: i64 = 86_400_000_000;

/// A small seeded generator (PCG-style LCG): the same seed, the same world.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n.max(1)
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

struct Post {
    id: String,
    unit: String,
    entity: Option<String>,
}

fn demo_posts(c: &mut DbConn) -> Vec<Post> {
    let rows: Vec<(String, String, Option<String>)> = posts::table
        .inner_join(org_units::table)
        .select((posts::id, posts::org_unit_id, org_units::entity_id))
        .load(c)
        .unwrap();
    rows.into_iter().map(|(id, unit, entity)| Post { id, unit, entity }).collect()
}

/// Random stays over the last 200 days, each ending when the next begins.
fn random_stays(rng: &mut Rng, posts: &[Post], now: i64) -> Vec<Stay> {
    let mut t = now - rng.below(200) as i64 * DAY - rng.below(DAY as u64) as i64;
    let mut out: Vec<Stay> = Vec::new();
    for _ in 0..1 + rng.below(5) {
        if let Some(last) = out.last_mut() {
            last.until = Some(t);
        }
        out.push(Stay { post_id: rng.pick(posts).id.clone(), from: t, until: None });
        t += 1 + rng.below(30 * DAY as u64) as i64;
        if t >= now {
            break;
        }
    }
    out
}

fn insert_stays(c: &mut DbConn, object: &str, kind: &str, list: &[Stay]) {
    for s in list {
        diesel::insert_into(stays::table)
            .values((
                stays::id.eq(new_id()),
                stays::object_id.eq(object),
                stays::kind.eq(kind),
                stays::post_id.eq(&s.post_id),
                stays::from_at.eq(s.from),
                stays::until_at.eq(s.until),
            ))
            .execute(c)
            .unwrap();
    }
}

fn random_viewer(rng: &mut Rng, posts: &[Post], entities: &[String], now: i64) -> Viewer {
    let mut held = Vec::new();
    for i in 0..rng.below(5) {
        let p = rng.pick(posts);
        // Starts from 250 days ago to 20 days ahead; open-ended or not.
        let from = now - 250 * DAY + rng.below(270) as i64 * DAY;
        let until = (rng.below(3) > 0).then(|| from + (1 + rng.below(120) as i64) * DAY);
        held.push(Held {
            post_id: p.id.clone(),
            org_unit_id: p.unit.clone(),
            entity_id: p.entity.clone(),
            from,
            until,
            primary: i == 0,
        });
    }
    let mut roles = Vec::new();
    if rng.below(6) == 0 {
        roles.push((Role::Auditor, Some(rng.pick(entities).clone())));
    }
    if rng.below(10) == 0 {
        roles.push((Role::Compliance, None));
    }
    Viewer { user_id: new_id(), clearance: *rng.pick(Clearance::ALL), roles, held }
}

both_backends!(predicate_and_sql_filter_agree_on_every_pair, |backend| {
    let Some(t) = fresh_db(backend) else { return };
    let db = Db::connect(&t.url, 2, "NORMAL").unwrap();
    db.migrate().unwrap();
    let ca = daftar::pki::Ca::init(t.dir.path(), "Test").unwrap();
    daftar::demo::seed(&db, &ca, &daftar::signing::keys::PinWrap::load_or_create(t.dir.path()).unwrap()).unwrap();
    let seed: u64 =
        std::env::var("DAFTAR_SIGHT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| now_micros() as u64);
    let mut rng = Rng(seed);
    let mut c = db.writer().unwrap();
    let c: &mut DbConn = &mut c;
    let posts = demo_posts(c);
    let mut entities: Vec<String> = posts.iter().filter_map(|p| p.entity.clone()).collect();
    entities.sort();
    entities.dedup();
    let unit_of: HashMap<&str, (&str, Option<&str>)> =
        posts.iter().map(|p| (p.id.as_str(), (p.unit.as_str(), p.entity.as_deref()))).collect();
    let user: String = users::table.select(users::id).first(c).unwrap();
    let now = now_micros();

    // Files and receipts, with their subjects as the policy sees them; half
    // the files on a workflow step waiting on their holder (or, a few,
    // forwarded away from it), some with a concurrence asked of a random
    // desk, which sees the file while consulted.
    let mut subjects: Vec<(String, &str, Subject)> = Vec::new();
    let mut waiting: Vec<(String, String, bool)> = Vec::new();
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/workflows/secretariat-noting.toml")).unwrap();
    diesel::insert_into(workflow_versions::table)
        .values((
            workflow_versions::hash.eq("h"),
            workflow_versions::workflow_id.eq("secretariat-noting"),
            workflow_versions::definition.eq(&text),
            workflow_versions::created_at.eq(now),
        ))
        .execute(c)
        .unwrap();
    c.transaction(|c| {
        for i in 0..150 {
            let list = random_stays(&mut rng, &posts, now);
            let section = rng.pick(&posts);
            let class = *rng.pick(Clearance::ALL);
            let (first, last) = (list[0].clone(), list.last().unwrap().clone());
            let id = new_id();
            diesel::insert_into(files::table)
                .values((
                    files::id.eq(&id),
                    files::file_no.eq(format!("No. T-{i}/2026-TEST")),
                    files::head.eq("T"),
                    files::serial.eq(i as i64),
                    files::year.eq(2026),
                    files::subject.eq("random"),
                    files::classification.eq(class.as_str()),
                    files::priority.eq("routine"),
                    files::urgency.eq(0),
                    files::status.eq("open"),
                    files::section_id.eq(&section.unit),
                    files::entity_id.eq(&section.entity),
                    files::created_by_post.eq(&first.post_id),
                    files::created_by_user.eq(&user),
                    files::holder_post_id.eq(&last.post_id),
                    files::held_since.eq(last.from),
                    files::next_note_seq.eq(1i64),
                    files::next_move_seq.eq(1i64),
                    files::version.eq(1i64),
                    files::created_at.eq(first.from),
                    files::updated_at.eq(last.from),
                ))
                .execute(c)?;
            insert_stays(c, &id, "file", &list);
            let mut list = list;
            if rng.below(2) == 0 {
                let decider = if rng.below(5) == 0 { rng.pick(&posts).id.clone() } else { last.post_id.clone() };
                diesel::update(files::table.find(&id)).set(files::workflow_id.eq("secretariat-noting")).execute(c)?;
                diesel::insert_into(file_routes::table)
                    .values((
                        file_routes::file_id.eq(&id),
                        file_routes::workflow_id.eq("secretariat-noting"),
                        file_routes::hash.eq("h"),
                        file_routes::fields.eq("{}"),
                        file_routes::state.eq("step"),
                        file_routes::step.eq(0),
                        file_routes::post_id.eq(&decider),
                        file_routes::step_since.eq(last.from),
                        file_routes::step_due_at.eq(last.from + 2 * DAY),
                        file_routes::entry.eq(1i64),
                    ))
                    .execute(c)?;
                waiting.push((id.clone(), decider.clone(), decider == last.post_id));
                if rng.below(3) == 0 {
                    let asked = rng.pick(&posts).id.clone();
                    let consult = Stay { post_id: asked.clone(), from: now - DAY, until: None };
                    insert_stays(c, &id, "consult", std::slice::from_ref(&consult));
                    diesel::insert_into(concurrences::table)
                        .values((
                            concurrences::id.eq(new_id()),
                            concurrences::file_id.eq(&id),
                            concurrences::step_entry.eq(1i64),
                            concurrences::step.eq(0),
                            concurrences::entity_code.eq("FIN"),
                            concurrences::post_id.eq(&asked),
                            concurrences::status.eq("pending"),
                            concurrences::asked_at.eq(now - DAY),
                            concurrences::due_at.eq(now + DAY),
                        ))
                        .execute(c)?;
                    waiting.push((id.clone(), asked, true));
                    list.push(consult);
                }
            }
            let subject = Subject {
                classification: class,
                owning_unit_id: section.unit.clone(),
                owning_entity_id: section.entity.clone(),
                holder_post_id: Some(last.post_id.clone()),
                stays: list,
            };
            subjects.push((id, "file", subject));
        }
        for i in 0..60 {
            let list = random_stays(&mut rng, &posts, now);
            let class = *rng.pick(Clearance::ALL);
            let (first, last) = (list[0].clone(), list.last().unwrap().clone());
            let (registry_unit, entity) = unit_of[first.post_id.as_str()];
            let Some(entity) = entity else { continue };
            let id = new_id();
            diesel::insert_into(receipts::table)
                .values((
                    receipts::id.eq(&id),
                    receipts::diary_no.eq(format!("TEST/R/2026/{i:05}")),
                    receipts::entity_id.eq(entity),
                    receipts::subject.eq("random"),
                    receipts::sender.eq("someone"),
                    receipts::mode.eq("post"),
                    receipts::form.eq("physical"),
                    receipts::classification.eq(class.as_str()),
                    receipts::priority.eq("routine"),
                    receipts::urgency.eq(0),
                    receipts::status.eq("open"),
                    receipts::created_by_post.eq(&first.post_id),
                    receipts::created_by_user.eq(&user),
                    receipts::holder_post_id.eq(&last.post_id),
                    receipts::held_since.eq(last.from),
                    receipts::next_move_seq.eq(1i64),
                    receipts::version.eq(1i64),
                    receipts::created_at.eq(first.from),
                ))
                .execute(c)?;
            insert_stays(c, &id, "receipt", &list);
            let subject = Subject {
                classification: class,
                owning_unit_id: registry_unit.to_owned(),
                owning_entity_id: Some(entity.to_owned()),
                holder_post_id: Some(last.post_id.clone()),
                stays: list,
            };
            subjects.push((id, "receipt", subject));
        }
        Ok::<_, diesel::result::Error>(())
    })
    .unwrap();

    // The search index of the same world, built as a server builds it.
    let index_dir = tempfile::tempdir().unwrap();
    let index = daftar::search::Search::open(index_dir.path()).unwrap();
    daftar::search::indexer::build_all(&db, &index).unwrap();

    let mut pairs = 0;
    let mut visible_pairs = 0;
    let mut queued = 0;
    for _ in 0..70 {
        let viewer = random_viewer(&mut rng, &posts, &entities, now);
        let sight = Sight::of(&viewer, now);
        // The approval queue: exactly the waiting files the viewer sees,
        // waiting on a desk the viewer holds now (on that desk or not).
        let actor = daftar::efile::Actor { viewer: &viewer, post: None };
        let (items, _) = daftar::workflow::queue::queue(c, &actor, 0, 100_000).unwrap();
        let got: BTreeSet<String> = items.iter().map(|i| i.file_id.clone()).collect();
        let sees = |id: &str| subjects.iter().any(|(s, _, subject)| s == id && sight.sees(subject));
        let want: BTreeSet<String> = waiting
            .iter()
            .filter(|(id, post, _)| viewer.holds(post, now) && sees(id))
            .map(|(id, _, _)| id.clone())
            .collect();
        assert_eq!(got, want, "seed {seed} ({backend:?}): the queue of {viewer:?}");
        queued += got.len();
        // Search: every item matches `random`; the hits, and `total`, are
        // exactly the items the predicate shows.
        let params = daftar::search::query::Params { q: "random".into(), limit: 1000, ..Default::default() };
        let found = daftar::search::query::search(&index, c, &sight, &params).unwrap();
        let hits: BTreeSet<String> =
            found.items.iter().map(|h| h.file_id.clone().or_else(|| h.receipt_id.clone()).unwrap()).collect();
        let visible: BTreeSet<String> =
            subjects.iter().filter(|(_, _, subject)| sight.sees(subject)).map(|(id, _, _)| id.clone()).collect();
        assert_eq!(hits, visible, "seed {seed} ({backend:?}): search for {viewer:?}");
        assert_eq!(found.total, visible.len(), "seed {seed}: total counts only visible hits");
        let by_sql: BTreeSet<String> = files::table
            .filter(daftar::store::sight::files(&sight))
            .select(files::id)
            .load::<String>(c)
            .unwrap()
            .into_iter()
            .chain(receipts::table.filter(daftar::store::sight::receipts(&sight)).select(receipts::id).load(c).unwrap())
            .collect();
        for (id, kind, subject) in &subjects {
            pairs += 1;
            let predicate = sight.sees(subject);
            assert_eq!(predicate, may_see(&viewer, subject, now), "seed {seed}");
            visible_pairs += predicate as usize;
            assert_eq!(
                predicate,
                by_sql.contains(id),
                "seed {seed} ({backend:?}): the predicate says {predicate} for {kind} {id}, SQL disagrees\n\
                 viewer: {viewer:?}\nsubject: {subject:?}"
            );
        }
    }
    assert!(pairs >= 10_000, "{pairs} pairs");
    assert!(queued > 0, "seed {seed}: no queue had anything in it");
    // The world is not degenerate: some pairs are visible and most are not.
    assert!(visible_pairs > 100 && visible_pairs < pairs / 2, "seed {seed}: {visible_pairs} of {pairs} visible");
});

both_backends!(moves_record_the_stays_the_history_implies, |backend| {
    // Through the API: create, forward, return, refer, recall; then every
    // file's stays are exactly what its movements say.
    let Some(app) = spawn_app(backend) else { return };
    let so = app.login("so.moitt");
    let ds = app.login("ds.moitt");
    let ds_post = my_post(&app, &ds);
    let mut ids = Vec::new();
    for i in 0..4 {
        let f = app.post_as(&so, "/api/v1/files", &json!({"subject": format!("Stays {i}")}));
        assert_eq!(f.status, 201, "{}", f.text);
        let id = f.body["id"].as_str().unwrap().to_owned();
        if i > 0 {
            let r = app.post_as(
                &so,
                &format!("/api/v1/files/{id}/movements"),
                &json!({"action": "forward", "to_post_id": ds_post}),
            );
            assert_eq!(r.status, 201, "{}", r.text);
        }
        if i > 1 {
            let r = app.post_as(&ds, &format!("/api/v1/files/{id}/movements"), &json!({"action": "return"}));
            assert_eq!(r.status, 201, "{}", r.text);
        }
        if i > 2 {
            let r = app.post_as(
                &so,
                &format!("/api/v1/files/{id}/movements"),
                &json!({"action": "forward", "to_post_id": ds_post}),
            );
            assert_eq!(r.status, 201, "{}", r.text);
            let r = app.post_as(&so, &format!("/api/v1/files/{id}/movements"), &json!({"action": "recall"}));
            assert_eq!(r.status, 201, "{}", r.text);
        }
        ids.push(id);
    }
    use daftar::store::schema::movements as mv;
    let mut c = app.db.reader().unwrap();
    for id in &ids {
        let (creator, created): (String, i64) =
            files::table.find(id).select((files::created_by_post, files::created_at)).first(&mut c).unwrap();
        let moves: Vec<(Option<String>, i64)> = mv::table
            .filter(mv::file_id.eq(id))
            .filter(mv::to_post_id.is_not_null())
            .order(mv::seq)
            .select((mv::to_post_id, mv::sent_at))
            .load(&mut c)
            .unwrap();
        let mut expected = vec![(creator, created, None::<i64>)];
        for (to, at) in moves {
            expected.last_mut().unwrap().2 = Some(at);
            expected.push((to.unwrap(), at, None));
        }
        let stored: Vec<(String, i64, Option<i64>)> = stays::table
            .filter(stays::object_id.eq(id))
            .order(stays::from_at)
            .select((stays::post_id, stays::from_at, stays::until_at))
            .load(&mut c)
            .unwrap();
        assert_eq!(stored, expected, "file {id}");
    }
    assert_eq!(ids.len(), 4);
});
