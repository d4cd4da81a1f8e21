//! Desired firewall rules: who may reach each port of each host.
//!
//! A rule admits exactly the addresses of the plan hosts that run an accessor
//! of the spec, plus the CIDRs of the client networks the spec names. The host
//! itself is left out (its own traffic never crosses its input filter from
//! outside), loopback specs get no rule, and nothing is ever admitted from
//! everywhere unless a client network says `0.0.0.0/0` itself.

use std::collections::BTreeSet;

use ipnet::IpNet;

use crate::backends::TAG_PREFIX;
use crate::deployment::{DeployedHost, Deployment, Placed};
use crate::model::{Accessor, Exposure};

/// The tag portplan writes into a rule's comment, and the only rules it ever changes.
pub(crate) fn tag(spec_id: &str) -> String {
    format!("{TAG_PREFIX}{spec_id}")
}

/// Who reaches one port of one host: the plan hosts and client networks by
/// name, and the addresses they stand for as the firewall rule admits them.
pub(crate) struct Reach {
    /// Plan hosts, in plan order.
    pub hosts: Vec<String>,
    /// Client networks, by name.
    pub networks: Vec<String>,
    /// Accessors an exclusive network stands in for (`host NAME`,
    /// `network NAME`): they reach the port through it, not directly.
    pub fronted: Vec<String>,
    /// The fewest CIDRs that cover exactly the same addresses (adjacent ones
    /// merge, nothing widens), IPv4 before IPv6, each by address.
    pub nets: Vec<IpNet>,
}

/// Who reaches `placed` on `host`.
pub(crate) fn reach(deployment: &Deployment, host: &DeployedHost, placed: &Placed) -> Reach {
    let mut hosts: BTreeSet<usize> = BTreeSet::new();
    let mut networks: BTreeSet<&str> = BTreeSet::new();
    if placed.spec.exposure != Exposure::Loopback {
        for accessor in &placed.spec.accessed_by {
            match accessor {
                Accessor::Component(component) => hosts.extend(peers(deployment, host, |h| {
                    h.components.contains(component)
                })),
                Accessor::Profile(profile) => hosts.extend(peers(deployment, host, |h| {
                    h.components
                        .iter()
                        .any(|c| deployment.profile_of(c).is_some_and(|p| &p.name == profile))
                })),
                Accessor::Network(network) => {
                    if deployment.networks.contains_key(network) {
                        networks.insert(network);
                    }
                }
            }
        }
    }
    let fronted = front(deployment, &mut hosts, &mut networks);
    let mut nets: Vec<IpNet> = hosts
        .iter()
        .map(|&i| IpNet::from(deployment.hosts[i].address))
        .collect();
    for network in &networks {
        nets.extend(deployment.networks.get(*network).into_iter().flatten());
    }
    Reach {
        hosts: hosts
            .into_iter()
            .map(|i| deployment.hosts[i].name.clone())
            .collect(),
        networks: networks.into_iter().map(str::to_string).collect(),
        fronted,
        nets: IpNet::aggregate(&nets),
    }
}

/// Seed 001: "In general, other components access OCP-Server through SLB or
/// DNS address." When a port admits an exclusive network (the plan says every
/// client goes through it), it admits that network alone; the accessors it
/// stands in for are returned so the report can say so.
fn front(
    deployment: &Deployment,
    hosts: &mut BTreeSet<usize>,
    networks: &mut BTreeSet<&str>,
) -> Vec<String> {
    if !networks.iter().any(|n| deployment.exclusive.contains(*n)) {
        return Vec::new();
    }
    let mut fronted: Vec<String> = hosts
        .iter()
        .map(|&i| format!("host {}", deployment.hosts[i].name))
        .collect();
    fronted.extend(
        networks
            .iter()
            .filter(|n| !deployment.exclusive.contains(**n))
            .map(|n| format!("network {n}")),
    );
    hosts.clear();
    networks.retain(|n| deployment.exclusive.contains(*n));
    fronted
}

/// The plan order of every other host that `accepts`.
fn peers<'d>(
    deployment: &'d Deployment,
    host: &'d DeployedHost,
    accepts: impl Fn(&DeployedHost) -> bool + 'd,
) -> impl Iterator<Item = usize> + 'd {
    deployment
        .hosts
        .iter()
        .enumerate()
        .filter(move |(_, h)| h.name != host.name && accepts(h))
        .map(|(i, _)| i)
}
