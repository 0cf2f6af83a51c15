//! The demo government of SPEC section 6, seeded idempotently from the org
//! chart shipped in `assets/demo/government.toml`.

use diesel::prelude::*;

use crate::org::import::{ImportError, ImportReport, import_str};
use crate::pki::Ca;
use crate::signing;
use crate::store::Db;
use crate::store::schema::{signing_keys, users};

/// The demo org chart (also the reference example of the import format).
pub const CHART: &str = include_str!("../assets/demo/government.toml");

/// Every demo user's password.
pub const PASSWORD: &str = "daftar-demo-2026";

/// Every demo user's signing PIN.
pub const PIN: &str = "246810";

/// Seeds the demo government, with a server-mode signing key (PIN [`PIN`],
/// sealed under the deployment's wrapping key `wrap`) for every demo user; a second run changes nothing.
pub fn seed(db: &Db, ca: &Ca, wrap: &signing::keys::PinWrap) -> Result<ImportReport, String> {
    let report = import_str(db, "assets/demo/government.toml", CHART).map_err(|e: ImportError| e.to_string())?;
    // Demo users without a key get one; sealing is slow, so do it in parallel
    // outside the transaction.
    let users: Vec<(String, String)> = {
        let mut c = db.reader().map_err(|e| e.to_string())?;
        users::table
            .left_join(signing_keys::table)
            .filter(signing_keys::id.is_null())
            .select((users::id, users::username))
            .load(&mut *c)
            .map_err(|e| e.to_string())?
    };
    let demo_names: Vec<String> = logins().into_iter().map(|(u, _)| u).collect();
    let users: Vec<String> =
        users.into_iter().filter(|(_, name)| demo_names.contains(name)).map(|(id, _)| id).collect();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let keys: Vec<Result<signing::keys::NewKey, String>> = std::thread::scope(|s| {
        let chunks: Vec<_> = users
            .chunks(users.len().div_ceil(cores).max(1))
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|_| signing::keys::new_server_key(wrap, PIN).map_err(|e| e.to_string()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        chunks.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    db.write_tx(|c| {
        for (user, key) in users.iter().zip(keys) {
            signing::keys::enrol(c, ca, user, key.map_err(signing::SignError::Internal)?)?;
        }
        Ok::<_, signing::SignError>(())
    })
    .map_err(|e| e.to_string())?;
    Ok(report)
}

/// The demo logins as `(username, what the desk is)`, for printing at start.
pub fn logins() -> Vec<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Chart {
        post: Vec<Post>,
        user: Vec<User>,
    }
    #[derive(serde::Deserialize)]
    struct Post {
        code: String,
        title: String,
    }
    #[derive(serde::Deserialize)]
    struct User {
        username: String,
        #[serde(default)]
        posts: Vec<String>,
        #[serde(default)]
        roles: Vec<String>,
    }
    let chart: Chart = match toml::from_str(CHART) {
        Ok(c) => c,
        Err(_) => return Vec::new(),
    };
    chart
        .user
        .into_iter()
        .map(|u| {
            let desk = u
                .posts
                .first()
                .and_then(|code| chart.post.iter().find(|p| &p.code == code))
                .map(|p| p.title.clone())
                .unwrap_or_default();
            let roles = if u.roles.is_empty() { String::new() } else { format!(" [{}]", u.roles.join(", ")) };
            (u.username, format!("{desk}{roles}").trim().to_owned())
        })
        .collect()
}

/// The banner printed by `daftar serve --demo` and `daftar demo`.
pub fn banner() -> String {
    let mut out = format!("Demo government logins (password `{PASSWORD}`, signing PIN `{PIN}`):\n");
    for (user, desk) in logins() {
        out.push_str(&format!("  {user:<18} {desk}\n"));
    }
    out
}
