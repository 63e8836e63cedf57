//! [`Db`]: a read-only view of a whole bbolt file.

use crate::bucket::Bucket;
use crate::error::{Error, Result};
use crate::meta::{read_metas, Meta, MetaChoice, MetaProblem, MetaSlot};
use crate::page::Page;
use crate::Pgid;

/// A bbolt file opened for reading: the bytes, the page size and the meta in use.
///
/// `Db` is a small `Copy` value that borrows the bytes; any number of threads may share it.
/// Opening does no more than parse the two meta pages; pages are read on demand and every
/// offset is checked, so a `Db` can be built over any bytes.
#[derive(Debug, Clone, Copy)]
pub struct Db<'a> {
    data: &'a [u8],
    page_size: usize,
    metas: [MetaSlot; 2],
    meta_index: usize,
    meta: Meta,
}

impl<'a> Db<'a> {
    /// Opens `data` using the newest valid meta page (bbolt's own choice).
    pub fn open(data: &'a [u8]) -> Result<Db<'a>> {
        Self::open_with(data, MetaChoice::Newest)
    }

    /// Opens `data` using the meta page chosen by `choice`. Choosing [`MetaChoice::Meta0`] or
    /// [`MetaChoice::Meta1`] reads the tree as of that meta's transaction (one of the two is
    /// the previous commit), which helps when the newest one is damaged.
    pub fn open_with(data: &'a [u8], choice: MetaChoice) -> Result<Db<'a>> {
        let Some((page_size, metas)) = read_metas(data) else {
            let m0 = crate::meta::MetaSlot::read(data, 0, 0);
            return Err(Error::NoValidMeta {
                meta0: m0.problem.unwrap_or(MetaProblem::Missing),
                meta1: MetaProblem::Missing,
            });
        };
        let meta_index = match choice {
            MetaChoice::Newest => match (metas[0].valid(), metas[1].valid()) {
                (Some(a), Some(b)) => usize::from(b.txid > a.txid),
                (Some(_), None) => 0,
                (None, Some(_)) => 1,
                (None, None) => {
                    return Err(Error::NoValidMeta {
                        meta0: metas[0].problem.unwrap_or(MetaProblem::Missing),
                        meta1: metas[1].problem.unwrap_or(MetaProblem::Missing),
                    })
                }
            },
            MetaChoice::Meta0 => 0,
            MetaChoice::Meta1 => 1,
        };
        let Some(meta) = metas[meta_index].valid().copied() else {
            return Err(Error::MetaInvalid {
                index: meta_index,
                problem: metas[meta_index].problem.unwrap_or(MetaProblem::Missing),
            });
        };
        Ok(Db {
            data,
            page_size,
            metas,
            meta_index,
            meta,
        })
    }

    /// The bytes of the file.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Page size in bytes (from the meta pages).
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// The meta in use.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// Which meta page is in use: 0 or 1.
    pub fn meta_index(&self) -> usize {
        self.meta_index
    }

    /// Both meta pages, each parsed (when the file holds it) and validated.
    pub fn metas(&self) -> [MetaSlot; 2] {
        self.metas
    }

    /// Number of pages the file holds, counting a partial last page.
    pub fn page_count(&self) -> u64 {
        (self.data.len() as u64).div_ceil(self.page_size as u64)
    }

    /// Page `pgid`, spanning its overflow pages (cut at the end of the file).
    ///
    /// Fails when the page header is not wholly inside the file.
    pub fn page(&self, pgid: Pgid) -> Result<Page<'a>> {
        let oob = || Error::PageOutOfBounds {
            pgid,
            file_pages: self.page_count(),
            page_size: self.page_size,
        };
        crate::page::probe(self.data, self.page_size, pgid).ok_or_else(oob)
    }

    /// True when page `pgid`'s span (`1 + overflow` pages) runs past the end of the file.
    pub fn page_span_truncated(&self, page: &Page<'_>) -> bool {
        let span = (u64::from(page.overflow()) + 1).saturating_mul(self.page_size as u64);
        !page.is_inline() && page.offset().saturating_add(span) > self.data.len() as u64
    }

    /// The root bucket, whose entries are the top-level buckets.
    pub fn root(&self) -> Bucket<'a> {
        Bucket::from_root(*self, self.meta().root, self.meta().sequence)
    }

    /// The top-level bucket `name`, if it exists.
    pub fn bucket(&self, name: &[u8]) -> Result<Option<Bucket<'a>>> {
        self.root().bucket(name)
    }

    /// The top-level buckets, opened, with their names, in key order
    /// ([`Bucket::buckets`] of the root).
    pub fn buckets(&self) -> crate::bucket::Buckets<'a> {
        self.root().buckets()
    }
}
