//! Hash maps and sets with one copy of the hash table's code in a binary.
//!
//! Why not `std::collections::HashMap` (or `hashbrown::HashMap`): its table
//! holds the entries themselves, so its growth (`reserve_rehash`, which
//! rehashes every entry with the map's hasher inlined) is a fresh copy for
//! each entry type: 21 copies, ~13 KB of the Extism plugin's code
//! (`wasm-plugin/bench/size.py`), for maps whose speed no benchmark can tell
//! apart. Here the entries live in a `Vec` in insertion order and the one
//! table, a `hashbrown::HashTable` of `(hash, position)` pairs, is the same
//! type for every map: it keeps each entry's hash, so growing it never asks
//! the entry. Per entry type what remains is hashing a key and comparing
//! two, which `HashMap` has too. hashbrown's `HashTable` is the raw table
//! std's maps are built on; what is written here is only that layering,
//! which no crate offers (indexmap's is generic in the entry type all the
//! way down).
//!
//! The rule for core, held by `core/clippy.toml` (`disallowed-types`): a
//! set or map that is only asked, never listed in hash order, is a
//! [`Map`] or [`Set`]; one read in order is an `order::Sorted` or
//! `order::SortedMap`. Keys are hashed with std's `RandomState`, as
//! `HashMap` hashes them: natively with random keys, so a plan cannot
//! choose colliding names (wasm32-unknown-unknown has no randomness to
//! give, there as before).

use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash, RandomState};

use hashbrown::HashTable;

/// The positions of a map's entries by their keys' hashes: one type, so
/// one copy of the table's code, for every map.
#[derive(Clone)]
struct Index {
    table: HashTable<(u64, usize)>,
    state: RandomState,
}

impl Index {
    fn with_capacity(capacity: usize) -> Self {
        Index {
            table: HashTable::with_capacity(capacity),
            state: RandomState::new(),
        }
    }

    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.state.hash_one(key)
    }

    /// The position of the entry with `hash` that `is` accepts.
    #[inline(never)]
    fn find(&self, hash: u64, is: &dyn Fn(usize) -> bool) -> Option<usize> {
        (self.table.find(hash, |&(h, at)| h == hash && is(at))).map(|&(_, at)| at)
    }

    /// Notes the entry at `at`, whose key hashes to `hash` and is new.
    #[inline(never)]
    fn insert(&mut self, hash: u64, at: usize) {
        self.table.insert_unique(hash, (hash, at), |&(h, _)| h);
    }
}

/// A hash map that is only asked, never listed in hash order (it has
/// none: [`Map::into_entries`] lists in insertion order).
#[derive(Clone)]
pub(crate) struct Map<K, V> {
    entries: Vec<(K, V)>,
    index: Index,
}

impl<K: Hash + Eq, V> Map<K, V> {
    pub(crate) fn new() -> Self {
        Self::with_capacity(0)
    }

    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Map {
            entries: Vec::with_capacity(capacity),
            index: Index::with_capacity(capacity),
        }
    }

    /// The position of `key`'s entry, with `key`'s hash.
    fn position<Q>(&self, key: &Q) -> (u64, Option<usize>)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.index.hash(key);
        let found = self
            .index
            .find(hash, &|at| self.entries[at].0.borrow() == key);
        (hash, found)
    }

    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (_, found) = self.position(key);
        found.map(|at| &self.entries[at].1)
    }

    pub(crate) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (_, found) = self.position(key);
        found.map(|at| &mut self.entries[at].1)
    }

    /// `key`'s value, first made by `make` if `key` has none (as
    /// `HashMap::entry(key).or_insert_with(make)`: a key already there
    /// stays, and `make` is not called).
    pub(crate) fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let at = match self.position(&key) {
            (_, Some(at)) => at,
            (hash, None) => {
                // Made first: should `make` panic, the map is as it was.
                let value = make();
                self.index.insert(hash, self.entries.len());
                self.entries.push((key, value));
                self.entries.len() - 1
            }
        };
        &mut self.entries[at].1
    }

    /// Sets `key`'s value, as `HashMap::insert` (a key already there stays;
    /// its old value is returned).
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.position(&key) {
            (_, Some(at)) => Some(std::mem::replace(&mut self.entries[at].1, value)),
            (hash, None) => {
                self.index.insert(hash, self.entries.len());
                self.entries.push((key, value));
                None
            }
        }
    }
}

impl<K, V> Map<K, V> {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Every entry, in the order their keys were first inserted.
    pub(crate) fn into_entries(self) -> Vec<(K, V)> {
        self.entries
    }
}

impl<K: std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for Map<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<K: Hash + Eq, V: Default> Map<K, V> {
    /// `key`'s value, first the default if `key` has none.
    pub(crate) fn get_or_default(&mut self, key: K) -> &mut V {
        self.get_or_insert_with(key, V::default)
    }
}

impl<K: Hash + Eq, V> Default for Map<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Hash + Eq, V> FromIterator<(K, V)> for Map<K, V> {
    /// As `HashMap`'s: of two equal keys the later value wins.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        let mut map = Map::new();
        for (key, value) in entries {
            map.insert(key, value);
        }
        map
    }
}

/// A hash set that is only asked, never listed in hash order.
pub(crate) struct Set<T>(Map<T, ()>);

impl<T: Hash + Eq> Set<T> {
    pub(crate) fn new() -> Self {
        Set(Map::new())
    }

    /// Adds `item`; whether it was new (as `HashSet::insert`).
    pub(crate) fn insert(&mut self, item: T) -> bool {
        self.0.insert(item, ()).is_none()
    }

    /// Whether `item` is in the set (as `HashSet::contains`).
    pub(crate) fn contains<Q>(&self, item: &Q) -> bool
    where
        T: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.get(item).is_some()
    }
}

#[cfg(test)]
// std's maps and sort are the oracle here.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)]
mod tests {
    use super::{Map, Set};
    use proptest::prelude::*;
    use std::collections::{HashMap, HashSet};

    proptest! {
        /// Any run of inserts, defaults and lookups answers as std's maps
        /// do, over few keys so that most operations meet a key again, and
        /// past the table's growth steps.
        #[test]
        fn it_answers_as_std_maps_do(
            steps in prop::collection::vec((0u8..3, 0u16..300, any::<u32>()), 0..700)
        ) {
            let mut ours: Map<String, u32> = Map::new();
            let mut std: HashMap<String, u32> = HashMap::new();
            let mut set: Set<u16> = Set::new();
            let mut std_set: HashSet<u16> = HashSet::new();
            for (op, key, value) in steps {
                let name = key.to_string();
                match op {
                    0 => prop_assert_eq!(ours.insert(name.clone(), value), std.insert(name, value)),
                    1 => {
                        *ours.get_or_default(name.clone()) += value % 7;
                        *std.entry(name).or_default() += value % 7;
                    }
                    2 if value % 2 == 0 => {
                        let mut made = 0;
                        let ours = *ours.get_or_insert_with(name.clone(), || {
                            made += 1;
                            value
                        });
                        let had = std.contains_key(&name);
                        prop_assert_eq!(ours, *std.entry(name).or_insert(value));
                        prop_assert_eq!(made, usize::from(!had));
                    }
                    _ => {
                        prop_assert_eq!(set.contains(&key), std_set.contains(&key));
                        prop_assert_eq!(set.insert(key), std_set.insert(key));
                    }
                }
                let probe = (value % 300).to_string();
                prop_assert_eq!(ours.get(probe.as_str()), std.get(probe.as_str()));
                if let Some(value) = ours.get_mut(probe.as_str()) {
                    *value ^= 1;
                    *std.get_mut(probe.as_str()).expect("std has it too") ^= 1;
                }
            }
            prop_assert_eq!(ours.len(), std.len());
            for (name, value) in &std {
                prop_assert_eq!(ours.get(name.as_str()), Some(value));
            }
            let mut ours_set: Vec<u16> = set.0.into_entries().into_iter().map(|(k, ())| k).collect();
            let mut std_set: Vec<u16> = std_set.into_iter().collect();
            ours_set.sort_unstable();
            std_set.sort_unstable();
            prop_assert_eq!(ours_set, std_set);
        }
    }

    /// A key whose hash is one of eight values: most keys share theirs
    /// with others, so only comparing keys tells them apart.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Colliding(u16);

    impl std::hash::Hash for Colliding {
        fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
            (self.0 % 8).hash(state);
        }
    }

    proptest! {
        #[test]
        fn keys_of_one_hash_stay_apart(keys in prop::collection::vec(0u16..200, 0..300)) {
            let mut ours: Map<Colliding, usize> = Map::new();
            let mut std: HashMap<u16, usize> = HashMap::new();
            for (i, key) in keys.iter().enumerate() {
                if i % 3 == 0 {
                    *ours.get_or_default(Colliding(*key)) += 1;
                    *std.entry(*key).or_default() += 1;
                } else {
                    prop_assert_eq!(ours.insert(Colliding(*key), i), std.insert(*key, i));
                }
            }
            for key in 0..200 {
                prop_assert_eq!(ours.get(&Colliding(key)), std.get(&key));
            }
        }
    }

    #[test]
    fn a_key_made_once_keeps_its_first_value() {
        let mut map: Map<&str, u32> = Map::with_capacity(1);
        assert_eq!(*map.get_or_insert_with("a", || 1), 1);
        assert_eq!(*map.get_or_insert_with("a", || unreachable!()), 1);
        let collected: Map<&str, u32> = [("b", 1), ("b", 2)].into_iter().collect();
        assert_eq!(collected.get("b"), Some(&2));
        assert_eq!(collected.get("c"), None);
        // Listed in the order the keys came first, whatever their hashes.
        let mut map: Map<u32, u32> = Map::new();
        for key in [5, 3, 9, 3, 1] {
            *map.get_or_default(key) += 1;
        }
        assert_eq!(map.into_entries(), [(5, 1), (3, 2), (9, 1), (1, 1)]);
    }
}
