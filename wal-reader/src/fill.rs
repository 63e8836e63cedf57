//! One list filled from parts on the rayon pool, each part writing its own stretch: the
//! WAL's log here ([`crate::scan`]), and ordered lists of etcd-mvcc.

use rayon::prelude::*;

/// Fills `out` with what `items` gives for each of `parts`, in order, on the current pool:
/// part `i` gives `lens[i]` items (as counted before), written to its own stretch of `out`.
/// A stretch is cut at what is left of `out`, and a part that gives fewer items than
/// counted leaves the rest of its stretch as it was: nothing is indexed past an end.
pub fn fill_stretches<P: Sync, T: Send, I: Iterator<Item = T>>(
    out: &mut [T],
    parts: &[P],
    lens: &[usize],
    items: impl Fn(&P) -> I + Sync,
) {
    let mut rest = out;
    let mut stretches = Vec::with_capacity(parts.len());
    for &len in lens {
        let c = len.min(rest.len());
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(c);
        stretches.push(head);
        rest = tail;
    }
    parts.par_iter().zip(stretches).for_each(|(p, stretch)| {
        for (slot, x) in stretch.iter_mut().zip(items(p)) {
            *slot = x;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::fill_stretches;

    #[test]
    fn each_part_fills_its_own_stretch_in_order() {
        // Parts of 0 to 5 items, some empty: the positions each part keeps, in order.
        let parts: Vec<std::ops::Range<usize>> = (0..7).map(|i| i * 10..i * 10 + 10).collect();
        let keep = |at: &usize| at % 10 < (at / 10) % 6;
        let lens: Vec<usize> = parts
            .iter()
            .map(|r| r.clone().filter(keep).count())
            .collect();
        let want: Vec<usize> = (0..70).filter(keep).collect();
        let mut got = vec![usize::MAX; want.len()];
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            fill_stretches(&mut got, &parts, &lens, |r| r.clone().filter(keep));
        });
        assert_eq!(got, want);
    }
}
