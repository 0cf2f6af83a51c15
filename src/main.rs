//! The `daftar` command.

/// mimalloc rather than the system allocator: a request allocates and frees
/// many small strings and rows on several threads at once, and glibc's
/// malloc spent about a fifth of a loaded server's CPU doing so (`perf`,
/// `daftar bench auth`'s inbox phase; see README, Performance).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    daftar::cli::main()
}
