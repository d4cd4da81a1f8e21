//! `portplan reach serve|probe|report`: measure who can reach whom.
//!
//! Core decides everything (`probe_plan`, `reach_report`): which ports a
//! host answers on, which connections each source tries and what it should
//! see, and what a result means. This shell only binds, connects and prints.
//! Exit status: 0 done (report: every probe as expected), 1 (report) a
//! mismatch, 2 bad input or an address that is not this host's.

pub mod module;
mod probe;
mod report;
mod serve;

use std::path::Path;
use std::process::ExitCode;

use portplan_core::{Plan, PlanError, Transport};

pub use probe::probe;
pub use report::report;
pub use serve::serve;

use crate::plan_input;

const EXIT_BAD_INPUT: u8 = 2;

/// What a responder writes and a probe expects: the plan, the host and the
/// port, so an answer from another plan, another host (a NAT, a wrong
/// address) or another service is told apart from ours.
pub(crate) fn token(plan: &str, host: &str, port: u16, transport: Transport) -> String {
    format!(
        "portplan-reach {} {} {port}/{}\n",
        portplan_core::shell::quote(plan),
        portplan_core::shell::quote(host),
        transport.as_str()
    )
}

/// The longest answer a probe reads: a token and a little more, so a chatty
/// service cannot make it read without end.
pub(crate) const TOKEN_LIMIT: usize = 512;

/// Read and parse a plan file (JSON or YAML; `-` reads standard input), or
/// say why not.
fn load_plan(path: &Path) -> Result<Plan, ExitCode> {
    let label = path.display().to_string();
    let read = if label == "-" {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map(|_| text)
    } else {
        std::fs::read_to_string(path)
    };
    let text = read.map_err(|error| {
        eprintln!("portplan: cannot read {label}: {error}");
        ExitCode::from(EXIT_BAD_INPUT)
    })?;
    plan_input::read_plan_text(&label, &text).map_err(|error| rejected(&error))
}

fn rejected(error: &PlanError) -> ExitCode {
    for line in error.to_string().lines() {
        eprintln!("portplan: {line}");
    }
    ExitCode::from(EXIT_BAD_INPUT)
}
