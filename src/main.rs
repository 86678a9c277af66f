fn main() -> std::process::ExitCode {
    backproof::cli::main()
}
