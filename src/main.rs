//! The `daftar` command.

fn main() -> std::process::ExitCode {
    daftar::cli::main()
}
