//! portplan-core: the rules of portplan, as pure functions of their inputs.
//!
//! What it is: the built-in catalog of vendor port tables, the plan model (the
//! Rust side of `wit/portplan.wit`, one type per WIT type), the validation
//! rules, desired firewall rules, the firewall backends' state parsing, diff
//! and exact commands, and renderings of the report. The functions at the
//! crate root are the WIT world's exports, one for one; [`shell`] holds the
//! few things a shell needs beyond them.
//!
//! What it is not: it never reads a file, a socket, a clock, the environment
//! or a random number, and runs no command. Facts about a host come in as an
//! [`Observation`]; shells (the `portplan` binary and Ansible module, the
//! WebAssembly plugins, the page) gather them and act on the answer. That is
//! what lets every artifact give byte-identical reports for the same input.
//!
//! No exported function panics on any input: records that refer to each
//! other (a found rule's chain) are checked at the boundary and rejected as a
//! [`PlanError`] naming the path, and the property tests feed every export
//! arbitrary records and arbitrary JSON.

#![forbid(unsafe_code)]

// `#[derive(Decode)]` names the crate as others do (`::portplan_core`).
extern crate self as portplan_core;

mod backends;
mod catalog;
mod decode;
mod deployment;
mod encode;
mod inflate;
mod limits;
mod list;
mod model;
mod nets;
mod order;
mod reach;
mod render;
mod report;
mod resolve;
mod rules;
mod sources;
mod state;
#[cfg(not(target_family = "wasm"))]
mod strict;
mod table;

pub use decode::Decode;
pub use encode::Encode;
pub use model::{
    Accessor, Allocation, ClientNetwork, Component, DeployUser, Exposure, Finding, FindingCode,
    FirewallBackend, FirewallRule, HostObservation, HostPorts, Listener, Modifiable, NetworkRole,
    Observation, ObservedFirewall, OpenPort, Phase, Plan, PlanError, PlanHost, PortEntry,
    PortOverride, PortRange, PortSpec, Problem, Profile, Report, ReportFormat, Severity,
    SourceGroup, Summary, Transport,
};
/// `#[derive(Decode)]`: how the walk decodes a contract type, read from its
/// serde attributes ([`Decode`]).
pub use portplan_derive::Decode;
/// `#[derive(Encode)]`: how a contract type is written as JSON, read from
/// its serde attributes ([`Encode`]).
pub use portplan_derive::Encode;
pub use reach::{
    Expectation, ListenPort, ProbeOutcome, ProbePlan, ProbeResult, ProbeResults, ProbeSource,
    ProbeTarget, ServeStatus, TruthRow, TruthSummary, TruthTable, Verdict,
};
pub use state::{
    ChainId, Command, FirewallChange, FirewallOutput, FirewallState, FirewalldRule, FirewalldSide,
    FirewalldState, FirewalldZone, ForeignRule, IpFamily, IptablesChain, IptablesRule,
    IptablesState, NftChain, NftFamily, NftRule, NftState, TaggedRule, UfwRule, UfwState,
};

/// What `#[derive(Decode)]`'s code calls: not part of the API.
#[doc(hidden)]
pub mod __decode {
    pub use crate::decode::{Error, Node, Variant, put};
}

/// What `#[derive(Encode)]`'s code calls: not part of the API.
#[doc(hidden)]
pub mod __encode {
    pub use crate::encode::Out;
}

/// What a shell (the `portplan` binary, the plugins) needs beyond the WIT
/// functions: the strict JSON reader every artifact parses input with, the
/// JSON writer (`JsonOut` is what a shell's own `Encode` impls write to),
/// the names portplan marks its own rules and ipsets with, the Linux
/// defaults the rules assume, and the CLI's catalog renderings.
pub mod shell {
    pub use crate::backends::{
        FIREWALLD_BACKEND, FIREWALLD_DIRECT_RULES, FIREWALLD_FILTER_TABLES, FIREWALLD_IPSET_PREFIX,
        FIREWALLD_LOCAL_ADDRESSES, FIREWALLD_NFT_DNAT_UNACCEPTED, FirewalldDbusDump,
        FirewalldDbusIpset, FirewalldDbusZone, TAG_PREFIX, denied_ahead, firewalld_join_args,
        firewalld_nft_dnat_line, firewalld_services_named, overridden, placements, tagged_rules,
        unfiltered_families,
    };
    pub use crate::decode::{escape, is_hidden, json_size, parse_json, parse_value, quote};
    pub use crate::encode::{Out as JsonOut, compact as compact_json};
    pub use crate::limits::{
        DEPTH as LIMIT_DEPTH, HOSTS as LIMIT_HOSTS, LISTED_SOURCES as LIMIT_LISTED_SOURCES,
        LISTENERS as LIMIT_LISTENERS, PLAN_BYTES as LIMIT_PLAN_BYTES,
        REPORT_SOURCES as LIMIT_REPORT_SOURCES, ROWS as LIMIT_ROWS, SPECS as LIMIT_SPECS,
    };
    pub use crate::render::{
        catalog as render_catalog, json as render_json, profile as render_profile,
    };
    pub use crate::report::{CheckedPlan, check_plan, parse_plan_value};
    pub use crate::rules::{
        BROWSER_BAD_PORTS, DEFAULT_LOCAL_PORT_RANGE, DEFAULT_UNPRIVILEGED_PORT_START,
    };
}

/// Every built-in profile (WIT `catalog`).
pub fn catalog() -> Vec<Profile> {
    catalog::profiles().to_vec()
}

/// One built-in profile (WIT `get-profile`).
pub fn get_profile(name: &str) -> Result<Profile, PlanError> {
    catalog::profile(name)
}

/// Parse a plan from JSON text (WIT `parse-plan`). On failure, the problem
/// names the JSON path, the value found there and what is wrong with it.
/// A plan past portplan's input limits (bytes, nesting depth, hosts, custom
/// specs, observed listeners) is refused before it is read any further, with
/// the limit and the plan's count.
pub fn parse_plan(text: &str) -> Result<Plan, PlanError> {
    limits::check_bytes(text)?;
    // The contract's types are not recursive: a text the fast path decodes
    // as a plan nests no deeper than the plan type does (far below
    // `limits::DEPTH`), so only the text it refuses is measured for depth.
    let plan = match decode::parse_valid(text) {
        Some(plan) => plan,
        None => {
            limits::check_text(text)?;
            decode::walk(text)?
        }
    };
    limits::check_plan(&plan)?;
    Ok(plan)
}

/// Run every rule over a plan and its pasted observations (WIT `validate-plan`).
pub fn validate_plan(plan: &Plan) -> Result<Report, PlanError> {
    report::validate_plan(plan)
}

/// Check one host of a plan against what was observed on it (WIT `check-host`).
///
/// The report holds that host's findings, port table and rules, and the
/// plan-wide findings (which concern every host).
pub fn check_host(
    plan: &Plan,
    host: &str,
    phase: Phase,
    observation: &Observation,
) -> Result<Report, PlanError> {
    report::check_host(plan, host, phase, observation)
}

/// The rules a host's firewall should hold, each admitting exactly its
/// source group's sources: what [`plan_firewall`] takes (WIT
/// `firewall-rules`). `host: None` gives every host's, in the report's order.
/// An unknown host, a group listed twice, a row naming a group the report
/// does not list (or one without sources, or from a loopback port), or more
/// sources in all than `shell::LIMIT_LISTED_SOURCES` is an error naming it.
pub fn firewall_rules(report: &Report, host: Option<&str>) -> Result<Vec<FirewallRule>, PlanError> {
    report::firewall_rules(report, host)
}

/// Render a report (WIT `render-report`).
pub fn render_report(report: &Report, format: ReportFormat) -> String {
    render::report(report, format)
}

/// Render a rejection (WIT `render-plan-error`): JSON, or for every text
/// format one `path: message (value: ...)` line per problem.
pub fn render_plan_error(error: &PlanError, format: ReportFormat) -> String {
    match format {
        ReportFormat::Json => render::json(error),
        ReportFormat::Table | ReportFormat::Markdown | ReportFormat::Csv => format!("{error}\n"),
    }
}

/// Read a firewall backend's state from its own output (WIT `read-firewall`).
pub fn read_firewall(
    backend: FirewallBackend,
    output: &FirewallOutput,
) -> Result<FirewallState, PlanError> {
    backends::read_firewall(backend, output)
}

/// A host with nothing open behind a default-drop firewall of `backend`
/// (WIT `empty-firewall`), e.g. to show the commands for a new host.
pub fn empty_firewall(backend: FirewallBackend) -> Result<FirewallState, PlanError> {
    backends::empty_firewall(backend)
}

/// The change that takes `state` to exactly `rules` (WIT `plan-firewall`).
pub fn plan_firewall(
    rules: &[FirewallRule],
    state: &FirewallState,
    remove_all: bool,
) -> Result<FirewallChange, PlanError> {
    backends::plan_firewall(rules, state, remove_all)
}

/// The commands that take `now` back to exactly the portplan rules `before`
/// held, touching no other rule (WIT `plan-restore`): the rollback of a run.
pub fn plan_restore(
    before: &FirewallState,
    now: &FirewallState,
) -> Result<Vec<Command>, PlanError> {
    backends::plan_restore(before, now)
}

/// What one source must do to measure the plan's access matrix (WIT
/// `probe-plan`): the ports a host answers on before install, and every
/// connection to try, expected allow (the rules admit the source) or deny
/// (one plan host per port that they do not admit, every port for a client
/// network or an outsider). Pools are sampled, and `sampling` says how.
pub fn probe_plan(plan: &Plan, source: &ProbeSource, phase: Phase) -> Result<ProbePlan, PlanError> {
    reach::plan_probes(plan, source, phase)
}

/// The truth table (WIT `reach-report`): every source's expected targets
/// against its results, with an `unreachable` or `overexposed` finding for
/// each mismatch. Results that are not the plan's targets are rejected.
pub fn reach_report(
    plan: &Plan,
    served: &[ServeStatus],
    probed: &[ProbeResults],
) -> Result<TruthTable, PlanError> {
    reach::report(plan, served, probed)
}

/// Render a truth table (WIT `render-truth-table`): JSON, a text matrix,
/// Markdown, or every row as CSV.
pub fn render_truth_table(table: &TruthTable, format: ReportFormat) -> String {
    reach::render_truth_table(table, format)
}
