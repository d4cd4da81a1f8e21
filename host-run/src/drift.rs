//! The audit: what `state: present` would change, as findings. An audit that
//! said green over a broken firewall would be worse than none, so every
//! missing, extra or altered portplan rule is a `firewall-drift` error when
//! the firewall is meant to be as planned (`strict`: after install, or
//! `portplan check`). Before install the firewall is yet to be opened (or
//! re-opened for a changed plan), so the same findings are `info`: they say
//! what `present` will do. Where `present` would be refused (a foreign rule
//! on a planned tuple, a source zone, a goto before portplan's place), each
//! reason is an error finding whatever the phase: the report keeps the rest.
//! A deny asked before portplan's rules that covers a planned rule (the
//! rule is in place, the traffic dropped) is an error where the firewall is
//! meant to be as planned, a warning before install.

use std::collections::{BTreeMap, BTreeSet};

use portplan_core::{
    Finding, FindingCode, FirewallRule, FirewallState, IpFamily, PlanError, Severity, TaggedRule,
    shell::{TAG_PREFIX, denied_ahead, overridden, tagged_rules, unfiltered_families},
};

use crate::RunError;

/// One finding per portplan rule the firewall lacks, holds in excess, or
/// holds altered (edited by hand: present would replace it).
pub fn drift(
    rules: &[FirewallRule],
    state: &FirewallState,
    host: &str,
    strict: bool,
) -> Result<Vec<Finding>, RunError> {
    let change = match portplan_core::plan_firewall(rules, state, false) {
        Ok(change) => change,
        Err(refused) => return Ok(refusals(&refused, state, host)),
    };
    let severity = if strict {
        Severity::Error
    } else {
        Severity::Info
    };
    let added: BTreeSet<&TaggedRule> = change.add.iter().collect();
    let removed: BTreeSet<&TaggedRule> = change.remove.iter().collect();
    let planned: BTreeSet<TaggedRule> = (tagged_rules(rules).map_err(RunError::Change)?)
        .into_iter()
        .collect();
    let unfiltered = unfiltered_families(state);
    let backend = state.backend().as_str();
    let mut findings = Vec::new();
    for rule in &change.add {
        let (what, fix) = if removed.contains(rule) {
            ("is altered (edited by hand)", "state: present replaces it")
        } else if severity == Severity::Info {
            (
                "is not in the firewall yet",
                "state: present (portplan open) adds it",
            )
        } else {
            ("is missing", "state: present adds it")
        };
        findings.push(finding(
            host,
            rule,
            severity,
            format!("{backend}: {} {what}", describe(rule)),
            fix,
        ));
    }
    for rule in change.remove.iter().filter(|r| !added.contains(r)) {
        // A planned rule goes where no chain drops its family (policy accept,
        // no catch-all: core's unfiltered note), or, where one does, as a
        // second copy in a chain or zone that drops nothing.
        let (what, fix) = match (planned.contains(rule), unfiltered.contains(&rule.family)) {
            (true, false) => (
                "is held once more than planned, where nothing drops input (another chain or \
                 zone)"
                    .to_string(),
                "state: present removes that copy and keeps the planned one",
            ),
            (true, true) => (
                format!(
                    "is planned, but no input chain drops {} traffic, so the port is open to \
                     everyone and the rule admits nothing more",
                    rule.family.title()
                ),
                "make input drop by default (a drop policy or a final drop rule); then state: \
                 present keeps it. As it is, state: present removes it",
            ),
            (false, _) => (
                "is not in the plan".to_string(),
                "state: present removes it (or state: absent removes every portplan rule)",
            ),
        };
        findings.push(finding(
            host,
            rule,
            severity,
            format!("{backend}: {} {what}", describe(rule)),
            fix,
        ));
    }
    findings.extend(open_to_all(state, &planned, &removed, host, severity));
    findings.extend(denied(state, &planned, &unfiltered, host, strict));
    Ok(findings)
}

/// The planned rules no input chain filters, with no copy held (a held
/// one is named above, as present would take it out): the same open
/// firewall, and nothing said so (an adversarial review: after `nft flush
/// ruleset`, `iptables -P INPUT ACCEPT; iptables -F INPUT`, `ufw disable`,
/// or with IPv6 left unfiltered, the audit was green while every planned
/// port of that family was open to everyone). One finding per rule group
/// (tag, family, transport, ports), naming its first source and how many
/// more; one planned from everywhere too (a review: else a plan of public
/// ports alone was green over a flushed firewall, every other port open).
fn open_to_all(
    state: &FirewallState,
    planned: &BTreeSet<TaggedRule>,
    removed: &BTreeSet<&TaggedRule>,
    host: &str,
    severity: Severity,
) -> Vec<Finding> {
    // An inactive ufw keeps its rules, and filters nothing until enabled.
    let inactive_ufw = matches!(state, FirewallState::Ufw(ufw) if !ufw.active);
    let unfiltered = unfiltered_families(state);
    let mut groups: BTreeMap<_, Vec<&TaggedRule>> = BTreeMap::new();
    for rule in planned {
        let open = inactive_ufw || unfiltered.contains(&rule.family);
        if open && !removed.contains(rule) {
            let key = (&rule.tag, rule.family, rule.transport, rule.ports);
            groups.entry(key).or_default().push(rule);
        }
    }
    let backend = state.backend().as_str();
    let why = |rule: &TaggedRule| match inactive_ufw {
        true => "ufw is inactive".to_string(),
        false => format!("no input chain drops {} traffic", rule.family.title()),
    };
    (groups.into_values())
        .map(|rules| {
            let rule = rules[0];
            let more = match rules.len() - 1 {
                0 => String::new(),
                n => format!(" (and {n} more sources)"),
            };
            let message = format!(
                "{backend}: {}{more} is planned, but {}, so the port is open to everyone",
                describe(rule),
                why(rule)
            );
            let fix = match inactive_ufw {
                true => {
                    "enable ufw (ufw_enable: true, or `ufw enable`); its rules, portplan's \
                         among them, then filter"
                }
                false => {
                    "make input drop by default (a drop policy or a final drop rule); \
                          then state: present adds the rule"
                }
            };
            finding(host, rule, severity, message, fix)
        })
        .collect()
}

/// A deny asked before portplan's rules that covers a planned rule: the
/// rule is in place, yet that traffic is dropped, so an audit of the
/// firewall as planned (`strict`) is not green over it (an error); before
/// install it is a warning, as `state: present`'s note is.
fn denied(
    state: &FirewallState,
    planned: &BTreeSet<TaggedRule>,
    unfiltered: &[IpFamily],
    host: &str,
    strict: bool,
) -> Vec<Finding> {
    // Only where portplan places rules: where no chain drops the family,
    // the findings above say the port is open to everyone.
    let planned: Vec<TaggedRule> = (planned.iter())
        .filter(|rule| !unfiltered.contains(&rule.family))
        .cloned()
        .collect();
    let backend = state.backend().as_str();
    let notes = denied_ahead(state, &planned);
    (notes.into_iter().chain(overridden(state, &planned)))
        .map(|note| Finding {
            code: FindingCode::FirewallDrift,
            severity: if strict {
                Severity::Error
            } else {
                Severity::Warning
            },
            host: Some(host.to_string()),
            component: None,
            spec: None,
            ports: None,
            message: format!("{backend}: {note}"),
            fix: "remove, narrow or move that rule by hand as the message says (portplan \
                  never changes another's rule), or take that source or port out of the plan"
                .to_string(),
        })
        .collect()
}

/// Why `present` would be refused, one error finding per reason: the rule
/// or binding it names, and core's message, which says how to clear it.
fn refusals(refused: &PlanError, state: &FirewallState, host: &str) -> Vec<Finding> {
    let backend = state.backend().as_str();
    (refused.problems.iter())
        .map(|problem| Finding {
            code: FindingCode::FirewallDrift,
            severity: Severity::Error,
            host: Some(host.to_string()),
            component: None,
            spec: None,
            ports: None,
            message: format!(
                "{backend}: state: present would be refused over `{}`: {}",
                problem.value, problem.message
            ),
            fix: "clear it as the message says; until then state: present fails and changes \
                  nothing"
                .to_string(),
        })
        .collect()
}

fn describe(rule: &TaggedRule) -> String {
    format!(
        "the rule {} admitting {} to {}/{}",
        rule.tag,
        rule.source,
        rule.ports,
        rule.transport.as_str()
    )
}

fn finding(
    host: &str,
    rule: &TaggedRule,
    severity: Severity,
    message: String,
    fix: &str,
) -> Finding {
    Finding {
        code: FindingCode::FirewallDrift,
        severity,
        host: Some(host.to_string()),
        component: None,
        spec: Some(rule.tag.trim_start_matches(TAG_PREFIX).to_string()),
        ports: Some(rule.ports),
        message,
        fix: fix.to_string(),
    }
}
