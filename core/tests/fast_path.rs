//! The native fast path of plan decoding (`decode::parse_json_fast`:
//! serde_json straight into the records, the path-tracking walk only when
//! that fails) answers as the walk does: whatever serde_json's derived
//! decoding accepts, the walk accepts as the same plan. Pinned on every
//! corpus and example plan, and on them mutated: a node replaced, a member
//! added, taken away or repeated.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use portplan_core::{Plan, shell};
use proptest::prelude::*;
use serde_json::Value;

/// Every plan of the corpus and the examples, as text.
fn seed_plans() -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut plans = Vec::new();
    for dir in ["tests/corpus", "examples/plans"] {
        let mut paths: Vec<_> = std::fs::read_dir(format!("{root}/{dir}"))
            .expect("seed directory")
            .map(|e| e.expect("entry").path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                name.ends_with(".json") && !name.ends_with(".report.json")
            })
            .collect();
        paths.sort();
        plans.extend(
            paths
                .iter()
                .map(|p| std::fs::read_to_string(p).expect("seed")),
        );
    }
    assert!(plans.len() > 20, "seed plans: {}", plans.len());
    plans
}

/// The nodes of `value` in document order, by their positions.
fn nodes(value: &Value, at: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    out.push(at.clone());
    let children: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(map) => map.values().collect(),
        _ => Vec::new(),
    };
    for (i, child) in children.into_iter().enumerate() {
        at.push(i);
        nodes(child, at, out);
        at.pop();
    }
}

fn node_mut<'v>(value: &'v mut Value, at: &[usize]) -> &'v mut Value {
    match at.split_first() {
        None => value,
        Some((&i, rest)) => match value {
            Value::Array(items) => node_mut(&mut items[i], rest),
            Value::Object(map) => node_mut(map.values_mut().nth(i).expect("member"), rest),
            _ => unreachable!("a leaf has no children"),
        },
    }
}

/// Compact text of `value` with the first member of the object at `at`
/// written twice (first with `null`), when that node is a non-empty object.
fn with_repeated_member(value: &Value, at: &[usize]) -> String {
    fn write(value: &Value, at: Option<&[usize]>, out: &mut String) {
        match value {
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, descend(at, i), out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                if let (Some([]), Some((key, _))) = (at, map.iter().next()) {
                    out.push_str(&format!("{},null,", Value::String(key.clone())));
                }
                for (i, (key, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&format!("{}:", Value::String(key.clone())));
                    write(item, descend(at, i), out);
                }
                out.push('}');
            }
            leaf => out.push_str(&leaf.to_string()),
        }
    }
    fn descend(at: Option<&[usize]>, i: usize) -> Option<&[usize]> {
        at.and_then(|at| at.split_first())
            .filter(|(first, _)| **first == i)
            .map(|(_, rest)| rest)
    }
    let mut out = String::new();
    write(value, Some(at), &mut out);
    // `{"k",null,` is not JSON: make it `{"k":null,`.
    out.replacen("\",null,", "\":null,", 1)
}

/// The leaves a mutation puts in a node's place: every JSON type, and
/// the numbers where serde's integer and float handling could differ.
const LEAVES: &[&str] = &[
    "null",
    "true",
    "0",
    "-0",
    "1",
    "65535",
    "65536",
    "-1",
    "1.0",
    "1e2",
    "2.5",
    "18446744073709551616",
    "\"\"",
    "\"x\"",
    "\"80\"",
    "\"80-81\"",
    "\"tcp\"",
    "[]",
    "{}",
    "[1]",
    "{\"first\":1,\"last\":2}",
    "{\"component\":\"observer\"}",
];

/// What the fast path answers, the walk answers too: `Ok` from serde_json
/// alone is the walk's `Ok` with the same plan, from text and from a value.
fn fast_agrees(text: &str) {
    if let Ok(fast) = serde_json::from_str::<Plan>(text) {
        assert_eq!(shell::parse_json::<Plan>(text).ok(), Some(fast), "{text}");
    }
    if let Ok(value) = serde_json::from_str::<Value>(text)
        && let Ok(fast) = <Plan as serde::Deserialize>::deserialize(&value)
    {
        assert_eq!(
            shell::parse_value::<Plan>(&value).ok(),
            Some(fast),
            "{text}"
        );
    }
}

#[test]
fn the_fast_path_reads_every_seed_plan_as_the_walk_does() {
    for text in seed_plans() {
        fast_agrees(&text);
        assert_eq!(
            portplan_core::parse_plan(&text).ok(),
            shell::parse_json::<Plan>(&text).ok()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..Default::default() })]

    /// A seed plan with one node replaced, one member added or taken
    /// away, or one member repeated: wherever serde_json's derived
    /// decoding accepts the result, the walk accepts it as the same plan.
    #[test]
    fn the_fast_path_accepts_nothing_the_walk_refuses(
        seed in any::<proptest::sample::Index>(),
        node in any::<proptest::sample::Index>(),
        leaf in 0..LEAVES.len(),
        how in 0u8..4,
    ) {
        let seeds = seed_plans();
        let mut value: Value = serde_json::from_str(seed.get(&seeds).as_str()).expect("seed");
        let mut all = Vec::new();
        nodes(&value, &mut Vec::new(), &mut all);
        let at = node.get(&all).clone();
        let text = match how {
            0 => {
                *node_mut(&mut value, &at) = serde_json::from_str(LEAVES[leaf]).expect("leaf");
                value.to_string()
            }
            1 => {
                if let Value::Object(map) = node_mut(&mut value, &at) {
                    map.insert("zz-unknown".into(), serde_json::from_str(LEAVES[leaf]).expect("leaf"));
                }
                value.to_string()
            }
            2 => {
                if let Value::Object(map) = node_mut(&mut value, &at) {
                    let first = map.keys().next().cloned();
                    if let Some(key) = first {
                        map.shift_remove(&key);
                    }
                }
                value.to_string()
            }
            _ => with_repeated_member(&value, &at),
        };
        fast_agrees(&text);
    }
}
