//! Collecting an iterator into a `Vec` with one copy of its `next`.
//!
//! Why not `collect::<Vec<_>>()`: std's `Vec: FromIterator` (its
//! `SpecFromIterNested`) takes the first item apart from the rest for any
//! iterator that is not `TrustedLen` (a `filter`, `flat_map` or `chain`),
//! so its `next` (with the adapters and closures of its chain inlined into
//! it) is compiled twice per call site, and it asks `size_hint` twice more
//! (a `FlatMap`'s or `Chain`'s is code of its own). Over core's ~150
//! collects into a `Vec` that was ~28 KB of each WebAssembly plugin
//! (BENCHMARKS.md, "Plugin size"). [`List::list`] is one loop: reserve
//! what the iterator promises, then push each item. The `Vec` is the same,
//! item for item, in the same order; only its spare capacity may differ.
//!
//! The rule for core: an iterator becomes a `Vec` by `.list()`. `collect`
//! stays for the other targets: a `String`; a `Sorted` or `table::Map`,
//! whose `FromIterator` is one loop too; and an `Option<Vec<_>>` or an
//! `Rc<[_]>`, which std still builds through its `Vec` collect (three
//! sites, left as they are). No lint can hold the rule (clippy cannot tell
//! a `collect` into a `Vec` from the others); a new one shows as bytes in
//! `wasm-plugin/bench/size.py`.

/// [`list`](List::list) for every iterator.
pub(crate) trait List: Iterator + Sized {
    /// The items, in order: what `collect::<Vec<_>>()` gives.
    fn list(self) -> Vec<Self::Item> {
        let mut items = Vec::with_capacity(self.size_hint().0);
        for item in self {
            items.push(item);
        }
        items
    }
}

impl<I: Iterator> List for I {}

#[cfg(test)]
mod tests {
    use super::List;

    /// `list` and `collect` of the same chain.
    fn both<I: Iterator<Item = usize>>(chain: impl Fn() -> I) -> (Vec<usize>, Vec<usize>) {
        (chain().list(), chain().collect())
    }

    #[test]
    fn lists_what_collect_collects() {
        let words = ["a", "bb", "", "ccc", "dd"];
        let (listed, collected) = both(|| words.iter().map(|w| w.len()));
        assert_eq!(listed, collected);
        let (listed, collected) = both(|| words.iter().filter(|w| !w.is_empty()).map(|w| w.len()));
        assert_eq!(listed, collected);
        let (listed, collected) = both(|| words.iter().flat_map(|w| w.bytes()).map(usize::from));
        assert_eq!(listed, collected);
        assert!(std::iter::empty::<u8>().list().is_empty());
    }

    /// An iterator whose `size_hint` lies (too high a lower bound) still
    /// gives exactly its items: the hint only reserves.
    #[test]
    fn a_wrong_hint_only_reserves() {
        struct Liar(u8);
        impl Iterator for Liar {
            type Item = u8;
            fn next(&mut self) -> Option<u8> {
                self.0 = self.0.checked_sub(1)?;
                Some(self.0)
            }
            fn size_hint(&self) -> (usize, Option<usize>) {
                (100, None)
            }
        }
        assert_eq!(Liar(3).list(), vec![2, 1, 0]);
    }
}
