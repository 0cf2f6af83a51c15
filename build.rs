//! Rebuilds the crate when a migration is added or changed: the migrations
//! are embedded in the binary at compile time.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
