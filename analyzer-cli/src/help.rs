//! What `--help` and `--version` say: the commands grouped by the job they do, an example
//! and the exit statuses under every command, and the etcd versions this build reads.

use clap::Command;

/// `--version`: the package version and the commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("ETCD_AUTOPSY_COMMIT"),
    ")"
);

/// `--version` in long form (`etcd-autopsy --version`): also the data it reads.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("ETCD_AUTOPSY_COMMIT"),
    ")\n",
    "reads data dirs written by etcd 3.4 and 3.5 (tested on 3.4.23 and 3.5.1 fixtures);\n",
    "bbolt file format 2 as written by bbolt 1.3.x and 1.4.x; the etcd 3.6 layout is read\n",
    "by its documented keys (meta/storageVersion) but not tested on real 3.6 data"
);

/// The exit statuses, shown under every command's help.
pub const EXIT_STATUS: &str =
    "Exit status: 0 nothing wrong found; 1 damage found (named in the output);\n\
             2 input unreadable (missing, no permission, not an etcd file); 64 wrong command line.";

/// The groups of `--help`, in order: the jobs an operator comes for first, the bbolt and
/// etcd-dump-db plumbing after. A command in no group is listed under "Other commands".
const GROUPS: &[(&str, &[&str])] = &[
    (
        "Jobs",
        &[
            "report", "check", "prefixes", "members", "export", "salvage",
        ],
    ),
    (
        "Space, WAL, snapshots and hashes",
        &[
            "space", "k8s", "wal", "snap", "status", "hash", "diff", "get", "history", "churn",
        ],
    ),
    (
        "bbolt and etcd-dump-db plumbing (same output as the upstream tools)",
        &[
            "info",
            "buckets",
            "stats",
            "pages",
            "page",
            "keys",
            "bbolt-get",
            "list-bucket",
            "iterate-bucket",
        ],
    ),
    ("Shell", &["completions", "man"]),
];

/// One example per command, shown under its help.
const EXAMPLES: &[(&str, &str)] = &[
    ("report", "etcd-autopsy report /var/lib/etcd"),
    ("check", "etcd-autopsy check /var/lib/etcd"),
    (
        "prefixes",
        "etcd-autopsy prefixes --depth 4 --top 20 /var/lib/etcd",
    ),
    (
        "members",
        "etcd-autopsy members /backup/m1 /backup/m2 /backup/m3",
    ),
    (
        "export",
        "etcd-autopsy export --replay-wal /var/lib/etcd > keyspace.jsonl",
    ),
    (
        "salvage",
        "etcd-autopsy salvage /var/lib/etcd --out /tmp/salvaged.db",
    ),
    ("space", "etcd-autopsy space --quota 8GiB /var/lib/etcd"),
    ("wal", "etcd-autopsy wal --summary /var/lib/etcd"),
    ("snap", "etcd-autopsy snap /var/lib/etcd"),
    ("status", "etcd-autopsy status /backup/snapshot.db"),
    ("hash", "etcd-autopsy hash --rev 1234 /var/lib/etcd"),
    ("diff", "etcd-autopsy diff --keys /backup/m1 /backup/m2"),
    (
        "k8s",
        "etcd-autopsy k8s --by namespace --top 10 /var/lib/etcd",
    ),
    (
        "get",
        "etcd-autopsy get /var/lib/etcd /registry/pods/default/web-0 -o yaml",
    ),
    (
        "history",
        "etcd-autopsy history /var/lib/etcd /registry/leases/kube-system/kube-scheduler",
    ),
    (
        "churn",
        "etcd-autopsy churn /var/lib/etcd --from-rev 120000",
    ),
    ("info", "etcd-autopsy info /var/lib/etcd/member/snap/db"),
    (
        "buckets",
        "etcd-autopsy buckets /var/lib/etcd/member/snap/db",
    ),
    ("stats", "etcd-autopsy stats /var/lib/etcd/member/snap/db"),
    ("pages", "etcd-autopsy pages /var/lib/etcd/member/snap/db"),
    ("page", "etcd-autopsy page /var/lib/etcd/member/snap/db 2 3"),
    (
        "keys",
        "etcd-autopsy keys --format hex /var/lib/etcd/member/snap/db key",
    ),
    (
        "bbolt-get",
        "etcd-autopsy bbolt-get --format hex /var/lib/etcd/member/snap/db meta consistent_index",
    ),
    ("list-bucket", "etcd-autopsy list-bucket /var/lib/etcd"),
    (
        "iterate-bucket",
        "etcd-autopsy iterate-bucket /var/lib/etcd key --limit 10 --decode",
    ),
    (
        "completions",
        "etcd-autopsy completions bash > /etc/bash_completion.d/etcd-autopsy",
    ),
    ("man", "etcd-autopsy man | man -l -"),
];

/// The example shown under `name`'s help, if it has one.
pub fn example(name: &str) -> Option<&'static str> {
    EXAMPLES.iter().find(|(n, _)| *n == name).map(|(_, e)| *e)
}

/// Adds to the clap command what derive cannot say: the grouped command list, and under
/// every subcommand its example and the exit statuses.
pub fn decorate(cmd: Command) -> Command {
    let listing = grouped_listing(&cmd);
    let mut cmd = cmd
        .help_template(format!(
            "{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n{listing}\
             Options:\n{{options}}\n\n{EXIT_STATUS}\n"
        ))
        .after_help(EXIT_STATUS);
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(&name, |sub| {
            let text = match example(sub.get_name()) {
                Some(ex) => format!("Example:\n  {ex}\n\n{EXIT_STATUS}"),
                None => EXIT_STATUS.to_string(),
            };
            sub.after_help(text)
        });
    }
    cmd
}

/// The subcommands of `cmd` under the headings of [`GROUPS`], with their one-line about.
fn grouped_listing(cmd: &Command) -> String {
    let subs: Vec<(&str, String)> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| {
            (
                s.get_name(),
                s.get_about().map(|a| a.to_string()).unwrap_or_default(),
            )
        })
        .collect();
    let width = subs.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let line = |name: &str, about: &str| format!("  {name:<width$}  {about}\n");
    let mut out = String::new();
    let mut listed = Vec::new();
    for (heading, names) in GROUPS {
        let rows: String = names
            .iter()
            .filter_map(|n| subs.iter().find(|(s, _)| s == n))
            .map(|(n, a)| {
                listed.push(*n);
                line(n, a)
            })
            .collect();
        if !rows.is_empty() {
            out.push_str(&format!("{heading}:\n{rows}\n"));
        }
    }
    let rest: String = subs
        .iter()
        .filter(|(n, _)| !listed.contains(n) && *n != "help")
        .map(|(n, a)| line(n, a))
        .collect();
    if !rest.is_empty() {
        out.push_str(&format!("Other commands:\n{rest}\n"));
    }
    out
}
