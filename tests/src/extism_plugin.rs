//! A host for the Extism plugin with the extism Rust crate: JSON objects of
//! the WIT parameters in, JSON out, a rejection as the error message.

use std::path::Path;

use extism::{Manifest, Plugin, Wasm};

/// A loaded plugin, without WASI and without host functions.
pub struct ExtismHost {
    plugin: Plugin,
}

impl ExtismHost {
    /// Loads the plugin at `path` (read here: the crate's file loading is a
    /// default feature we leave off).
    pub fn load(path: &Path) -> Result<Self, extism::Error> {
        let manifest = Manifest::new([Wasm::data(std::fs::read(path)?)]);
        Ok(ExtismHost {
            plugin: Plugin::new(&manifest, [], false)?,
        })
    }

    /// Loads the plugin at `path` with its memory capped at `pages` of 64 KiB:
    /// to make the real plugin run out of memory in the middle of a call.
    pub fn load_with_memory_max(path: &Path, pages: u32) -> Result<Self, extism::Error> {
        let manifest = Manifest::new([Wasm::data(std::fs::read(path)?)]).with_memory_max(pages);
        Ok(ExtismHost {
            plugin: Plugin::new(&manifest, [], false)?,
        })
    }

    /// Whether the plugin exports `function`.
    pub fn exports(&self, function: &str) -> bool {
        self.plugin.function_exists(function)
    }

    /// Calls `function` with `input`; a plugin error comes back as `Err(message)`.
    pub fn call(&mut self, function: &str, input: &str) -> Result<String, String> {
        self.plugin
            .call::<&str, &str>(function, input)
            .map(str::to_string)
            // With its causes: a trap's message is the cause of the call's error.
            .map_err(|e| format!("{e:#}"))
    }

    /// Whether the plugin exports `function`.
    pub fn has(&self, function: &str) -> bool {
        self.plugin.function_exists(function)
    }

    /// Plan text in, the report JSON (or the rejection's JSON) out, through
    /// parse-plan, validate-plan and render-report; `Err` only for a crash.
    pub fn validate(&mut self, plan_text: &str) -> Result<String, String> {
        self.answer(plan_text)
            .map(|answer| answer.unwrap_or_else(|rejection| rejection))
    }

    /// [`ExtismHost::validate`], telling a rejection from a report:
    /// `Ok(Ok(report))`, `Ok(Err(plan_error))` (the plan-error JSON, as
    /// render-plan-error renders it), or `Err(message)` when the plugin
    /// crashed (a trap, or an error that is not a plan-error), which is never
    /// taken for a rejection.
    pub fn answer(&mut self, plan_text: &str) -> Result<Result<String, String>, String> {
        let text = serde_json::to_string(plan_text).map_err(|e| e.to_string())?;
        let output = self
            .call("parse-plan", &format!(r#"{{"text":{text}}}"#))
            .and_then(|plan| self.call("validate-plan", &format!(r#"{{"plan":{plan}}}"#)))
            .and_then(|report| {
                self.call(
                    "render-report",
                    &format!(r#"{{"report":{report},"format":"json"}}"#),
                )
            });
        match output {
            Ok(rendered) => serde_json::from_str(&rendered)
                .map(Ok)
                .map_err(|e| format!("render-report gave no JSON string: {e}")),
            Err(message) if is_rejection(&message) => Ok(Err(message)),
            Err(crash) => Err(crash),
        }
    }
}

/// Whether an Extism error message is a rejection: the plugin sets the
/// plan-error JSON (with at least one problem) as its message. A trap's
/// message (`wasm trap: ...`, out of memory) or any other failure is not.
pub fn is_rejection(message: &str) -> bool {
    serde_json::from_str::<portplan_core::PlanError>(message)
        .is_ok_and(|error| !error.problems.is_empty())
}

impl ExtismHost {
    /// Compiles the plugin at `path` once, as [`ExtismHost::load`] does:
    /// loading is slow, [`ExtismHost::instantiate`] from the result is not.
    pub fn compile(path: &Path) -> Result<extism::CompiledPlugin, extism::Error> {
        let manifest = Manifest::new([Wasm::data(std::fs::read(path)?)]);
        extism::PluginBuilder::new(manifest)
            .with_wasi(false)
            .compile()
    }

    /// A fresh instance of a compiled plugin (a plugin that trapped may be
    /// left in any state; a fresh one is not).
    pub fn instantiate(compiled: &extism::CompiledPlugin) -> Result<Self, extism::Error> {
        Ok(ExtismHost {
            plugin: Plugin::new_from_compiled(compiled)?,
        })
    }
}

impl ExtismHost {
    /// A reach case through the plugin: `probe-plan` for every source, then
    /// `reach-report` and `render-truth-table` in every format.
    pub fn reach(&mut self, input_text: &str) -> Result<(String, serde_json::Value), String> {
        let input = crate::ReachInput::parse(input_text);
        let mut probes = Vec::new();
        for (source, phase) in input.sources() {
            let call = format!(
                r#"{{"plan":{},"source":{source},"phase":{phase}}}"#,
                input.plan
            );
            let answer = self.call("probe-plan", &call).unwrap_or_else(|e| e);
            probes.push(serde_json::from_str(&answer).map_err(|e| format!("{e}: {answer}"))?);
        }
        let report = format!(
            r#"{{"plan":{},"served":{},"probed":{}}}"#,
            input.plan, input.served, input.probed
        );
        let table = self.call("reach-report", &report);
        let truth = crate::truth_sections(|format| match &table {
            Ok(table) => {
                let call = format!(r#"{{"table":{table},"format":"{format}"}}"#);
                let rendered = self.call("render-truth-table", &call)?;
                serde_json::from_str(&rendered).map_err(|e| e.to_string())
            }
            Err(rejection) if format == "json" => Ok(rejection.clone()),
            Err(rejection) => {
                let call = format!(r#"{{"error":{rejection},"format":"{format}"}}"#);
                let rendered = self.call("render-plan-error", &call)?;
                serde_json::from_str(&rendered).map_err(|e| e.to_string())
            }
        })?;
        Ok((truth, serde_json::Value::Array(probes)))
    }
}
