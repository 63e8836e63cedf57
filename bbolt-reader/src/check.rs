//! Findings: what is wrong with a file, page by page.
//!
//! [`check`] runs bbolt's own consistency checks (bbolt `tx_check.go`: page out of bounds,
//! referenced twice, reachable and free, unreachable and not free, wrong page type, keys
//! out of order) and the checks a hostile file needs (cycles, elements outside their page,
//! overflow past the end of the file, a truncated file, invalid metas). Each finding names
//! one page id. A file with findings is still read as far as it safely can be.

use crate::db::Db;
use crate::error::{Error, Result};
use crate::meta::{MetaChoice, MetaProblem, MAGIC};
use crate::walk::{walk, Walk};
use crate::Pgid;

pub use crate::finding::{Finding, FindingKind};

/// The result of [`check`].
#[derive(Debug, Clone)]
pub struct CheckReport {
    /// Which meta page the tree was read from (`None` when neither is valid).
    pub meta_index: Option<usize>,
    /// Everything found, meta findings first, then in walk order.
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// True when nothing was found.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Checks the whole file as of the newest valid meta. Invalid metas are findings.
///
/// Fails only when the bytes do not look like a bbolt file at all (neither meta page carries
/// the magic number); a file with two damaged metas is reported, not rejected.
pub fn check_bytes(data: &[u8]) -> Result<CheckReport> {
    check_bytes_with(data, MetaChoice::Newest)
}

/// Like [`check_bytes`], reading the tree from the chosen meta page.
pub fn check_bytes_with(data: &[u8], choice: MetaChoice) -> Result<CheckReport> {
    match Db::open_with(data, choice) {
        Ok(db) => Ok(check(&db)),
        Err(e @ (Error::NoValidMeta { .. } | Error::MetaInvalid { .. })) => {
            let (_, slots) = crate::meta::guess_slots(data, crate::meta::page_size_in_range);
            if slots
                .iter()
                .all(|s| s.meta.is_none_or(|m| m.magic != MAGIC))
            {
                return Err(e);
            }
            let findings = slots
                .iter()
                .filter_map(|s| meta_finding(s.index, s.problem))
                .collect();
            Ok(CheckReport {
                meta_index: None,
                findings,
            })
        }
        Err(e) => Err(e),
    }
}

pub(crate) fn meta_finding(index: usize, problem: Option<MetaProblem>) -> Option<Finding> {
    problem.map(|p| Finding {
        page: index as Pgid,
        kind: FindingKind::MetaInvalid,
        message: format!("meta page {index} is invalid: {p}"),
    })
}

/// Checks the tree of `db`'s meta, the page accounting and both metas.
pub fn check(db: &Db<'_>) -> CheckReport {
    check_walk(db, &walk(db))
}

/// The findings of an existing [`Walk`] plus the meta findings of `db`.
pub fn check_walk(db: &Db<'_>, w: &Walk<'_>) -> CheckReport {
    let mut findings: Vec<Finding> = db
        .metas()
        .iter()
        .filter_map(|s| meta_finding(s.index, s.problem))
        .collect();
    findings.extend(w.findings.iter().cloned());
    CheckReport {
        meta_index: Some(db.meta_index()),
        findings,
    }
}
