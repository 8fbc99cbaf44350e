fn main() -> std::process::ExitCode {
    fedstack_cli::main_entry()
}
