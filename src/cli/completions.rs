//! `backproof completions SHELL` and `backproof man`: generated from the command-line
//! definition, so they never disagree with `--help`.

use anyhow::Result;
use clap::CommandFactory;

use super::Cli;

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<u8> {
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "backproof",
        &mut std::io::stdout(),
    );
    Ok(0)
}

/// Prints the man page (roff) on stdout: options, and every subcommand with its summary.
pub fn man() -> Result<u8> {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout().lock())?;
    Ok(0)
}
