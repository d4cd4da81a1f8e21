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

    /// Calls `function` with `input`; a plugin error comes back as `Err(message)`.
    pub fn call(&mut self, function: &str, input: &str) -> Result<String, String> {
        self.plugin
            .call::<&str, &str>(function, input)
            .map(str::to_string)
            .map_err(|e| e.to_string())
    }

    /// Whether the plugin exports `function`.
    pub fn has(&self, function: &str) -> bool {
        self.plugin.function_exists(function)
    }

    /// Plan text in, the report JSON (or the rejection's JSON) out, through
    /// parse-plan, validate-plan and render-report.
    pub fn validate(&mut self, plan_text: &str) -> Result<String, String> {
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
                .map_err(|e| format!("render-report gave no JSON string: {e}")),
            // A rejection's message is already rendered as render-plan-error renders it.
            Err(rejection) => Ok(rejection),
        }
    }
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
