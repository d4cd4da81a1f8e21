//! Input limits: the largest plan portplan reads, checked before any work
//! that grows with it, so an oversized input is refused at once with the
//! limit named instead of running for minutes or exhausting memory.
//!
//! Chosen from `scripts/bench` (BENCHMARKS.md): every limit is far above any
//! real deployment (the vendor tables have a few dozen specs; OCP manages
//! hundreds of hosts), and a plan at the host limit is answered in under a
//! second per host. The report limit bounds the output, which lists the
//! admitted sources of each source group once (a group per distinct accessor
//! list, so at most one per spec): 4 million sources are ~80 MB of JSON,
//! reached only by thousands of custom specs, each with its own accessor
//! list, over thousands of hosts whose addresses do not merge; the
//! benchmark's 20,000-host plans list about 100,000.

use crate::model::{Plan, PlanError};

/// Bytes of plan text (JSON, or YAML's JSON twin).
pub const PLAN_BYTES: usize = 32 << 20;
/// Nesting depth of the plan's JSON: a plan needs 6 levels.
pub const DEPTH: usize = 64;
/// Hosts of one plan.
pub const HOSTS: usize = 20_000;
/// Port specs of the plan's custom profiles, all together.
pub const SPECS: usize = 10_000;
/// Observed listeners, all observations together.
pub const LISTENERS: usize = 200_000;
/// Port table rows (a placed spec on a host), all hosts together.
pub const ROWS: usize = 1_000_000;
/// Admitted sources (CIDRs) of every source group the report lists, together.
pub const REPORT_SOURCES: usize = 4_000_000;

/// Sources the rules of a report list when each rule lists its group's
/// sources in full (`firewall-rules`, the text table, the sheets): an
/// all-to-all spec of n hosts lists n² of them, which the report itself
/// names once. 20 million are ~400 MB of text.
pub const LISTED_SOURCES: usize = 20_000_000;

/// One limit passed: the problem names the limit, its value and the count.
fn exceeded(path: &str, what: &str, count: usize, limit: usize) -> PlanError {
    PlanError::single(
        path,
        count.to_string(),
        format!(
            "{count} {what}; the limit is {limit} {what} (portplan's input limits, BENCHMARKS.md)"
        ),
    )
}

/// The plan text's size and nesting depth, before it is parsed.
pub(crate) fn check_text(text: &str) -> Result<(), PlanError> {
    check_bytes(text)?;
    let depth = depth(text);
    if depth > DEPTH {
        return Err(exceeded(".", "levels of nesting", depth, DEPTH));
    }
    Ok(())
}

/// The length of a plan's text.
pub(crate) fn check_bytes(text: &str) -> Result<(), PlanError> {
    if text.len() > PLAN_BYTES {
        return Err(exceeded(".", "bytes of plan", text.len(), PLAN_BYTES));
    }
    Ok(())
}

/// The deepest nesting of arrays and objects in JSON text; brackets inside
/// strings do not count. Text that is not JSON gets some number and the
/// parser's own error.
fn depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in text.bytes() {
        match (in_string, escaped, byte) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, false, _) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
            (false, _, _) => {}
        }
    }
    deepest
}

/// The parsed plan's counts: hosts, custom specs, observed listeners.
pub(crate) fn check_plan(plan: &Plan) -> Result<(), PlanError> {
    if plan.hosts.len() > HOSTS {
        return Err(exceeded("hosts", "hosts", plan.hosts.len(), HOSTS));
    }
    let specs: usize = plan.custom_profiles.iter().map(|p| p.specs.len()).sum();
    if specs > SPECS {
        return Err(exceeded("custom-profiles", "custom specs", specs, SPECS));
    }
    let listeners: usize = plan
        .observations
        .iter()
        .map(|o| o.observation.listeners.len())
        .sum();
    if listeners > LISTENERS {
        return Err(exceeded(
            "observations",
            "observed listeners",
            listeners,
            LISTENERS,
        ));
    }
    Ok(())
}

/// The port table rows the plan's hosts would get, before they are placed.
pub(crate) fn check_rows(rows: usize) -> Result<(), PlanError> {
    if rows > ROWS {
        return Err(exceeded("hosts", "port table rows", rows, ROWS));
    }
    Ok(())
}

/// The sources the report would list, before it is built.
pub(crate) fn check_report(sources: usize) -> Result<(), PlanError> {
    if sources > REPORT_SOURCES {
        return Err(exceeded(
            "hosts",
            "admitted sources in the source groups (host addresses that do not merge into CIDRs, over every distinct accessor list)",
            sources,
            REPORT_SOURCES,
        ));
    }
    Ok(())
}

/// The sources a report's rules would list in full, before they are listed.
pub(crate) fn check_listed(sources: usize) -> Result<(), PlanError> {
    if sources > LISTED_SOURCES {
        return Err(exceeded(
            "report",
            "sources listed rule by rule (each rule lists its whole source group)",
            sources,
            LISTED_SOURCES,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_counts_brackets_outside_strings() {
        assert_eq!(depth(r#"{"a":[1,{"b":"[[[{"}]}"#), 3);
        assert_eq!(depth(r#"{"a":"\"[[[["}"#), 1);
        assert_eq!(depth("[]"), 1);
        assert_eq!(depth("1"), 0);
    }

    #[test]
    fn deep_and_long_text_is_refused_naming_the_limit() {
        let deep = "[".repeat(DEPTH + 1) + &"]".repeat(DEPTH + 1);
        let error = check_text(&deep).expect_err("too deep");
        assert_eq!(error.problems[0].value, (DEPTH + 1).to_string());
        assert!(
            error.problems[0]
                .message
                .contains("levels of nesting; the limit is 64"),
            "{error}"
        );
        assert!(check_text(&"[".repeat(DEPTH)).is_ok());
        let long = " ".repeat(PLAN_BYTES + 1);
        let error = check_text(&long).expect_err("too long");
        assert!(
            error.problems[0].message.contains("bytes of plan"),
            "{error}"
        );
    }
}
