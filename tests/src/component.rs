//! A wasmtime host for the WebAssembly component, bound to the same WIT with
//! `component::bindgen!` and instantiated with an empty linker: the component
//! gets nothing from its host, no WASI and no functions.

use std::path::Path;

use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

#[allow(missing_docs)]
mod bindings {
    wasmtime::component::bindgen!({ path: "../wit", world: "portplan" });
}

pub use bindings::Portplan;
pub use bindings::portplan::ports::types;

/// The bytes a single call may hand back to the host: wasmtime's hostcall
/// fuel, 128 MiB by default, which a large report still passes. The input
/// limits (`portplan_core` limits.rs) admit reports of hundreds of megabytes
/// (a million port table rows, each with its spec's purpose; 4 million
/// sources in the groups; 20 million listed by `firewall-rules`), so the
/// host allows what a wasm32 guest can hold at all, its whole
/// 4 GiB memory: the guest's memory, not the host, is then the bound, and
/// exhausting it is a trap, reported as a crash.
pub const HOSTCALL_FUEL: usize = 4 << 30;

/// A loaded component, ready to call.
pub struct ComponentHost {
    store: Store<()>,
    portplan: Portplan,
    /// The compiled component, for listing its imports and exports.
    pub component: Component,
    /// The engine it was compiled with.
    pub engine: Engine,
}

impl ComponentHost {
    /// Compiles and instantiates the component at `path`.
    pub fn load(path: &Path) -> wasmtime::Result<Self> {
        let engine = Engine::default();
        let component = Component::from_file(&engine, path)?;
        let linker = Linker::new(&engine);
        let mut store = Store::new(&engine, ());
        store.set_hostcall_fuel(HOSTCALL_FUEL);
        let portplan = Portplan::instantiate(&mut store, &component, &linker)?;
        Ok(ComponentHost {
            store,
            portplan,
            component,
            engine,
        })
    }

    /// Plan text in, the report (or rejection) as the component renders it in `format`.
    pub fn validate(
        &mut self,
        plan_text: &str,
        format: types::ReportFormat,
    ) -> wasmtime::Result<String> {
        self.answer(plan_text, format)
            .map(|answer| answer.unwrap_or_else(|rejection| rejection))
    }

    /// [`ComponentHost::validate`], telling a rejection from a report:
    /// `Ok(Ok(report))`, `Ok(Err(rendered plan-error))`, or `Err` for a trap
    /// (which the WIT's `result` types keep apart from a rejection).
    pub fn answer(
        &mut self,
        plan_text: &str,
        format: types::ReportFormat,
    ) -> wasmtime::Result<Result<String, String>> {
        let p = &self.portplan;
        let store = &mut self.store;
        let rejected = match p.call_parse_plan(&mut *store, plan_text)? {
            Ok(plan) => match p.call_validate_plan(&mut *store, &plan)? {
                Ok(report) => return p.call_render_report(&mut *store, &report, format).map(Ok),
                Err(error) => error,
            },
            Err(error) => error,
        };
        p.call_render_plan_error(store, &rejected, format).map(Err)
    }

    /// The bindings, for calling any export.
    pub fn exports(&mut self) -> (&Portplan, &mut Store<()>) {
        (&self.portplan, &mut self.store)
    }
}

impl ComponentHost {
    /// A fresh instance of the same compiled component in a new store: cheap,
    /// unlike [`ComponentHost::load`]. An instance that trapped may not be
    /// entered again; a fresh one can.
    pub fn reinstantiate(&self) -> wasmtime::Result<Self> {
        let linker = Linker::new(&self.engine);
        let mut store = Store::new(&self.engine, ());
        store.set_hostcall_fuel(HOSTCALL_FUEL);
        let portplan = Portplan::instantiate(&mut store, &self.component, &linker)?;
        Ok(ComponentHost {
            store,
            portplan,
            component: self.component.clone(),
            engine: self.engine.clone(),
        })
    }
}

/// Core's reach records into the component's, and its probe plan back into
/// JSON: the component's types have no serde, so each field is named here
/// (a field the WIT adds fails to compile until it is).
mod reach {
    use portplan_core as core;
    use serde_json::{Value, json};

    use super::types as wit;

    pub fn source(s: &core::ProbeSource) -> wit::ProbeSource {
        match s {
            core::ProbeSource::Host(h) => wit::ProbeSource::Host(h.clone()),
            core::ProbeSource::Network(n) => wit::ProbeSource::Network(n.clone()),
            core::ProbeSource::Outsider => wit::ProbeSource::Outsider,
        }
    }

    pub fn phase(p: core::Phase) -> wit::Phase {
        match p {
            core::Phase::Preinstall => wit::Phase::Preinstall,
            core::Phase::Postinstall => wit::Phase::Postinstall,
        }
    }

    fn transport(t: core::Transport) -> wit::Transport {
        match t {
            core::Transport::Tcp => wit::Transport::Tcp,
            core::Transport::Udp => wit::Transport::Udp,
        }
    }

    fn outcome(o: core::ProbeOutcome) -> wit::ProbeOutcome {
        match o {
            core::ProbeOutcome::Connected => wit::ProbeOutcome::Connected,
            core::ProbeOutcome::WrongResponder => wit::ProbeOutcome::WrongResponder,
            core::ProbeOutcome::Timeout => wit::ProbeOutcome::Timeout,
            core::ProbeOutcome::Refused => wit::ProbeOutcome::Refused,
            core::ProbeOutcome::Unreachable => wit::ProbeOutcome::Unreachable,
            core::ProbeOutcome::Error => wit::ProbeOutcome::Error,
        }
    }

    fn listen(l: &core::ListenPort) -> wit::ListenPort {
        wit::ListenPort {
            spec: l.spec.clone(),
            port: l.port,
            transport: transport(l.transport),
        }
    }

    pub fn served(s: &core::ServeStatus) -> wit::ServeStatus {
        wit::ServeStatus {
            plan: s.plan.clone(),
            host: s.host.clone(),
            listening: s.listening.iter().map(listen).collect(),
            held: s.held.iter().map(listen).collect(),
        }
    }

    pub fn probed(p: &core::ProbeResults) -> wit::ProbeResults {
        wit::ProbeResults {
            plan: p.plan.clone(),
            source: source(&p.source),
            phase: phase(p.phase),
            results: p
                .results
                .iter()
                .map(|r| wit::ProbeResult {
                    destination: r.destination.clone(),
                    spec: r.spec.clone(),
                    port: r.port,
                    transport: transport(r.transport),
                    outcome: outcome(r.outcome),
                    detail: r.detail.clone(),
                    elapsed_ms: r.elapsed_ms,
                })
                .collect(),
        }
    }

    /// A WIT enum's case as the contract's JSON spells it (`Preinstall` ->
    /// `preinstall`), from the case name wasmtime's bindings print.
    fn text<T: std::fmt::Debug>(value: T) -> String {
        // wasmtime's bindings print `Transport::Tcp`: the case is the last part.
        let debug = format!("{value:?}");
        let camel = debug.rsplit("::").next().unwrap_or_default();
        let mut out = String::new();
        for (i, c) in camel.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    fn source_json(s: &wit::ProbeSource) -> Value {
        match s {
            wit::ProbeSource::Host(h) => json!({ "host": h }),
            wit::ProbeSource::Network(n) => json!({ "network": n }),
            wit::ProbeSource::Outsider => json!("outsider"),
        }
    }

    pub fn probe_plan(p: &wit::ProbePlan) -> Value {
        json!({
            "plan": p.plan,
            "source": source_json(&p.source),
            "phase": text(p.phase),
            "listen": p.listen.iter().map(|l| json!({
                "spec": l.spec, "port": l.port, "transport": text(l.transport),
            })).collect::<Vec<_>>(),
            "targets": p.targets.iter().map(|t| json!({
                "destination": t.destination, "address": t.address, "spec": t.spec,
                "port": t.port, "transport": text(t.transport), "expect": text(t.expect),
                "why": t.why,
            })).collect::<Vec<_>>(),
            "sampling": p.sampling,
        })
    }

    pub fn plan_error(e: &wit::PlanError) -> Value {
        json!({
            "problems": e.problems.iter().map(|p| json!({
                "path": p.path, "value": p.value, "message": p.message,
            })).collect::<Vec<_>>(),
        })
    }

    pub fn format(name: &str) -> wit::ReportFormat {
        match name {
            "json" => wit::ReportFormat::Json,
            "table" => wit::ReportFormat::Table,
            "markdown" => wit::ReportFormat::Markdown,
            _ => wit::ReportFormat::Csv,
        }
    }
}

impl ComponentHost {
    /// A reach case through the component: `probe-plan` for every source,
    /// then `reach-report` and `render-truth-table` in every format.
    pub fn reach(&mut self, input_text: &str) -> Result<(String, serde_json::Value), String> {
        use portplan_core::shell::parse_json;
        let input = crate::ReachInput::parse(input_text);
        let err = |e: wasmtime::Error| e.to_string();
        let p = &self.portplan;
        let store = &mut self.store;
        let plan = p
            .call_parse_plan(&mut *store, &input.plan)
            .map_err(err)?
            .map_err(|e| format!("{e:?}"))?;
        let mut probes = Vec::new();
        for (source, phase) in input.sources() {
            let source: portplan_core::ProbeSource =
                parse_json(&source.to_string()).map_err(|e| e.to_string())?;
            let phase: portplan_core::Phase =
                parse_json(&phase.to_string()).map_err(|e| e.to_string())?;
            let answer = p
                .call_probe_plan(
                    &mut *store,
                    &plan,
                    &reach::source(&source),
                    reach::phase(phase),
                )
                .map_err(err)?;
            probes.push(match answer {
                Ok(probe_plan) => reach::probe_plan(&probe_plan),
                Err(e) => reach::plan_error(&e),
            });
        }
        let served: Vec<portplan_core::ServeStatus> =
            parse_json(&input.served.to_string()).map_err(|e| e.to_string())?;
        let probed: Vec<portplan_core::ProbeResults> =
            parse_json(&input.probed.to_string()).map_err(|e| e.to_string())?;
        let served: Vec<_> = served.iter().map(reach::served).collect();
        let probed: Vec<_> = probed.iter().map(reach::probed).collect();
        let table = p
            .call_reach_report(&mut *store, &plan, &served, &probed)
            .map_err(err)?;
        let truth = crate::truth_sections(|format| match &table {
            Ok(table) => p
                .call_render_truth_table(&mut *store, table, reach::format(format))
                .map_err(err),
            Err(e) => p
                .call_render_plan_error(&mut *store, e, reach::format(format))
                .map_err(err),
        })?;
        Ok((truth, serde_json::Value::Array(probes)))
    }
}
