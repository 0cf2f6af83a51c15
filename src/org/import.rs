//! `daftar org import`: a whole org chart from TOML, in one transaction.
//!
//! Units, posts and users already present (same code or username) are left as
//! they are, so importing the same chart twice changes nothing. Any invalid row
//! rejects the whole file, with `file:line` for every problem found.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use serde::Deserialize;
use toml::Spanned;

use crate::auth::password;
use crate::domain::org::{AssignmentKind, Clearance, Code, OrgKind, Role, Username, parse_date, parse_text};
use crate::store::schema::{org_units, post_assignments, posts, user_roles, users};
use crate::store::{Db, DbConn, StoreError, new_id, now_micros};

/// The org-chart file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Chart {
    #[serde(default)]
    unit: Vec<Spanned<UnitRow>>,
    #[serde(default)]
    post: Vec<Spanned<PostRow>>,
    #[serde(default)]
    user: Vec<Spanned<UserRow>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitRow {
    code: String,
    name: String,
    kind: String,
    parent: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PostRow {
    code: String,
    unit: String,
    designation: String,
    title: String,
    reports_to: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserRow {
    username: String,
    name: String,
    email: Option<String>,
    clearance: String,
    /// A plain password, hashed on import (demo and first set-up only).
    password: Option<String>,
    /// An argon2id PHC hash, for charts exported from elsewhere.
    password_hash: Option<String>,
    /// `role` or `role:ENTITY` (entity-scoped roles).
    #[serde(default)]
    roles: Vec<String>,
    /// Regular posts held from `since`; the first is the primary post.
    #[serde(default)]
    posts: Vec<String>,
    /// Other assignments (additional charge, acting) with dates.
    #[serde(default)]
    assignments: Vec<AssignmentRow>,
    /// Start date of the regular posts (default: today).
    since: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignmentRow {
    post: String,
    kind: String,
    from: String,
    to: Option<String>,
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file has problems; one `file:line: message` per problem.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for ImportError {
    fn from(e: diesel::result::Error) -> Self {
        ImportError::Store(StoreError::Query(e))
    }
}

/// What an import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Units created.
    pub units: usize,
    /// Posts created.
    pub posts: usize,
    /// Users created.
    pub users: usize,
    /// Rows already present and left unchanged.
    pub unchanged: usize,
}

impl ImportReport {
    /// Whether the import changed nothing.
    pub fn is_noop(&self) -> bool {
        self.units + self.posts + self.users == 0
    }
}

/// A unit to insert, validated.
struct NewUnit {
    id: String,
    code: String,
    name: String,
    kind: OrgKind,
    parent_code: Option<String>,
}

struct NewPost {
    id: String,
    code: String,
    unit_code: String,
    designation: String,
    title: String,
    reports_to: Option<String>,
}

struct NewUser {
    id: String,
    username: String,
    name: String,
    email: Option<String>,
    clearance: Clearance,
    password: Secret,
    roles: Vec<(Role, Option<String>)>,
    assignments: Vec<(String, AssignmentKind, bool, String, Option<String>)>,
}

enum Secret {
    Plain(String),
    Hashed(String),
}

/// What the database already holds, by code: units with their kind and entity.
struct Existing {
    units: HashMap<String, (String, OrgKind, Option<String>)>,
    posts: HashMap<String, (String, Option<String>)>,
    users: HashSet<String>,
}

fn load_existing(conn: &mut DbConn) -> Result<Existing, StoreError> {
    let units = org_units::table
        .select((org_units::code, org_units::id, org_units::kind, org_units::entity_id))
        .load::<(String, String, String, Option<String>)>(conn)?
        .into_iter()
        .map(|(code, id, kind, entity)| crate::store::stored::<OrgKind>(&kind).map(|k| (code, (id, k, entity))))
        .collect::<QueryResult<_>>()?;
    let posts = posts::table
        .select((posts::code, posts::id, posts::reports_to))
        .load::<(String, String, Option<String>)>(conn)?
        .into_iter()
        .map(|(code, id, up)| (code, (id, up)))
        .collect();
    let users = users::table.select(users::username).load::<String>(conn)?.into_iter().collect();
    Ok(Existing { units, posts, users })
}

/// Imports the chart in `text` (named `source` in messages).
pub fn import_str(db: &Db, source: &str, text: &str) -> Result<ImportReport, ImportError> {
    let line_of = |span: std::ops::Range<usize>| text[..span.start.min(text.len())].matches('\n').count() + 1;
    let chart: Chart = toml::from_str(text).map_err(|e| {
        let line = e.span().map(line_of).unwrap_or(1);
        ImportError::Invalid(vec![format!("{source}:{line}: {}", e.message().trim())])
    })?;
    let existing = {
        let mut conn = db.reader()?;
        load_existing(&mut conn)?
    };
    let plan = validate(&chart, &existing, &|span| format!("{source}:{}", line_of(span)))?;
    // Hash outside the transaction: it is slow, and holds no lock.
    let plains: Vec<&str> = plan
        .users
        .iter()
        .filter_map(|u| match &u.password {
            Secret::Plain(p) => Some(p.as_str()),
            Secret::Hashed(_) => None,
        })
        .collect();
    let mut hashes = password::hash_many(&plains).into_iter();
    let hashed: Vec<String> = plan
        .users
        .iter()
        .map(|u| match &u.password {
            Secret::Plain(_) => hashes.next().expect("one hash per plain password"),
            Secret::Hashed(h) => h.clone(),
        })
        .collect();
    db.write_tx(|conn| apply(conn, &plan, &hashed))
}

struct Plan {
    units: Vec<NewUnit>,
    posts: Vec<NewPost>,
    users: Vec<NewUser>,
    unchanged: usize,
}

fn validate(
    chart: &Chart,
    existing: &Existing,
    at: &dyn Fn(std::ops::Range<usize>) -> String,
) -> Result<Plan, ImportError> {
    let mut errors = Vec::new();
    let mut unchanged = 0;

    // Units: kinds of everything known, file first so that order in the file is free.
    let mut kinds: HashMap<String, OrgKind> = existing.units.iter().map(|(c, (_, k, _))| (c.clone(), *k)).collect();
    let mut seen = HashSet::new();
    let mut units = Vec::new();
    for row in &chart.unit {
        let (r, here) = (row.get_ref(), at(row.span()));
        let code = match Code::parse(&r.code) {
            Ok(c) => c.as_str().to_owned(),
            Err(e) => {
                errors.push(format!("{here}: unit code `{}` {e}", r.code));
                continue;
            }
        };
        if !seen.insert(code.clone()) {
            errors.push(format!("{here}: unit `{code}` is defined twice"));
            continue;
        }
        match r.kind.parse::<OrgKind>() {
            Ok(k) => {
                kinds.entry(code.clone()).or_insert(k);
            }
            Err(e) => errors.push(format!("{here}: unit `{code}`: {e}")),
        }
    }
    for row in &chart.unit {
        let (r, here) = (row.get_ref(), at(row.span()));
        let Ok(code) = Code::parse(&r.code).map(|c| c.as_str().to_owned()) else {
            continue;
        };
        let Ok(kind) = r.kind.parse::<OrgKind>() else {
            continue;
        };
        if existing.units.contains_key(&code) {
            unchanged += 1;
            continue;
        }
        let name = match parse_text(&r.name, 200) {
            Ok(n) => n,
            Err(e) => {
                errors.push(format!("{here}: unit `{code}` name {e}"));
                continue;
            }
        };
        let parent = r.parent.as_deref().map(str::trim);
        let parent_kind = match parent {
            Some(p) => match kinds.get(p) {
                Some(k) => Some(*k),
                None => {
                    errors.push(format!("{here}: unit `{code}`: parent `{p}` is not a known unit"));
                    continue;
                }
            },
            None => None,
        };
        if !kind.may_sit_under(parent_kind) {
            let under = parent_kind.map(|k| format!("a {k}")).unwrap_or_else(|| "nothing (a root)".into());
            errors.push(format!("{here}: unit `{code}`: a {kind} cannot sit under {under}"));
            continue;
        }
        units.push(NewUnit { id: new_id(), code, name, kind, parent_code: parent.map(str::to_owned) });
    }
    // Parents are always shallower, so inserting by depth puts parents first.
    units.sort_by_key(|u| u.kind.rank());

    // Posts.
    let mut post_codes: HashSet<String> = existing.posts.keys().cloned().collect();
    let mut seen = HashSet::new();
    for row in &chart.post {
        if let Ok(c) = Code::parse(&row.get_ref().code) {
            post_codes.insert(c.as_str().to_owned());
        }
    }
    let mut posts = Vec::new();
    let mut reports: HashMap<String, Option<String>> =
        existing.posts.iter().map(|(c, (_, up))| (c.clone(), up.clone())).collect();
    for row in &chart.post {
        let (r, here) = (row.get_ref(), at(row.span()));
        let code = match Code::parse(&r.code) {
            Ok(c) => c.as_str().to_owned(),
            Err(e) => {
                errors.push(format!("{here}: post code `{}` {e}", r.code));
                continue;
            }
        };
        if !seen.insert(code.clone()) {
            errors.push(format!("{here}: post `{code}` is defined twice"));
            continue;
        }
        if existing.posts.contains_key(&code) {
            unchanged += 1;
            continue;
        }
        let unit = r.unit.trim();
        if !kinds.contains_key(unit) {
            errors.push(format!("{here}: post `{code}`: unit `{unit}` is not a known unit"));
            continue;
        }
        let designation = r.designation.trim();
        if designation.is_empty()
            || designation.len() > 60
            || !designation.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        {
            errors.push(format!(
                "{here}: post `{code}`: designation `{designation}` must be lower_snake_case, e.g. section_officer"
            ));
            continue;
        }
        let title = match parse_text(&r.title, 200) {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("{here}: post `{code}` title {e}"));
                continue;
            }
        };
        let up = r.reports_to.as_deref().map(str::trim).map(str::to_owned);
        if let Some(u) = &up {
            if !post_codes.contains(u) {
                errors.push(format!("{here}: post `{code}`: reports_to `{u}` is not a known post"));
                continue;
            }
            if *u == code {
                errors.push(format!("{here}: post `{code}` cannot report to itself"));
                continue;
            }
        }
        reports.insert(code.clone(), up.clone());
        posts.push(NewPost {
            id: new_id(),
            code,
            unit_code: unit.to_owned(),
            designation: designation.to_owned(),
            title,
            reports_to: up,
        });
    }
    // A reporting cycle would make "the next post up" loop forever.
    for row in &chart.post {
        let Ok(code) = Code::parse(&row.get_ref().code).map(|c| c.as_str().to_owned()) else {
            continue;
        };
        let mut at_post = code.clone();
        for _ in 0..=reports.len() {
            match reports.get(&at_post).cloned().flatten() {
                Some(up) if up == code => {
                    errors.push(format!("{}: post `{code}` reports to itself through a cycle", at(row.span())));
                    break;
                }
                Some(up) => at_post = up,
                None => break,
            }
        }
    }

    // Users.
    let mut seen = HashSet::new();
    let mut users = Vec::new();
    let today = crate::org::today();
    for row in &chart.user {
        let (r, here) = (row.get_ref(), at(row.span()));
        let username = match Username::parse(&r.username) {
            Ok(u) => u.as_str().to_owned(),
            Err(e) => {
                errors.push(format!("{here}: username `{}` {e}", r.username));
                continue;
            }
        };
        if !seen.insert(username.clone()) {
            errors.push(format!("{here}: user `{username}` is defined twice"));
            continue;
        }
        if existing.users.contains(&username) {
            unchanged += 1;
            continue;
        }
        let mut problems = Vec::new();
        let name = parse_text(&r.name, 200).map_err(|e| problems.push(format!("name {e}"))).ok();
        let email = r.email.as_deref().map(str::trim).filter(|e| !e.is_empty()).map(str::to_owned);
        if let Some(e) = &email
            && (!e.contains('@') || e.len() > 254 || e.chars().any(char::is_whitespace))
        {
            problems.push(format!("email `{e}` is not an address"));
        }
        let clearance = r.clearance.parse::<Clearance>().map_err(|e| problems.push(e.to_string())).ok();
        let secret = match (&r.password, &r.password_hash) {
            (Some(p), None) => match crate::domain::org::check_new_password(p) {
                Ok(()) => Some(Secret::Plain(p.clone())),
                Err(m) => {
                    problems.push(format!("password {m}"));
                    None
                }
            },
            (None, Some(h)) if password::is_argon2id_hash(h) => Some(Secret::Hashed(h.clone())),
            (None, Some(_)) => {
                problems.push("password_hash must be an argon2id PHC string".into());
                None
            }
            _ => {
                problems.push("give exactly one of password or password_hash".into());
                None
            }
        };
        let mut roles = Vec::new();
        for spec in &r.roles {
            let (role, scope) = match spec.split_once(':') {
                Some((r, e)) => (r.trim(), Some(e.trim().to_owned())),
                None => (spec.trim(), None),
            };
            match role.parse::<Role>() {
                Err(e) => problems.push(e.to_string()),
                Ok(role) if role.is_entity_scoped() && scope.is_none() => {
                    problems.push(format!("role `{role}` must name its entity, e.g. `{role}:MOITT`"))
                }
                Ok(role) if !role.is_entity_scoped() && scope.is_some() => {
                    problems.push(format!("role `{role}` is not scoped to an entity"))
                }
                Ok(role) => {
                    if let Some(e) = &scope
                        && !kinds.get(e).is_some_and(|k| k.is_entity())
                    {
                        problems.push(format!("role `{spec}`: `{e}` is not an entity"));
                        continue;
                    }
                    roles.push((role, scope));
                }
            }
        }
        let since = r.since.clone().unwrap_or_else(|| today.clone());
        if let Err(e) = parse_date(&since) {
            problems.push(format!("since: {e}"));
        }
        let mut assignments = Vec::new();
        for (i, p) in r.posts.iter().enumerate() {
            if !post_codes.contains(p.trim()) {
                problems.push(format!("post `{p}` is not a known post"));
            }
            assignments.push((p.trim().to_owned(), AssignmentKind::Regular, i == 0, since.clone(), None));
        }
        for a in &r.assignments {
            if !post_codes.contains(a.post.trim()) {
                problems.push(format!("post `{}` is not a known post", a.post));
            }
            let kind = a.kind.parse::<AssignmentKind>().map_err(|e| problems.push(e.to_string())).ok();
            let from = parse_date(&a.from).map_err(|e| problems.push(e)).ok();
            let to = match a.to.as_deref().map(parse_date) {
                Some(Ok(d)) => Some(d),
                Some(Err(e)) => {
                    problems.push(e);
                    None
                }
                None => None,
            };
            if let (Some(f), Some(t)) = (from, to)
                && t < f
            {
                problems.push(format!("assignment to `{}` ends before it starts", a.post));
            }
            if let (Some(kind), Some(from)) = (kind, from) {
                let primary = assignments.is_empty();
                assignments.push((
                    a.post.trim().to_owned(),
                    kind,
                    primary,
                    from.to_string(),
                    to.map(|t| t.to_string()),
                ));
            }
        }
        match (problems.is_empty(), name, clearance, secret) {
            (true, Some(name), Some(clearance), Some(password)) => {
                users.push(NewUser { id: new_id(), username, name, email, clearance, password, roles, assignments })
            }
            _ => errors.extend(problems.into_iter().map(|p| format!("{here}: user `{username}`: {p}"))),
        }
    }

    if errors.is_empty() { Ok(Plan { units, posts, users, unchanged }) } else { Err(ImportError::Invalid(errors)) }
}

fn apply(conn: &mut DbConn, plan: &Plan, hashes: &[String]) -> Result<ImportReport, ImportError> {
    let now = now_micros();
    let mut known = load_existing(conn)?;
    for u in &plan.units {
        let parent = u.parent_code.as_ref().map(|p| known.units[p].clone());
        let entity = if u.kind.is_entity() { Some(u.id.clone()) } else { parent.as_ref().and_then(|p| p.2.clone()) };
        diesel::insert_into(org_units::table)
            .values((
                org_units::id.eq(&u.id),
                org_units::code.eq(&u.code),
                org_units::name.eq(&u.name),
                org_units::kind.eq(u.kind.as_str()),
                org_units::parent_id.eq(parent.map(|p| p.0)),
                org_units::entity_id.eq(&entity),
                org_units::created_at.eq(now),
            ))
            .execute(conn)?;
        known.units.insert(u.code.clone(), (u.id.clone(), u.kind, entity));
    }
    // Posts first without their superiors, then link them: a chart may list a
    // post before the one it reports to.
    for p in &plan.posts {
        diesel::insert_into(posts::table)
            .values((
                posts::id.eq(&p.id),
                posts::code.eq(&p.code),
                posts::org_unit_id.eq(&known.units[&p.unit_code].0),
                posts::designation.eq(&p.designation),
                posts::title.eq(&p.title),
                posts::created_at.eq(now),
            ))
            .execute(conn)?;
        known.posts.insert(p.code.clone(), (p.id.clone(), None));
    }
    for p in plan.posts.iter().filter(|p| p.reports_to.is_some()) {
        let up = &known.posts[p.reports_to.as_ref().expect("filtered")].0;
        diesel::update(posts::table.find(&p.id)).set(posts::reports_to.eq(up)).execute(conn)?;
    }
    for (u, hash) in plan.users.iter().zip(hashes) {
        diesel::insert_into(users::table)
            .values((
                users::id.eq(&u.id),
                users::username.eq(&u.username),
                users::name.eq(&u.name),
                users::email.eq(&u.email),
                users::password_hash.eq(hash),
                users::clearance.eq(u.clearance.as_str()),
                users::disabled.eq(false),
                users::token_version.eq(0i64),
                users::created_at.eq(now),
            ))
            .execute(conn)?;
        for (role, scope) in &u.roles {
            diesel::insert_into(user_roles::table)
                .values((
                    user_roles::id.eq(new_id()),
                    user_roles::user_id.eq(&u.id),
                    user_roles::role.eq(role.as_str()),
                    user_roles::entity_id.eq(scope.as_ref().map(|e| known.units[e].0.clone())),
                    user_roles::created_at.eq(now),
                ))
                .execute(conn)?;
        }
        for (post, kind, primary, from, to) in &u.assignments {
            diesel::insert_into(post_assignments::table)
                .values((
                    post_assignments::id.eq(new_id()),
                    post_assignments::post_id.eq(&known.posts[post].0),
                    post_assignments::user_id.eq(&u.id),
                    post_assignments::kind.eq(kind.as_str()),
                    post_assignments::is_primary.eq(*primary),
                    post_assignments::starts_on.eq(from),
                    post_assignments::ends_on.eq(to),
                    post_assignments::created_at.eq(now),
                ))
                .execute(conn)?;
        }
    }
    Ok(ImportReport {
        units: plan.units.len(),
        posts: plan.posts.len(),
        users: plan.users.len(),
        unchanged: plan.unchanged,
    })
}
