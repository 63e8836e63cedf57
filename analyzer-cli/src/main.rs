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
    /// etcd's HashKV at a revision (as `etcdctl endpoint hashkv`), or the whole-db hash (--db).
    Hash(etcd_autopsy::cmd::hash::Args),
    /// Keys, revisions and bytes per key prefix (where the space went).
    Prefixes(etcd_autopsy::cmd::prefixes::Args),
    /// The figures of `etcdctl snapshot status`, and whether a snapshot's SHA-256 trailer matches.
    Status(etcd_autopsy::cmd::status::Args),
    /// Rebuild a fresh, compact db from what is readable in a damaged one (writes --out only).
    Salvage(etcd_autopsy::cmd::salvage::Args),
    /// Dump, verify and summarise the WAL (etcd-dump-logs layout; --summary; --json).
    Wal(etcd_autopsy::cmd::wal::WalArgs),
    /// List the .snap files with index, term, voters and CRC status.
    Snap(etcd_autopsy::cmd::wal::SnapArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: etcd_autopsy::Result<u8> = match cli.command {
        Command::Hash(a) => etcd_autopsy::cmd::hash::run(&a),
        Command::Prefixes(a) => etcd_autopsy::cmd::prefixes::run(&a),
        Command::Status(a) => etcd_autopsy::cmd::status::run(&a),
        Command::Salvage(a) => etcd_autopsy::cmd::salvage::run(&a),
        Command::Wal(a) => etcd_autopsy::cmd::wal::run(&a),
        Command::Snap(a) => etcd_autopsy::cmd::wal::run_snap(&a),
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
