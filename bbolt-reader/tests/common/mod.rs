//! A tiny hand-driven bbolt file builder for tests: each page is laid out explicitly, so
//! tests can build sound files and precisely damaged ones.
#![allow(dead_code)]

pub const PS: usize = 4096;

/// A file under construction: `pages` whole pages of `ps` bytes.
pub struct FileBuilder {
    pub ps: usize,
    pub bytes: Vec<u8>,
}

pub fn fnv1a64(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x100_0000_01b3)
    })
}

impl FileBuilder {
    pub fn new(ps: usize, pages: usize) -> Self {
        FileBuilder {
            ps,
            bytes: vec![0; ps * pages],
        }
    }

    fn ensure(&mut self, end: usize) {
        if self.bytes.len() < end {
            self.bytes.resize(end.div_ceil(self.ps) * self.ps, 0);
        }
    }

    pub fn header(&mut self, id: u64, flags: u16, count: u16, overflow: u32) {
        let off = id as usize * self.ps;
        self.ensure(off + self.ps * (overflow as usize + 1));
        let h = &mut self.bytes[off..off + 16];
        h[0..8].copy_from_slice(&id.to_le_bytes());
        h[8..10].copy_from_slice(&flags.to_le_bytes());
        h[10..12].copy_from_slice(&count.to_le_bytes());
        h[12..16].copy_from_slice(&overflow.to_le_bytes());
    }

    /// Meta page `id` (0 or 1).
    pub fn meta(&mut self, id: u64, root: u64, freelist: u64, hwm: u64, txid: u64) {
        self.header(id, 0x04, 0, 0);
        let off = id as usize * self.ps + 16;
        let mut body = Vec::with_capacity(64);
        body.extend_from_slice(&0xED0C_DAEDu32.to_le_bytes());
        body.extend_from_slice(&2u32.to_le_bytes());
        body.extend_from_slice(&(self.ps as u32).to_le_bytes());
        body.extend_from_slice(&0u32.to_le_bytes());
        body.extend_from_slice(&root.to_le_bytes());
        body.extend_from_slice(&0u64.to_le_bytes());
        body.extend_from_slice(&freelist.to_le_bytes());
        body.extend_from_slice(&hwm.to_le_bytes());
        body.extend_from_slice(&txid.to_le_bytes());
        let sum = fnv1a64(&body);
        body.extend_from_slice(&sum.to_le_bytes());
        self.bytes[off..off + 64].copy_from_slice(&body);
    }

    /// Leaf page `id` holding `entries` (flags, key, value); overflow computed.
    pub fn leaf(&mut self, id: u64, entries: &[(u32, &[u8], &[u8])]) {
        let body = leaf_body(entries);
        let overflow = ((16 + body.len()).div_ceil(self.ps) - 1) as u32;
        self.header(id, 0x02, entries.len() as u16, overflow);
        let off = id as usize * self.ps + 16;
        self.bytes[off..off + body.len()].copy_from_slice(&body);
    }

    /// Branch page `id` with children (first key, pgid).
    pub fn branch(&mut self, id: u64, children: &[(&[u8], u64)]) {
        let n = children.len();
        let mut elems = Vec::new();
        let mut data = Vec::new();
        for (i, (k, pgid)) in children.iter().enumerate() {
            let pos = (n - i) * 16 + data.len();
            elems.extend_from_slice(&(pos as u32).to_le_bytes());
            elems.extend_from_slice(&(k.len() as u32).to_le_bytes());
            elems.extend_from_slice(&pgid.to_le_bytes());
            data.extend_from_slice(k);
        }
        elems.extend_from_slice(&data);
        assert!(
            16 + elems.len() <= self.ps,
            "test branch page must fit one page"
        );
        self.header(id, 0x01, n as u16, 0);
        let off = id as usize * self.ps + 16;
        self.bytes[off..off + elems.len()].copy_from_slice(&elems);
    }

    /// Freelist page `id` listing `ids` (uses the 0xFFFF form when asked).
    pub fn freelist(&mut self, id: u64, ids: &[u64], overflow_form: bool) {
        let off = id as usize * self.ps + 16;
        let mut body = Vec::new();
        if overflow_form {
            body.extend_from_slice(&(ids.len() as u64).to_le_bytes());
        }
        for i in ids {
            body.extend_from_slice(&i.to_le_bytes());
        }
        let count = if overflow_form {
            0xFFFF
        } else {
            ids.len() as u16
        };
        self.header(id, 0x10, count, 0);
        self.bytes[off..off + body.len()].copy_from_slice(&body);
    }
}

/// Element headers followed by keys and values, as a leaf page body.
pub fn leaf_body(entries: &[(u32, &[u8], &[u8])]) -> Vec<u8> {
    let n = entries.len();
    let mut elems = Vec::new();
    let mut data = Vec::new();
    for (i, (flags, k, v)) in entries.iter().enumerate() {
        let pos = (n - i) * 16 + data.len();
        elems.extend_from_slice(&flags.to_le_bytes());
        elems.extend_from_slice(&(pos as u32).to_le_bytes());
        elems.extend_from_slice(&(k.len() as u32).to_le_bytes());
        elems.extend_from_slice(&(v.len() as u32).to_le_bytes());
        data.extend_from_slice(k);
        data.extend_from_slice(v);
    }
    elems.extend_from_slice(&data);
    elems
}

/// A leaf page at `id` whose `n` elements all point at one shared key and value.
pub fn shared_element_leaf(
    f: &mut FileBuilder,
    id: u64,
    n: usize,
    flags: u32,
    key: &[u8],
    value: &[u8],
) {
    f.header(id, 0x02, n as u16, 0);
    let page = id as usize * f.ps;
    let data = 16 + 16 * n;
    for i in 0..n {
        let el = page + 16 + 16 * i;
        let pos = (data - 16 - 16 * i) as u32;
        f.bytes[el..el + 4].copy_from_slice(&flags.to_le_bytes());
        f.bytes[el + 4..el + 8].copy_from_slice(&pos.to_le_bytes());
        f.bytes[el + 8..el + 12].copy_from_slice(&(key.len() as u32).to_le_bytes());
        f.bytes[el + 12..el + 16].copy_from_slice(&(value.len() as u32).to_le_bytes());
    }
    f.bytes[page + data..page + data + key.len()].copy_from_slice(key);
    let v = page + data + key.len();
    f.bytes[v..v + value.len()].copy_from_slice(value);
}

/// A bucket value pointing at root page `root`.
pub fn bucket_value(root: u64) -> Vec<u8> {
    let mut v = root.to_le_bytes().to_vec();
    v.extend_from_slice(&0u64.to_le_bytes());
    v
}

/// An inline bucket value holding `entries`.
pub fn inline_bucket(entries: &[(u32, &[u8], &[u8])]) -> Vec<u8> {
    let mut v = bucket_value(0);
    let mut h = [0u8; 16];
    h[8..10].copy_from_slice(&0x02u16.to_le_bytes());
    h[10..12].copy_from_slice(&(entries.len() as u16).to_le_bytes());
    v.extend_from_slice(&h);
    v.extend_from_slice(&leaf_body(entries));
    v
}

/// A sound two-level file:
/// page 2: freelist (empty), page 3: root bucket leaf with buckets "a" (page 4 branch) and
/// "bbbb" (inline, odd offset); page 4: branch -> leaves 5, 6 (6 with one overflow page);
/// high-water mark 8.
pub fn sample() -> Vec<u8> {
    let mut f = FileBuilder::new(PS, 7);
    f.freelist(2, &[], false);
    let inline = inline_bucket(&[(0, b"x", b"1"), (0, b"yy", b"22")]);
    let a = bucket_value(4);
    f.leaf(3, &[(1, b"a", &a), (1, b"bbbb", &inline)]);
    f.branch(4, &[(b"k00", 5), (b"k50", 6)]);
    let keys: Vec<Vec<u8>> = (0..100).map(|i| format!("k{i:02}").into_bytes()).collect();
    let vals: Vec<Vec<u8>> = (0..100).map(|i| vec![b'v'; i]).collect();
    let left: Vec<(u32, &[u8], &[u8])> = (0..50).map(|i| (0, &keys[i][..], &vals[i][..])).collect();
    let right: Vec<(u32, &[u8], &[u8])> =
        (50..100).map(|i| (0, &keys[i][..], &vals[i][..])).collect();
    f.leaf(5, &left);
    f.leaf(6, &right);
    let hwm = (f.bytes.len() / PS) as u64;
    f.meta(0, 3, 2, hwm, 2);
    f.meta(1, 3, 2, hwm, 3);
    f.bytes
}

/// A file whose bucket "big" has a root branch page (3) over `n` leaf pages (4..4+n), each
/// with 10 keys; root bucket leaf at page 2; freelist not persisted.
pub fn wide(n: usize) -> Vec<u8> {
    let mut f = FileBuilder::new(PS, 4 + n);
    let bv = bucket_value(3);
    f.leaf(2, &[(1, b"big", &bv)]);
    let keys: Vec<Vec<u8>> = (0..n * 10)
        .map(|i| format!("key{i:08}").into_bytes())
        .collect();
    let children: Vec<(&[u8], u64)> = (0..n).map(|l| (&keys[l * 10][..], 4 + l as u64)).collect();
    f.branch(3, &children);
    for l in 0..n {
        let entries: Vec<(u32, &[u8], &[u8])> = (0..10)
            .map(|j| (0u32, &keys[l * 10 + j][..], &b"value"[..]))
            .collect();
        f.leaf(4 + l as u64, &entries);
    }
    let hwm = (4 + n) as u64;
    f.meta(0, 2, u64::MAX, hwm, 4);
    f.meta(1, 2, u64::MAX, hwm, 5);
    f.bytes
}
