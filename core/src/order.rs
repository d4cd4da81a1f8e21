//! Sorting and ordered collections with one copy of a sort in a binary.
//!
//! Why not `slice::sort_by` at each call site: std's sort is generic in the
//! element and the comparator, so every call site with its own element type
//! or closure, and every `collect` into a `BTreeSet` or `BTreeMap` (which
//! sorts what it collects, then builds the tree), is a fresh copy of
//! driftsort or ipnsort: 4-6 KB of WebAssembly each, 20 stable and 6
//! unstable copies, ~115 KB of the Extism plugin's 914 KB of code
//! (`wasm-plugin/bench/size.py`). Here one merge sort ([`positions`])
//! orders positions (`usize`) through a `dyn` comparator, and the order
//! found is applied to the elements by swaps (generic, but a few dozen
//! bytes per type). No crate offers that, which is why it is written here;
//! even one instantiation of std's own stable sort was ~6 KB of each plugin.
//!
//! Every sort here is stable, as `slice::sort_by` is: equal elements keep
//! their order, so a result is the one std's stable sort gives, and for
//! types whose equal values are identical (integers, strings) the one its
//! unstable sort gives too.
//!
//! The rule for core, held by `core/clippy.toml` (`disallowed-methods`) for
//! the slice sorts: sort with these functions. A set or map that is built,
//! then read in order or by key, is a [`Sorted`] or [`SortedMap`] (one
//! sort, then a binary search); one that is only asked, never listed, is a
//! `table::Set` or `table::Map` (core/src/table.rs). Each
//! element type of a `BTreeSet` or `BTreeMap` is its own copy of the
//! B-tree's code (2-5 KB in the plugins), and the plugins now carry none;
//! only the native parser (`strict.rs`) keeps one.

use std::borrow::Borrow;
use std::cmp::Ordering;

use crate::list::List;

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
    let keys: Vec<K> = items.iter().map(key).list();
    let order = positions(items.len(), &mut |a, b| keys[a].cmp(&keys[b]));
    permute(items, &order);
}

/// Sorts `items` in their own order (as `slice::sort`).
pub(crate) fn sort<T: Ord>(items: &mut [T]) {
    sort_by(items, T::cmp);
}

/// A set held as a sorted vector without repeats, for sets that are built,
/// then read (by membership or in order), and seldom changed.
///
/// Why not a `BTreeSet`: every element type of a B-tree is a fresh copy of
/// its insert, search, iteration and drop code, 2-5 KB each in the
/// WebAssembly plugins; a sorted vector's per-type code is its binary
/// search and a dedup, and its sort is [`sort`]'s one copy. It is built
/// whole and never changed: inserting into a sorted vector is linear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sorted<T>(Vec<T>);

impl<T> Default for Sorted<T> {
    fn default() -> Self {
        Sorted(Vec::new())
    }
}

impl<T: Ord> Sorted<T> {
    /// The set of `items`; of two equal items the first stays (a stable
    /// sort, then `dedup`).
    pub(crate) fn new(mut items: Vec<T>) -> Self {
        sort(&mut items);
        items.dedup();
        Sorted(items)
    }

    /// Whether `item` is in the set.
    pub(crate) fn contains<Q: Ord + ?Sized>(&self, item: &Q) -> bool
    where
        T: Borrow<Q>,
    {
        self.0.binary_search_by(|t| t.borrow().cmp(item)).is_ok()
    }

    /// The items not in `other`, in order.
    pub(crate) fn difference<'a>(&'a self, other: &'a Self) -> impl Iterator<Item = &'a T> {
        self.0.iter().filter(|item| !other.contains(item))
    }

    /// The items, in order.
    pub(crate) fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// The items, in order, as a slice.
    pub(crate) fn as_slice(&self) -> &[T] {
        &self.0
    }

    /// How many items the set has.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set has no items.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: Ord> FromIterator<T> for Sorted<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        Sorted::new(items.into_iter().list())
    }
}

impl<T> IntoIterator for Sorted<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Sorted<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A map held as a vector sorted by key, each key once: for maps that are
/// built whole, then read, as [`Sorted`] is for sets (and why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SortedMap<K, V>(Vec<(K, V)>);

impl<K: Ord, V> SortedMap<K, V> {
    /// The map of `entries`; of two entries with one key the later stays,
    /// as with a `BTreeMap`'s `insert`.
    pub(crate) fn new(entries: Vec<(K, V)>) -> Self {
        let groups = SortedMap::grouped(entries).0.into_iter();
        SortedMap(
            groups
                .filter_map(|(key, mut values)| Some((key, values.pop()?)))
                .list(),
        )
    }

    /// Each key of `entries` with its values, in the order given.
    pub(crate) fn grouped(mut entries: Vec<(K, V)>) -> SortedMap<K, Vec<V>> {
        sort_by(&mut entries, |a, b| a.0.cmp(&b.0));
        let mut groups: Vec<(K, Vec<V>)> = Vec::new();
        for (key, value) in entries {
            match groups.last_mut() {
                Some((last, values)) if *last == key => values.push(value),
                _ => groups.push((key, vec![value])),
            }
        }
        SortedMap(groups)
    }

    /// The map with `f` of each value.
    pub(crate) fn map_values<W>(self, mut f: impl FnMut(V) -> W) -> SortedMap<K, W> {
        SortedMap(
            self.0
                .into_iter()
                .map(|(key, value)| (key, f(value)))
                .list(),
        )
    }

    /// The value of `key`.
    pub(crate) fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.get_key_value(key).map(|(_, value)| value)
    }

    /// Whether `key` is in the map.
    pub(crate) fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.get_key_value(key).is_some()
    }

    /// The key equal to `key`, and its value.
    pub(crate) fn get_key_value<Q: Ord + ?Sized>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
    {
        let at = self.0.binary_search_by(|(k, _)| k.borrow().cmp(key)).ok()?;
        self.0.get(at).map(|(key, value)| (key, value))
    }

    /// The keys, in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> {
        self.0.iter().map(|(key, _)| key)
    }

    /// The entries, in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &(K, V)> {
        self.0.iter()
    }
}

/// The positions `0..len` in the order `compare` gives them, stably.
///
/// A merge sort written here, not std's `sort_by`: std's stable sort
/// (driftsort, with its small-sort, merge and quicksort paths) is ~6 KB of
/// WebAssembly even as this module's one instantiation, and this is
/// under 1 KB. A stable sort's answer is the one order of a consistent
/// comparator, so both give the same positions (`sorts_as_std_stable_sort`
/// holds it). Bottom-up: runs of `width` merged pairwise into `spare`, the
/// two buffers swapped, the width doubled; a pair already in order (the
/// left run's last not after the right run's first) is copied with one
/// comparison, so sorted input takes about `len` comparisons, as a
/// run-detecting sort's does.
#[inline(never)]
fn positions(len: usize, compare: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).list();
    let mut spare = vec![0; len];
    let mut width = 1;
    while width < len {
        for start in (0..len).step_by(2 * width) {
            let middle = len.min(start + width);
            let end = len.min(start + 2 * width);
            let (left, right) = order[start..end].split_at(middle - start);
            merge(left, right, &mut spare[start..end], compare);
        }
        std::mem::swap(&mut order, &mut spare);
        width *= 2;
    }
    order
}

/// `left` and `right`, each in order, merged into `out` (their length
/// together), stably: of equal positions, `left`'s come first.
fn merge(
    left: &[usize],
    right: &[usize],
    out: &mut [usize],
    compare: &mut dyn FnMut(usize, usize) -> Ordering,
) {
    let in_order = match (left.last(), right.first()) {
        (Some(&last), Some(&first)) => compare(last, first) != Ordering::Greater,
        _ => true,
    };
    if in_order {
        let (out_left, out_right) = out.split_at_mut(left.len());
        out_left.copy_from_slice(left);
        out_right.copy_from_slice(right);
        return;
    }
    let (mut l, mut r) = (0, 0);
    for slot in out {
        let from_left =
            r == right.len() || (l < left.len() && compare(right[r], left[l]) != Ordering::Less);
        *slot = if from_left {
            l += 1;
            left[l - 1]
        } else {
            r += 1;
            right[r - 1]
        };
    }
}

/// Moves the element at `order[k]` to position `k`, for every `k`.
fn permute<T>(items: &mut [T], order: &[usize]) {
    // Generic only in the swap: finding the swaps is one copy for every type.
    swap_into(order, &mut |i, to| items.swap(i, to));
}

/// Calls `swap` with the pairs of positions to swap, in turn, that move the
/// element at `order[k]` to position `k`, for every `k`: where each element
/// goes, then one swap per element put in place (it brings the displaced
/// element to `i`, with its destination).
#[inline(never)]
fn swap_into(order: &[usize], swap: &mut dyn FnMut(usize, usize)) {
    let mut destination = vec![0; order.len()];
    for (k, &from) in order.iter().enumerate() {
        destination[from] = k;
    }
    for i in 0..destination.len() {
        while destination[i] != i {
            let to = destination[i];
            swap(i, to);
            destination.swap(i, to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// Of two equal items `Sorted::new` keeps the first, as its doc says.
    #[test]
    fn sorted_keeps_the_first_of_equal_items() {
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
        let kept = Sorted::new(vec![Item(1, "first"), Item(0, "zero"), Item(1, "second")]);
        let names: Vec<&str> = kept.iter().map(|item| item.1).collect();
        assert_eq!(names, ["zero", "first"]);
    }

    /// Sorted input costs one comparison per merge of two runs (`len - 1`
    /// in all); lengths at and around powers of two, reversed input and
    /// all-equal input come out as a stable sort puts them.
    #[test]
    fn merges_sorted_input_cheaply_and_every_length_right() {
        for len in [
            0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1023, 1024, 1025,
        ] {
            let mut comparisons = 0;
            let sorted = positions(len, &mut |a, b| {
                comparisons += 1;
                a.cmp(&b)
            });
            assert_eq!(sorted, (0..len).collect::<Vec<_>>());
            assert_eq!(comparisons, len.saturating_sub(1), "{len} items");
            let reversed = positions(len, &mut |a, b| b.cmp(&a));
            assert_eq!(reversed, (0..len).rev().collect::<Vec<_>>());
            let equal = positions(len, &mut |_, _| Ordering::Equal);
            assert_eq!(equal, (0..len).collect::<Vec<_>>(), "stable");
        }
    }

    proptest! {
        /// Every sort gives what std's stable sort gives, equal keys in
        /// their first order included (the key is a part of the element).
        #[test]
        fn sorts_as_std_stable_sort(items in proptest::collection::vec((0u8..6, any::<u16>()), 0..600)) {
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

        /// `Sorted` holds what a `BTreeSet` holds, in its order, and
        /// answers membership, removal and difference as it does.
        #[test]
        fn sorted_is_a_set(
            items in proptest::collection::vec(0u8..30, 0..80),
            other in proptest::collection::vec(0u8..30, 0..40),
            probe in 0u8..30,
        ) {
            let sorted: Sorted<u8> = items.iter().copied().collect();
            let tree: BTreeSet<u8> = items.iter().copied().collect();
            prop_assert!(sorted.iter().eq(tree.iter()));
            prop_assert_eq!(sorted.contains(&probe), tree.contains(&probe));
            let (sorted_other, tree_other) = (Sorted::new(other.clone()), other.iter().copied().collect::<BTreeSet<u8>>());
            prop_assert!(sorted.difference(&sorted_other).eq(tree.difference(&tree_other)));
            prop_assert_eq!(sorted.is_empty(), tree.is_empty());
        }

        /// `SortedMap::grouped` holds what a `BTreeMap` of each key's
        /// values in their order holds.
        #[test]
        fn grouped_is_a_map_of_values(entries in proptest::collection::vec((0u8..20, any::<u16>()), 0..100), probe in 0u8..20) {
            let mut tree: BTreeMap<u8, Vec<u16>> = BTreeMap::new();
            for &(key, value) in &entries {
                tree.entry(key).or_default().push(value);
            }
            let (entries_again, entries_again_copy) = (entries.clone(), entries.clone());
            let grouped = SortedMap::grouped(entries);
            prop_assert!(grouped.iter().map(|(k, v)| (k, v)).eq(tree.iter()));
            prop_assert!(grouped.keys().eq(tree.keys()));
            prop_assert_eq!(grouped.get(&probe), tree.get(&probe));
            let last = SortedMap::new(entries_again);
            let tree_last: BTreeMap<u8, u16> = entries_again_copy.into_iter().collect();
            prop_assert!(last.iter().map(|(k, v)| (k, v)).eq(tree_last.iter()));
        }
    }
}
