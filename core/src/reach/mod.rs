//! Who can reach whom, measured: the expected access matrix of a plan, per
//! source, and the truth table that compares it with what the probes saw.
//!
//! The shells do the IO (`portplan reach serve|probe|report`): a responder on
//! every planned port of each host, probes from every host, client network
//! and an outsider. Everything decided about them — which ports to answer on,
//! which to try, what each should do, what a result means — is here, so every
//! artifact draws the same matrix.

mod expect;
mod model;
mod render;
mod truth;

pub use model::{
    Expectation, ListenPort, ProbeOutcome, ProbePlan, ProbeResult, ProbeResults, ProbeSource,
    ProbeTarget, ServeStatus, TruthRow, TruthSummary, TruthTable, Verdict,
};

pub(crate) use expect::{all_sources, probe_plan};
pub(crate) use render::truth_table as render_truth_table;
pub(crate) use truth::truth_table;

use crate::model::{Phase, Plan, PlanError};
use crate::resolve;

/// What `source` must do in `phase` (WIT `probe-plan`).
pub(crate) fn plan_probes(
    plan: &Plan,
    source: &ProbeSource,
    phase: Phase,
) -> Result<ProbePlan, PlanError> {
    let deployment = resolve::resolve(plan)?;
    probe_plan(&deployment, &all_sources(&deployment), source, phase)
}

/// The truth table of a plan's probes (WIT `reach-report`).
pub(crate) fn report(
    plan: &Plan,
    served: &[ServeStatus],
    probed: &[ProbeResults],
) -> Result<TruthTable, PlanError> {
    truth_table(&resolve::resolve(plan)?, served, probed)
}
