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
/// fuel, 128 MiB by default, which a report of a few thousand hosts already
/// passes. The input limits (`portplan_core` limits.rs) admit reports of
/// hundreds of megabytes (20,000 hosts, 20 million admitted sources listed
/// twice), so the host allows what a wasm32 guest can hold at all, its whole
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
