//! Meta pages: the two roots of a bbolt file.
//!
//! Pages 0 and 1 are meta pages. A commit writes the meta page `txid % 2`, so the two
//! hold the newest and the previous transaction. Layout of the meta body, which starts
//! right after the 16-byte page header (all fields little-endian):
//!
//! | offset | size | field                                        |
//! |-------:|-----:|----------------------------------------------|
//! |      0 |    4 | magic `0xED0CDAED`                           |
//! |      4 |    4 | version (2)                                  |
//! |      8 |    4 | page size                                    |
//! |     12 |    4 | flags                                        |
//! |     16 |    8 | root bucket: root pgid                       |
//! |     24 |    8 | root bucket: sequence                        |
//! |     32 |    8 | freelist pgid (`u64::MAX` = not persisted)   |
//! |     40 |    8 | high-water mark (bbolt's `meta.pgid`)        |
//! |     48 |    8 | txid                                         |
//! |     56 |    8 | checksum: FNV-1a-64 of bytes 0..56           |

use crate::page::PAGE_HEADER_SIZE;
use crate::raw::{u16_at, u32_at, u64_at};
use crate::Pgid;

/// The magic number every valid meta page carries.
pub const MAGIC: u32 = 0xED0C_DAED;
/// The only file format version bbolt has written.
pub const VERSION: u32 = 2;
/// Size of the meta body that follows the page header.
pub const META_SIZE: usize = 64;
/// The freelist pgid that means "freelist not persisted" (bbolt's `NoFreelistSync`, which
/// etcd uses on Linux): free pages are then whatever is not reachable.
pub const PGID_NO_FREELIST: Pgid = u64::MAX;
/// Smallest page size accepted: room for a page header, the meta body and a few elements.
pub const MIN_PAGE_SIZE: u32 = 128;
/// Largest page size accepted (bbolt has no limit; nothing real comes near this).
pub const MAX_PAGE_SIZE: u32 = 1 << 26;

// Byte offsets within the meta body.
const OFF_MAGIC: usize = 0;
const OFF_VERSION: usize = 4;
const OFF_PAGE_SIZE: usize = 8;
const OFF_FLAGS: usize = 12;
const OFF_ROOT: usize = 16;
const OFF_SEQUENCE: usize = 24;
const OFF_FREELIST: usize = 32;
const OFF_PGID: usize = 40;
const OFF_TXID: usize = 48;
const OFF_CHECKSUM: usize = 56;

/// Which meta page a [`crate::Db`] reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetaChoice {
    /// The valid meta with the larger txid (what bbolt itself uses; meta 0 on a tie).
    #[default]
    Newest,
    /// Meta page 0, which must be valid.
    Meta0,
    /// Meta page 1, which must be valid.
    Meta1,
}

/// The fields of one meta page, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Page id in the page header (0 or 1 in a sound file).
    pub header_id: Pgid,
    /// Flags in the page header (0x04 in a sound file).
    pub header_flags: u16,
    /// Magic number; [`MAGIC`] in a valid meta.
    pub magic: u32,
    /// Format version; [`VERSION`] in a valid meta.
    pub version: u32,
    /// Page size in bytes.
    pub page_size: u32,
    /// Meta flags (unused by bbolt, normally 0).
    pub flags: u32,
    /// Root page of the root bucket.
    pub root: Pgid,
    /// Sequence of the root bucket.
    pub sequence: u64,
    /// Page id of the freelist, or [`PGID_NO_FREELIST`].
    pub freelist: Pgid,
    /// One past the highest page id in use: bbolt's `meta.pgid`.
    pub high_water_mark: Pgid,
    /// Transaction id of the commit that wrote this meta.
    pub txid: u64,
    /// Checksum as stored.
    pub checksum: u64,
    /// Checksum as computed over the 56 bytes before it.
    pub computed_checksum: u64,
    /// Whether the stored and computed checksums agree.
    pub checksum_ok: bool,
}

impl Meta {
    /// True when the freelist was persisted (freelist pgid is not [`PGID_NO_FREELIST`]).
    pub fn freelist_persisted(&self) -> bool {
        self.freelist != PGID_NO_FREELIST
    }

    /// Why this meta is not usable, or `None` when it is valid.
    pub fn problem(&self) -> Option<MetaProblem> {
        if self.magic != MAGIC {
            Some(MetaProblem::BadMagic { found: self.magic })
        } else if self.version != VERSION {
            Some(MetaProblem::BadVersion {
                found: self.version,
            })
        } else if !self.checksum_ok {
            Some(MetaProblem::BadChecksum {
                stored: self.checksum,
                computed: self.computed_checksum,
            })
        } else if !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&self.page_size) {
            Some(MetaProblem::BadPageSize {
                found: self.page_size,
            })
        } else {
            None
        }
    }
}

/// Why a meta page was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MetaProblem {
    /// The file ends before the meta page does.
    #[error("file too short to hold it")]
    Missing,
    /// Wrong magic number.
    #[error("bad magic {found:#010x} (want 0xed0cdaed)")]
    BadMagic {
        /// The stored value.
        found: u32,
    },
    /// Unknown format version.
    #[error("unsupported version {found} (want 2)")]
    BadVersion {
        /// The stored value.
        found: u32,
    },
    /// Stored checksum differs from the computed one.
    #[error("checksum mismatch: stored {stored:#018x}, computed {computed:#018x}")]
    BadChecksum {
        /// The stored checksum.
        stored: u64,
        /// FNV-1a-64 of the 56 bytes before it.
        computed: u64,
    },
    /// Page size outside what this reader accepts.
    #[error("unusable page size {found}")]
    BadPageSize {
        /// The stored value.
        found: u32,
    },
}

/// One of the two meta pages: its fields when readable, and why it is invalid if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaSlot {
    /// 0 or 1.
    pub index: usize,
    /// The fields, when the file holds the whole meta page.
    pub meta: Option<Meta>,
    /// `None` when valid.
    pub problem: Option<MetaProblem>,
}

impl MetaSlot {
    /// True when the meta page passed every check.
    pub fn is_valid(&self) -> bool {
        self.problem.is_none() && self.meta.is_some()
    }

    /// The meta when valid.
    pub fn valid(&self) -> Option<&Meta> {
        if self.problem.is_none() {
            self.meta.as_ref()
        } else {
            None
        }
    }

    /// Parses the meta page whose header starts at byte `offset` of `data`.
    pub fn read(data: &[u8], index: usize, offset: usize) -> MetaSlot {
        match parse_meta(data, offset) {
            Some(m) => MetaSlot {
                index,
                meta: Some(m),
                problem: m.problem(),
            },
            None => MetaSlot {
                index,
                meta: None,
                problem: Some(MetaProblem::Missing),
            },
        }
    }
}

/// FNV-1a, 64-bit: the checksum bbolt stores in each meta page.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET_BASIS, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

fn parse_meta(data: &[u8], offset: usize) -> Option<Meta> {
    let header = data.get(offset..offset.checked_add(PAGE_HEADER_SIZE)?)?;
    let body_start = offset.checked_add(PAGE_HEADER_SIZE)?;
    let body = data.get(body_start..body_start.checked_add(META_SIZE)?)?;
    let checksum = u64_at(body, OFF_CHECKSUM)?;
    let computed = fnv1a64(&body[..OFF_CHECKSUM]);
    Some(Meta {
        header_id: u64_at(header, 0)?,
        header_flags: u16_at(header, 8)?,
        magic: u32_at(body, OFF_MAGIC)?,
        version: u32_at(body, OFF_VERSION)?,
        page_size: u32_at(body, OFF_PAGE_SIZE)?,
        flags: u32_at(body, OFF_FLAGS)?,
        root: u64_at(body, OFF_ROOT)?,
        sequence: u64_at(body, OFF_SEQUENCE)?,
        freelist: u64_at(body, OFF_FREELIST)?,
        high_water_mark: u64_at(body, OFF_PGID)?,
        txid: u64_at(body, OFF_TXID)?,
        checksum,
        computed_checksum: computed,
        checksum_ok: checksum == computed,
    })
}

/// Both meta slots of a file in which neither meta validates, read where they usually
/// sit: meta 0 at offset 0, meta 1 one page further, at the page size meta 0 names when
/// `plausible` accepts it, else at 4096. Returns that page size and the slots, so a
/// caller can show what the bytes hold or scan the file's pages with it.
pub fn guess_slots(data: &[u8], plausible: impl Fn(u32) -> bool) -> (usize, [MetaSlot; 2]) {
    let m0 = MetaSlot::read(data, 0, 0);
    let ps = m0
        .meta
        .map(|m| m.page_size)
        .filter(|&ps| plausible(ps))
        .map_or(4096, |ps| ps as usize);
    (ps, [m0, MetaSlot::read(data, 1, ps)])
}

/// The page sizes bbolt can open: [`MIN_PAGE_SIZE`] to [`MAX_PAGE_SIZE`].
pub fn page_size_in_range(page_size: u32) -> bool {
    (MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&page_size)
}

/// Reads both metas and settles the page size.
///
/// Meta 0 sits at offset 0 and names the page size. When meta 0 is damaged, meta 1 is
/// looked for at the page sizes that are plausible: the one meta 0 claims, then the
/// common powers of two. A meta 1 found there must name the same page size it was found at.
pub(crate) fn read_metas(data: &[u8]) -> Option<(usize, [MetaSlot; 2])> {
    let m0 = MetaSlot::read(data, 0, 0);
    let mut candidates: Vec<u32> = Vec::with_capacity(12);
    if let Some(m) = m0.meta {
        if (MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&m.page_size) {
            candidates.push(m.page_size);
        }
    }
    if let Some(m) = m0.valid() {
        let ps = m.page_size as usize;
        return Some((ps, [m0, MetaSlot::read(data, 1, ps)]));
    }
    for shift in [12u32, 9, 10, 11, 13, 14, 15, 16, 7, 8] {
        let ps = 1u32 << shift;
        if !candidates.contains(&ps) {
            candidates.push(ps);
        }
    }
    for ps in &candidates {
        let m1 = MetaSlot::read(data, 1, *ps as usize);
        if m1.valid().is_some_and(|m| m.page_size == *ps) {
            return Some((*ps as usize, [m0, m1]));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
