//! The expected access matrix: from a plan and a source, the ports the source
//! answers on and every connection it must try, with allow or deny.
//!
//! Expectation follows the firewall rules exactly (what `plan-firewall`
//! opens), not the accessor list alone: a source is expected through when its
//! address falls inside the CIDRs the rule admits, so a client network of
//! `0.0.0.0/0` makes every host an expected-allow source of that port.

use ipnet::IpNet;

use crate::decode::quote;
use crate::deployment::{DeployedHost, Deployment, HostId, Placed};
use crate::list::List;
use crate::model::{Exposure, Phase, PlanError, PortRange, Problem};
use crate::reach::model::{Expectation, ListenPort, ProbePlan, ProbeSource, ProbeTarget};
use crate::sources::{Reach, Sources, covers};

/// How many ports inside a range are probed besides its first and last.
const INSIDE_SAMPLES: u32 = 3;

/// Every accessor list's sources in `deployment`, worked out once for all
/// the probe plans drawn from it (not per port, nor per source).
pub(crate) fn all_sources(deployment: &Deployment) -> Sources<'_> {
    Sources::new(
        deployment,
        deployment.hosts.iter().flat_map(|h| h.placed.iter()),
    )
}

/// The probe plan of `source` in `deployment`, whose [`all_sources`] are
/// `sources`.
pub(crate) fn probe_plan(
    deployment: &Deployment,
    sources: &Sources,
    source: &ProbeSource,
    phase: Phase,
) -> Result<ProbePlan, PlanError> {
    let me = check_source(deployment, source)?;
    let mut targets = Vec::new();
    let mut sampling = Vec::new();
    for id in deployment.ids() {
        let destination = deployment.host(id);
        if me.is_some_and(|m| m.name == destination.name) {
            continue;
        }
        for placed in network_facing(destination) {
            let (expect, why) = expectation(deployment, sources, source, me, id, placed);
            if expect == Expectation::Deny && !probes_deny(deployment, sources, me, id, placed) {
                continue;
            }
            let ports = sample(placed.ports);
            note_sampling(&mut sampling, destination, placed, &ports);
            targets.extend(ports.into_iter().map(|port| ProbeTarget {
                destination: destination.name.clone(),
                address: destination.address_text.clone(),
                spec: placed.spec.id.clone(),
                port,
                transport: placed.spec.transport,
                expect,
                why: why.clone(),
            }));
        }
    }
    Ok(ProbePlan {
        plan: deployment.name.clone(),
        source: source.clone(),
        phase,
        listen: match (me, phase) {
            (Some(host), Phase::Preinstall) => listen(host, &mut sampling),
            _ => Vec::new(),
        },
        targets,
        sampling,
    })
}

/// The plan host a host source names; an unknown host or network is an error.
fn check_source<'d>(
    deployment: &'d Deployment,
    source: &ProbeSource,
) -> Result<Option<&'d DeployedHost>, PlanError> {
    let problem = |what: &str, name: &str| PlanError {
        problems: vec![Problem {
            path: "source".into(),
            value: quote(name),
            message: format!("no {what} of that name in the plan"),
        }],
    };
    match source {
        ProbeSource::Host(name) => deployment
            .host_id(name)
            .map(|id| Some(deployment.host(id)))
            .ok_or_else(|| problem("host", name)),
        ProbeSource::Network(name) if deployment.networks.contains_key(name) => Ok(None),
        ProbeSource::Network(name) => Err(problem("client network", name)),
        ProbeSource::Outsider => Ok(None),
    }
}

/// A host's specs that a firewall rule concerns (loopback ones never leave it).
fn network_facing(host: &DeployedHost) -> impl Iterator<Item = &Placed> {
    host.placed
        .iter()
        .filter(|p| p.spec.exposure != Exposure::Loopback)
}

/// Allow or deny for `source` on one port of host `id`, and why (naming who
/// the rule admits, for an allow).
fn expectation(
    deployment: &Deployment,
    sources: &Sources,
    source: &ProbeSource,
    me: Option<&DeployedHost>,
    id: HostId,
    placed: &Placed,
) -> (Expectation, String) {
    let spec = &placed.spec.id;
    let destination = deployment.host(id);
    // What the destination's rule admits, its own address included (a rule
    // admits its own host), so a client network holding that address is
    // expected through, as the firewall lets it in.
    let nets = sources.nets(placed);
    let admitted = match (source, me) {
        (ProbeSource::Host(_), Some(host)) => covers(nets, host.address),
        (ProbeSource::Network(name), _) => (deployment.networks.get(name.as_str()))
            .is_some_and(|cidrs| cidrs.iter().all(|net| nets.iter().any(|r| r.contains(net)))),
        _ => nets
            .iter()
            .any(|n| n.prefix_len() == 0 && same_family(n, destination)),
    };
    if admitted {
        let reach = sources.reach(id, placed);
        let by = if reach.hosts.is_empty() && reach.networks.is_empty() {
            String::new()
        } else {
            format!(" (admits {})", admitted_by(&reach))
        };
        (
            Expectation::Allow,
            format!("{spec} on {} admits the source{by}", destination.name),
        )
    } else {
        (
            Expectation::Deny,
            format!(
                "no accessor or client network of {spec} on {} covers the source",
                destination.name
            ),
        )
    }
}

/// Whom the rule admits: the hosts [`Reach`] names, how many more, the
/// networks.
fn admitted_by(reach: &Reach) -> String {
    let more = (reach.more_hosts > 0).then(|| format!("... ({} more hosts)", reach.more_hosts));
    reach
        .hosts
        .iter()
        .map(|h| format!("host {h}"))
        .chain(more)
        .chain(reach.networks.iter().map(|n| format!("network {n}")))
        .list()
        .join(", ")
}

fn same_family(net: &IpNet, host: &DeployedHost) -> bool {
    net.addr().is_ipv4() == host.address.is_ipv4()
}

/// Whether `me` tries a port it must not reach. Networks and the outsider try
/// every such port. Of the plan hosts, one per port does: the first host
/// after the destination, in plan order and wrapping around, whose address
/// the rule does not admit. That spreads the negative tests over the hosts
/// and keeps their number linear in the ports.
fn probes_deny(
    deployment: &Deployment,
    sources: &Sources,
    me: Option<&DeployedHost>,
    destination: HostId,
    placed: &Placed,
) -> bool {
    let Some(me) = me else { return true };
    // Looked up among the hosts the rule leaves out, not scanned for over
    // every host: a scan per port made a probe plan grow with the cube of
    // the hosts.
    let outside = sources.outside(placed).unwrap_or_default();
    let after = outside.partition_point(|&id| id <= destination);
    outside[after..]
        .iter()
        .chain(&outside[..after])
        .find(|&&id| id != destination)
        .is_some_and(|&id| deployment.host(id).name == me.name)
}

/// The ports of a range that are probed: all of a short one; of a longer one
/// the first, the last and [`INSIDE_SAMPLES`] evenly inside, so a pool of a
/// thousand ports costs five attempts and still catches a rule that covers
/// only part of it.
fn sample(range: PortRange) -> Vec<u16> {
    let (first, last) = bounds(range);
    let span = last - first;
    if span <= INSIDE_SAMPLES + 1 {
        return (first..=last).filter_map(|p| u16::try_from(p).ok()).list();
    }
    let mut ports: Vec<u32> = vec![first];
    ports.extend((1..=INSIDE_SAMPLES).map(|k| first + span * k / (INSIDE_SAMPLES + 1)));
    ports.push(last);
    ports.dedup();
    ports
        .into_iter()
        .filter_map(|p| u16::try_from(p).ok())
        .list()
}

/// A range's ends as numbers, `last` never below `first`: a typed record
/// can hold a reversed range, and a probe plan must still not panic on it.
fn bounds(range: PortRange) -> (u32, u32) {
    let first = u32::from(range.first);
    (first, u32::from(range.last).max(first))
}

/// One sentence per sampled range, once per (host, spec).
fn note_sampling(notes: &mut Vec<String>, host: &DeployedHost, placed: &Placed, ports: &[u16]) {
    let (first, last) = bounds(placed.ports);
    let count = last - first + 1;
    if ports.len() as u32 == count {
        return;
    }
    let probed: Vec<String> = ports.iter().map(u16::to_string).list();
    let note = format!(
        "{} on {}: {first}-{last} ({count} ports) probed at {}",
        placed.spec.id,
        host.name,
        probed.join(", ")
    );
    if !notes.contains(&note) {
        notes.push(note);
    }
}

/// The ports a host's responder answers on: every sampled port of its
/// network-facing specs, the same samples its prober peers try.
fn listen(host: &DeployedHost, sampling: &mut Vec<String>) -> Vec<ListenPort> {
    let mut ports: Vec<ListenPort> = network_facing(host)
        .flat_map(|placed| {
            let ports = sample(placed.ports);
            note_sampling(sampling, host, placed, &ports);
            ports.into_iter().map(|port| ListenPort {
                spec: placed.spec.id.clone(),
                port,
                transport: placed.spec.transport,
            })
        })
        .list();
    // Two specs of one host on one port (a conflict the report already
    // names) share a responder.
    crate::order::sort_by_key(&mut ports, |p| (p.port, p.transport));
    ports.dedup_by_key(|p| (p.port, p.transport));
    ports
}
