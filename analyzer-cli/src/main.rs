//! `etcd-autopsy`: parses flags, runs one command, maps the outcome to an exit status.

use clap::{Parser, Subcommand};
use etcd_autopsy::error::EXIT_UNREADABLE;
use std::process::ExitCode;

/// Offline diagnosis of a stopped etcd member's data directory. Never writes to its input.
#[derive(Debug, Parser)]
#[command(name = "etcd-autopsy", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Rebuild a fresh, compact db from what is readable in a damaged one (writes --out only).
    Salvage(etcd_autopsy::cmd::salvage::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: etcd_autopsy::Result<u8> = match cli.command {
        Command::Salvage(a) => etcd_autopsy::cmd::salvage::run(&a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if etcd_autopsy::output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("etcd-autopsy: {e}");
            ExitCode::from(EXIT_UNREADABLE)
        }
    }
}
