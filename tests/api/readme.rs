//! The README's tours run: every `sh` block under a heading that names a
//! tour is executed, in order, in one shell against a real server, and the
//! first command that fails (an HTTP error included) fails the test. A
//! newcomer's first commands must work as written.

use std::process::Command;

use crate::both_backends;
use crate::helpers::spawn_app;

/// The `sh` blocks of the README's tour sections, in order.
fn tour_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut heading = String::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match &mut current {
            Some(block) if line.trim_start().starts_with("```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None if line.starts_with('#') => heading = line.to_lowercase(),
            None if line.trim() == "```sh" && heading.contains("tour") => current = Some(String::new()),
            None => {}
        }
    }
    blocks
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

both_backends!(the_readme_tours_run_as_written, |backend| {
    if !have("curl") || !have("python3") || !have("bash") {
        eprintln!("NOTE: curl, python3 or bash is missing: the README tour test is SKIPPED");
        return;
    }
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let blocks = tour_blocks(&readme);
    assert!(blocks.len() >= 2, "the README has lost its tours");
    let Some(app) = spawn_app(backend) else { return };
    let host = app.base.trim_start_matches("http://");
    // Every curl fails on an HTTP error, as a newcomer would notice one.
    let mut script = String::from("set -e\ncurl() { command curl --fail-with-body \"$@\"; }\n");
    for b in &blocks {
        script.push_str(&b.replace("localhost:8080", host));
    }
    let out = Command::new("bash").arg("-c").arg(&script).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the README tour failed:\n--- script ---\n{script}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // What the tours promise is what came back.
    assert!(stdout.contains("\"status\":\"ok\""), "{stdout}");
    assert!(stdout.contains("\"status\":\"signed\""), "{stdout}");
    assert!(stdout.contains("\"action\":\"forward\""), "{stdout}");
});
