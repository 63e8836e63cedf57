//! Finding the segments in `member/wal` and checking their names.
//!
//! etcd names a segment `%016x-%016x.wal`: a sequence number (0, 1, 2, ... without gaps)
//! and the raft index of the first entry the segment was created for (etcd `wal/util.go`).
//! `0.tmp`/`1.tmp` are preallocated next segments (`file_pipeline.go`); `*.broken` files are
//! left by repairs. Other files are ignored by etcd and reported here.

use crate::finding::{Finding, FindingKind};
use crate::map::MappedFile;
use crate::Error;
use std::path::{Path, PathBuf};

/// Sequence number and first index parsed from a canonical segment name.
pub fn parse_segment_name(name: &str) -> Option<(u64, u64)> {
    parse_hex_pair(name, ".wal")
}

/// The two numbers of a `%016x-%016x<suffix>` name (WAL segments and `.snap` files).
pub(crate) fn parse_hex_pair(name: &str, suffix: &str) -> Option<(u64, u64)> {
    let stem = name.strip_suffix(suffix)?;
    let (a, b) = stem.split_once('-')?;
    // from_str_radix alone would also take a leading '+'.
    let hex = |s: &str| {
        (s.len() == 16 && s.bytes().all(|c| c.is_ascii_hexdigit()))
            .then(|| u64::from_str_radix(s, 16).ok())
            .flatten()
    };
    Some((hex(a)?, hex(b)?))
}

/// The canonical name of segment `seq` starting at `index`.
pub fn segment_name(seq: u64, index: u64) -> String {
    format!("{seq:016x}-{index:016x}.wal")
}

/// One segment file, mapped.
#[derive(Debug)]
pub struct SegmentFile {
    /// File name.
    pub name: String,
    /// Sequence number from the name.
    pub seq: u64,
    /// First raft index from the name.
    pub index: u64,
    /// The mapped file.
    pub file: MappedFile,
}

/// The segments of a WAL directory, in name order, with directory-level findings.
#[derive(Debug)]
pub struct WalDir {
    /// The directory.
    pub dir: PathBuf,
    /// Segments in name (= sequence) order.
    pub segments: Vec<SegmentFile>,
    /// Names of `.tmp` files.
    pub tmp_files: Vec<String>,
    /// Names of `*.broken` files.
    pub broken_files: Vec<String>,
    /// Findings about names and sequence numbers.
    pub findings: Vec<Finding>,
}

impl WalDir {
    /// The WAL of a data dir: `path` may be the data dir (`<path>/member/wal`), its
    /// `member/` dir (`<path>/wal`) or the WAL directory itself.
    pub fn open_data_dir(path: impl AsRef<Path>) -> Result<WalDir, Error> {
        let path = path.as_ref();
        let dir = [path.join("member").join("wal"), path.join("wal")]
            .into_iter()
            .find(|d| d.is_dir())
            .unwrap_or_else(|| path.to_path_buf());
        WalDir::open(&dir)
    }

    /// Lists and maps the segments of `dir` (a `member/wal` directory).
    pub fn open(dir: &Path) -> Result<WalDir, Error> {
        let io = |source| Error::Io {
            path: dir.to_path_buf(),
            source,
        };
        // Every name counts, whatever its type: etcd lists names, not files, and then fails
        // to open a segment that is a directory, a FIFO or a link loop.
        let mut names: Vec<String> = Vec::new();
        for e in std::fs::read_dir(dir).map_err(io)? {
            let e = e.map_err(io)?;
            let name = e.file_name().to_string_lossy().into_owned();
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            // Subdirectories without a segment's name are not etcd's business.
            if !is_dir || parse_segment_name(&name).is_some() {
                names.push(name);
            }
        }
        names.sort();
        let mut d = WalDir {
            dir: dir.to_path_buf(),
            segments: Vec::new(),
            tmp_files: Vec::new(),
            broken_files: Vec::new(),
            findings: Vec::new(),
        };
        let dname = dir.display().to_string();
        let mut not_regular = Vec::new();
        for name in &names {
            let Some((seq, index)) = parse_segment_name(name) else {
                continue;
            };
            match MappedFile::open(&dir.join(name)) {
                Ok(file) => d.segments.push(SegmentFile {
                    name: name.clone(),
                    seq,
                    index,
                    file,
                }),
                Err(e) => match e.not_regular() {
                    Some(what) => {
                        d.findings.push(Finding::damage(
                            FindingKind::NotRegularFile,
                            name,
                            None,
                            format!(
                                "{} {what}: etcd cannot read this segment (it fails, or blocks forever on a FIFO)",
                                dir.join(name).display()
                            ),
                        ));
                        not_regular.push(name.clone());
                    }
                    None => return Err(e),
                },
            }
        }
        for name in names {
            if parse_segment_name(&name).is_some() {
                continue;
            } else if regular_file::inspect(&dir.join(&name)).is_some() {
                // .tmp, .broken or stray names etcd never opens: not worth a finding each.
                continue;
            } else if name.ends_with(".tmp") {
                d.findings.push(Finding::info(
                    FindingKind::TmpFile,
                    &name,
                    None,
                    "preallocated next segment (normal while etcd runs; etcd ignores it)",
                ));
                d.tmp_files.push(name);
            } else if name.ends_with(".broken") {
                d.findings.push(Finding::info(
                    FindingKind::BrokenFile,
                    &name,
                    None,
                    "left by an earlier repair; etcd ignores it",
                ));
                d.broken_files.push(name);
            } else {
                d.findings.push(Finding::damage(
                    FindingKind::BadSegmentName,
                    &name,
                    None,
                    format!(
                        "not a segment name (%016x-%016x.wal); etcd ignores this file in {dname}"
                    ),
                ));
            }
        }
        if d.segments.is_empty() && not_regular.is_empty() {
            d.findings.push(Finding::damage(
                FindingKind::NoSegments,
                &dname,
                None,
                "no .wal segment (etcd: wal: file not found)",
            ));
        }
        let named: Vec<(&str, u64, u64)> = d
            .segments
            .iter()
            .map(|s| (s.name.as_str(), s.seq, s.index))
            .collect();
        d.findings.extend(check_sequence(&named));
        Ok(d)
    }

    /// `(name, bytes)` of each segment, for [`crate::scan::scan_wal`].
    pub fn segment_bytes(&self) -> Vec<(&str, &[u8])> {
        self.segments
            .iter()
            .map(|s| (s.name.as_str(), s.file.bytes()))
            .collect()
    }

    /// Reads every segment in order, the directory's own findings first. Stops at the
    /// first damage as etcd does, unless `opts.raw` (then it reads on past it).
    pub fn scan(&self, opts: crate::ScanOptions) -> crate::WalScan<'_> {
        self.scan_with_progress(opts, &|_| {})
    }

    /// [`WalDir::scan`], calling `progress(bytes)` as each segment is verified. Each
    /// segment's `file_len` is its size on disk, also when only its written part could be
    /// mapped ([`MappedFile::is_partial`]).
    pub fn scan_with_progress(
        &self,
        opts: crate::ScanOptions,
        progress: &(dyn Fn(u64) + Sync),
    ) -> crate::WalScan<'_> {
        self.scan_impl(opts, false, progress)
    }

    /// [`WalDir::scan_with_progress`] that classifies every entry's data while verifying
    /// it ([`crate::scan::scan_wal_classifying`]): for callers that look at every entry.
    pub fn scan_classifying_with_progress(
        &self,
        opts: crate::ScanOptions,
        progress: &(dyn Fn(u64) + Sync),
    ) -> crate::WalScan<'_> {
        self.scan_impl(opts, true, progress)
    }

    fn scan_impl(
        &self,
        opts: crate::ScanOptions,
        classify: bool,
        progress: &(dyn Fn(u64) + Sync),
    ) -> crate::WalScan<'_> {
        let segments = self.segment_bytes();
        let findings = self.findings.clone();
        let mut scan = if classify {
            crate::scan::scan_wal_classifying(&segments, findings, opts, progress)
        } else {
            crate::scan_wal_with_progress(&segments, findings, opts, progress)
        };
        for (s, f) in scan.segments.iter_mut().zip(&self.segments) {
            s.file_len = f.file.file_len();
        }
        scan
    }
}

/// Sequence numbers must go up by one from segment to segment (etcd `isValidSeq`), and
/// first indexes must not go down.
pub fn check_sequence(segs: &[(&str, u64, u64)]) -> Vec<Finding> {
    let mut out = Vec::new();
    for w in segs.windows(2) {
        let (_, pseq, pidx) = w[0];
        let (name, seq, idx) = w[1];
        if pseq.checked_add(1) != Some(seq) {
            out.push(Finding::damage(
                FindingKind::SequenceGap,
                name,
                None,
                format!(
                    "sequence {seq:#x} follows {pseq:#x}: a segment is missing or misnamed (etcd: wal: file not found)"
                ),
            ));
        }
        if idx < pidx {
            // Only the sequence numbers are required to be consecutive (isValidSeq).
            out.push(Finding::info(
                FindingKind::NameIndexMismatch,
                name,
                None,
                format!("first index {idx} in the name is below the previous segment's {pidx} (etcd does not check this)"),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names_parse_and_others_do_not() {
        assert_eq!(
            parse_segment_name("0000000000000001-00000000000000ab.wal"),
            Some((1, 0xab))
        );
        assert_eq!(parse_segment_name("1-2.wal"), None);
        assert_eq!(parse_segment_name("0.tmp"), None);
        assert_eq!(
            parse_segment_name("000000000000000g-0000000000000000.wal"),
            None
        );
        assert_eq!(
            parse_segment_name("+000000000000001-0000000000000000.wal"),
            None
        );
        assert_eq!(
            crate::snap::parse_snap_name("0000000000000002-00000000000000ff.snap"),
            Some((2, 0xff))
        );
        assert_eq!(
            crate::snap::parse_snap_name("0000000000000002-00000000000000ff.wal"),
            None
        );
        assert_eq!(
            segment_name(1, 0xab),
            "0000000000000001-00000000000000ab.wal"
        );
    }

    #[test]
    fn a_missing_sequence_number_is_a_gap() {
        let f = check_sequence(&[("a", 0, 0), ("b", 2, 10)]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].kind, FindingKind::SequenceGap);
    }
}
