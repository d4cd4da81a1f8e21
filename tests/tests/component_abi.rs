//! The component's canonical-ABI layer (`wasm-plugin/component/src/abi.rs`,
//! which walks a table of the WIT's types instead of wit-bindgen's code)
//! against the Extism plugin, which shares core but passes JSON: every
//! export is called with the same arguments in both, as typed values and as
//! their JSON, and must give the same answer.
//!
//! The arguments start from real values (the corpus's plans parsed, their
//! reports, firewall states read from captured output, probe plans) and are
//! changed at random nodes: hostile strings, edge numbers, lists cut short
//! or grown, options and variants switched, records of random content. Any
//! slip in a size, offset, tag, flat slot or escape shows as a different
//! answer or a trap; buffers freed twice or not at all show as a trap or a
//! corrupted answer in a later call of the same instance.
//!
//! wasmtime's typed calls pass only values the WIT allows, so
//! [`hostile_host`] calls the core module inside the component directly,
//! with what they never pass: a tag out of range, a bool of 2, bytes that
//! are not UTF-8, a layout no allocator serves. Each must trap as the
//! canonical ABI's lifting does, or be lifted as it lifts it.

use std::collections::BTreeMap;

use portplan_tests::{corpus_cases, extism_plugin::ExtismHost, repo_root, wit_functions};
use serde_json::{Map, Value, json};
use wasmtime::component::types::Type;
use wasmtime::component::{Component, Func, Instance, Linker, Val};
use wasmtime::{Engine, Store};

/// splitmix64: a fixed seed gives the same arguments on every run (a test
/// that fails fails again), with no RNG crate in this test crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

const HOSTILE: &[&str] = &[
    "",
    "obs1",
    "10.0.0.1",
    "198.18.0.0/15",
    "tcp",
    "\"quoted\" \\ back",
    "line\nbreak\ttab\r\u{8}\u{c}",
    "\u{0}\u{1}\u{1f}\u{7f}",
    "ünïcödé — 端口 😀",
    "{\"json\": [1, 2]}",
    "a-very-long-name-a-very-long-name-a-very-long-name-a-very-long-name",
    "2001:db8::1",
    "portplan:spec-id",
];

/// An instance of the built component, driven through dynamic values; its
/// store holds `T`.
struct Guest<T: 'static = ()> {
    store: Store<T>,
    instance: Instance,
}

impl<T> Guest<T> {
    /// A fresh instance, the component compiled once per test process
    /// (`built_component`).
    fn new(data: T) -> Self {
        let host = portplan_tests::built_component();
        Guest::of(&host.engine, &host.component, data)
    }

    fn of(engine: &Engine, component: &Component, data: T) -> Self {
        let mut store = Store::new(engine, data);
        let instance = Linker::new(engine)
            .instantiate(&mut store, component)
            .expect("it needs no imports");
        Guest { store, instance }
    }

    fn func(&mut self, name: &str) -> Func {
        self.instance
            .get_func(&mut self.store, name)
            .unwrap_or_else(|| panic!("the component exports {name}"))
    }

    fn call(&mut self, name: &str, args: &[Val]) -> Val {
        let func = self.func(name);
        let mut results = [Val::Bool(false)];
        func.call(&mut self.store, args, &mut results)
            .unwrap_or_else(|e| panic!("{name} trapped: {e:#}\nargs: {args:?}"));
        let [result] = results;
        result
    }

    fn params(&mut self, name: &str) -> Vec<(String, Type)> {
        let func = self.func(name);
        let ty = func.ty(&self.store);
        ty.params().map(|(n, t)| (n.to_string(), t)).collect()
    }
}

/// A value as the contract's JSON (the Extism plugin's input and output).
fn to_json(value: &Val) -> Value {
    match value {
        Val::Bool(b) => json!(b),
        Val::U16(n) => json!(n),
        Val::U32(n) => json!(n),
        Val::U64(n) => json!(n),
        Val::String(s) => json!(s),
        Val::List(items) => Value::Array(items.iter().map(to_json).collect()),
        Val::Record(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, v)| (name.clone(), to_json(v)))
                .collect(),
        ),
        Val::Enum(case) | Val::Variant(case, None) => json!(case),
        Val::Variant(case, Some(payload)) => json!({ case: to_json(payload) }),
        Val::Option(None) => Value::Null,
        Val::Option(Some(v)) => to_json(v),
        other => panic!("the WIT has no {other:?}"),
    }
}

/// A random value of `ty`, shallow where it nests.
fn random(ty: &Type, rng: &mut Rng, depth: usize) -> Val {
    match ty {
        Type::Bool => Val::Bool(rng.one_in(2)),
        Type::U16 => Val::U16([0, 1, 22, 443, 2881, 65535][rng.below(6)]),
        Type::U32 => Val::U32([0, 1, 7, 65535, u32::MAX][rng.below(5)]),
        Type::U64 => Val::U64([0, 1, 1 << 40, u64::MAX][rng.below(4)]),
        Type::String => Val::String(HOSTILE[rng.below(HOSTILE.len())].to_string()),
        Type::List(list) => {
            let len = if depth > 3 { 0 } else { rng.below(3) };
            Val::List(
                (0..len)
                    .map(|_| random(&list.ty(), rng, depth + 1))
                    .collect(),
            )
        }
        Type::Record(record) => Val::Record(
            record
                .fields()
                .map(|f| (f.name.to_string(), random(&f.ty, rng, depth + 1)))
                .collect(),
        ),
        Type::Enum(e) => {
            let names: Vec<&str> = e.names().collect();
            Val::Enum(names[rng.below(names.len())].to_string())
        }
        Type::Variant(v) => {
            let cases: Vec<_> = v.cases().collect();
            let case = &cases[rng.below(cases.len())];
            let payload = case
                .ty
                .as_ref()
                .map(|t| Box::new(random(t, rng, depth + 1)));
            Val::Variant(case.name.to_string(), payload)
        }
        Type::Option(o) => Val::Option(
            (depth < 4 && rng.one_in(2)).then(|| Box::new(random(&o.ty(), rng, depth + 1))),
        ),
        other => panic!("the WIT has no parameter of {other:?}"),
    }
}

/// `value` with a few of its nodes changed at random.
fn mutate(value: &Val, ty: &Type, rng: &mut Rng) -> Val {
    if rng.one_in(40) {
        return random(ty, rng, 2);
    }
    match (value, ty) {
        (Val::String(_), _) if rng.one_in(8) => {
            Val::String(HOSTILE[rng.below(HOSTILE.len())].to_string())
        }
        (Val::List(items), Type::List(list)) => {
            let element = list.ty();
            let mut items: Vec<Val> = items.iter().map(|v| mutate(v, &element, rng)).collect();
            if !items.is_empty() && rng.one_in(10) {
                let at = rng.below(items.len());
                items.remove(at);
            }
            if !items.is_empty() && rng.one_in(10) {
                let at = rng.below(items.len());
                items.push(items[at].clone());
            }
            Val::List(items)
        }
        (Val::Record(fields), Type::Record(record)) => Val::Record(
            fields
                .iter()
                .zip(record.fields())
                .map(|((name, v), f)| (name.clone(), mutate(v, &f.ty, rng)))
                .collect(),
        ),
        (Val::Variant(name, Some(payload)), Type::Variant(v)) => {
            let case = v.cases().find(|c| c.name == name).expect("its case");
            let ty = case.ty.expect("a payload");
            Val::Variant(name.clone(), Some(Box::new(mutate(payload, &ty, rng))))
        }
        (Val::Option(Some(inner)), Type::Option(o)) if !rng.one_in(20) => {
            Val::Option(Some(Box::new(mutate(inner, &o.ty(), rng))))
        }
        (Val::Option(Some(_)), _) => Val::Option(None),
        _ => value.clone(),
    }
}

/// Both plugins, called alike.
struct Both {
    component: Guest,
    extism: ExtismHost,
}

impl Both {
    fn new() -> Self {
        Both {
            component: Guest::new(()),
            extism: portplan_tests::built_extism(),
        }
    }

    /// The two plugins of WIT world `world` built alone
    /// (`dist/wasm/portplan-<world>-{component,extism}.wasm`).
    fn alone(world: &str) -> Self {
        let file =
            |kind: &str| portplan_tests::built_plugin(&format!("portplan-{world}-{kind}.wasm"));
        let engine = Engine::default();
        let component = Component::from_file(&engine, file("component")).expect("component");
        let compiled = ExtismHost::compile(&file("extism")).expect("plugin compiles");
        Both {
            component: Guest::of(&engine, &component, ()),
            extism: ExtismHost::instantiate(&compiled).expect("plugin instantiates"),
        }
    }

    /// Calls export `name` in both, checks they answer alike, and returns
    /// the component's answer; `Err` with the plan-error's JSON when its
    /// input was refused.
    fn call(&mut self, name: &str, args: &[Val]) -> Result<Val, Value> {
        let params = self.component.params(name);
        let result = self.component.call(name, args);
        let got = component_answer(&result);
        let want = extism_answer(&mut self.extism, name, &params, args);
        let rendering = matches!(
            name,
            "render-report" | "render-truth-table" | "render-plan-error"
        );
        match (&got, &want) {
            // A rendering cannot fail in the WIT: the component renders the
            // problem in the format asked for, the plugin rejects.
            (Ok(Value::String(text)), Err(error)) if rendering => {
                let error: portplan_core::PlanError =
                    serde_json::from_value(error.clone()).expect("a plan-error");
                let format = serde_json::from_value(to_json(&args[1])).expect("a format");
                let rendered = portplan_core::render_plan_error(&error, format);
                assert_eq!(text, &rendered, "{name}({args:?})");
            }
            _ => assert_eq!(got, want, "{name}({args:?})"),
        }
        match (want, result) {
            (Err(error), _) => Err(error),
            (Ok(_), Val::Result(Ok(Some(value)))) => Ok(*value),
            (Ok(_), value) => Ok(value),
        }
    }
}

/// Real values of the parameter types, by parameter name: the corpus's
/// plans, the built-in profiles' names, captured firewall output, and what
/// the plugins answer for them (each answer compared on the way).
fn seeds(both: &mut Both) -> BTreeMap<String, Vec<Val>> {
    let mut seeds: BTreeMap<String, Vec<Val>> = BTreeMap::new();
    let mut add = |name: &str, value: Val| seeds.entry(name.to_string()).or_default().push(value);
    if let Ok(Val::List(profiles)) = both.call("catalog", &[]) {
        for profile in profiles {
            if let Val::Record(fields) = profile {
                add("name", fields[0].1.clone());
            }
        }
    }
    for (_, plan_path, _) in corpus_cases().into_iter().step_by(3) {
        let text = Val::String(std::fs::read_to_string(plan_path).expect("corpus plan"));
        add("text", text.clone());
        let Ok(plan) = both.call("parse-plan", &[text]) else {
            continue;
        };
        if let Ok(report) = both.call("validate-plan", std::slice::from_ref(&plan)) {
            if let Ok(rules) = both.call("firewall-rules", &[report.clone(), Val::Option(None)]) {
                add("rules", rules);
            }
            add("report", report);
        }
        // The truth table of nothing served or probed yet: every expected
        // path, none measured.
        let nothing = Val::List(Vec::new());
        if let Ok(table) = both.call("reach-report", &[plan.clone(), nothing.clone(), nothing]) {
            add("table", table);
        }
        add("plan", plan);
    }
    let captured = |name: &str| {
        std::fs::read_to_string(repo_root().join("core/tests/captured").join(name))
            .expect("capture")
    };
    for (backend, main, extra) in [
        ("nftables", captured("nft-debian-drop.json"), String::new()),
        (
            "iptables",
            captured("iptables-save-v4.txt"),
            captured("iptables-save-v6.txt"),
        ),
        (
            "firewalld",
            captured("firewalld-1.3-list-all-zones.txt"),
            captured("firewalld-1.3-permanent-list-all-zones.txt"),
        ),
        (
            "ufw",
            captured("ufw-0.36-status-verbose.txt"),
            captured("ufw-0.36-show-added.txt"),
        ),
    ] {
        let output = Val::Record(vec![
            ("main".into(), Val::String(main)),
            ("extra".into(), Val::String(extra)),
            ("zone".into(), Val::Option(None)),
        ]);
        let backend = Val::Enum(backend.into());
        add("output", output.clone());
        if let Ok(state) = both.call("read-firewall", &[backend, output]) {
            add("state", state);
        }
    }
    seeds
}

/// The parameter's seeds: by name, and the firewall states for any state.
fn seed_for<'s>(seeds: &'s BTreeMap<String, Vec<Val>>, param: &str) -> &'s [Val] {
    let key = match param {
        "before" | "now" => "state",
        other => other,
    };
    seeds.get(key).map_or(&[], Vec::as_slice)
}

fn arguments(
    params: &[(String, Type)],
    seeds: &BTreeMap<String, Vec<Val>>,
    rng: &mut Rng,
) -> Vec<Val> {
    params
        .iter()
        .map(|(name, ty)| {
            let real = seed_for(seeds, name);
            if real.is_empty() || rng.one_in(6) {
                random(ty, rng, 0)
            } else {
                mutate(&real[rng.below(real.len())], ty, rng)
            }
        })
        .collect()
}

/// The component's answer as the Extism plugin gives it: `Ok(json)` or
/// `Err(plan-error json)`.
fn component_answer(result: &Val) -> Result<Value, Value> {
    match result {
        Val::Result(Ok(Some(v))) => Ok(to_json(v)),
        Val::Result(Err(Some(e))) => Err(to_json(e)),
        Val::Result(_) => panic!("every result carries a value"),
        other => Ok(to_json(other)),
    }
}

fn extism_answer(
    plugin: &mut ExtismHost,
    name: &str,
    params: &[(String, Type)],
    args: &[Val],
) -> Result<Value, Value> {
    let input: Map<String, Value> = params
        .iter()
        .zip(args)
        .map(|((n, _), v)| (n.clone(), to_json(v)))
        .collect();
    match plugin.call(name, &Value::Object(input).to_string()) {
        Ok(text) => Ok(serde_json::from_str(&text).expect("the plugin answers JSON")),
        Err(message) => Err(serde_json::from_str(&message)
            .unwrap_or_else(|_| panic!("{name}: the plugin crashed: {message}"))),
    }
}

#[test]
fn every_export_answers_as_the_extism_plugin_on_changed_real_and_random_arguments() {
    let mut both = Both::new();
    let seeds = seeds(&mut both);
    for needed in ["name", "text", "plan", "report", "rules", "output", "state"] {
        assert!(!seed_for(&seeds, needed).is_empty(), "no seed for {needed}");
    }
    let rows = |table: &Val| match table {
        Val::Record(fields) => fields
            .iter()
            .any(|(n, v)| n == "rows" && v != &Val::List(vec![])),
        _ => false,
    };
    assert!(
        seed_for(&seeds, "table").iter().any(rows),
        "no truth table with rows among the seeds"
    );
    let mut rng = Rng(0x5eed);
    let (mut calls, mut rejected) = (0, 0);
    for name in wit_functions() {
        let params = both.component.params(&name);
        let rounds = if params.is_empty() { 2 } else { 120 };
        for _ in 0..rounds {
            let args = arguments(&params, &seeds, &mut rng);
            rejected += usize::from(both.call(&name, &args).is_err());
            calls += 1;
        }
    }
    // Both kinds of answer were tried, many times each.
    assert!(
        calls > 1500 && rejected > 300 && calls - rejected > 300,
        "{calls} calls, {rejected} rejected"
    );
}

#[test]
fn each_world_built_alone_exports_its_functions_and_answers_as_the_whole() {
    // `portplan-<world>-*.wasm` are the plugins of a host that calls one
    // world's functions; each must be the whole plugin cut to them.
    let mut whole = Both::new();
    let seeds = seeds(&mut whole);
    let mut rng = Rng(0xa10e);
    let mut covered = Vec::new();
    for world in ["plans", "firewalls", "reach"] {
        let functions = portplan_tests::world_functions(world);
        let mut alone = Both::alone(world);
        for kind in ["component", "extism"] {
            let file = portplan_tests::built_plugin(&format!("portplan-{world}-{kind}.wasm"));
            let size = std::fs::metadata(&file).expect("built").len();
            // Issue 16's bound for a plugin (BENCHMARKS.md, "Plugin size").
            assert!(size < 300_000, "{} is {size} bytes", file.display());
        }
        for name in wit_functions() {
            let in_world = functions.contains(&name);
            let component = (alone.component.instance)
                .get_func(&mut alone.component.store, &name)
                .is_some();
            assert_eq!(
                component, in_world,
                "{world}'s component exports {name}: {component}"
            );
            assert_eq!(
                alone.extism.exports(&name),
                in_world,
                "{world}'s Extism plugin exports {name}"
            );
        }
        for name in functions {
            let params = alone.component.params(&name);
            for _ in 0..if params.is_empty() { 1 } else { 40 } {
                let args = arguments(&params, &seeds, &mut rng);
                assert_eq!(
                    alone.call(&name, &args),
                    whole.call(&name, &args),
                    "{world}: {name}({args:?})"
                );
            }
            covered.push(name);
        }
    }
    // The three worlds are every function once (build.rs holds the WIT to
    // it too).
    assert_eq!(covered, wit_functions());
}

/// The largest memory an instance asked for.
#[derive(Default)]
struct Peak(usize);

impl wasmtime::ResourceLimiter for Peak {
    fn memory_growing(
        &mut self,
        _: usize,
        desired: usize,
        _: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.0 = self.0.max(desired);
        Ok(true)
    }

    fn table_growing(&mut self, _: usize, _: usize, _: Option<usize>) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

#[test]
fn repeated_calls_free_their_arguments_and_results() {
    // The component owns what the host passes and frees it after lifting;
    // each result lives until its `cabi_post_`. A leak of either grows the
    // memory call after call.
    let mut guest = Guest::new(Peak::default());
    guest.store.limiter(|peak| peak);
    let text =
        std::fs::read_to_string(repo_root().join("examples/plans/ocp-cluster.json")).expect("plan");
    let (mut both, mut rng) = (Both::new(), Rng(0x1ea4));
    let seeds = seeds(&mut both);
    let every: Vec<(String, Vec<Val>)> = wit_functions()
        .into_iter()
        .map(|name| {
            let args = arguments(&both.component.params(&name), &seeds, &mut rng);
            (name, args)
        })
        .collect();
    let mut peak_after = |rounds: usize| {
        for _ in 0..rounds {
            let plan = ok(guest.call("parse-plan", &[Val::String(text.clone())]));
            // Small calls, many: a plan's parameter block (passed by
            // pointer) leaked would add up too.
            for _ in 0..50 {
                guest.call("validate-plan", &[emptied(&plan)]);
            }
            let report = ok(guest.call("validate-plan", &[plan]));
            let rendered = guest.call("render-report", &[report, Val::Enum("table".into())]);
            assert!(matches!(rendered, Val::String(t) if t.contains("obs1")));
            // And every export once, on the same arguments each round.
            for (name, args) in &every {
                guest.call(name, args);
            }
        }
        guest.store.data().0
    };
    let settled = peak_after(20);
    assert_eq!(
        peak_after(300),
        settled,
        "memory grew over 300 rounds after 20"
    );
}

/// `value` with every list in its top record emptied: a plan of no hosts,
/// quick to refuse.
fn emptied(value: &Val) -> Val {
    let Val::Record(fields) = value else {
        return value.clone();
    };
    let empty = |v: &Val| match v {
        Val::List(_) => Val::List(Vec::new()),
        other => other.clone(),
    };
    Val::Record(fields.iter().map(|(n, v)| (n.clone(), empty(v))).collect())
}

/// A `result`'s ok value.
fn ok(answer: Val) -> Val {
    match answer {
        Val::Result(Ok(Some(value))) => *value,
        other => panic!("not an ok answer: {other:?}"),
    }
}

/// The component's core module, called as a host that breaks the canonical
/// ABI would call it: values wasmtime's typed calls never produce (a tag
/// out of range, a bool of 2, bytes that are not UTF-8, a layout no
/// allocator can serve). The component must trap on each as the canonical
/// ABI's lifting does, and never read past what it was given.
mod hostile_host {
    use std::sync::OnceLock;

    use wasmtime::{
        Engine, Instance, Linker, Memory, Module, Store, StoreLimits, StoreLimitsBuilder, Trap,
        Val, ValType,
    };

    use super::built_plugin;

    /// The engine, and the core module inside the built component (the
    /// one exporting `cabi_realloc`), compiled once per test process.
    fn compiled() -> &'static (Engine, Module) {
        static COMPILED: OnceLock<(Engine, Module)> = OnceLock::new();
        COMPILED.get_or_init(|| {
            let engine = Engine::default();
            let module = core_module(&engine);
            (engine, module)
        })
    }

    fn core_module(engine: &Engine) -> Module {
        let bytes = std::fs::read(built_plugin()).expect("built component");
        wasmparser::Parser::new(0)
            .parse_all(&bytes)
            .filter_map(|payload| match payload.expect("a valid component") {
                wasmparser::Payload::ModuleSection {
                    unchecked_range, ..
                } => Some(Module::new(engine, &bytes[unchecked_range]).expect("core module")),
                _ => None,
            })
            .find(|module| module.get_export("cabi_realloc").is_some())
            .expect("the component holds its core module")
    }

    /// A fresh instance of the core module, its memory capped at 64 MiB.
    struct Core {
        store: Store<StoreLimits>,
        instance: Instance,
        memory: Memory,
    }

    impl Core {
        fn new() -> Self {
            let (engine, module) = compiled();
            let limits = StoreLimitsBuilder::new().memory_size(64 << 20).build();
            let mut store = Store::new(engine, limits);
            store.limiter(|limits| limits);
            let instance = Linker::new(engine)
                .instantiate(&mut store, module)
                .expect("the core module needs no imports");
            let memory = instance
                .get_memory(&mut store, "memory")
                .expect("it exports its memory");
            Core {
                store,
                instance,
                memory,
            }
        }

        /// `name` called with `args` (i32s, or i64s where its signature
        /// has them), its one result if any.
        fn call(&mut self, name: &str, args: &[i64]) -> wasmtime::Result<Option<i64>> {
            let func = self
                .instance
                .get_func(&mut self.store, name)
                .unwrap_or_else(|| panic!("the core module exports {name}"));
            let ty = func.ty(&self.store);
            assert_eq!(ty.params().len(), args.len(), "{name}'s flat parameters");
            let params: Vec<Val> = ty
                .params()
                .zip(args)
                .map(|(ty, &v)| match ty {
                    ValType::I32 => Val::I32(v as i32),
                    ValType::I64 => Val::I64(v),
                    other => panic!("{name} takes a {other}"),
                })
                .collect();
            let mut results = vec![Val::I32(0); ty.results().len()];
            func.call(&mut self.store, &params, &mut results)?;
            Ok(results
                .first()
                .map(|r| r.i32().map_or_else(|| r.unwrap_i64(), i64::from)))
        }

        /// `name`'s answer: a pointer to its return area, released again by
        /// `cabi_post_`; the byte at the pointer is a `result`'s tag.
        fn answer(&mut self, name: &str, args: &[i64]) -> u8 {
            let at = self
                .call(name, args)
                .unwrap_or_else(|e| panic!("{name}{args:?} trapped: {e:#}"))
                .expect("a return pointer");
            let tag = self.memory.data(&self.store)[at as usize];
            self.call(&format!("cabi_post_{name}"), &[at])
                .expect("cabi_post_ answers");
            tag
        }

        /// `name`'s answer when it is a `string`: the (pointer, length) at
        /// its return pointer, read before `cabi_post_` releases it.
        fn text_answer(&mut self, name: &str, args: &[i64]) -> String {
            let at = self
                .call(name, args)
                .unwrap_or_else(|e| panic!("{name} trapped: {e:#}"))
                .expect("a return pointer") as usize;
            let memory = self.memory.data(&self.store);
            let word = |i: usize| {
                u32::from_le_bytes(memory[i..i + 4].try_into().expect("4 bytes")) as usize
            };
            let (ptr, len) = (word(at), word(at + 4));
            let text = String::from_utf8(memory[ptr..ptr + len].to_vec()).expect("UTF-8");
            self.call(&format!("cabi_post_{name}"), &[at as i64])
                .expect("cabi_post_ answers");
            text
        }

        fn flat_count(&mut self, name: &str) -> usize {
            let func = self.instance.get_func(&mut self.store, name).expect(name);
            func.ty(&self.store).params().len()
        }

        /// `cabi_realloc`'s answer to a call that must not trap.
        fn realloc(&mut self, old: i64, old_size: i64, align: i64, new_size: i64) -> i64 {
            let args = [old, old_size, align, new_size];
            (self.call("cabi_realloc", &args))
                .unwrap_or_else(|e| panic!("cabi_realloc{args:?} trapped: {e:#}"))
                .expect("a pointer")
        }

        /// `bytes` copied into a block of this instance's own allocator.
        fn bytes(&mut self, bytes: &[u8]) -> i64 {
            let at = self.realloc(0, 0, 1, bytes.len() as i64);
            self.memory
                .write(&mut self.store, at as usize, bytes)
                .expect("inside memory");
            at
        }
    }

    /// `name`'s call trapped as Rust's `abort` or a panic does in wasm32
    /// (`unreachable`), not as an out-of-bounds access or any other trap.
    #[track_caller]
    fn traps(name: &str, args: &[i64]) {
        aborted(Core::new().call(name, args), &format!("{name}{args:?}"));
    }

    /// A call (`what`) that must have trapped as [`traps`] says.
    #[track_caller]
    fn aborted(called: wasmtime::Result<Option<i64>>, what: &str) {
        let error = called.expect_err(&format!("{what} must trap"));
        assert_eq!(
            error.downcast_ref::<Trap>(),
            Some(&Trap::UnreachableCodeReached),
            "{what}: {error:#}"
        );
    }

    #[test]
    fn an_enum_option_or_variant_tag_out_of_range_traps() {
        // firewall-backend has five cases.
        let mut core = Core::new();
        for backend in 0..5 {
            core.answer("empty-firewall", &[backend]);
        }
        for backend in [5, 6, 255, 256, 261, -1] {
            traps("empty-firewall", &[backend]);
        }
        // read-firewall(backend, output { main, extra, zone: option<string> }):
        // flat backend, main (2), extra (2), zone's tag, zone (2).
        assert_eq!(Core::new().flat_count("read-firewall"), 8);
        Core::new().answer("read-firewall", &[0, 0, 0, 0, 0, 1, 0, 0]);
        for tag in [2, 256, -1] {
            traps("read-firewall", &[0, 0, 0, 0, 0, tag, 0, 0]);
        }
        // plan-firewall(rules, state: firewall-state (four cases), remove-all):
        // a zeroed payload is each case's emptiest value.
        let flat = Core::new().flat_count("plan-firewall");
        for tag in 0..4 {
            let mut args = vec![0; flat];
            args[2] = tag;
            Core::new().answer("plan-firewall", &args);
        }
        for tag in [4, 256, -1] {
            let mut args = vec![0; flat];
            args[2] = tag;
            traps("plan-firewall", &args);
        }
    }

    /// The heap of a fresh instance after `plan-firewall` of no
    /// rules over an empty ufw state, with `remove_all` as the flat bool.
    /// (The heap, from `__heap_base` up, where the argument is laid out and
    /// written as JSON: the shadow stack below it keeps whatever raw flat
    /// values a frame spilled, which the ABI leaves to the guest.)
    fn after_plan_firewall(remove_all: i64) -> Vec<u8> {
        let mut core = Core::new();
        let flat = core.flat_count("plan-firewall");
        let mut args = vec![0; flat];
        args[2] = 3; // ufw
        args[flat - 1] = remove_all;
        assert_eq!(core.answer("plan-firewall", &args), 0, "an ok answer");
        let heap = (core.instance.get_global(&mut core.store, "__heap_base"))
            .expect("the module exports __heap_base")
            .get(&mut core.store)
            .unwrap_i32();
        core.memory.data(&core.store)[heap as usize..].to_vec()
    }

    #[test]
    fn a_flat_bool_is_true_whatever_its_value_but_zero() {
        // The canonical ABI lifts any i32 but 0 as true, so these calls are
        // the same call: a fresh instance must end with the same heap.
        let truth = after_plan_firewall(1);
        for value in [2, 255, 256, -1, i64::from(i32::MIN)] {
            assert!(
                after_plan_firewall(value) == truth,
                "remove-all = {value} was not lifted as true"
            );
        }
        // The heap does tell true from false (the argument's JSON was
        // written there), so the comparison above can fail.
        assert!(after_plan_firewall(0) != truth);
    }

    /// `plan-restore(before, now)` with its parameter block (two
    /// `firewall-state`s, 36 bytes apart, passed by pointer) zeroed but for
    /// the two variant tags: a zeroed payload is each case's emptiest value.
    fn plan_restore(core: &mut Core, before: u8, now: u8) -> wasmtime::Result<Option<i64>> {
        let mut block = [0; 72];
        (block[0], block[36]) = (before, now);
        let at = core.realloc(0, 0, 4, 72);
        (core.memory.write(&mut core.store, at as usize, &block)).expect("inside memory");
        core.call("plan-restore", &[at])
    }

    #[test]
    fn a_variant_tag_out_of_range_in_memory_traps() {
        // Tags in a parameter block are read from memory, not flat values.
        let mut core = Core::new();
        assert_eq!(core.flat_count("plan-restore"), 1, "passed by pointer");
        let at = plan_restore(&mut core, 3, 3)
            .expect("two empty ufw states answer")
            .expect("a return pointer");
        assert_eq!(
            core.memory.data(&core.store)[at as usize],
            0,
            "an ok answer"
        );
        for (before, now) in [(4, 3), (3, 4), (255, 3)] {
            let called = plan_restore(&mut Core::new(), before, now);
            aborted(called, &format!("plan-restore with tags {before}, {now}"));
        }
    }

    #[test]
    fn a_string_that_is_not_utf8_traps() {
        let mut core = Core::new();
        let name = core.bytes(b"finedatalink-single");
        assert_eq!(core.answer("get-profile", &[name, 19]), 0);
        for bad in [&b"\xff"[..], b"fdl\xc3", b"\xed\xa0\x80"] {
            let mut core = Core::new();
            let at = core.bytes(bad);
            let called = core.call("get-profile", &[at, bad.len() as i64]);
            aborted(called, &format!("get-profile of {bad:?}"));
        }
    }

    /// `render-plan-error` of the problems laid out by `problems`, of which
    /// the call is told `count`: its text. Each string and the list get a
    /// block of their own size, as the canonical ABI lowers them: the
    /// component frees each with the size it was given, and its allocator
    /// (talc) finds a block's end from that size, so a bigger block freed
    /// so corrupts its heap. What the length leaves out is in the block
    /// taken next: `tail` after each string, the records past `count`
    /// after the list. Without a tail, the next string follows instead, so
    /// a read past the length reads other bytes in the two layouts.
    fn render_problems(problems: &[[&str; 3]], count: usize, tail: &[u8]) -> String {
        let mut core = Core::new();
        let mut records = Vec::new();
        for field in problems.iter().flatten() {
            let at = core.bytes(field.as_bytes());
            core.bytes(tail);
            records.extend((at as u32).to_le_bytes());
            records.extend((field.len() as u32).to_le_bytes());
        }
        // A record of three strings, each a (pointer, length).
        let (given, rest) = records.split_at(count * 24);
        let mut block = |bytes: &[u8]| {
            let at = core.realloc(0, 0, 4, bytes.len() as i64);
            (core.memory.write(&mut core.store, at as usize, bytes)).expect("inside memory");
            at
        };
        let list = block(given);
        if !rest.is_empty() {
            block(rest);
        }
        let json = 0; // report-format's first case
        core.text_answer("render-plan-error", &[list, count as i64, json])
    }

    #[test]
    fn a_string_or_list_is_read_to_its_length_and_no_further() {
        let first = ["plan.hosts[0].address", "10.0.0.300", "not an IP address"];
        let second = ["SECOND.path", "SECOND value", "SECOND message"];
        let given = render_problems(&[first], 1, b"");
        // Each whole and no more: a read past a string's end would put
        // the bytes after it (the allocator's) before its closing quote.
        for field in first {
            let quoted = format!("\"{field}\"");
            assert!(given.contains(&quoted), "{quoted} is in {given}");
        }
        // Bytes after a string's length and records after a list's count
        // are there to read, but they are not the value: the answer is the
        // same as without them.
        let tail = br#"TAIL"},{\u0000"#;
        assert_eq!(render_problems(&[first, second], 1, tail), given);
        assert_eq!(render_problems(&[first], 1, tail), given);
        // The second record is read once the count gives it, so the
        // comparison above can fail.
        assert!(render_problems(&[first, second], 2, tail).contains("SECOND value"));
        assert!(!render_problems(&[first, second], 2, tail).contains("TAIL"));
    }

    #[test]
    fn cabi_realloc_traps_on_a_layout_it_cannot_serve_and_frees_on_zero() {
        // An alignment that is no power of two; a size past isize::MAX once
        // rounded to its alignment; more than the 64 MiB this store allows.
        traps("cabi_realloc", &[0, 0, 3, 8]);
        traps("cabi_realloc", &[0, 0, 0, 8]);
        traps("cabi_realloc", &[0, 0, 8, i64::from(i32::MAX - 2)]);
        traps("cabi_realloc", &[0, 0, 1, 1 << 27]);
        let mut core = Core::new();
        let first = core.realloc(0, 0, 8, 64);
        assert_eq!(first % 8, 0, "aligned");
        // A shrink to nothing frees the block and answers the alignment
        // (a dangling, aligned pointer), so the next block of that size is
        // the same one again.
        assert_eq!(core.realloc(first, 64, 8, 0), 8);
        let again = core.realloc(0, 0, 8, 64);
        assert_eq!(again, first, "the freed block is served again");
        // And growing keeps the bytes.
        (core.memory.write(&mut core.store, again as usize, b"kept")).expect("inside memory");
        let grown = core.realloc(again, 64, 8, 1 << 16);
        assert_eq!(
            &core.memory.data(&core.store)[grown as usize..][..4],
            b"kept"
        );
    }
}

fn built_plugin() -> std::path::PathBuf {
    portplan_tests::built_plugin("portplan-component.wasm")
}
