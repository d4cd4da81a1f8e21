//! Firewall backends: read a backend's state from its own output, diff it
//! against a host's desired rules, and render the exact commands.
//!
//! Only rules carrying portplan's tag are ever changed or removed; every other
//! rule is read only to know where input is filtered and what is open. The
//! shells run the commands; nothing here runs anything.

mod firewalld;
mod iptables;
mod nftables;
mod ufw;

pub use firewalld::IPSET_PREFIX as FIREWALLD_IPSET_PREFIX;
pub use ufw::is_active as ufw_is_active;

use std::collections::BTreeSet;

use crate::model::{
    Command, FirewallBackend, FirewallChange, FirewallOutput, FirewallRule, FirewallState,
    InputChain, IpFamily, PlanError, PortRange, TaggedRule,
};
use crate::plan::parse_net;

/// Longest tag written into a backend's comment (nftables allows 128 bytes).
const MAX_TAG: usize = 64;

/// More sources than this go into a named set (nftables) or ipset (firewalld).
const SET_THRESHOLD: usize = 3;

/// The prefix that marks a rule as portplan's.
pub const TAG_PREFIX: &str = "portplan:";

/// Read a backend's state (WIT `read-firewall`).
pub fn read_firewall(
    backend: FirewallBackend,
    output: &FirewallOutput,
) -> Result<FirewallState, PlanError> {
    match backend {
        FirewallBackend::Nftables => nftables::read(&output.main),
        FirewallBackend::Iptables => iptables::read(&output.main, &output.extra),
        FirewallBackend::Firewalld => {
            firewalld::read(&output.main, &output.extra, output.zone.as_deref())
        }
        FirewallBackend::Ufw => ufw::read(&output.main, &output.extra),
        FirewallBackend::None => Err(PlanError::single(
            "backend",
            "none",
            "there is no firewall state to read for backend none",
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
    if state.backend == FirewallBackend::Ufw {
        ufw::collisions(state, &add)?;
    }
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
    } else if state.backend == FirewallBackend::None {
        return Err(PlanError::single(
            "state.backend",
            "none",
            "backend none has no rules to change",
        ));
    } else {
        render(state, &desired, &add, &remove)
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

/// The commands that take `now` back to exactly the portplan rules `before`
/// held: a rollback for the backends without a whole-ruleset restore
/// (firewalld, ufw), which undoes portplan's changes and nobody else's.
pub fn plan_restore(before: &FirewallState, now: &FirewallState) -> Vec<Command> {
    let same = |a: &InputChain, b: &InputChain| {
        a.family == b.family && a.table == b.table && a.name == b.name
    };
    let desired: BTreeSet<(u32, TaggedRule)> = before
        .found
        .iter()
        .filter_map(|f| {
            let chain = &before.chains[f.chain as usize];
            let index = now.chains.iter().position(|c| same(c, chain))?;
            Some((index as u32, f.rule.clone()))
        })
        .collect();
    let current: BTreeSet<(u32, TaggedRule)> = now
        .found
        .iter()
        .map(|f| (f.chain, f.rule.clone()))
        .collect();
    let add: Vec<_> = desired.difference(&current).cloned().collect();
    let remove: Vec<_> = current.difference(&desired).cloned().collect();
    if add.is_empty() && remove.is_empty() || now.backend == FirewallBackend::None {
        return Vec::new();
    }
    render(now, &desired, &add, &remove)
}

/// The backend's commands for a change: the set-based backends (nftables,
/// firewalld) rewrite changed groups from the whole desired set, the
/// rule-based ones (iptables, ufw) delete and add single rules.
fn render(
    state: &FirewallState,
    desired: &BTreeSet<(u32, TaggedRule)>,
    add: &[(u32, TaggedRule)],
    remove: &[(u32, TaggedRule)],
) -> Vec<Command> {
    match state.backend {
        FirewallBackend::Nftables => nftables::commands(state, desired),
        FirewallBackend::Iptables => iptables::commands(state, add, remove),
        FirewallBackend::Firewalld => firewalld::commands(state, desired),
        FirewallBackend::Ufw => ufw::commands(state, add, remove),
        FirewallBackend::None => Vec::new(),
    }
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

/// A port range as a backend prints it, `8080` or `8000` SEPARATOR `8010`
/// (`:` for iptables and ufw, `-` for nftables and firewalld).
fn parse_ports(text: &str, separator: char) -> Option<PortRange> {
    let (first, last) = text.split_once(separator).unwrap_or((text, text));
    let (first, last) = (first.parse::<u16>().ok()?, last.parse::<u16>().ok()?);
    (first > 0 && first <= last).then_some(PortRange { first, last })
}

/// A port range the way iptables and ufw write it (`8000:8010`); nftables and
/// firewalld take `PortRange`'s own `8000-8010`.
fn colon_ports(ports: PortRange) -> String {
    if ports.is_single() {
        ports.first.to_string()
    } else {
        format!("{}:{}", ports.first, ports.last)
    }
}

/// A single host's CIDR (`/32`, `/128`) as the bare address the tools take.
fn bare(cidr: &str) -> &str {
    cidr.strip_suffix("/32")
        .or_else(|| cidr.strip_suffix("/128"))
        .unwrap_or(cidr)
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
