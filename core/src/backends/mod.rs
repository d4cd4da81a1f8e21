//! Firewall backends: read a backend's state from its own output, diff it
//! against a host's desired rules, and render the exact commands.
//!
//! Only rules carrying portplan's tag are ever changed or removed; every other
//! rule is read only to know where input is filtered and what is open. The
//! shells run the commands; nothing here runs anything.

mod iptables;
mod nftables;

use std::collections::BTreeSet;

use crate::model::{
    FirewallBackend, FirewallChange, FirewallRule, FirewallState, IpFamily, PlanError, TaggedRule,
};
use crate::plan::parse_net;

/// Longest tag written into a backend's comment (nftables allows 128 bytes).
const MAX_TAG: usize = 64;

/// The prefix that marks a rule as portplan's.
pub const TAG_PREFIX: &str = "portplan:";

/// Read a backend's state (WIT `read-firewall`).
pub fn read_firewall(
    backend: FirewallBackend,
    ipv4: &str,
    ipv6: &str,
) -> Result<FirewallState, PlanError> {
    match backend {
        FirewallBackend::Nftables => nftables::read(ipv4),
        FirewallBackend::Iptables => iptables::read(ipv4, ipv6),
        other => Err(PlanError::single(
            "backend",
            format!("{other:?}").to_lowercase(),
            "portplan reads nftables and iptables state; firewalld and ufw are not supported yet",
        )),
    }
}

/// The change from `state` to exactly `rules` (WIT `plan-firewall`).
///
/// A desired rule goes into every chain that drops input of its family: an
/// accept in one chain does not get a packet past a drop in another.
pub fn plan_firewall(
    rules: &[FirewallRule],
    state: &FirewallState,
    remove_all: bool,
) -> Result<FirewallChange, PlanError> {
    let wanted = if remove_all {
        BTreeSet::new()
    } else {
        expand(rules)?
    };
    let mut desired: BTreeSet<(u32, TaggedRule)> = BTreeSet::new();
    let mut unfiltered = BTreeSet::new();
    for rule in wanted {
        let chains: Vec<u32> = (0..state.chains.len() as u32)
            .filter(|&c| {
                state.chains[c as usize].drops
                    && chain_takes(&state.chains[c as usize].family, rule.family)
            })
            .collect();
        if chains.is_empty() {
            unfiltered.insert(rule.family);
        }
        desired.extend(chains.into_iter().map(|c| (c, rule.clone())));
    }
    let current: BTreeSet<(u32, TaggedRule)> = state
        .found
        .iter()
        .map(|f| (f.chain, f.rule.clone()))
        .collect();
    let add: Vec<(u32, TaggedRule)> = desired.difference(&current).cloned().collect();
    let remove: Vec<(u32, TaggedRule)> = current.difference(&desired).cloned().collect();
    let unique = |pairs: &[(u32, TaggedRule)]| -> Vec<TaggedRule> {
        pairs
            .iter()
            .map(|(_, r)| r.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let commands = if add.is_empty() && remove.is_empty() {
        Vec::new()
    } else {
        match state.backend {
            FirewallBackend::Nftables => nftables::commands(state, &desired),
            FirewallBackend::Iptables => iptables::commands(state, &add, &remove),
            other => {
                return Err(PlanError::single(
                    "state.backend",
                    format!("{other:?}").to_lowercase(),
                    "portplan renders nftables and iptables commands; firewalld and ufw are not supported yet",
                ));
            }
        }
    };
    Ok(FirewallChange {
        backend: state.backend,
        add: unique(&add),
        remove: unique(&remove),
        commands,
        notes: unfiltered
            .into_iter()
            .map(|family| {
                let family = if family == IpFamily::Ipv4 { "IPv4" } else { "IPv6" };
                format!(
                    "no input chain drops {family} traffic, so its ports are open to everyone already; \
                     portplan adds no {family} rules until a default-drop firewall is in place"
                )
            })
            .collect(),
    })
}

/// One tagged rule per source of each desired rule.
fn expand(rules: &[FirewallRule]) -> Result<BTreeSet<TaggedRule>, PlanError> {
    let mut out = BTreeSet::new();
    for (i, rule) in rules.iter().enumerate() {
        for (j, source) in rule.sources.iter().enumerate() {
            let net = parse_net(source).ok_or_else(|| {
                PlanError::single(
                    format!("rules[{i}].sources[{j}]"),
                    source,
                    "not an IP address or CIDR",
                )
            })?;
            out.insert(TaggedRule {
                tag: sanitize_tag(&rule.tag),
                family: if net.addr().is_ipv4() {
                    IpFamily::Ipv4
                } else {
                    IpFamily::Ipv6
                },
                transport: rule.transport,
                ports: rule.ports,
                source: net.to_string(),
            });
        }
    }
    Ok(out)
}

/// Plan text reaches the backend's comment field: keep it to a safe alphabet
/// and a bounded length, so no quoting or comment syntax can be injected.
pub fn sanitize_tag(tag: &str) -> String {
    tag.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':') {
                c
            } else {
                '_'
            }
        })
        .take(MAX_TAG)
        .collect()
}

/// A source as the backends print it: a CIDR with its prefix, `/32` included.
fn normalize_source(text: &str) -> Option<String> {
    parse_net(text).map(|net| net.to_string())
}

/// Whether a found rule belongs to a chain that can hold rules of `family`.
fn chain_takes(chain_family: &str, family: IpFamily) -> bool {
    matches!(
        (chain_family, family),
        ("inet", _) | ("ip", IpFamily::Ipv4) | ("ip6", IpFamily::Ipv6)
    )
}
