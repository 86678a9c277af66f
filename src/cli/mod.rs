//! The command line. Each subcommand is a thin layer over the library; output for people
//! goes to stdout, logs to stderr.
//!
//! Exit codes: 0 verified (pass or warn), 1 verification failed, 2 could not verify, bad
//! usage or bad configuration.

mod check;
mod commands;
mod completions;
mod demo;
mod follow;
mod init;
mod job_add;
mod log_caps;
mod mail;
mod user;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::DEFAULT_CONFIG_PATH;

#[derive(Debug, Parser)]
#[command(
    name = "backproof",
    version,
    about = "Proves that backups can be restored: test-restores sampled files and checks freshness, drift and coverage."
)]
pub struct Cli {
    /// The global configuration file.
    #[arg(long, global = true, env = "BACKPROOF_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// More log output (-v: progress, -vv: debugging).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
    /// Where `config` came from, for the message when there is no file there.
    #[arg(skip)]
    pub config_from: init::ConfigFrom,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration and every job file; print one line per job.
    CheckConfig {
        /// Also open every target and list its first entries (no verification).
        #[arg(long)]
        connect: bool,
    },
    /// Verify one job now: exit 0 verified, 1 failed, 2 could not verify.
    Run {
        /// The job: its file name in jobs.d without `.toml` (without it, lists the jobs).
        job: Option<String>,
        /// Verify only this target of the job.
        #[arg(long)]
        target: Option<String>,
        /// Print the evidence document as JSON instead of the summary.
        #[arg(long)]
        json: bool,
        /// Sampling seed, to reproduce the choice of files of an earlier run.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Print one run's evidence.
    Show {
        /// The run, as printed by `run` and `history` (e.g. 20261128-121608-fb56).
        run_id: String,
        /// Print the evidence document as JSON instead of the summary.
        #[arg(long)]
        json: bool,
    },
    /// List a job's runs, newest first.
    History {
        /// The job.
        job: String,
        /// Show at most this many runs (the newest).
        #[arg(long, default_value_t = 20, conflicts_with = "all")]
        limit: usize,
        /// Show every run.
        #[arg(long)]
        all: bool,
    },
    /// Render the weekly owner summary of a job now (print it, or --send it to the owners).
    Digest {
        /// The job.
        job: String,
        /// Email it to the job's owners instead of printing it.
        #[arg(long)]
        send: bool,
    },
    /// Send a test message with the current SMTP settings.
    SendTestEmail {
        /// Who gets the test message (name@example.com).
        address: String,
    },
    /// List the outbox, newest first: queued, sent and rejected messages; --retry sends now.
    Outbox {
        /// Try to send the queued messages now, then list.
        #[arg(long)]
        retry: bool,
        /// Only the messages still to go (queued or being sent).
        #[arg(long)]
        pending: bool,
        /// Show at most this many messages (the newest).
        #[arg(long, default_value_t = 20, conflicts_with = "all")]
        limit: usize,
        /// Show every message.
        #[arg(long)]
        all: bool,
    },
    /// Every client, problems first: state, worst open problem, last run, newest backup
    /// (age now), next run; exit 0 all verified, 1 an open problem, 2 not verified.
    Status {
        /// Print the status as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Acknowledge a job's open problems: they stay open and shown, with who, when and
    /// why, but no longer fail runs that do not see them again.
    Ack {
        /// The job.
        job: String,
        /// Only this target's problems.
        #[arg(long)]
        target: Option<String>,
        /// Only the problem with this key (as in reports: BP-3f9a2c1d).
        #[arg(long)]
        problem: Option<String>,
        /// Why (shown in every report and in status).
        #[arg(long)]
        reason: String,
        /// Until when: a date (2026-12-01, the end of that day), a date and time, or a
        /// duration (3d); default until the problem is fixed.
        #[arg(long)]
        until: Option<String>,
        /// Who acknowledges (default: the user running the command).
        #[arg(long)]
        by: Option<String>,
    },
    /// For RMM agents and Nagios/Icinga/Zabbix: one client's state (or all) from the
    /// catalog, no run; one status line and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
    Check {
        /// The job.
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        job: Option<String>,
        /// Every job: the worst state, then one line per client.
        #[arg(long)]
        all: bool,
        /// `nagios`: one status line and exit codes 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
        /// (for RMM agents, Nagios, Icinga, Zabbix); `json`: the same as a document.
        #[arg(long, value_enum, default_value_t = check::CheckFormat::Nagios)]
        format: check::CheckFormat,
    },
    /// Run as a service: schedules, missed runs, the local API, email delivery.
    Daemon,
    /// Rewrite the catalog into a fresh file now, giving back the space that retention
    /// and removed targets freed (runs and the daemon's start do it on their own once
    /// the file has doubled). Not while the daemon runs: stop it first.
    Compact,
    /// Check the tamper-evident chain of a job's evidence documents.
    VerifyEvidence {
        /// The job.
        job: String,
    },
    /// Build a throwaway backup set, verify it, corrupt a file, and show it being caught.
    Demo {
        /// Folder for the demo (default: a new temporary folder, kept for you to look at).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Start here: write a commented backproof.toml and one example job (never overwrites).
    Init {
        /// Folder to write in (default: the folder of --config, /etc/backproof).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Add a client: write its job file, then check it and connect to its target.
    #[command(subcommand)]
    Job(JobCommand),
    /// Manage the accounts of the web pages (add, passwd, remove, list).
    #[command(subcommand)]
    User(user::UserCommand),
    /// Follow a run of the daemon in progress (Ctrl-C stops watching, not the run).
    Watch {
        /// The run, as printed when it started (`backproof status` lists running jobs).
        run_id: String,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell: e.g. `backproof completions bash > /etc/bash_completion.d/backproof`.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `backproof man | man -l -`.
    Man,
}

/// `backproof job ...`
#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Write jobs.d/NAME.toml for a client with one target, then check it and connect.
    Add(job_add::JobAdd),
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().get_matches();
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    cli.config_from = init::ConfigFrom::of(&matches);
    init_logging(
        cli.log_format,
        cli.verbose,
        matches!(cli.command, Command::Daemon),
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let code = runtime.block_on(commands::dispatch(cli));
    // Do not wait for blocking tasks of a cancelled run; their scratch is already gone.
    runtime.shutdown_background();
    match code {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Logs go to stderr. The command line is quiet (warnings only) unless `-v`; the daemon
/// logs what a service log needs at `info` (start, ready, each run's start and end with
/// its verdict, reloads, deliveries), and the journal keeps it.
fn init_logging(format: LogFormat, verbose: u8, daemon: bool) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 if daemon => "warn,backproof=info",
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter =
        EnvFilter::try_from_env("BACKPROOF_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let max = filter.max_level_hint();
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // Third-party libraries are capped on top of the filter (no level prints a secret).
    let caps = log_caps::library_caps(verbose);
    match format {
        LogFormat::Text => builder.finish().with(caps).init(),
        LogFormat::Json => builder.json().finish().with(caps).init(),
    }
    // Libraries that log through `log` (sled, for every page it touches) are bridged to
    // tracing; without this, each of their calls is built and then filtered out.
    log::set_max_level(match max {
        Some(l) if l == tracing_subscriber::filter::LevelFilter::OFF => log::LevelFilter::Off,
        Some(l) if l == tracing_subscriber::filter::LevelFilter::ERROR => log::LevelFilter::Error,
        Some(l) if l == tracing_subscriber::filter::LevelFilter::WARN => log::LevelFilter::Warn,
        Some(l) if l == tracing_subscriber::filter::LevelFilter::INFO => log::LevelFilter::Info,
        Some(l) if l == tracing_subscriber::filter::LevelFilter::DEBUG => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    });
}
