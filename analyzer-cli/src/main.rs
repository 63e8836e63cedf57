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
    /// Page size, file size and both meta pages of the bbolt file.
    Info(etcd_autopsy::cmd::bbolt::InfoArgs),
    /// Bucket names (nested as paths) and key counts.
    Buckets(etcd_autopsy::cmd::bbolt::BucketsArgs),
    /// Per-bucket statistics with bbolt's Bucket.Stats() meaning.
    Stats(etcd_autopsy::cmd::bbolt::StatsArgs),
    /// The page table, as `bbolt pages` prints it.
    Pages(etcd_autopsy::cmd::bbolt::PagesArgs),
    /// One or more pages' items, as `bbolt page` prints them.
    Page(etcd_autopsy::cmd::bbolt::PageArgs),
    /// Consistency check of the bbolt file; for a data dir the whole member: db, WAL, snapshots (exit 0/1/2).
    Check(etcd_autopsy::cmd::bbolt::CheckArgs),
    /// Top-level bucket names, as etcd-dump-db list-bucket prints them.
    ListBucket(etcd_autopsy::cmd::dumpdb::ListBucketArgs),
    /// A bucket's entries in reverse key order, as etcd-dump-db iterate-bucket prints them.
    IterateBucket(etcd_autopsy::cmd::dumpdb::IterateBucketArgs),
    /// Keys, revisions and bytes per key prefix (where the space went).
    Prefixes(etcd_autopsy::cmd::prefixes::Args),
    /// etcd's HashKV at a revision (as `etcdctl endpoint hashkv`), or the whole-db hash (--db).
    Hash(etcd_autopsy::cmd::hash::Args),
    /// The figures of `etcdctl snapshot status`, and whether a snapshot's SHA-256 trailer matches.
    Status(etcd_autopsy::cmd::status::Args),
    /// Where the file's bytes go; what defrag and compaction would give back; quota use.
    Space(etcd_autopsy::cmd::space::Args),
    /// The on-call summary: identity, revisions, alarms, where the space went, next steps.
    Report(etcd_autopsy::cmd::report::Args),
    /// Rebuild a fresh, compact db from what is readable in a damaged one (writes --out only).
    Salvage(etcd_autopsy::cmd::salvage::Args),
    /// Dump, verify and summarise the WAL (etcd-dump-logs layout; --summary; --json).
    Wal(etcd_autopsy::cmd::wal::WalArgs),
    /// List the .snap files with index, term, voters and CRC status.
    Snap(etcd_autopsy::cmd::wal::SnapArgs),
    /// The live keyspace at a revision as JSON lines (--replay-wal: with the unapplied WAL tail).
    Export(etcd_autopsy::cmd::export::Args),
    /// Several members side by side: ids, indexes, revisions, HashKV; who holds the most data.
    Members(etcd_autopsy::cmd::members::Args),
    /// Keys that differ between two members, dbs or snapshots (counts per prefix; --keys).
    Diff(etcd_autopsy::cmd::diff::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: etcd_autopsy::Result<u8> = match cli.command {
        Command::Info(a) => etcd_autopsy::cmd::bbolt::run_info(&a),
        Command::Buckets(a) => etcd_autopsy::cmd::bbolt::run_buckets(&a),
        Command::Stats(a) => etcd_autopsy::cmd::bbolt::run_stats(&a),
        Command::Pages(a) => etcd_autopsy::cmd::bbolt::run_pages(&a),
        Command::Page(a) => etcd_autopsy::cmd::bbolt::run_page(&a),
        Command::Check(a) => etcd_autopsy::cmd::bbolt::run_check(&a),
        Command::ListBucket(a) => etcd_autopsy::cmd::dumpdb::run_list_bucket(&a),
        Command::IterateBucket(a) => etcd_autopsy::cmd::dumpdb::run_iterate_bucket(&a),
        Command::Prefixes(a) => etcd_autopsy::cmd::prefixes::run(&a),
        Command::Hash(a) => etcd_autopsy::cmd::hash::run(&a),
        Command::Status(a) => etcd_autopsy::cmd::status::run(&a),
        Command::Space(a) => etcd_autopsy::cmd::space::run(&a),
        Command::Report(a) => etcd_autopsy::cmd::report::run(&a),
        Command::Salvage(a) => etcd_autopsy::cmd::salvage::run(&a),
        Command::Wal(a) => etcd_autopsy::cmd::wal::run(&a),
        Command::Snap(a) => etcd_autopsy::cmd::wal::run_snap(&a),
        Command::Export(a) => etcd_autopsy::cmd::export::run(&a),
        Command::Members(a) => etcd_autopsy::cmd::members::run(&a),
        Command::Diff(a) => etcd_autopsy::cmd::diff::run(&a),
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
