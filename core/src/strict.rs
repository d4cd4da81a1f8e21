//! The native fast path of decoding: a valid input decoded by serde_json
//! straight into its records, with no `Value` in between and no paths kept.
//!
//! It decides nothing on its own. [`crate::decode`] tries it first and, on
//! any error, runs the path-tracking walk, which finds and words every
//! problem; so this path only has to refuse everything the walk refuses, and
//! give the same value for everything both accept. Two things serde's
//! derived decoding accepts that the walk (and the contract) refuse:
//!
//! - a record written as a JSON array of its fields (serde #1587): serde
//!   derives `visit_seq` for every struct and serde_json calls it on `[`;
//! - a member a record does not name, should a record ever lack
//!   `deny_unknown_fields` (every contract record has it; this does not
//!   rely on it).
//!
//! [`Strict`] wraps a deserializer and everything it hands out (visitors,
//! map, sequence and enum accesses, seeds), so the checks hold at every
//! depth. Repeated members of a record are refused by the derive itself
//! (`duplicate field`), those of any other object by [`Map`], whatever the
//! hand-written visitor reading it checks. Hand-written, as
//! serde_path_to_error and serde_ignored are: no crate offers a strict mode
//! over serde_json's deserializer (serde_json has no option to refuse
//! records as arrays).
//!
//! Native only: the plugins keep the one walker, a copy of every record's
//! decoding through serde_json's deserializer costing them size, not time.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};

/// `text` decoded as `T` when it is valid JSON and the walk would accept it
/// as well; `None` otherwise (the caller then runs the walk for the
/// problems).
pub(crate) fn parse<T: DeserializeOwned>(text: &str) -> Option<T> {
    let mut json = serde_json::Deserializer::from_str(text);
    let value = T::deserialize(Strict::any(&mut json)).ok()?;
    json.end().ok()?;
    Some(value)
}

/// `value` decoded as `T` when the walk would accept it; `None` otherwise.
pub(crate) fn from_value<T: DeserializeOwned>(value: &serde_json::Value) -> Option<T> {
    T::deserialize(Strict::any(value)).ok()
}

/// What the node being decoded may be.
#[derive(Clone, Copy)]
enum Mode {
    /// Whatever its type takes.
    Any,
    /// A record with these members: an object, never an array.
    Record(&'static [&'static str]),
    /// The key of a member of a record with these members: one of them.
    Key(&'static [&'static str]),
}

/// A deserializer whose records are strict, at every depth.
struct Strict<D> {
    de: D,
    mode: Mode,
}

impl<D> Strict<D> {
    fn any(de: D) -> Self {
        Strict {
            de,
            mode: Mode::Any,
        }
    }
}

/// One `deserialize_*` method: the inner deserializer's, its visitor wrapped.
macro_rules! forward {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
                let mode = self.mode;
                self.de.$method($($arg,)* Wrap { visitor, mode })
            }
        )*
    };
}

impl<'de, D: de::Deserializer<'de>> de::Deserializer<'de> for Strict<D> {
    type Error = D::Error;

    forward! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
        deserialize_ignored_any();
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        let mode = Mode::Record(fields);
        self.de
            .deserialize_struct(name, fields, Wrap { visitor, mode })
    }

    fn is_human_readable(&self) -> bool {
        self.de.is_human_readable()
    }
}

/// A visitor whose inputs are handed on wrapped, and checked by `mode`.
struct Wrap<V> {
    visitor: V,
    mode: Mode,
}

impl<V> Wrap<V> {
    /// A record's key must be one of its members.
    fn key<E: de::Error>(&self, key: &str) -> Result<(), E> {
        match self.mode {
            Mode::Key(fields) if !fields.contains(&key) => Err(E::unknown_field(key, fields)),
            _ => Ok(()),
        }
    }
}

/// Visitor methods that hand a plain value on as it is.
macro_rules! values {
    ($($method:ident($ty:ty);)*) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
                self.visitor.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }

    values! {
        visit_bool(bool);
        visit_i64(i64);
        visit_i128(i128);
        visit_u64(u64);
        visit_u128(u128);
        visit_f64(f64);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        self.key(v)?;
        self.visitor.visit_str(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        self.key(v)?;
        self.visitor.visit_borrowed_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        self.key(&v)?;
        self.visitor.visit_string(v)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_some<D: de::Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_some(Strict::any(de))
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, de: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_newtype_struct(Strict::any(de))
    }

    /// The one refusal of shape: a record from an array of its fields.
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        if let Mode::Record(_) = self.mode {
            return Err(de::Error::invalid_type(Unexpected::Seq, &self));
        }
        self.visitor.visit_seq(Seq(seq))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let keys = match self.mode {
            Mode::Record(fields) => Mode::Key(fields),
            _ => Mode::Any,
        };
        self.visitor.visit_map(Map {
            map,
            keys,
            seen: BTreeSet::new(),
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_enum(Enum(data))
    }
}

/// A seed whose deserializer is wrapped.
struct Seed<S> {
    seed: S,
    mode: Mode,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        let mode = self.mode;
        self.seed.deserialize(Strict { de, mode })
    }
}

fn seed<S>(seed: S) -> Seed<S> {
    Seed {
        seed,
        mode: Mode::Any,
    }
}

struct Seq<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Seq<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        element: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(seed(element))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

/// An object's members; `keys` checks a record's member names.
struct Map<A> {
    map: A,
    keys: Mode,
    /// The keys of an object that is not a record, so far.
    seen: BTreeSet<String>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Map<A> {
    type Error = A::Error;

    /// A record's repeated member is refused by its derived visitor; any
    /// other object's (read by a hand-written visitor, e.g. `PortRange`'s
    /// `{"first", "last"}`) here, as the walk refuses it, whatever that
    /// visitor checks. Its key reaches the visitor as the walk hands it
    /// over: a string.
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        key: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let mode = self.keys;
        if let Mode::Key(_) = mode {
            return self.map.next_key_seed(Seed { seed: key, mode });
        }
        let Some(name) = self.map.next_key::<String>()? else {
            return Ok(None);
        };
        if self.seen.contains(&name) {
            return Err(de::Error::custom(format!("duplicate field `{name}`")));
        }
        self.seen.insert(name.clone());
        key.deserialize(name.into_deserializer()).map(Some)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, value: T) -> Result<T::Value, A::Error> {
        self.map.next_value_seed(seed(value))
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

struct Enum<A>(A);

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Enum<A> {
    type Error = A::Error;
    type Variant = Variant<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        name: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let (name, variant) = self.0.variant_seed(seed(name))?;
        Ok((name, Variant(variant)))
    }
}

struct Variant<A>(A);

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Variant<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        payload: T,
    ) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(seed(payload))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        let mode = Mode::Any;
        self.0.tuple_variant(len, Wrap { visitor, mode })
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        let mode = Mode::Record(fields);
        self.0.struct_variant(fields, Wrap { visitor, mode })
    }
}

/// The fast path against the walk on every plan of the examples, and on
/// each of them changed at every node in every way the two could read
/// differently: both must accept the same inputs as the same value. On the
/// same inputs, the walk by `#[derive(Decode)]` against the walk by serde's
/// derived visitors it replaced: the same values, the same problems.
#[cfg(test)]
mod tests {
    use serde::de::DeserializeOwned;
    use serde_json::{Map, Value, json};

    use crate::decode::{walk, walk_serde};
    use crate::model::{Observation, Plan};
    use crate::state::FirewallState;

    const PLANS: [&str; 15] = [
        include_str!("../../examples/plans/backup-port-in-agent-pool.json"),
        include_str!("../../examples/plans/conflict-ocp-and-fdl-on-8080.json"),
        include_str!("../../examples/plans/dual-node-gateway.json"),
        include_str!("../../examples/plans/ephemeral-and-missing-component.json"),
        include_str!("../../examples/plans/finedatalink-cluster.json"),
        include_str!("../../examples/plans/finedatalink-single.json"),
        include_str!("../../examples/plans/fixed-port-override.json"),
        include_str!("../../examples/plans/gateway-on-6000.json"),
        include_str!("../../examples/plans/nonroot-gateway-on-80.json"),
        include_str!("../../examples/plans/observed-postinstall.json"),
        include_str!("../../examples/plans/observed-preinstall.json"),
        include_str!("../../examples/plans/ocp-ce-single.json"),
        include_str!("../../examples/plans/ocp-cluster.json"),
        include_str!("../../examples/plans/ocp-server-and-agent-pools.json"),
        include_str!("../../examples/plans/ops-agent-inconsistent.json"),
    ];

    /// Stands in for the changed node until its text is put in.
    const MARK: &str = "\u{1}changed\u{1}";

    /// Both decoders on `text`: the same answer, and the same value; and
    /// the walk by `#[derive(Decode)]` the same answer, value or problems,
    /// as the walk by serde's derived visitors it replaced.
    fn agree<T: DeserializeOwned + crate::Decode + PartialEq + std::fmt::Debug>(
        text: &str,
    ) -> bool {
        let fast = super::parse::<T>(text);
        let walked = walk::<T>(text);
        assert_eq!(walked, walk_serde::<T>(text), "{text}");
        match (&fast, &walked) {
            (Some(fast), Ok(walked)) => assert_eq!(fast, walked, "{text}"),
            (None, Err(_)) => {}
            _ => panic!(
                "fast {} but walk {}: {text}",
                if fast.is_some() { "accepts" } else { "refuses" },
                if walked.is_ok() { "accepts" } else { "refuses" },
            ),
        }
        walked.is_ok()
    }

    /// The positions of every node of `value`, the root first.
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
        at.iter().fold(value, |node, &i| match node {
            Value::Array(items) => &mut items[i],
            Value::Object(map) => map.values_mut().nth(i).expect("member"),
            _ => unreachable!("a leaf has no children"),
        })
    }

    /// Every text the node at `at` of `root` can be changed into.
    fn changes(node: &Value) -> Vec<String> {
        let mut texts: Vec<String> = [
            json!(null),
            json!(true),
            json!(0),
            json!(-1),
            json!(70000),
            json!(1.5),
            json!(""),
            json!("x"),
            json!("8080"),
            json!("8000-8010"),
            json!("tcp"),
            json!([]),
            json!({}),
            json!({"first": 1, "last": 2}),
            json!({"tcp": null}),
            json!(["tcp", "0.0.0.0", 1]),
        ]
        .iter()
        .map(Value::to_string)
        .collect();
        match node {
            Value::Object(map) => {
                // serde #1587: a record as an array of its fields' values.
                texts.push(Value::Array(map.values().cloned().collect()).to_string());
                let mut more = map.clone();
                more.insert("zz-unknown".into(), json!(1));
                texts.push(Value::Object(more).to_string());
                // Each member missing in turn.
                for key in map.keys() {
                    let mut fewer = map.clone();
                    fewer.shift_remove(key);
                    texts.push(Value::Object(fewer).to_string());
                }
                if let Some((key, value)) = map.iter().next() {
                    let inner = Value::Object(map.clone()).to_string();
                    let twice = format!("{}:{value}", Value::from(key.as_str()));
                    texts.push(format!("{{{twice},{}", &inner[1..]));
                }
            }
            Value::Array(items) if !items.is_empty() => {
                texts.push(Value::Array(items[1..].to_vec()).to_string());
                let mut twice = items.clone();
                twice.push(items[0].clone());
                texts.push(Value::Array(twice).to_string());
            }
            _ => {}
        }
        texts
    }

    /// `text` changed at each of its nodes in each way, every answer agreed.
    fn every_change<T: DeserializeOwned + crate::Decode + PartialEq + std::fmt::Debug>(
        text: &str,
    ) -> usize {
        assert!(agree::<T>(text), "the original is valid: {text}");
        let root: Value = serde_json::from_str(text).expect("json");
        let mut positions = Vec::new();
        nodes(&root, &mut Vec::new(), &mut positions);
        let mut accepted = 0;
        for at in &positions {
            let mut marked = root.clone();
            let node = node_mut(&mut marked, at);
            let original = std::mem::replace(node, Value::from(MARK));
            let marked = marked.to_string();
            let mark = Value::from(MARK).to_string();
            for change in changes(&original) {
                accepted += usize::from(agree::<T>(&marked.replacen(&mark, &change, 1)));
            }
        }
        accepted
    }

    /// An object's keys in order, read by a visitor that takes any key.
    #[derive(PartialEq, Debug)]
    struct Keys(Vec<String>);

    /// The walk runs the same visitor (serde's protocol over its nodes).
    impl crate::Decode for Keys {
        fn decode(node: crate::decode::Node<'_>) -> Result<Self, crate::decode::Error> {
            serde::Deserialize::deserialize(node)
        }

        fn placeholder() -> Self {
            Keys(Vec::new())
        }
    }

    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
            struct Visit;
            impl<'de> serde::de::Visitor<'de> for Visit {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((key, _)) = map.next_entry::<String, u8>()? {
                        keys.push(key);
                    }
                    Ok(Keys(keys))
                }
            }
            de.deserialize_map(Visit)
        }
    }

    #[test]
    fn fast_and_walked_decoding_agree_on_every_change_of_every_example_plan() {
        let accepted: usize = PLANS.iter().map(|text| every_change::<Plan>(text)).sum();
        // Some changes are valid plans (a port as text, a host dropped):
        // the comparison of values ran on them too.
        assert!(accepted > 100, "{accepted} changed plans accepted");
    }

    #[test]
    fn fast_and_walked_decoding_agree_on_observations_and_firewall_states() {
        let observation = r#"{"listeners":[{"transport":"tcp","address":"::","port":2881,"pid":900,"command":"observer"},{"transport":"udp","address":"127.0.0.1","port":53}],"ip-local-port-range":{"first":32768,"last":60999},"ip-local-reserved-ports":[8080,"9000-9010"],"ip-unprivileged-port-start":1024,"effective-uid":0}"#;
        assert!(every_change::<Observation>(observation) > 10);
        let state = r#"{"nftables":{"chains":[{"family":"inet","table":"filter","name":"input","drops":true,"insert-before":null,"managed-by":null}],"found":[]}}"#;
        assert!(every_change::<FirewallState>(state) > 0);
        // A record without `deny_unknown_fields` (none of the contract's):
        // the walk refuses its unknown members, so the fast path does too.
        #[derive(serde::Deserialize, crate::Decode, PartialEq, Debug)]
        struct Loose {
            known: u8,
        }
        assert!(agree::<Loose>(r#"{"known":1}"#));
        assert!(!agree::<Loose>(r#"{"known":1,"unknown":2}"#));
        // A hand-written visitor of an object that does not check repeated
        // keys itself: the walk refuses them, so the fast path does too.
        assert!(agree::<Keys>(r#"{"a":1,"b":2}"#));
        assert!(!agree::<Keys>(r#"{"a":1,"a":2}"#));
        let object: Map<String, Value> = Map::new();
        assert!(!agree::<Plan>(&Value::Object(object).to_string()));
    }

    /// Every record and enum of the contract through both decoders: a
    /// profile, a state of each backend (read from the captured outputs),
    /// rules, a change, a probe plan.
    #[test]
    fn fast_and_walked_decoding_agree_on_profiles_states_rules_and_probes() {
        use crate::model::{FirewallBackend as B, FirewallRule, Profile};
        use crate::state::{FirewallChange, FirewallOutput};
        fn json<T: serde::Serialize>(value: &T) -> String {
            serde_json::to_string(value).expect("json")
        }
        let profile = crate::catalog().into_iter().next().expect("a profile");
        assert!(every_change::<Profile>(&json(&profile)) > 0);
        let captured = |name: &str| match name {
            "nft" => include_str!("../tests/captured/nft-debian-drop.json"),
            "ipt4" => include_str!("../tests/captured/iptables-save-v4.txt"),
            "ipt6" => include_str!("../tests/captured/iptables-save-v6.txt"),
            "fwd" => include_str!("../tests/captured/firewalld-1.3-list-all-zones.txt"),
            "fwd-permanent" => {
                include_str!("../tests/captured/firewalld-1.3-permanent-list-all-zones.txt")
            }
            "ufw" => include_str!("../tests/captured/ufw-0.36-status-verbose.txt"),
            _ => include_str!("../tests/captured/ufw-0.36-show-added.txt"),
        };
        let output = |main: &str, extra: &str, zone: Option<&str>| FirewallOutput {
            main: captured(main).into(),
            extra: if extra.is_empty() {
                String::new()
            } else {
                captured(extra).into()
            },
            zone: zone.map(String::from),
        };
        let plan = crate::parse_plan(PLANS[12]).expect("an example plan");
        let report = crate::validate_plan(&plan).expect("a report");
        let rules = crate::firewall_rules(&report, Some(&plan.hosts[0].name)).expect("rules");
        assert!(every_change::<Vec<FirewallRule>>(&json(&rules)) > 0);
        for (backend, output) in [
            (B::Nftables, output("nft", "", None)),
            (B::Iptables, output("ipt4", "ipt6", None)),
            (B::Firewalld, output("fwd", "fwd-permanent", Some("public"))),
            (B::Ufw, output("ufw", "ufw-added", None)),
        ] {
            let state = crate::read_firewall(backend, &output).expect("a captured state");
            every_change::<FirewallState>(&json(&state));
            let change = crate::plan_firewall(&rules, &state, false).expect("a change");
            every_change::<FirewallChange>(&json(&change));
        }
        let source = crate::reach::ProbeSource::Host(plan.hosts[0].name.clone());
        let probes = crate::probe_plan(&plan, &source, crate::model::Phase::Postinstall)
            .expect("a probe plan");
        assert!(every_change::<crate::reach::ProbePlan>(&json(&probes)) > 0);
    }

    #[test]
    fn fast_and_walked_decoding_agree_on_reports_and_errors() {
        let plan = crate::parse_plan(PLANS[5]).expect("an example plan");
        let report = crate::validate_plan(&plan).expect("a report");
        let text = serde_json::to_string(&report).expect("json");
        assert!(every_change::<crate::model::Report>(&text) > 10);
        let error = crate::parse_plan(r#"{"hosts": 1, "x": [2]}"#).expect_err("refused");
        let text = serde_json::to_string(&error).expect("json");
        assert!(every_change::<crate::model::PlanError>(&text) > 0);
    }
}
