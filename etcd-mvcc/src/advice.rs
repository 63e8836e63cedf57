//! The next steps of `report`: ordered advice with numbers, drawn from [`Facts`].
//!
//! The facts include the whole-member verdict ([`crate::verdict::MemberCheck`]): a member
//! etcd refuses to start gets no `etcdctl` advice (compaction and online defrag need a
//! running member), only what to do instead. Step ids: `refuses_to_start`, `wal_damage`,
//! `db_damage`, `nospace`, `filled_by`, `start`, `compact`, `defrag`, `disarm`, `quota`,
//! `events_ttl`, `never_compacted`, `compaction_interrupted`, `defrag_only`,
//! `compact_then_defrag`, `dominant`.
//!
//! The quota: etcd raises NOSPACE when a write finds the db above `--quota-backend-bytes`,
//! and the db file never shrinks without a defrag; so a raised alarm on a db of size S
//! means the quota in force then was below S. [`Facts::quota_in_force`] uses that bound
//! when the quota given (or the 2 GiB default) contradicts the alarm, and says so.
//! The alarm is disarmed only once the steps before it bring the file below that quota:
//! disarming earlier lets the next write raise it again.

use serde::Serialize;

/// One piece of advice.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Step {
    /// Stable id.
    pub id: &'static str,
    /// The advice in plain words.
    pub text: String,
    /// A command to run, when there is one.
    pub command: Option<String>,
}

/// Bytes in binary units with one decimal ("2.0 MiB"), or "N B" below 1 KiB.
pub fn human_bytes(n: u64) -> String {
    human_bytes_prec(n, 1)
}

fn human_bytes_prec(n: u64, decimals: usize) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.decimals$} {}", UNITS[i])
    }
}

/// `a` and `b` in binary units with as many decimals (up to 3) as it takes for two
/// different sizes to read differently ("2.05 GiB above 2.00 GiB", not "2.0 GiB above
/// 2.0 GiB"); exact byte counts when even that is not enough.
pub fn human_bytes_pair(a: u64, b: u64) -> (String, String) {
    for d in 1..=3 {
        let (x, y) = (human_bytes_prec(a, d), human_bytes_prec(b, d));
        if a == b || x != y {
            return (x, y);
        }
    }
    (format!("{a} bytes"), format!("{b} bytes"))
}

/// `part / whole`, 0 when `whole` is 0.
pub fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// A fraction as a whole percentage; "<1%" for a small non-zero one.
pub fn pct(x: f64) -> String {
    if x > 0.0 && x < 0.01 {
        "<1%".into()
    } else {
        format!("{:.0}%", x * 100.0)
    }
}

/// The facts advice is drawn from (kept separate so the rules can be tested).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// The path given (for commands in the advice).
    pub input: String,
    /// NOSPACE alarm raised.
    pub nospace_alarm: bool,
    /// Quota given (or the default).
    pub quota: u64,
    /// The quota was given by the user (false: etcd's default 2 GiB is assumed).
    pub quota_given: bool,
    /// High-water mark x page size (etcd's dbSize).
    pub db_size: u64,
    /// Predicted defrag size.
    pub defrag_size: u64,
    /// Predicted size after compaction at the newest revision and defrag.
    pub compacted_size: u64,
    /// Newest revision.
    pub revision: i64,
    /// Compact revision (-1 never).
    pub compact_revision: i64,
    /// Scheduled compaction not finished.
    pub compaction_interrupted: Option<i64>,
    /// Revisions a compaction at the newest revision deletes.
    pub revisions_dropped: u64,
    /// Their bytes.
    pub bytes_dropped: u64,
    /// Dominant prefix (prefix, share of data, share of live, revisions, keys, value bytes).
    pub dominant: Option<(String, f64, f64, u64, u64, u64)>,
    /// Live keys under the dominant prefix with a lease.
    pub dominant_leased: u64,
    /// WAL damage found.
    pub wal_damage: bool,
    /// db damage found.
    pub db_damage: bool,
    /// Problems in the key bucket (unreadable pages, undecodable entries) and the page walk.
    pub db_problems: u64,
    /// The first of them, in words.
    pub db_first_problem: Option<String>,
    /// Number of members recorded.
    pub members: usize,
    /// etcd refuses to start on this member as it is; the whole-member verdict saying
    /// why ([`crate::verdict::MemberCheck::refuses_to_start`]).
    pub refuses_to_start: Option<String>,
    /// The verdict on the WAL's damage when etcd repairs it on start (a torn tail).
    pub wal_verdict: Option<String>,
    /// The etcd release that wrote the data dir ([`crate::version::written_by`]): picks
    /// the offline defrag command (`None`: 3.4 assumed).
    pub written_by: Option<crate::version::Release>,
    /// The data dir, when the input was one (for commands that take `--data-dir`).
    pub data_dir: Option<String>,
}

/// Where the quota figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaSource {
    /// `--quota` was given and agrees with the alarms.
    Given,
    /// etcd's default (2 GiB) is assumed, and agrees with the alarms.
    Default,
    /// A raised NOSPACE alarm on a db at or below the quota given or assumed: the quota
    /// in force when it fired was below the db size, which is the figure used.
    InferredFromAlarm,
}

/// The quota the advice works with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct QuotaInForce {
    /// Bytes (for [`QuotaSource::InferredFromAlarm`]: an upper bound).
    pub bytes: u64,
    /// Where it comes from.
    pub source: QuotaSource,
}

impl QuotaInForce {
    /// For a header: "2.0 GiB", "2.0 GiB (assumed: etcd's default)", "below 2.0 MiB
    /// (inferred from the NOSPACE alarm)".
    pub fn describe(&self) -> String {
        match self.source {
            QuotaSource::Given => human_bytes(self.bytes),
            QuotaSource::Default => {
                format!("{} (assumed: etcd's default)", human_bytes(self.bytes))
            }
            QuotaSource::InferredFromAlarm => format!(
                "below {} (inferred from the NOSPACE alarm)",
                human_bytes(self.bytes)
            ),
        }
    }
}

impl Facts {
    /// The quota in force: the one given or assumed, unless a raised NOSPACE alarm on a
    /// db no larger than it proves the member ran with a smaller one (the alarm fires
    /// only when a write finds the db above the quota, and the file never shrinks without
    /// a defrag): then the db size bounds it.
    pub fn quota_in_force(&self) -> QuotaInForce {
        if self.nospace_alarm && self.db_size <= self.quota {
            QuotaInForce {
                bytes: self.db_size,
                source: QuotaSource::InferredFromAlarm,
            }
        } else {
            QuotaInForce {
                bytes: self.quota,
                source: if self.quota_given {
                    QuotaSource::Given
                } else {
                    QuotaSource::Default
                },
            }
        }
    }

    /// The command that defragments the db with etcd stopped: `etcdctl defrag
    /// --data-dir` up to 3.4, `etcdutl defrag --data-dir` from 3.5 on.
    pub fn offline_defrag_command(&self) -> String {
        let dir = self.data_dir.as_deref().unwrap_or("<data-dir>");
        self.written_by
            .unwrap_or(crate::version::Release::V3_4)
            .defrag_command(dir)
    }
}

/// Where the data is, for a member whose damage rules out compaction and defrag: the
/// dominant prefix's share of what could be read.
fn dominant_where(f: &Facts) -> Option<Step> {
    let (p, data, live, ..) = f.dominant.as_ref()?;
    Some(Step {
        id: "dominant",
        text: format!(
            "{p} holds {} of the live bytes ({} of all keys and values read).",
            pct(*live),
            pct(*data)
        ),
        command: None,
    })
}

/// The next steps for `f`, in the order to take them.
pub fn next_steps(f: &Facts) -> Vec<Step> {
    let mut s = Vec::new();
    let step = |id, text: String, command: Option<&str>| Step {
        id,
        text,
        command: command.map(String::from),
    };
    let over_quota = f.db_size > f.quota;
    let nospace = f.nospace_alarm || over_quota;
    if f.db_damage {
        s.push(step(
            "db_damage",
            format!(
                "The bbolt file is damaged ({} problem(s){}); the figures cover what could be read. Keep a copy before anything else; `etcd-autopsy check` lists the damage and `etcd-autopsy salvage` writes a fresh db from what is readable.",
                f.db_problems,
                f.db_first_problem
                    .as_ref()
                    .map(|p| format!(", first: {p}"))
                    .unwrap_or_default()
            ),
            Some(&format!("etcd-autopsy check {}", f.input)),
        ));
        // etcdctl compact/defrag need etcd running on this file: not advised until the
        // damage is dealt with. Say only where the data is.
        s.extend(dominant_where(f));
        return s;
    }
    if let Some(why) = &f.refuses_to_start {
        // etcdctl compact/defrag/alarm need a running member: not advised here. The
        // verdict is the whole-member check's, word for word, so `check` and `report`
        // say the same.
        s.push(step(
            "refuses_to_start",
            format!("etcd will refuse to start on this member: {why}"),
            Some(&format!("etcd-autopsy check {}", f.input)),
        ));
        s.extend(dominant_where(f));
        return s;
    }
    if f.wal_damage {
        s.push(step(
            "wal_damage",
            match &f.wal_verdict {
                Some(v) => format!("The WAL has damage etcd repairs on start: {v}"),
                None => "The WAL has damage (see `etcd-autopsy wal --summary`); etcd may refuse to start until it is repaired or the member is replaced.".into(),
            },
            None,
        ));
    }
    if nospace {
        let why = if f.nospace_alarm && f.db_size <= f.quota {
            format!(
                "The NOSPACE alarm is raised: etcd refuses every write (\"mvcc: database space exceeded\") until it is disarmed. The db is {}, below the {} assumed here, so this member runs with a smaller --quota-backend-bytes (at most about {}).",
                human_bytes(f.db_size),
                human_bytes(f.quota),
                human_bytes(f.db_size)
            )
        } else if f.nospace_alarm {
            let (db, quota) = human_bytes_pair(f.db_size, f.quota);
            format!(
                "The NOSPACE alarm is raised: etcd refuses every write (\"mvcc: database space exceeded\") until it is disarmed. The db ({db}) is above the quota of {quota}."
            )
        } else {
            let (db, quota) = human_bytes_pair(f.db_size, f.quota);
            format!(
                "The db ({db}) is above the quota of {quota}: etcd will raise the NOSPACE alarm and refuse writes."
            )
        };
        s.push(step("nospace", why, None));
        if let Some((p, data, live, revs, keys, _)) = &f.dominant {
            let mut text = format!(
                "{p} filled it: it holds {} of all keys and values in the file ({revs} revisions of {keys} keys) and {} of the live data.",
                pct(*data),
                pct(*live)
            );
            if f.dominant_leased > 0 {
                text.push_str(&format!(
                    " {} of its live keys are attached to leases and go away when those expire.",
                    f.dominant_leased
                ));
            }
            s.push(step("filled_by", text, None));
        }
        s.push(step(
            "start",
            "Start etcd as it is: it serves reads and accepts compaction and defrag with the alarm raised. Then, in order:".into(),
            None,
        ));
        let after = if f.revisions_dropped > 0 {
            f.compacted_size
        } else {
            f.defrag_size
        };
        let quota_now = f.quota_in_force().bytes;
        // Defrag needs no running etcd: the offline form is the way out for a member that
        // cannot start because it is full (its disk, or a db it cannot grow).
        let offline = format!(
            " With etcd stopped (it cannot start, e.g. the disk is full): `{}`.",
            f.offline_defrag_command()
        );
        if f.revisions_dropped > 0 {
            s.push(step(
                "compact",
                format!(
                    "Compact at the newest revision {}: deletes {} old revisions ({}).",
                    f.revision,
                    f.revisions_dropped,
                    human_bytes(f.bytes_dropped)
                ),
                Some(&format!("etcdctl compact {}", f.revision)),
            ));
            s.push(step(
                "defrag",
                format!(
                    "Defragment each member, one at a time: the file goes from {} to about {}.{offline}",
                    human_bytes(f.db_size),
                    human_bytes(f.compacted_size)
                ),
                Some("etcdctl defrag"),
            ));
        } else {
            s.push(step(
                "defrag",
                format!(
                    "Defragment each member, one at a time: the file goes from {} to about {} (nothing to compact: every revision is the newest of its key).{offline}",
                    human_bytes(f.db_size),
                    human_bytes(f.defrag_size)
                ),
                Some("etcdctl defrag"),
            ));
        }
        let disarm = step(
            "disarm",
            "Disarm the alarm so writes are accepted again.".into(),
            Some("etcdctl alarm disarm"),
        );
        if after >= quota_now {
            // Disarming now would let the next write raise the alarm again: the quota
            // has to go up first.
            let (a, q) = human_bytes_pair(after, quota_now);
            s.push(step(
                "quota",
                format!(
                    "Even then the file ({a}) stays above the quota ({q}): raise --quota-backend-bytes on every member (restart each; etcd suggests at most 8 GiB), or delete keys under the prefix that filled it, before disarming."
                ),
                None,
            ));
            s.push(Step {
                text: "Then disarm the alarm so writes are accepted again (not before the file is below the quota: the next write would raise it again).".into(),
                ..disarm
            });
        } else {
            s.push(disarm);
            // Below ~80% of the quota there is room to work; above it the member fills
            // again soon.
            if after as f64 > 0.8 * quota_now as f64 {
                s.push(step(
                    "quota",
                    format!(
                        "Even then the file stays near the quota ({} of about {}): raise --quota-backend-bytes on every member (etcd suggests at most 8 GiB), or delete keys under the prefix that filled it.",
                        human_bytes(after),
                        human_bytes(quota_now)
                    ),
                    None,
                ));
            } else {
                s.push(step(
                    "quota",
                    format!(
                        "That leaves the file at {} of its quota of about {}; raise --quota-backend-bytes (on every member; etcd suggests at most 8 GiB) only if the data is meant to grow.",
                        pct(share(after, quota_now)),
                        human_bytes(quota_now)
                    ),
                    None,
                ));
            }
        }
        if let Some((p, ..)) = &f.dominant {
            if p.starts_with("/registry/events/") {
                s.push(step(
                    "events_ttl",
                    "Events filled it: lower kube-apiserver's --event-ttl (default 1h) or find the component that emits them in a loop.".into(),
                    None,
                ));
            }
        }
        if f.compact_revision < 0 && f.revision > 1000 {
            s.push(step(
                "never_compacted",
                format!(
                    "This keyspace was never compacted ({} revisions of history): kube-apiserver compacts every 5 minutes by default (--etcd-compaction-interval); check it, or run etcd with --auto-compaction-retention.",
                    f.revision
                ),
                None,
            ));
        }
    } else {
        if f.defrag_size < f.db_size && (f.db_size - f.defrag_size) * 10 >= f.db_size {
            s.push(step(
                "defrag_only",
                format!(
                    "Defrag takes the file from {} to about {} ({} free or fragmented).",
                    human_bytes(f.db_size),
                    human_bytes(f.defrag_size),
                    pct(share(f.db_size - f.defrag_size, f.db_size))
                ),
                Some("etcdctl defrag"),
            ));
        }
        if f.revisions_dropped > 0 && f.compacted_size * 10 <= f.defrag_size * 9 {
            s.push(step(
                "compact_then_defrag",
                format!(
                    "Compaction at revision {} (deletes {} old revisions, {}) and then defrag takes it to about {}.",
                    f.revision,
                    f.revisions_dropped,
                    human_bytes(f.bytes_dropped),
                    human_bytes(f.compacted_size)
                ),
                Some(&format!("etcdctl compact {} && etcdctl defrag", f.revision)),
            ));
        }
        if let Some((p, data, live, ..)) = &f.dominant {
            if *data >= 0.3 || *live >= 0.3 {
                s.push(step(
                    "dominant",
                    format!(
                        "{p} holds {} of the live bytes ({} of all keys and values kept in the file).",
                        pct(*live),
                        pct(*data)
                    ),
                    None,
                ));
            }
        }
        if f.compact_revision < 0 && f.revision > 10_000 {
            s.push(step(
                "never_compacted",
                format!(
                    "This keyspace was never compacted ({} revisions): check kube-apiserver's --etcd-compaction-interval or etcd's --auto-compaction-retention.",
                    f.revision
                ),
                None,
            ));
        }
    }
    if let Some(r) = f.compaction_interrupted {
        s.push(step(
            "compaction_interrupted",
            format!(
                "A compaction at revision {r} was scheduled but not finished; etcd finishes it when it starts."
            ),
            None,
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::DEFAULT_QUOTA;

    fn nospace_facts() -> Facts {
        Facts {
            nospace_alarm: true,
            quota: 2 << 20,
            db_size: 2_101_248,
            defrag_size: 2_088_960,
            compacted_size: 376_832,
            revision: 989,
            compact_revision: -1,
            revisions_dropped: 826,
            bytes_dropped: 1_200_000,
            dominant: Some(("/registry/events/".into(), 0.9, 0.8, 950, 136, 1_800_000)),
            dominant_leased: 136,
            ..Facts::default()
        }
    }

    #[test]
    fn nospace_advice_names_the_prefix_and_the_commands_in_order() {
        let steps = next_steps(&nospace_facts());
        let ids: Vec<&str> = steps.iter().map(|s| s.id).collect();
        assert_eq!(
            ids,
            [
                "nospace",
                "filled_by",
                "start",
                "compact",
                "defrag",
                "disarm",
                "quota",
                "events_ttl"
            ]
        );
        assert!(steps[1].text.starts_with("/registry/events/ filled it"));
        assert_eq!(steps[3].command.as_deref(), Some("etcdctl compact 989"));
        assert!(steps[4].text.contains("368.0 KiB"));
        assert_eq!(steps[5].command.as_deref(), Some("etcdctl alarm disarm"));
    }

    #[test]
    fn quota_advice_when_compaction_does_not_free_enough() {
        let mut f = nospace_facts();
        f.compacted_size = 2_000_000;
        let steps = next_steps(&f);
        let q = steps.iter().find(|s| s.id == "quota").unwrap();
        assert!(q.text.starts_with("Even then"), "{}", q.text);
    }

    #[test]
    fn a_damaged_db_gets_no_etcdctl_advice() {
        let mut f = nospace_facts();
        f.db_damage = true;
        f.db_problems = 2;
        f.input = "/var/lib/etcd".into();
        let steps = next_steps(&f);
        let ids: Vec<&str> = steps.iter().map(|s| s.id).collect();
        assert_eq!(ids, ["db_damage", "dominant"]);
        assert_eq!(
            steps[0].command.as_deref(),
            Some("etcd-autopsy check /var/lib/etcd")
        );
    }

    #[test]
    fn healthy_compact_member_gets_no_advice() {
        let f = Facts {
            quota: DEFAULT_QUOTA,
            db_size: 1 << 20,
            defrag_size: 1 << 20,
            compacted_size: 1 << 20,
            revision: 50,
            compact_revision: 40,
            dominant: Some(("/registry/pods/".into(), 0.2, 0.2, 10, 10, 100)),
            ..Facts::default()
        };
        assert!(next_steps(&f).is_empty());
    }

    #[test]
    fn fragmented_member_gets_defrag_and_compaction_figures() {
        let f = Facts {
            quota: DEFAULT_QUOTA,
            db_size: 1_282_048,
            defrag_size: 954_368,
            compacted_size: 741_376,
            revision: 543,
            compact_revision: 381,
            revisions_dropped: 155,
            bytes_dropped: 170_000,
            dominant: Some(("/registry/configmaps/".into(), 0.35, 0.45, 21, 18, 250_000)),
            ..Facts::default()
        };
        let steps = next_steps(&f);
        let ids: Vec<&str> = steps.iter().map(|s| s.id).collect();
        assert_eq!(ids, ["defrag_only", "compact_then_defrag", "dominant"]);
        assert!(steps[0].text.contains("from 1.2 MiB to about 932.0 KiB"));
        assert!(steps[2].text.contains("45% of the live bytes"));
    }

    #[test]
    fn the_alarm_is_disarmed_only_after_the_quota_is_above_the_file() {
        // 2.2 GB db over the 2 GiB default; compaction and defrag still leave 2.16 GB.
        let f = Facts {
            nospace_alarm: true,
            quota: DEFAULT_QUOTA,
            db_size: 2_200_000_000,
            defrag_size: 2_180_000_000,
            compacted_size: 2_160_000_000,
            revision: 5000,
            revisions_dropped: 100,
            bytes_dropped: 50_000_000,
            ..Facts::default()
        };
        let steps = next_steps(&f);
        let ids: Vec<&str> = steps.iter().map(|s| s.id).collect();
        let pos = |id| ids.iter().position(|x| *x == id).unwrap();
        assert!(pos("quota") < pos("disarm"), "{ids:?}");
        assert!(steps[pos("quota")].text.contains("before disarming"));
        // And the sizes read differently: not "2.0 GiB above 2.0 GiB".
        assert!(
            steps[0]
                .text
                .contains("(2.05 GiB) is above the quota of 2.00 GiB"),
            "{}",
            steps[0].text
        );
    }

    #[test]
    fn close_sizes_get_enough_decimals_to_differ() {
        assert_eq!(
            human_bytes_pair(2_200_000_000, 2 << 30),
            ("2.05 GiB".to_string(), "2.00 GiB".to_string())
        );
        assert_eq!(
            human_bytes_pair(1 << 20, 2 << 20),
            ("1.0 MiB".to_string(), "2.0 MiB".to_string())
        );
        assert_eq!(
            human_bytes_pair(2147483649, 2147483648).0,
            "2147483649 bytes"
        );
    }

    #[test]
    fn a_raised_alarm_on_a_db_below_the_quota_bounds_the_quota_in_force() {
        let mut f = nospace_facts();
        f.quota = 16 << 20;
        f.quota_given = true;
        let q = f.quota_in_force();
        assert_eq!(q.source, QuotaSource::InferredFromAlarm);
        assert_eq!(q.bytes, f.db_size);
        f.nospace_alarm = false;
        assert_eq!(f.quota_in_force().source, QuotaSource::Given);
    }

    #[test]
    fn offline_defrag_uses_etcdctl_for_34_and_etcdutl_from_35() {
        let mut f = nospace_facts();
        f.data_dir = Some("/var/lib/etcd".into());
        assert_eq!(
            f.offline_defrag_command(),
            "etcdctl defrag --data-dir /var/lib/etcd"
        );
        f.written_by = Some(crate::version::Release::V3_5);
        assert_eq!(
            f.offline_defrag_command(),
            "etcdutl defrag --data-dir /var/lib/etcd"
        );
    }

    #[test]
    fn a_member_that_will_not_start_gets_no_etcdctl_advice() {
        let mut f = nospace_facts();
        f.refuses_to_start = Some("WAL unreadable at x.wal+8".into());
        let steps = next_steps(&f);
        let ids: Vec<&str> = steps.iter().map(|s| s.id).collect();
        assert_eq!(ids, ["refuses_to_start", "dominant"]);
        assert!(steps
            .iter()
            .all(|s| !s.command.as_deref().unwrap_or("").starts_with("etcdctl")));
    }
}
