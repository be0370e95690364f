//! Entry point: everything lives in the library (`trm_init::main`).

fn main() -> std::process::ExitCode {
    trm_init::main()
}
