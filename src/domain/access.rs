//! The one access policy of SPEC section 2. Every path that shows or changes a
//! file, receipt or document (API, web, search, export, email) asks here.

use super::org::{Clearance, Role};

/// A post the user holds or held, with the dates of the assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The post.
    pub post_id: String,
    /// The org unit the post sits in.
    pub org_unit_id: String,
    /// The entity that unit belongs to.
    pub entity_id: Option<String>,
    /// First day held (µs at the civil midnight starting `starts_on`).
    pub from: i64,
    /// First moment no longer held (µs), if it has ended.
    pub until: Option<i64>,
    /// The user's primary post.
    pub primary: bool,
}

impl Held {
    /// Whether the assignment is in force at `t`.
    pub fn covers(&self, t: i64) -> bool {
        self.from <= t && self.until.is_none_or(|u| t < u)
    }

    /// Whether the assignment, as far as it has run by `now`, overlaps the
    /// interval `[from, until)`: a future assignment overlaps nothing yet.
    pub fn overlapped(&self, from: i64, until: Option<i64>, now: i64) -> bool {
        let mine_until = self.until.map_or(now, |u| u.min(now));
        let starts_before_end = self.from < mine_until && until.is_none_or(|u| self.from < u);
        starts_before_end && from < mine_until
    }
}

/// Who is asking: everything the policy needs to know about a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// The user.
    pub user_id: String,
    /// Their clearance.
    pub clearance: Clearance,
    /// Roles, with the entity each is scoped to.
    pub roles: Vec<(Role, Option<String>)>,
    /// Every assignment, past, present and future.
    pub held: Vec<Held>,
}

impl Viewer {
    /// Whether the user has `role` (for `entity`, if the role is entity-scoped).
    pub fn has_role(&self, role: Role, entity: Option<&str>) -> bool {
        role == Role::Officer
            || self.roles.iter().any(|(r, scope)| *r == role && (scope.is_none() || scope.as_deref() == entity))
    }

    /// Whether the user has any of `roles`, for any entity.
    pub fn has_any_role(&self, roles: &[Role]) -> bool {
        self.roles.iter().any(|(r, _)| roles.contains(r))
    }

    /// Whether the user holds `post_id` at time `now`.
    pub fn holds(&self, post_id: &str, now: i64) -> bool {
        self.held.iter().any(|h| h.post_id == post_id && h.covers(now))
    }

    /// The posts held at `now`, primary first.
    pub fn current_posts(&self, now: i64) -> Vec<&Held> {
        let mut posts: Vec<&Held> = self.held.iter().filter(|h| h.covers(now)).collect();
        posts.sort_by_key(|h| !h.primary);
        posts.dedup_by(|a, b| a.post_id == b.post_id);
        posts
    }
}

/// A period during which a file (or receipt) was with a post: created there,
/// marked to it, or referred to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stay {
    /// The post.
    pub post_id: String,
    /// When it arrived (µs).
    pub from: i64,
    /// When it left, if it has.
    pub until: Option<i64>,
}

/// What the policy needs to know about a file or receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Its classification.
    pub classification: Clearance,
    /// The section that owns it.
    pub owning_unit_id: String,
    /// The entity of that section.
    pub owning_entity_id: Option<String>,
    /// The post that holds it now.
    pub holder_post_id: Option<String>,
    /// Every post it has been with, and when.
    pub stays: Vec<Stay>,
}

/// A desk through which the viewer sees what passed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desk {
    /// The post.
    pub post_id: String,
    /// `None`: held now, so its whole history is visible (the inbox stays
    /// with the desk). `Some((from, until))`: held before, so only stays
    /// that overlap `[from, until)` are visible.
    pub window: Option<(i64, i64)>,
}

impl Desk {
    /// Whether a stay of something at this desk is visible through it.
    pub fn shows(&self, stay: &Stay) -> bool {
        stay.post_id == self.post_id
            && match self.window {
                None => true,
                Some((from, until)) => stay.from < until && stay.until.is_none_or(|u| from < u),
            }
    }
}

/// Everything a viewer may see at one moment (SPEC section 2), as one plain
/// description. Three forms are derived from it and nothing else: the
/// per-object predicate [`Sight::sees`], the SQL filter that list queries
/// use (`store::sight`), and the search index's filter. What they agree on
/// is tested, seeded and at random, on both backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sight {
    /// The viewer (whose own drafts they see).
    pub user_id: String,
    /// The highest classification they may see.
    pub ceiling: Clearance,
    /// Desks held now or before, deduplicated.
    pub desks: Vec<Desk>,
    /// Org units of the posts held now: their files are visible.
    pub units: Vec<String>,
    /// Entities whose files they audit.
    pub audited: Vec<String>,
}

impl Sight {
    /// What `viewer` may see at `now`.
    pub fn of(viewer: &Viewer, now: i64) -> Sight {
        let mut desks: Vec<Desk> = Vec::new();
        let mut units: Vec<String> = Vec::new();
        for h in &viewer.held {
            if h.covers(now) {
                desks.retain(|d| d.post_id != h.post_id);
                desks.push(Desk { post_id: h.post_id.clone(), window: None });
                if !units.contains(&h.org_unit_id) {
                    units.push(h.org_unit_id.clone());
                }
                continue;
            }
            // A past assignment, as far as it has run by now; a future one
            // (or one that ended before it began) shows nothing yet.
            let until = h.until.map_or(now, |u| u.min(now));
            let held_now = viewer.held.iter().any(|o| o.post_id == h.post_id && o.covers(now));
            if h.from < until && !held_now {
                desks.push(Desk { post_id: h.post_id.clone(), window: Some((h.from, until)) });
            }
        }
        let mut audited: Vec<String> =
            viewer.roles.iter().filter(|(r, _)| *r == Role::Auditor).filter_map(|(_, scope)| scope.clone()).collect();
        audited.sort();
        audited.dedup();
        Sight { user_id: viewer.user_id.clone(), ceiling: viewer.clearance, desks, units, audited }
    }

    /// The classifications visible, lowest first.
    pub fn classes(&self) -> Vec<Clearance> {
        Clearance::ALL.iter().copied().filter(|c| *c <= self.ceiling).collect()
    }

    /// Whether `subject` is visible: cleared for it, and a desk connection,
    /// the owning section, or the entity's auditor.
    pub fn sees(&self, subject: &Subject) -> bool {
        if self.ceiling < subject.classification {
            return false;
        }
        self.units.contains(&subject.owning_unit_id)
            || subject.owning_entity_id.as_ref().is_some_and(|e| self.audited.contains(e))
            || subject.stays.iter().any(|stay| self.desks.iter().any(|d| d.shows(stay)))
    }

    /// Whether a note on a visible file is visible: signed, or their own draft.
    pub fn sees_note(&self, signed: bool, author_user_id: &str) -> bool {
        signed || author_user_id == self.user_id
    }
}

/// Whether `viewer` may see `subject` at time `now` (SPEC section 2): cleared
/// for it, and a desk connection, the owning section, or the entity's auditor.
pub fn may_see(viewer: &Viewer, subject: &Subject, now: i64) -> bool {
    Sight::of(viewer, now).sees(subject)
}

/// Whether `viewer` may administer users and posts of `entity_id`: a
/// `sysadmin` anywhere, an `org_admin` only within their own entity.
pub fn may_administer(viewer: &Viewer, entity_id: Option<&str>) -> bool {
    viewer.roles.iter().any(|(r, scope)| {
        *r == Role::Sysadmin || (*r == Role::OrgAdmin && scope.is_some() && scope.as_deref() == entity_id)
    })
}

/// Whether `viewer` is an entity's administrative secretary at `now`:
/// holds one of its head posts (`head_posts`: secretary, director general,
/// chairman or managing director), regularly or on acting charge.
pub fn is_head(viewer: &Viewer, head_posts: &[String], now: i64) -> bool {
    viewer.held.iter().any(|h| h.covers(now) && head_posts.contains(&h.post_id))
}

/// Whether `viewer` may read an entity's compliance metrics and
/// certificates: the `compliance` role (every entity, never file contents),
/// the entity's `auditor`, or its administrative secretary.
pub fn may_see_compliance(viewer: &Viewer, entity_id: &str, head_posts: &[String], now: i64) -> bool {
    is_compliance_cell(viewer)
        || viewer.roles.iter().any(|(r, scope)| *r == Role::Auditor && scope.as_deref() == Some(entity_id))
        || is_head(viewer, head_posts, now)
}

/// Whether `viewer` is of MoITT's compliance cell (role `compliance`): every
/// entity's figures and certificates, the consolidated report, imports.
pub fn is_compliance_cell(viewer: &Viewer) -> bool {
    viewer.roles.iter().any(|(r, _)| *r == Role::Compliance)
}

/// Whether `viewer` may keep an entity's register of physical files: its
/// `registry` or `org_admin`, or a `sysadmin`.
pub fn may_keep_register(viewer: &Viewer, entity_id: &str) -> bool {
    may_administer(viewer, Some(entity_id))
        || viewer.roles.iter().any(|(r, scope)| *r == Role::Registry && scope.as_deref() == Some(entity_id))
}

/// Why an action was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// The caller may not even see it: answer exactly as for a missing id.
    NotFound,
    /// The caller sees it but does not hold it at the acting post.
    NotHolder,
}

/// Whether `viewer`, acting at `acting_post`, may note, sign, attach to or move
/// `subject`: only the current holder post may.
pub fn may_act(viewer: &Viewer, acting_post: &str, subject: &Subject, now: i64) -> Result<(), Denied> {
    if !may_see(viewer, subject, now) {
        return Err(Denied::NotFound);
    }
    let holds_acting = viewer.holds(acting_post, now);
    if holds_acting && subject.holder_post_id.as_deref() == Some(acting_post) { Ok(()) } else { Err(Denied::NotHolder) }
}

/// The post a request acts as: the one named (which must be held now), else the
/// primary post, else any post held now. `Err(())` if a named post is not held.
pub fn acting_post<'a>(viewer: &'a Viewer, requested: Option<&str>, now: i64) -> Result<Option<&'a Held>, ()> {
    let current = viewer.current_posts(now);
    match requested {
        Some(id) => current.into_iter().find(|h| h.post_id == id).map(Some).ok_or(()),
        None => Ok(current.into_iter().next()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000;
    const NOW: i64 = 100 * DAY;

    fn held(post: &str, unit: &str, from: i64, until: Option<i64>) -> Held {
        Held {
            post_id: post.into(),
            org_unit_id: unit.into(),
            entity_id: Some("MOITT".into()),
            from,
            until,
            primary: true,
        }
    }

    fn viewer(clearance: Clearance, held: Vec<Held>) -> Viewer {
        Viewer { user_id: "u".into(), clearance, roles: vec![], held }
    }

    fn file(classification: Clearance, stays: Vec<Stay>) -> Subject {
        Subject {
            classification,
            owning_unit_id: "IT(Admin)".into(),
            owning_entity_id: Some("MOITT".into()),
            holder_post_id: stays.last().map(|s| s.post_id.clone()),
            stays,
        }
    }

    fn stay(post: &str, from: i64, until: Option<i64>) -> Stay {
        Stay { post_id: post.into(), from, until }
    }

    #[test]
    fn the_owning_section_sees_its_files() {
        let so = viewer(Clearance::Restricted, vec![held("SO", "IT(Admin)", 0, None)]);
        let f = file(Clearance::Restricted, vec![stay("DS", 10, None)]);
        assert!(may_see(&so, &f, NOW));
    }

    #[test]
    fn clearance_is_never_exceeded() {
        let so = viewer(Clearance::Restricted, vec![held("SO", "IT(Admin)", 0, None)]);
        let f = file(Clearance::Secret, vec![stay("SO", 10, None)]);
        assert!(!may_see(&so, &f, NOW), "a restricted officer cannot see a secret file of their own section");
        assert_eq!(may_act(&so, "SO", &f, NOW), Err(Denied::NotFound));
    }

    #[test]
    fn another_ministry_sees_nothing() {
        let moc = viewer(Clearance::TopSecret, vec![held("MOC-SEC", "MOC", 0, None)]);
        let f = file(Clearance::Unclassified, vec![stay("SO", 10, Some(20)), stay("DS", 20, None)]);
        assert!(!may_see(&moc, &f, NOW));
    }

    #[test]
    fn desks_marked_or_referred_see_the_file() {
        let ds = viewer(Clearance::Confidential, vec![held("DS", "MOITT-ADMIN", 0, None)]);
        let f =
            file(Clearance::Restricted, vec![stay("SO", 10, Some(20)), stay("DS", 20, Some(30)), stay("SO", 30, None)]);
        assert!(may_see(&ds, &f, NOW), "still sees a file that was marked to the desk");
    }

    #[test]
    fn former_holders_see_only_what_passed_while_they_held_the_desk() {
        // Held DS from day 0 to day 50; now transferred away (holds nothing there).
        let former = viewer(Clearance::Secret, vec![held("DS", "MOITT-ADMIN", 0, Some(50 * DAY))]);
        let during = file(Clearance::Restricted, vec![stay("DS", 10 * DAY, Some(12 * DAY))]);
        let after = file(Clearance::Restricted, vec![stay("DS", 60 * DAY, None)]);
        assert!(may_see(&former, &during, NOW));
        assert!(!may_see(&former, &after, NOW));
        // Their successor at the desk sees both: the inbox stays with the desk.
        let successor = viewer(Clearance::Secret, vec![held("DS", "MOITT-ADMIN", 50 * DAY, None)]);
        assert!(may_see(&successor, &during, NOW));
        assert!(may_see(&successor, &after, NOW));
    }

    #[test]
    fn a_future_assignment_gives_nothing_yet() {
        let incoming = viewer(Clearance::Secret, vec![held("SO", "IT(Admin)", NOW + DAY, None)]);
        let f = file(Clearance::Restricted, vec![stay("JS", 10, None)]);
        assert!(!may_see(&incoming, &f, NOW));
        // Not even of the desk the file sits at now, nor of what passed it.
        let at_own_desk = file(Clearance::Restricted, vec![stay("SO", 10, Some(20)), stay("SO", 30, None)]);
        let elsewhere = viewer(Clearance::Secret, vec![held("SO", "IT(Cyber)", NOW + DAY, Some(NOW + 2 * DAY))]);
        assert!(!may_see(&elsewhere, &at_own_desk, NOW));
        assert!(may_see(&elsewhere, &at_own_desk, NOW + DAY + 1));
    }

    #[test]
    fn auditors_see_their_entity_only() {
        let mut a = viewer(Clearance::Secret, vec![]);
        a.roles.push((Role::Auditor, Some("MOITT".into())));
        let f = file(Clearance::Restricted, vec![stay("SO", 10, None)]);
        assert!(may_see(&a, &f, NOW));
        let mut other = f.clone();
        other.owning_entity_id = Some("MOC".into());
        assert!(!may_see(&a, &other, NOW));
        // Seeing is not acting.
        assert_eq!(may_act(&a, "SO", &f, NOW), Err(Denied::NotHolder));
    }

    #[test]
    fn roles_do_not_grant_sight_of_contents() {
        let mut c = viewer(Clearance::TopSecret, vec![]);
        c.roles.push((Role::Compliance, None));
        c.roles.push((Role::Sysadmin, None));
        let f = file(Clearance::Unclassified, vec![stay("SO", 10, None)]);
        assert!(!may_see(&c, &f, NOW));
    }

    #[test]
    fn only_the_holder_acts_and_only_at_that_post() {
        let mut so = viewer(Clearance::Restricted, vec![held("SO", "IT(Admin)", 0, None)]);
        so.held.push(Held { primary: false, ..held("SO2", "IT(Admin)", 0, None) });
        let f = file(Clearance::Restricted, vec![stay("SO", 10, None)]);
        assert_eq!(may_act(&so, "SO", &f, NOW), Ok(()));
        assert_eq!(may_act(&so, "SO2", &f, NOW), Err(Denied::NotHolder));
        assert_eq!(may_act(&so, "DS", &f, NOW), Err(Denied::NotHolder), "a post the user does not hold");
    }

    #[test]
    fn additional_charge_acts_only_for_its_dates() {
        let mut ds = viewer(Clearance::Confidential, vec![held("DS", "MOITT-ADMIN", 0, None)]);
        ds.held.push(Held { primary: false, ..held("JS", "MOITT-ADMIN", 90 * DAY, Some(95 * DAY)) });
        let f = file(Clearance::Restricted, vec![stay("JS", 91 * DAY, None)]);
        assert_eq!(may_act(&ds, "JS", &f, 92 * DAY), Ok(()));
        assert_eq!(may_act(&ds, "JS", &f, NOW), Err(Denied::NotHolder));
        assert!(acting_post(&ds, Some("JS"), NOW).is_err());
        assert_eq!(acting_post(&ds, Some("JS"), 92 * DAY).unwrap().unwrap().post_id, "JS");
        assert_eq!(acting_post(&ds, None, 92 * DAY).unwrap().unwrap().post_id, "DS", "primary by default");
    }

    #[test]
    fn administration_is_scoped_to_the_entity() {
        let mut a = viewer(Clearance::Secret, vec![]);
        assert!(!may_administer(&a, Some("MOC")));
        a.roles.push((Role::OrgAdmin, Some("MOC".into())));
        assert!(may_administer(&a, Some("MOC")));
        assert!(!may_administer(&a, Some("MOITT")));
        assert!(!may_administer(&a, None), "only a sysadmin creates entities");
        a.roles.push((Role::Sysadmin, None));
        assert!(may_administer(&a, Some("MOITT")) && may_administer(&a, None));
    }

    #[test]
    fn scoped_roles() {
        let mut r = viewer(Clearance::Restricted, vec![]);
        r.roles.push((Role::Registry, Some("MOITT".into())));
        assert!(r.has_role(Role::Registry, Some("MOITT")));
        assert!(!r.has_role(Role::Registry, Some("MOC")));
        assert!(r.has_role(Role::Officer, None));
        assert!(!r.has_role(Role::Sysadmin, None));
    }

    /// The rule as SPEC section 2 words it, stay by stay and assignment by
    /// assignment: `Sight` must decide exactly as this does.
    fn spec_rule(viewer: &Viewer, subject: &Subject, now: i64) -> bool {
        if viewer.clearance < subject.classification {
            return false;
        }
        let desk = subject.stays.iter().any(|stay| {
            viewer
                .held
                .iter()
                .any(|h| h.post_id == stay.post_id && (h.covers(now) || h.overlapped(stay.from, stay.until, now)))
        });
        let section = viewer.held.iter().any(|h| h.covers(now) && h.org_unit_id == subject.owning_unit_id);
        let auditor = subject
            .owning_entity_id
            .as_deref()
            .is_some_and(|e| viewer.roles.iter().any(|(r, scope)| *r == Role::Auditor && scope.as_deref() == Some(e)));
        desk || section || auditor
    }

    #[test]
    fn sight_decides_as_the_spec_words_it() {
        // A small deterministic generator: the same cases every run.
        let mut seed: u64 = 0x5eed_d0f7;
        let mut next = |n: u64| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let posts = ["SO", "DS", "JS", "SEC", "SO2"];
        let units = ["IT(Admin)", "MOITT-ADMIN", "MOC"];
        for _ in 0..20_000 {
            let mut v = viewer(Clearance::ALL[next(5) as usize], vec![]);
            for _ in 0..next(4) {
                let from = next(120) as i64 * DAY;
                let until = (next(3) > 0).then(|| from + (1 + next(60) as i64) * DAY);
                let mut h = held(posts[next(5) as usize], units[next(3) as usize], from, until);
                h.primary = false;
                v.held.push(h);
            }
            if next(6) == 0 {
                v.roles.push((Role::Auditor, Some(["MOITT", "MOC"][next(2) as usize].into())));
            }
            let mut t = next(100) as i64 * DAY;
            let mut stays = Vec::new();
            for _ in 0..1 + next(4) {
                let until = t + (1 + next(20) as i64) * DAY;
                stays.push(stay(posts[next(5) as usize], t, Some(until)));
                t = until;
            }
            if let Some(last) = stays.last_mut() {
                last.until = None;
            }
            let mut f = file(Clearance::ALL[next(5) as usize], stays);
            f.owning_unit_id = units[next(3) as usize].into();
            f.owning_entity_id = Some(["MOITT", "MOC"][next(2) as usize].into());
            assert_eq!(may_see(&v, &f, NOW), spec_rule(&v, &f, NOW), "{v:?}\n{f:?}");
        }
    }
}
