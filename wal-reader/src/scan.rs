//! Reading a whole WAL: segments verified in parallel, then linked and replayed in order
//! (the entries of segments that simply continue the log copied into it on the pool).

use crate::dir::parse_segment_name;
use crate::entry::{EntryClass, EntryView};
use crate::finding::{Finding, FindingKind};
use crate::record::{EntryRef, HardState, Metadata, WalSnapshot};
use crate::segment::{scan_segment_with, Item, ScanOptions, SegmentScan};
use rayon::prelude::*;
use std::collections::HashSet;

/// An entry of the raft log as etcd would hold it after reading the WAL. Two are equal
/// when their entry and place are (whether the scan classified them does not count).
#[derive(Debug, Clone, Copy)]
pub struct LogEntry<'a> {
    /// The entry.
    pub entry: EntryRef<'a>,
    /// Index into [`WalScan::segments`].
    pub segment: usize,
    /// Offset of its record in the segment.
    pub offset: u64,
    /// `EntryClass::of(&entry)` when the scan classified it (private so the two cannot
    /// disagree).
    class: Option<EntryClass>,
}

impl PartialEq for LogEntry<'_> {
    fn eq(&self, other: &Self) -> bool {
        (self.entry, self.segment, self.offset) == (other.entry, other.segment, other.offset)
    }
}

impl Eq for LogEntry<'_> {}

impl<'a> LogEntry<'a> {
    /// The entry at `offset` of segment `segment`.
    pub fn new(entry: EntryRef<'a>, segment: usize, offset: u64) -> LogEntry<'a> {
        LogEntry {
            entry,
            segment,
            offset,
            class: None,
        }
    }

    /// The entry's data classified: `EntryView::new(&self.entry)`, which reads the data
    /// unless the scan classified it already ([`scan_wal_classifying`]).
    pub fn view(&self) -> EntryView<'a> {
        match self.class {
            Some(c) => EntryView::classified(&self.entry, c),
            None => EntryView::new(&self.entry),
        }
    }
}

/// The whole WAL, read.
#[derive(Debug, Clone)]
pub struct WalScan<'a> {
    /// Each segment's own verification, in order.
    pub segments: Vec<SegmentScan<'a>>,
    /// Every finding, in reading order: names, then per segment (links, records).
    pub findings: Vec<Finding>,
    /// The metadata record (from the first segment that has one).
    pub metadata: Option<Metadata>,
    /// The last HardState read.
    pub hard_state: Option<HardState>,
    /// The raft log read from the first segment on: ordered by index, an entry rewritten at
    /// the same index replacing the old one and everything after it (raft log truncation).
    pub entries: Vec<LogEntry<'a>>,
    /// Entry records read, rewritten ones included.
    pub entry_records: u64,
    /// Entries replaced by a later entry at the same or a lower index.
    pub rewritten: u64,
    /// Snapshot markers, in order.
    pub snapshots: Vec<WalSnapshot>,
    /// Segments whose records were used (in default mode reading stops at the first damage).
    pub segments_read: usize,
    /// Where default-mode reading stopped: (segment name, offset).
    pub stopped_at: Option<(String, u64)>,
}

impl WalScan<'_> {
    /// True when any finding is damage.
    pub fn has_damage(&self) -> bool {
        self.findings.iter().any(|f| f.is_damage())
    }

    /// Index of the first entry in the log.
    pub fn first_index(&self) -> Option<u64> {
        self.entries.first().map(|e| e.entry.index)
    }

    /// Index of the last entry in the log.
    pub fn last_index(&self) -> Option<u64> {
        self.entries.last().map(|e| e.entry.index)
    }
}

/// Verifies the given segments (name, bytes; in sequence order) in parallel and replays them.
/// `findings` are carried in front (e.g. [`crate::dir::WalDir::findings`]).
pub fn scan_wal<'a>(
    segments: &[(&str, &'a [u8])],
    findings: Vec<Finding>,
    opts: ScanOptions,
) -> WalScan<'a> {
    scan_wal_with_progress(segments, findings, opts, &|_| {})
}

/// [`scan_wal`], calling `progress(bytes)` from the worker threads as each segment of that
/// many bytes is verified (for a progress bar).
pub fn scan_wal_with_progress<'a>(
    segments: &[(&str, &'a [u8])],
    findings: Vec<Finding>,
    opts: ScanOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> WalScan<'a> {
    scan_wal_impl(segments, findings, opts, false, progress)
}

/// [`scan_wal_with_progress`] that also classifies every entry's data as soon as its
/// record verifies, while its bytes are in cache, so that [`LogEntry::view`] reads nothing
/// again. For callers that look at every entry (counts by request); a caller that looks
/// at a few is faster without (the classification costs about a tenth of the scan).
pub fn scan_wal_classifying<'a>(
    segments: &[(&str, &'a [u8])],
    findings: Vec<Finding>,
    opts: ScanOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> WalScan<'a> {
    scan_wal_impl(segments, findings, opts, true, progress)
}

fn scan_wal_impl<'a>(
    segments: &[(&str, &'a [u8])],
    mut findings: Vec<Finding>,
    opts: ScanOptions,
    classify: bool,
    progress: &(dyn Fn(u64) + Sync),
) -> WalScan<'a> {
    let (scans, shapes): (Vec<SegmentScan<'a>>, Vec<Shape>) = segments
        .par_iter()
        .map(|(name, data)| {
            let s = scan_segment_with(name, data, opts, classify);
            let shape = Shape::of(&s, opts);
            progress(data.len() as u64);
            (s, shape)
        })
        .unzip();
    let mut w = WalScan {
        segments: Vec::new(),
        findings: Vec::new(),
        metadata: None,
        hard_state: None,
        entries: Vec::new(),
        entry_records: 0,
        rewritten: 0,
        snapshots: Vec::new(),
        segments_read: 0,
        stopped_at: None,
    };
    // At most one log entry per record: one allocation, no copies as the log grows.
    w.entries
        .reserve(scans.iter().map(|s| s.items.len()).sum::<usize>());
    let mut metadata_raw: Option<&'a [u8]> = None;
    // Segments whose entries follow the log's end one by one are replayed without a look
    // at each entry: their entries are copied into the log together, on the pool, before
    // a segment that needs the entry-by-entry replay and at the end.
    let mut pending: Vec<usize> = Vec::new();
    let mut log_last: Option<u64> = None;
    let mut prev: Option<(u32, bool, String)> = None; // end crc, segment clean, name
    let mut stopped = false;
    // Segments that follow a gap in the sequence: default mode reads up to the gap.
    let gap_at: HashSet<String> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::SequenceGap)
        .map(|f| f.file.clone())
        .collect();
    for (si, seg) in scans.iter().enumerate() {
        if !opts.raw && !stopped && gap_at.contains(&seg.name) {
            stopped = true;
            w.stopped_at = Some((seg.name.clone(), 0));
        }
        if stopped {
            findings.push(Finding::info(
                FindingKind::NotRead,
                &seg.name,
                None,
                "not read: reading stopped at earlier damage (use raw mode to read on)",
            ));
            continue;
        }
        w.segments_read += 1;
        // Link: this segment's opening crc record must carry the previous one's final CRC.
        if let (Some((pcrc, pclean, pname)), Some(start)) = (&prev, seg.start_crc) {
            if *pclean && start != *pcrc {
                findings.push(Finding::damage(
                    FindingKind::CrcChainBreak,
                    &seg.name,
                    Some(0),
                    format!(
                        "opening crc record carries {start:#010x}, but {pname} ends with running CRC {pcrc:#010x} (etcd: wal: crc mismatch)"
                    ),
                ));
                if !opts.raw {
                    stopped = true;
                    w.stopped_at = Some((seg.name.clone(), 0));
                    continue;
                }
            }
        }
        if prev.is_none() {
            if let (Some((seq, _)), Some(start)) = (parse_segment_name(&seg.name), seg.start_crc) {
                if seq == 0 && start != 0 {
                    findings.push(Finding::damage(
                        FindingKind::CrcChainBreak,
                        &seg.name,
                        Some(0),
                        format!("the first segment's crc record must carry 0, not {start:#010x}"),
                    ));
                }
            }
        }
        let shape = &shapes[si];
        let mut seg_findings: Vec<Finding> = Vec::new();
        if shape.replays_whole(seg, log_last, metadata_raw) {
            // Metadata that agrees and snapshot markers: `replays_whole` made sure that
            // neither gives a finding.
            for &at in shape.marks.iter().chain(&shape.last_state) {
                if let Err(f) = replay_item(&mut w, &mut metadata_raw, si, seg, &seg.items[at]) {
                    seg_findings.push(f);
                }
            }
            w.entry_records += shape.entries as u64;
            log_last = shape.last.or(log_last);
            pending.push(si);
        } else {
            fill_entries(&mut w.entries, &scans, &shapes, &pending);
            pending.clear();
            for item in &seg.items[..shape.usable] {
                if let Err(f) = replay_item(&mut w, &mut metadata_raw, si, seg, item) {
                    let damage = f.is_damage();
                    seg_findings.push(f);
                    if damage && !opts.raw {
                        stopped = true;
                        w.stopped_at = Some((seg.name.clone(), item.offset()));
                        break;
                    }
                }
            }
            log_last = w.entries.last().map(|e| e.entry.index);
        }
        // The index in the name is the index the segment was created for (last index + 1).
        // The first segment (sequence 0) is always named index 0, its entries may start anywhere.
        if let (Some((seq, name_index)), Some(first)) =
            (parse_segment_name(&seg.name), seg.first_index())
        {
            if seq == 0 {
                // No claim to check.
            } else if first > name_index {
                // etcd reads the names only to pick where to start and to require
                // consecutive sequence numbers (wal/util.go); a wrong index in a name
                // does not stop it. Lost entries show as an index gap instead.
                seg_findings.push(Finding::info(
                    FindingKind::NameIndexMismatch,
                    &seg.name,
                    None,
                    format!(
                        "name says the segment starts at index {name_index}, but its first entry is {first}: misnamed segment (etcd does not check this)"
                    ),
                ));
            } else if first < name_index {
                seg_findings.push(Finding::info(
                    FindingKind::NameIndexMismatch,
                    &seg.name,
                    None,
                    format!(
                        "name says index {name_index}, first entry is {first}: the new leader rewrote entries (raft log truncation)"
                    ),
                ));
            }
        }
        // Segment-level findings (record damage) come first in offset order.
        let mut all: Vec<Finding> = Vec::new();
        if opts.raw {
            all.extend(seg.findings.iter().cloned());
        } else {
            // Default mode: up to and including the first damage.
            for f in &seg.findings {
                all.push(f.clone());
                if f.is_damage() {
                    break;
                }
            }
        }
        all.extend(seg_findings);
        all.sort_by_key(|f| f.offset.unwrap_or(u64::MAX));
        findings.extend(all);
        if !opts.raw && seg.damaged_at_item.is_some() && !stopped {
            stopped = true;
            w.stopped_at = match seg.end {
                crate::segment::SegmentEnd::Damage { offset } => Some((seg.name.clone(), offset)),
                _ => Some((seg.name.clone(), seg.valid_bytes)),
            };
        }
        prev = Some((seg.end_crc, seg.crc_ok(), seg.name.clone()));
    }
    fill_entries(&mut w.entries, &scans, &shapes, &pending);
    if w.rewritten > 0 {
        findings.push(Finding::info(
            FindingKind::EntryRewritten,
            "",
            None,
            format!(
                "{} entries were rewritten at an index already in the log (raft log truncation after a leader change); the later ones count",
                w.rewritten
            ),
        ));
    }
    w.findings = findings;
    w.segments = scans;
    w
}

/// What the replay needs to know of one segment's usable items (those it would replay),
/// found on the pool right after the segment is verified.
#[derive(Debug, Default)]
struct Shape {
    /// How many items the replay reads: all in raw mode, else those before the first damage.
    usable: usize,
    /// Entry items among them.
    entries: usize,
    /// Index of the first and the last entry.
    first: Option<u64>,
    last: Option<u64>,
    /// Every entry's index is one more than the one before it.
    consecutive: bool,
    /// Positions of the Metadata and Snapshot items, in order.
    marks: Vec<usize>,
    /// Position of the last State item.
    last_state: Option<usize>,
    /// Entries before each block of [`FILL_BLOCK`] usable items, for the parallel fill.
    block_starts: Vec<usize>,
}

/// Items a task of the parallel fill copies the entries of.
const FILL_BLOCK: usize = 1 << 13;

impl Shape {
    fn of(seg: &SegmentScan<'_>, opts: ScanOptions) -> Shape {
        let usable = if opts.raw {
            seg.items.len()
        } else {
            seg.damaged_at_item.unwrap_or(seg.items.len())
        };
        let mut s = Shape {
            usable,
            consecutive: true,
            ..Shape::default()
        };
        for (at, item) in seg.items[..usable].iter().enumerate() {
            if at % FILL_BLOCK == 0 {
                s.block_starts.push(s.entries);
            }
            match item {
                Item::Entry { entry, .. } => {
                    if let Some(l) = s.last {
                        s.consecutive &= l.checked_add(1) == Some(entry.index);
                    }
                    s.first.get_or_insert(entry.index);
                    s.last = Some(entry.index);
                    s.entries += 1;
                }
                Item::Metadata { .. } | Item::Snapshot { .. } => s.marks.push(at),
                Item::State { .. } => s.last_state = Some(at),
                Item::Crc { .. } => {}
            }
        }
        s
    }

    /// Whether the segment's items, replayed one by one after a log that ends at
    /// `log_last` (with the metadata `metadata_raw` met first), would give no finding and
    /// only append its entries as they are: no entry rewritten, no index gap, no
    /// conflicting metadata.
    fn replays_whole(
        &self,
        seg: &SegmentScan<'_>,
        log_last: Option<u64>,
        metadata_raw: Option<&[u8]>,
    ) -> bool {
        let follows = match (log_last, self.first) {
            (Some(l), Some(f)) => l.checked_add(1) == Some(f),
            _ => true,
        };
        let mut first_raw = metadata_raw;
        let agrees = self.marks.iter().all(|&at| match &seg.items[at] {
            Item::Metadata { raw, .. } => *first_raw.get_or_insert(raw) == *raw,
            _ => true,
        });
        self.consecutive && follows && agrees
    }
}

/// Appends to `log` the entries of the usable items of `segs` (positions in `scans`, in
/// order), as the entry-by-entry replay would, on the pool: the log grows by their count
/// at once and each block of items fills its own stretch of it.
fn fill_entries<'a>(
    log: &mut Vec<LogEntry<'a>>,
    scans: &[SegmentScan<'a>],
    shapes: &[Shape],
    segs: &[usize],
) {
    let n: usize = segs.iter().map(|&si| shapes[si].entries).sum();
    if n == 0 {
        return;
    }
    // (segment, items of the block, entries in it).
    let mut blocks: Vec<(usize, std::ops::Range<usize>, usize)> = Vec::new();
    for &si in segs {
        let sh = &shapes[si];
        for (b, &start) in sh.block_starts.iter().enumerate() {
            let end = sh.block_starts.get(b + 1).copied().unwrap_or(sh.entries);
            let from = b * FILL_BLOCK;
            let to = (from + FILL_BLOCK).min(sh.usable);
            blocks.push((si, from..to, end.saturating_sub(start)));
        }
    }
    let entries_of = move |(si, items, _): &(usize, std::ops::Range<usize>, usize)| {
        let si = *si;
        scans[si].items[items.clone()]
            .iter()
            .filter_map(move |item| match item {
                Item::Entry {
                    offset,
                    entry,
                    class,
                } => Some(LogEntry {
                    entry: *entry,
                    segment: si,
                    offset: *offset,
                    class: *class,
                }),
                _ => None,
            })
    };
    if rayon::current_num_threads() == 1 {
        // One pass where the pool has no second thread to share the writes with.
        log.extend(blocks.iter().flat_map(entries_of));
        return;
    }
    // Overwritten below, each by its entry.
    let placeholder = LogEntry::new(
        EntryRef {
            term: 0,
            index: 0,
            entry_type: crate::record::EntryType::Normal,
            data: &[],
        },
        0,
        0,
    );
    let from = log.len();
    // Written on the pool, so that the new pages are first touched on both cores.
    log.par_extend(rayon::iter::repeat_n(placeholder, n));
    let lens: Vec<usize> = blocks.iter().map(|b| b.2).collect();
    crate::fill::fill_stretches(&mut log[from..], &blocks, &lens, entries_of);
}

fn replay_item<'a>(
    w: &mut WalScan<'a>,
    metadata_raw: &mut Option<&'a [u8]>,
    si: usize,
    seg: &SegmentScan<'a>,
    item: &Item<'a>,
) -> Result<(), Finding> {
    match item {
        Item::Crc { .. } => {}
        Item::Metadata {
            offset,
            raw,
            metadata,
        } => match metadata_raw {
            Some(first) if first != raw => {
                return Err(Finding::damage(
                    FindingKind::MetadataConflict,
                    &seg.name,
                    Some(*offset),
                    format!(
                        "metadata (node {:x}, cluster {:x}) differs from the first segment's (etcd: wal: conflicting metadata found)",
                        metadata.node_id, metadata.cluster_id
                    ),
                ));
            }
            Some(_) => {}
            None => {
                *metadata_raw = Some(raw);
                w.metadata = Some(*metadata);
            }
        },
        Item::State { state, .. } => w.hard_state = Some(*state),
        Item::Snapshot { snapshot, .. } => w.snapshots.push((**snapshot).clone()),
        Item::Entry {
            offset,
            entry,
            class,
        } => {
            w.entry_records += 1;
            let le = LogEntry {
                entry: *entry,
                segment: si,
                offset: *offset,
                class: *class,
            };
            let mut gap = None;
            if let Some(last) = w.entries.last() {
                let last = last.entry.index;
                if entry.index <= last {
                    let keep = w.entries.partition_point(|e| e.entry.index < entry.index);
                    w.rewritten += (w.entries.len() - keep) as u64;
                    w.entries.truncate(keep);
                } else if entry.index != last + 1 {
                    gap = Some(Finding::damage(
                        FindingKind::IndexGap,
                        &seg.name,
                        Some(*offset),
                        format!(
                            "entry index {} follows {last}: entries are missing (etcd: wal: slice bounds out of range)",
                            entry.index
                        ),
                    ));
                }
            }
            w.entries.push(le);
            if let Some(g) = gap {
                return Err(g);
            }
        }
    }
    Ok(())
}
