//! Sorting and ordered collections with one copy of a sort in a binary.
//!
//! Why not `slice::sort_by` at each call site: std's sort is generic in the
//! element and the comparator, so every call site with its own element type
//! or closure, and every `collect` into a `BTreeSet` or `BTreeMap` (which
//! sorts what it collects, then builds the tree), is a fresh copy of
//! driftsort or ipnsort: 4-6 KB of WebAssembly each, 20 stable and 6
//! unstable copies, ~115 KB of the Extism plugin's 914 KB of code
//! (`wasm-plugin/bench/size.py`). Here the one instantiation of std's
//! stable sort orders positions (`usize`) through a `dyn` comparator, and
//! the order found is applied to the elements by swaps (generic, but a few
//! dozen bytes per type). No crate offers that; it is std's sort behind a
//! type-erased comparator, which is why it is written here.
//!
//! Every sort here is stable, as `slice::sort_by` is: equal elements keep
//! their order, so a result is the one std's stable sort gives, and for
//! types whose equal values are identical (integers, strings) the one its
//! unstable sort gives too.
//!
//! The rule for core, held by `core/clippy.toml` (`disallowed-methods`) for
//! the slice sorts: sort with these functions, and fill a `BTreeSet` or
//! `BTreeMap` from an iterator or an array with [`set`], [`map`] or `extend`
//! (inserting, which needs no sort), never `collect` or `From<[_; N]>`.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// Sorts `items` by `compare`, stably (as `slice::sort_by`).
pub(crate) fn sort_by<T>(items: &mut [T], mut compare: impl FnMut(&T, &T) -> Ordering) {
    let order = positions(items.len(), &mut |a, b| compare(&items[a], &items[b]));
    permute(items, &order);
}

/// Sorts `items` by the key `key` gives, stably (as `slice::sort_by_key`).
pub(crate) fn sort_by_key<T, K: Ord>(items: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(items, |a, b| key(a).cmp(&key(b)));
}

/// Sorts `items` by the key `key` gives, computing each key once, stably
/// (as `slice::sort_by_cached_key`).
pub(crate) fn sort_by_cached_key<T, K: Ord>(items: &mut [T], key: impl FnMut(&T) -> K) {
    let keys: Vec<K> = items.iter().map(key).collect();
    let order = positions(items.len(), &mut |a, b| keys[a].cmp(&keys[b]));
    permute(items, &order);
}

/// Sorts `items` in their own order (as `slice::sort`).
pub(crate) fn sort<T: Ord>(items: &mut [T]) {
    sort_by(items, T::cmp);
}

/// The set of `items`, filled by inserting (a `collect` sorts first). Of
/// two equal items the first stays (`collect` keeps the last): the same
/// set unless equal items can be told apart, which no caller does.
pub(crate) fn set<T: Ord>(items: impl IntoIterator<Item = T>) -> BTreeSet<T> {
    let mut set = BTreeSet::new();
    set.extend(items);
    set
}

/// The map of `entries`, filled by inserting (a `collect` sorts first, as
/// `From` of an array does); of two entries with one key the later value
/// stays, as with `collect`.
pub(crate) fn map<K: Ord, V>(entries: impl IntoIterator<Item = (K, V)>) -> BTreeMap<K, V> {
    let mut map = BTreeMap::new();
    map.extend(entries);
    map
}

/// The positions `0..len` in the order `compare` gives them, stably: the
/// one instantiation of std's sort (kept out of line so it stays one).
#[inline(never)]
fn positions(len: usize, compare: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    #[allow(clippy::disallowed_methods)] // The one sort this module wraps.
    order.sort_by(|&a, &b| compare(a, b));
    order
}

/// Moves the element at `order[k]` to position `k`, for every `k`.
fn permute<T>(items: &mut [T], order: &[usize]) {
    // Where each element goes, then one swap per element put in place: the
    // swap brings the displaced element to `i`, with its destination.
    let mut destination = vec![0; order.len()];
    for (k, &from) in order.iter().enumerate() {
        destination[from] = k;
    }
    for i in 0..items.len() {
        while destination[i] != i {
            let to = destination[i];
            items.swap(i, to);
            destination.swap(i, to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Of two equal items `set` keeps the first, as its doc says.
    #[test]
    fn set_keeps_the_first_of_equal_items() {
        /// Ordered by its number alone.
        #[derive(Debug)]
        struct Item(u8, &'static str);
        impl PartialEq for Item {
            fn eq(&self, other: &Self) -> bool {
                self.0 == other.0
            }
        }
        impl Eq for Item {}
        impl PartialOrd for Item {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for Item {
            fn cmp(&self, other: &Self) -> Ordering {
                self.0.cmp(&other.0)
            }
        }
        let kept = set([Item(1, "first"), Item(0, "zero"), Item(1, "second")]);
        let names: Vec<&str> = kept.iter().map(|item| item.1).collect();
        assert_eq!(names, ["zero", "first"]);
    }

    proptest! {
        /// Every sort gives what std's stable sort gives, equal keys in
        /// their first order included (the key is a part of the element).
        #[test]
        fn sorts_as_std_stable_sort(items in proptest::collection::vec((0u8..6, any::<u16>()), 0..200)) {
            let key = |e: &(u8, u16)| e.0;
            let mut want = items.clone();
            #[allow(clippy::disallowed_methods)]
            want.sort_by_key(key);

            let mut by = items.clone();
            sort_by(&mut by, |a, b| a.0.cmp(&b.0));
            prop_assert_eq!(&by, &want);
            let mut by_key = items.clone();
            sort_by_key(&mut by_key, key);
            prop_assert_eq!(&by_key, &want);
            let mut cached = items.clone();
            sort_by_cached_key(&mut cached, key);
            prop_assert_eq!(&cached, &want);

            let mut whole = items.clone();
            sort(&mut whole);
            let mut want_whole = items.clone();
            #[allow(clippy::disallowed_methods)]
            want_whole.sort();
            prop_assert_eq!(whole, want_whole);
        }

        /// `set` and `map` hold what `collect` holds; a repeated key keeps
        /// its last value.
        #[test]
        fn fills_as_collect(entries in proptest::collection::vec((0u8..20, any::<u16>()), 0..100)) {
            prop_assert_eq!(set(entries.iter().copied()), entries.iter().copied().collect::<BTreeSet<_>>());
            prop_assert_eq!(map(entries.iter().copied()), entries.iter().copied().collect::<BTreeMap<_, _>>());
        }
    }
}
