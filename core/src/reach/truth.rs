//! The truth table: every source's expected targets against what it measured.

use crate::list::List;
use crate::table::Set;

use crate::order::Sorted;

use crate::decode::quote;
use crate::deployment::Deployment;
use crate::model::{Finding, FindingCode, Phase, PlanError, PortRange, Severity, Transport};
use crate::reach::expect::{all_sources, probe_plan};
use crate::reach::model::{
    Expectation, NO_RESULTS, ProbeOutcome, ProbeResult, ProbeResults, ProbeSource, ProbeTarget,
    ServeStatus, TruthRow, TruthSummary, TruthTable, Verdict,
};

/// A target's identity within one source's results.
type Key<'a> = (&'a str, &'a str, u16, Transport);

/// Compare every source's results with its expected targets.
pub(crate) fn truth_table(
    deployment: &Deployment,
    served: &[ServeStatus],
    probed: &[ProbeResults],
) -> Result<TruthTable, PlanError> {
    let phase = check_inputs(deployment, served, probed)?;
    let held: Sorted<(String, u16, Transport)> = (served.iter())
        .flat_map(|s| s.held.iter().map(|p| (s.host.clone(), p.port, p.transport)))
        .collect();
    let mut order: Vec<usize> = (0..probed.len()).list();
    crate::order::sort_by(&mut order, |&a, &b| probed[a].source.cmp(&probed[b].source));
    let sources = all_sources(deployment);
    let mut rows = Vec::new();
    for i in order {
        let results = &probed[i];
        let plan =
            probe_plan(deployment, &sources, &results.source, phase).map_err(|e| at(e, i))?;
        let mut measured = index(results, i)?;
        for target in &plan.targets {
            let result = measured.take((
                &target.destination,
                &target.spec,
                target.port,
                target.transport,
            ));
            let is_held = phase == Phase::Preinstall
                && held.contains(&(target.destination.clone(), target.port, target.transport));
            rows.push(row(&results.source, target, result, is_held));
        }
        if let Some(((destination, spec, port, _), _)) = measured.first_left() {
            return Err(problem(
                format!("probed[{i}].results"),
                &format!("{destination} {spec} {port}"),
                "not a target of this source in the plan",
            ));
        }
    }
    // A source that sent no results at all is not measured: its rows say
    // so, rather than leave the table looking whole without them.
    let given: Sorted<&ProbeSource> = probed.iter().map(|p| &p.source).collect();
    for source in plan_sources(deployment) {
        if given.contains(&source) {
            continue;
        }
        let plan = probe_plan(deployment, &sources, &source, phase)?;
        rows.extend(plan.targets.iter().map(|target| {
            let mut row = row(&source, target, None, false);
            row.detail = NO_RESULTS.into();
            row
        }));
    }
    // Stable: each source's rows keep their order.
    crate::order::sort_by(&mut rows, |a, b| a.source.cmp(&b.source));
    let findings = rows
        .iter()
        .filter(|r| r.verdict == Verdict::Mismatch)
        .map(|r| finding(deployment, r))
        .list();
    Ok(TruthTable {
        plan: deployment.name.clone(),
        phase,
        summary: summarize(&rows),
        rows,
        findings,
    })
}

/// Every source the plan has, in the order the table lists sources: its
/// hosts, its client networks, an outsider.
fn plan_sources(deployment: &Deployment) -> Vec<ProbeSource> {
    let mut sources: Vec<ProbeSource> = deployment
        .hosts
        .iter()
        .map(|h| ProbeSource::Host(h.name.clone()))
        .chain(
            deployment
                .networks
                .keys()
                .cloned()
                .map(ProbeSource::Network),
        )
        .chain([ProbeSource::Outsider])
        .list();
    crate::order::sort(&mut sources);
    sources
}

/// Every input names this plan, one phase, and each source once.
fn check_inputs(
    deployment: &Deployment,
    served: &[ServeStatus],
    probed: &[ProbeResults],
) -> Result<Phase, PlanError> {
    for (i, s) in served.iter().enumerate() {
        if s.plan != deployment.name {
            return Err(problem(
                format!("served[{i}].plan"),
                &s.plan,
                "not this plan's name",
            ));
        }
        if !deployment.hosts.iter().any(|h| h.name == s.host) {
            return Err(problem(
                format!("served[{i}].host"),
                &s.host,
                "no host of that name in the plan",
            ));
        }
    }
    let phase = probed.first().map_or(Phase::Preinstall, |p| p.phase);
    let mut seen = Set::new();
    for (i, p) in probed.iter().enumerate() {
        if p.plan != deployment.name {
            return Err(problem(
                format!("probed[{i}].plan"),
                &p.plan,
                "not this plan's name",
            ));
        }
        if p.phase != phase {
            return Err(problem(
                format!("probed[{i}].phase"),
                p.phase.as_str(),
                "every result must come from the same phase",
            ));
        }
        if !seen.insert(&p.source) {
            return Err(problem(
                format!("probed[{i}].source"),
                &p.source.label(),
                "this source's results are given twice",
            ));
        }
    }
    Ok(phase)
}

/// One source's results by target; a target measured twice is an error
/// (the first result, in input order, that repeats an earlier one's target).
fn index(results: &ProbeResults, i: usize) -> Result<Measured<'_>, PlanError> {
    let mut entries: Vec<Entry> = results
        .results
        .iter()
        .enumerate()
        .map(|(j, r)| {
            let key = (r.destination.as_str(), r.spec.as_str(), r.port, r.transport);
            (key, j, Some(r))
        })
        .list();
    // Stable: a target's results stay in input order, so the second of each
    // run is the first repeat of its target.
    crate::order::sort_by(&mut entries, |a, b| a.0.cmp(&b.0));
    let repeat = entries
        .windows(2)
        .filter(|pair| pair[0].0 == pair[1].0)
        .map(|pair| pair[1].1)
        .min();
    if let Some(j) = repeat {
        let r = &results.results[j];
        return Err(problem(
            format!("probed[{i}].results[{j}]"),
            &format!("{} {} {}", r.destination, r.spec, r.port),
            "this target is measured twice",
        ));
    }
    Ok(Measured(entries))
}

/// A result by its target, with its position in the input; `None` once taken.
type Entry<'a> = (Key<'a>, usize, Option<&'a ProbeResult>);

/// One source's results sorted by target, each taken once: a sorted vector
/// rather than a `BTreeMap`, which cost the plugins a copy of the B-tree's
/// insert and removal code for this one key type (~5 KB).
struct Measured<'a>(Vec<Entry<'a>>);

impl<'a> Measured<'a> {
    /// The result of `key`, which no later call gets again.
    fn take(&mut self, key: Key) -> Option<&'a ProbeResult> {
        let at = self.0.binary_search_by(|entry| entry.0.cmp(&key)).ok()?;
        self.0[at].2.take()
    }

    /// The first result by target that no call took.
    fn first_left(&self) -> Option<(Key<'a>, &'a ProbeResult)> {
        self.0.iter().find_map(|&(key, _, r)| Some((key, r?)))
    }
}

fn row(
    source: &ProbeSource,
    target: &ProbeTarget,
    result: Option<&ProbeResult>,
    held: bool,
) -> TruthRow {
    let (verdict, detail) = match result {
        None => (Verdict::Unknown, "not probed".to_string()),
        Some(r) => (judge(target.expect, r.outcome, held), r.detail.clone()),
    };
    let detail = if held && verdict == Verdict::Unknown {
        "held by another process before install, so no responder answered; probe again after install".into()
    } else {
        detail
    };
    TruthRow {
        source: source.clone(),
        destination: target.destination.clone(),
        spec: target.spec.clone(),
        port: target.port,
        transport: target.transport,
        expect: target.expect,
        outcome: result.map(|r| r.outcome),
        verdict,
        detail,
    }
}

/// Expected against measured. A local error proves nothing either way; a
/// port held before install answers with someone else's service, so a
/// failed allow there is not the path's fault, but a connected deny is.
fn judge(expect: Expectation, outcome: ProbeOutcome, held: bool) -> Verdict {
    use ProbeOutcome as O;
    match (expect, outcome) {
        (_, O::Error) => Verdict::Unknown,
        (Expectation::Allow, O::Connected) => Verdict::AsExpected,
        (Expectation::Allow, _) if held => Verdict::Unknown,
        (Expectation::Allow, _) => Verdict::Mismatch,
        (Expectation::Deny, O::Connected | O::WrongResponder) => Verdict::Mismatch,
        (Expectation::Deny, _) => Verdict::AsExpected,
    }
}

fn summarize(rows: &[TruthRow]) -> TruthSummary {
    let count = |v: Verdict| rows.iter().filter(|r| r.verdict == v).count() as u32;
    TruthSummary {
        rows: rows.len() as u32,
        as_expected: count(Verdict::AsExpected),
        mismatches: count(Verdict::Mismatch),
        unknown: count(Verdict::Unknown),
    }
}

/// What a failed connection means, by how it failed.
pub(crate) fn meaning(outcome: ProbeOutcome) -> &'static str {
    match outcome {
        ProbeOutcome::Timeout => {
            "timed out: dropped on the path (a network firewall, security group, ACL or routing) or by the destination's firewall"
        }
        ProbeOutcome::Refused => {
            "refused: nothing answers on the port, or a REJECT on the path or on the destination"
        }
        ProbeOutcome::Unreachable => {
            "ICMP host or network unreachable or administratively prohibited: routing, or a REJECT with an ICMP host error"
        }
        ProbeOutcome::WrongResponder => "a different service or host answered",
        ProbeOutcome::Connected => "connected",
        ProbeOutcome::Error => "the attempt failed on the source itself",
    }
}

fn finding(deployment: &Deployment, row: &TruthRow) -> Finding {
    let component = deployment
        .host_id(&row.destination)
        .and_then(|id| {
            deployment
                .host(id)
                .placed
                .iter()
                .find(|p| p.spec.id == row.spec)
        })
        .map(|p| p.spec.component.clone());
    let target = format!(
        "{} on {} ({}/{})",
        quote(&row.spec),
        quote(&row.destination),
        row.port,
        row.transport.as_str()
    );
    let who = quote(&row.source.label());
    let (code, message, fix) = match row.expect {
        Expectation::Allow => (
            FindingCode::Unreachable,
            format!(
                "{who} cannot reach {target}, which the plan opens to it: {}",
                row.outcome.map_or("not probed", meaning)
            ),
            format!(
                "Open {}/{} to {who} on every firewall between them, and on {}.",
                row.port,
                row.transport.as_str(),
                quote(&row.destination)
            ),
        ),
        Expectation::Deny => (
            FindingCode::Overexposed,
            format!("{who} reached {target}, which the plan does not open to it"),
            format!(
                "Find the broader rule on {} or on the path that admits {who}, and narrow it to the plan's sources.",
                quote(&row.destination)
            ),
        ),
    };
    Finding {
        code,
        severity: Severity::Error,
        host: Some(row.destination.clone()),
        component,
        spec: Some(row.spec.clone()),
        ports: Some(PortRange {
            first: row.port,
            last: row.port,
        }),
        message,
        fix,
    }
}

/// A rejection of the results, its value quoted as every echoed value is.
fn problem(path: String, value: &str, message: &str) -> PlanError {
    PlanError::single(path, quote(value), message)
}

/// A probe plan's error, moved under the results it came from.
fn at(mut error: PlanError, i: usize) -> PlanError {
    for p in &mut error.problems {
        p.path = format!("probed[{i}].{}", p.path);
    }
    error
}
