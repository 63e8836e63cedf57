//! `check <DATA-DIR>` (or a `member/` dir): the whole member, not only its bbolt file.
//!
//! The check itself, its findings and verdicts are computed by
//! [`etcd_mvcc::verdict::check_member`] (its module doc lists the kinds and the JSON);
//! this module adds `--upgrade-to`'s answers and prints them.
//!
//! Exit status: 0 no damage, 1 damage found, 2 nothing readable (no db and no WAL).

use crate::error::{CliError, Result, EXIT_DAMAGE, EXIT_OK};
use crate::output::{print_json, sanitize, stdout};
use bbolt_reader::{Db, MetaChoice};
use etcd_mvcc::finding::Finding;
use etcd_mvcc::info::read_info;
use etcd_mvcc::member::{DbImage, Member};
pub use etcd_mvcc::verdict::{
    check_member, MemberCheck, MemberSummary, SnapPoint, StopPoint, UpgradeReport,
};
use serde::Serialize;
use std::io::Write;
use wal_reader::{SnapDir, WalDir};

/// v2 requests of the WAL tail kept for the upgrade answers at most.
const MAX_V2_LISTED: usize = 1000;

/// Gathers what `etcd_mvcc::upgrade` needs from the member's files and the peers'.
fn upgrade_report(
    member: &Member,
    meta: MetaChoice,
    check: &MemberCheck,
    target: etcd_mvcc::version::Release,
    peers: &[std::path::PathBuf],
) -> Result<UpgradeReport> {
    use etcd_mvcc::upgrade::{check_v2store, upgrade_answers, UpgradeFacts, WalV2Request};
    let mut f = UpgradeFacts::default();
    let written = |path: &std::path::Path| -> Option<(etcd_mvcc::info::EtcdInfo, etcd_mvcc::version::WrittenBy)> {
        let m = etcd_mvcc::member::resolve(path).ok()?;
        let image = DbImage::open_file(m.db.as_ref()?, m.kind).ok()?;
        let db = Db::open_with(image.bytes(), meta).ok()?;
        let info = read_info(&db);
        let w = etcd_mvcc::version::written_by(&info.meta);
        Some((info, w))
    };
    if let Some((info, w)) = member.db.as_ref().and_then(|_| written(&member.given)) {
        f.cluster_version = info.cluster_version.clone();
        f.downgrade = info.downgrade.clone();
        f.written_by = Some(w);
    }
    let mut snap_index = 0;
    if let Some(d) = &member.snap_dir {
        let snaps = SnapDir::open(d)?;
        if let Some(l) = snaps.loaded() {
            snap_index = l.metadata.as_ref().map_or(0, |m| m.index);
            let file = wal_reader::MappedFile::open(&d.join(&l.name))?;
            f.v2store = Some(match wal_reader::snap::snap_v2_store(file.bytes()) {
                Some(json) => check_v2store(&l.name, json),
                None => etcd_mvcc::upgrade::V2StoreCheck {
                    file: l.name.clone(),
                    custom_nodes: Vec::new(),
                    problem: Some("the v2 store does not decode".into()),
                },
            });
        }
    }
    if let Some(d) = &member.wal_dir {
        let wal = WalDir::open(d)?;
        let scan = wal.scan(wal_reader::ScanOptions { raw: false });
        for e in scan.entries.iter().filter(|e| e.entry.index > snap_index) {
            if e.entry.entry_type != wal_reader::EntryType::Normal {
                continue;
            }
            let v2 = match wal_reader::pb::NormalData::decode(e.entry.data) {
                wal_reader::pb::NormalData::V2(r) => Some(r),
                wal_reader::pb::NormalData::Internal(r) => r.v2.clone().map(Box::new),
                _ => None,
            };
            if let Some(r) = v2 {
                if f.wal_v2_requests.len() < MAX_V2_LISTED {
                    f.wal_v2_requests.push(WalV2Request {
                        index: e.entry.index,
                        method: String::from_utf8_lossy(&r.method).into_owned(),
                        path: String::from_utf8_lossy(&r.path).into_owned(),
                    });
                }
            }
        }
    }
    for p in peers {
        f.peers
            .push((p.display().to_string(), written(p).map(|(_, w)| w.version)));
    }
    f.blocking_damage = check
        .findings
        .iter()
        .map(|x| format!("{} {}: {}", x.component, x.kind, x.message))
        .collect();
    let answers = upgrade_answers(target, &f);
    Ok(UpgradeReport {
        target,
        ready: answers.iter().all(|a| a.ok),
        answers,
    })
}

/// Runs the whole-member check of `member` and prints it; returns the exit status.
pub fn run(
    member: &Member,
    meta: MetaChoice,
    json: bool,
    upgrade: Option<(etcd_mvcc::version::Release, Vec<std::path::PathBuf>)>,
) -> Result<u8> {
    super::warn_if_running(member);
    if member.db.is_none() && member.wal_dir.is_none() {
        return Err(CliError::input(
            &member.given,
            "neither member/snap/db nor member/wal found",
        ));
    }
    let mut report = check_member(member, meta)?;
    if let Some((target, peers)) = upgrade {
        report.upgrade = Some(upgrade_report(member, meta, &report, target, &peers)?);
    }
    print_report(&report, json)?;
    let ready = report.upgrade.as_ref().is_none_or(|u| u.ready);
    Ok(if report.ok && ready {
        EXIT_OK
    } else {
        EXIT_DAMAGE
    })
}

fn finding_line(f: &Finding) -> String {
    let l = &f.location;
    let place = match (&l.page, &l.file, l.offset) {
        (Some(p), _, _) => format!("page {p}: "),
        (None, Some(file), Some(o)) => format!("{}+{o}: ", sanitize(file.as_bytes())),
        (None, Some(file), None) => format!("{}: ", sanitize(file.as_bytes())),
        _ => String::new(),
    };
    format!(
        "{} {} {}: {place}{}",
        f.component,
        if f.is_damage() { "DAMAGE" } else { "info" },
        f.kind,
        sanitize(f.message.as_bytes())
    )
}

/// Text: when the member is clean stdout holds only `OK` (as `check <DB>`), and the
/// figures and notes go to stderr; otherwise stdout holds the figures, every finding,
/// the verdicts and `N problems found`.
fn print_report(r: &MemberCheck, json: bool) -> Result<()> {
    if json {
        #[derive(Serialize)]
        struct Out<'a> {
            schema: &'static str,
            #[serde(flatten)]
            check: &'a MemberCheck,
        }
        return print_json(&Out {
            schema: "etcd-autopsy/member-check/v1",
            check: r,
        });
    }
    let m = &r.member;
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |x| x.to_string());
    let mut context = vec![
        format!(
            "member {} (cluster {}): consistent index {}, revision {}, compact revision {}",
            m.node_id_hex.as_deref().unwrap_or("?"),
            m.cluster_id_hex.as_deref().unwrap_or("?"),
            opt(m.consistent_index),
            m.revision.map_or("-".into(), |x| x.to_string()),
            m.compact_revision.map_or("-".into(), |x| x.to_string()),
        ),
        format!(
            "WAL: {} segments, entries {}..{}, term {}, commit {}; snapshot {}",
            m.wal_segments,
            opt(m.first_index),
            opt(m.last_index),
            opt(m.term),
            opt(m.commit),
            m.snapshot.as_ref().map_or("none".to_string(), |s| format!(
                "{} (index {}, term {})",
                s.file, s.index, s.term
            )),
        ),
    ];
    if let (Some(w), Some(rule)) = (&m.written_by, &m.written_by_rule) {
        context.push(format!(
            "written by etcd {w}: {}",
            sanitize(rule.as_bytes())
        ));
    }
    if m.db_term.is_some() || m.conf_state.is_some() {
        let hex = |v: &[u64]| {
            v.iter()
                .map(|x| format!("{x:016x}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        context.push(format!(
            "db meta: term {}, confState voters [{}]{}; raft at the consistent index: {}",
            opt(m.db_term),
            m.conf_state.as_ref().map_or("-".into(), |c| hex(&c.voters)),
            m.conf_state
                .as_ref()
                .filter(|c| !c.learners.is_empty())
                .map_or(String::new(), |c| format!(
                    " learners [{}]",
                    hex(&c.learners)
                )),
            m.raft_conf.as_ref().map_or("-".into(), |r| format!(
                "voters [{}] from {}",
                hex(&r.voters),
                r.source
            )),
        ));
    }
    context.extend(m.notes.iter().map(finding_line));
    // The figures and verdicts are the answer an operator needs either way, so they go to
    // stdout; the last line says OK (as `check <DB>` does) or counts the problems.
    let mut out: Vec<u8> = Vec::new();
    // Damage before information; a finding whose message is also a verdict is printed once,
    // as the verdict.
    let mut shown: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| !m.verdicts.contains(&f.message))
        .collect();
    shown.sort_by_key(|f| !f.is_damage());
    for f in &shown {
        writeln!(out, "{}", finding_line(f))?;
    }
    for l in &context {
        writeln!(out, "{l}")?;
    }
    for v in &m.verdicts {
        writeln!(out, "verdict: {}", sanitize(v.as_bytes()))?;
    }
    if let Some(u) = &r.upgrade {
        writeln!(
            out,
            "upgrade to {}: {}",
            u.target,
            if u.ready { "ready" } else { "NOT READY" }
        )?;
        for a in &u.answers {
            writeln!(
                out,
                "  {} {}: {} [rule: {}]",
                if a.ok { "ok    " } else { "BLOCKS" },
                serde_json::to_value(a.rule)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                sanitize(a.detail.as_bytes()),
                a.cites
            )?;
        }
    }
    let blocked = r
        .upgrade
        .as_ref()
        .map_or(0, |u| u.answers.iter().filter(|a| !a.ok).count());
    if r.ok && blocked > 0 {
        writeln!(
            out,
            "no damage; the upgrade is blocked by {blocked} rule(s)"
        )?;
    } else if r.ok {
        writeln!(out, "OK")?;
    } else {
        writeln!(out, "{} problems found", r.findings.len())?;
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let mut stdout = stdout();
    stdout.write_all(crate::output::present(&text).as_bytes())?;
    stdout.flush()?;
    Ok(())
}
