//! The demo government of SPEC section 6, seeded idempotently from the org
//! chart shipped in `assets/demo/government.toml`.

use crate::org::import::{ImportError, ImportReport, import_str};
use crate::store::Db;

/// The demo org chart (also the reference example of the import format).
pub const CHART: &str = include_str!("../assets/demo/government.toml");

/// Every demo user's password.
pub const PASSWORD: &str = "daftar-demo-2026";

/// Every demo user's signing PIN.
pub const PIN: &str = "246810";

/// Seeds the demo government; a second run changes nothing.
pub fn seed(db: &Db) -> Result<ImportReport, ImportError> {
    import_str(db, "assets/demo/government.toml", CHART)
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
