//! `etcd-autopsy`: parses flags, runs one command, maps the outcome to an exit status.

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use etcd_autopsy::cmd;
use etcd_autopsy::error::{EXIT_UNREADABLE, EXIT_USAGE};
use etcd_autopsy::help;
use std::io::IsTerminal;
use std::process::ExitCode;

/// Offline diagnosis of a stopped etcd member's data directory. Never writes to its input.
#[derive(Debug, Parser)]
#[command(name = "etcd-autopsy", version = help::VERSION, long_version = help::LONG_VERSION, about, long_about = None)]
struct Cli {
    /// Output format, as etcdctl spells it: `-w json` is `--json`; `simple` is the text.
    #[arg(
        short = 'w',
        long = "write-out",
        global = true,
        value_enum,
        value_name = "FORMAT"
    )]
    write_out: Option<WriteOut>,
    /// Print nothing on stderr but errors: no progress bars, notes or warnings.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Colour verdicts: auto (when stdout is a terminal and NO_COLOR is unset), always, never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    color: ColorWhen,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum WriteOut {
    /// JSON, as `--json`.
    Json,
    /// Human text (the default).
    Simple,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorWhen {
    Auto,
    Always,
    Never,
}

// Variant order is the order `--help` lists them in within their group (see help.rs).
#[derive(Debug, Subcommand)]
enum Command {
    /// The on-call summary: identity, revisions, alarms, where the space went, next steps.
    Report(cmd::report::Args),
    /// Consistency check of the bbolt file; for a data dir the whole member: db, WAL, snapshots.
    Check(cmd::bbolt::CheckArgs),
    /// Keys, revisions and bytes per key prefix (where the space went).
    Prefixes(cmd::prefixes::Args),
    /// Several members side by side: ids, indexes, revisions, HashKV; who holds the most data.
    Members(cmd::members::Args),
    /// The live keyspace at a revision as JSON lines (--replay-wal: with the unapplied WAL tail).
    Export(cmd::export::Args),
    /// Rebuild a fresh, compact db from what is readable in a damaged one (writes --out only).
    Salvage(cmd::salvage::Args),
    /// Where the file's bytes go; what defrag and compaction would give back; quota use.
    Space(cmd::space::Args),
    /// Dump, verify and summarise the WAL (etcd-dump-logs layout; --summary; --json).
    Wal(cmd::wal::WalArgs),
    /// List the .snap files with index, term, voters and CRC status.
    Snap(cmd::wal::SnapArgs),
    /// The figures of `etcdctl snapshot status`, and whether a snapshot's SHA-256 trailer matches.
    Status(cmd::status::Args),
    /// etcd's HashKV at a revision (as `etcdctl endpoint hashkv`), or the whole-db hash (--db).
    Hash(cmd::hash::Args),
    /// Kubernetes objects by resource, namespace, kind or owner; largest, churning, stuck, orphaned.
    K8s(cmd::k8s::Args),
    /// One Kubernetes object decoded (-o json|yaml|raw), at its newest or a given revision.
    Get(cmd::k8s::GetArgs),
    /// Every kept revision of one key: size, revision and what changed in its metadata.
    History(cmd::k8s::HistoryArgs),
    /// What was written in a revision window, per key, resource and kind.
    Churn(cmd::k8s::ChurnArgs),
    /// Keys that differ between two members, dbs or snapshots (counts per prefix; --keys).
    Diff(cmd::diff::Args),
    /// Page size, file size and both meta pages of the bbolt file, as `bbolt info`.
    Info(cmd::bbolt::InfoArgs),
    /// Bucket names (nested as paths), as `bbolt buckets`.
    Buckets(cmd::bbolt::BucketsArgs),
    /// Per-bucket statistics with bbolt's Bucket.Stats() meaning, as `bbolt stats`.
    Stats(cmd::bbolt::StatsArgs),
    /// The page table, as `bbolt pages` prints it.
    Pages(cmd::bbolt::PagesArgs),
    /// One or more pages' items, as `bbolt page` prints them.
    Page(cmd::bbolt::PageArgs),
    /// The keys of a (nested) bucket, as `bbolt keys` prints them.
    Keys(cmd::bbolt::KeysArgs),
    /// One value of a (nested) bucket, as `bbolt get` prints it.
    BboltGet(cmd::bbolt::GetArgs),
    /// Top-level bucket names, as etcd-dump-db list-bucket prints them.
    ListBucket(cmd::dumpdb::ListBucketArgs),
    /// A bucket's entries in reverse key order, as etcd-dump-db iterate-bucket prints them.
    IterateBucket(cmd::dumpdb::IterateBucketArgs),
    /// Shell completions for bash, zsh, fish, elvish or powershell, on stdout.
    Completions(cmd::shell::CompletionsArgs),
    /// The manual page (roff), on stdout: `etcd-autopsy man | man -l -`.
    Man(cmd::shell::ManArgs),
}

impl Command {
    /// Turns on the command's JSON output (`-w json`); false when it has none.
    fn set_json(&mut self) -> bool {
        match self {
            Command::Report(a) => a.json = true,
            Command::Check(a) => a.db.json = true,
            Command::Prefixes(a) => a.json = true,
            Command::Members(a) => a.json = true,
            Command::Export(a) => a.json = true,
            Command::Salvage(a) => a.json = true,
            Command::Space(a) => a.json = true,
            Command::Wal(a) => a.json = true,
            Command::Snap(a) => a.json = true,
            Command::Status(a) => a.json = true,
            Command::Hash(a) => a.json = true,
            Command::Diff(a) => a.json = true,
            Command::K8s(a) => a.json = true,
            Command::Get(a) => a.output = cmd::k8s::GetOutput::Json,
            Command::History(a) => a.json = true,
            Command::Churn(a) => a.json = true,
            Command::Info(a) => a.json = true,
            Command::Buckets(a) => a.db.json = true,
            Command::Stats(a) => a.db.json = true,
            Command::Pages(a) => a.db.json = true,
            Command::Page(a) => a.json = true,
            Command::Keys(a) => a.json = true,
            Command::BboltGet(a) => a.json = true,
            Command::ListBucket(a) => a.json = true,
            Command::IterateBucket(a) => a.json = true,
            Command::Completions(_) | Command::Man(_) => return false,
        }
        true
    }

    fn run(&self) -> etcd_autopsy::Result<u8> {
        match self {
            Command::Report(a) => cmd::report::run(a),
            Command::Check(a) => cmd::bbolt::run_check(a),
            Command::Prefixes(a) => cmd::prefixes::run(a),
            Command::Members(a) => cmd::members::run(a),
            Command::Export(a) => cmd::export::run(a),
            Command::Salvage(a) => cmd::salvage::run(a),
            Command::Space(a) => cmd::space::run(a),
            Command::Wal(a) => cmd::wal::run(a),
            Command::Snap(a) => cmd::wal::run_snap(a),
            Command::Status(a) => cmd::status::run(a),
            Command::Hash(a) => cmd::hash::run(a),
            Command::Diff(a) => cmd::diff::run(a),
            Command::K8s(a) => cmd::k8s::run(a),
            Command::Get(a) => cmd::k8s::run_get(a),
            Command::History(a) => cmd::k8s::run_history(a),
            Command::Churn(a) => cmd::k8s::run_churn(a),
            Command::Info(a) => cmd::bbolt::run_info(a),
            Command::Buckets(a) => cmd::bbolt::run_buckets(a),
            Command::Stats(a) => cmd::bbolt::run_stats(a),
            Command::Pages(a) => cmd::bbolt::run_pages(a),
            Command::Page(a) => cmd::bbolt::run_page(a),
            Command::Keys(a) => cmd::bbolt::run_keys(a),
            Command::BboltGet(a) => cmd::bbolt::run_get(a),
            Command::ListBucket(a) => cmd::dumpdb::run_list_bucket(a),
            Command::IterateBucket(a) => cmd::dumpdb::run_iterate_bucket(a),
            Command::Completions(a) => cmd::shell::run_completions(a, Cli::command()),
            Command::Man(a) => cmd::shell::run_man(a, help::decorate(Cli::command())),
        }
    }
}

fn main() -> ExitCode {
    let matches = match help::decorate(Cli::command()).try_get_matches() {
        Ok(m) => m,
        Err(e) => return usage_error(e),
    };
    let mut cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => return usage_error(e),
    };
    let color = match cli.color {
        ColorWhen::Always => "always",
        ColorWhen::Never => "never",
        ColorWhen::Auto => "auto",
    };
    etcd_autopsy::output::init(etcd_autopsy::output::Settings {
        quiet: cli.quiet,
        color: etcd_autopsy::output::color_wanted(
            color,
            std::io::stdout().is_terminal(),
            std::env::var("NO_COLOR").ok().as_deref(),
        ),
    });
    if cli.write_out == Some(WriteOut::Json) && !cli.command.set_json() {
        eprintln!("etcd-autopsy: this command has no JSON output");
        return ExitCode::from(EXIT_USAGE);
    }
    let result = cli.command.run();
    etcd_autopsy::cmd::wait_for_running_checks();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if etcd_autopsy::output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("etcd-autopsy: {e}");
            ExitCode::from(EXIT_UNREADABLE)
        }
    }
}

/// `--help` and `--version` print and exit 0; a wrong command line exits [`EXIT_USAGE`].
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let _ = e.print();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
        _ => ExitCode::from(EXIT_USAGE),
    }
}
