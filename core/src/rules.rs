//! The rules: each looks at a resolved [`Deployment`] and says what is wrong,
//! as [`Finding`]s with a stable code, a severity and a one-line fix.
//!
//! Every name from the plan or an observation (hosts, specs, components,
//! profiles, networks, listener addresses and commands) enters a message or a
//! fix through [`quote`]: escaped and capped, so a hostile 10 KB host name
//! gives a message of a few hundred characters, not a copy per mention.

use core::net::IpAddr;

use crate::decode::quote;
use crate::deployment::{DeployedHost, Deployment, HostId, Placed};
use crate::list::List;
use crate::model::{
    Accessor, Allocation, DeployUser, Exposure, Finding, FindingCode, FirewallBackend, Listener,
    Modifiable, Observation, ObservedFirewall, Phase, PortRange, Severity, Transport,
};
use crate::order::{self, Sorted};
use crate::resolve::{plan_address, plan_net};
use crate::sources::Sources;

/// Linux's default `net.ipv4.ip_unprivileged_port_start`.
pub const DEFAULT_UNPRIVILEGED_PORT_START: u32 = 1024;

/// Linux's default `net.ipv4.ip_local_port_range`.
pub const DEFAULT_LOCAL_PORT_RANGE: PortRange = PortRange {
    first: 32768,
    last: 60999,
};

/// The WHATWG Fetch standard's "bad ports": browsers refuse to connect to them.
/// <https://fetch.spec.whatwg.org/#port-blocking>
pub const BROWSER_BAD_PORTS: &[u16] = &[
    0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101,
    102, 103, 104, 109, 110, 111, 113, 115, 117, 119, 123, 135, 137, 139, 143, 161, 179, 389, 427,
    465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990,
    993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667,
    6668, 6669, 6679, 6697, 10080,
];

/// Bad ports the FineDataLink vendor document's list leaves out.
const MISSING_FROM_VENDOR_LIST: [u16; 4] = [0, 427, 4190, 6679];

/// The plan-wide findings of the deployment and those of the hosts `ids`
/// (every host for `validate-plan`, one for `check-host`), in report order.
/// `sources` covers the specs of those hosts.
pub(crate) fn check(deployment: &Deployment, sources: &Sources, ids: &[HostId]) -> Vec<Finding> {
    let mut findings = Vec::new();
    required_components(deployment, &mut findings);
    inconsistent_ports(deployment, &mut findings);
    for &id in ids {
        let host = deployment.host(id);
        agents_on_managed_hosts(deployment, host, &mut findings);
        port_conflicts(host, &mut findings);
        let observation = host.observation.as_ref();
        let observed = observation.map(|o| &o.observation);
        privileged_ports(host, observed, &mut findings);
        browser_blocked(host, &mut findings);
        ephemeral_collisions(host, observed, &mut findings);
        fixed_overrides(host, &mut findings);
        unstated_ports(host, &mut findings);
        no_allowed_sources(deployment, sources, id, &mut findings);
        if let Some(observed) = observation {
            let listening = Listening::new(&observed.observation);
            match observed.phase {
                Phase::Preinstall => ports_in_use(host, &listening, &mut findings),
                Phase::Postinstall => not_listening(host, &listening, &mut findings),
            }
            let firewall = observed.observation.firewall.as_ref();
            loopback_exposed(host, observed.phase, firewall, &listening, &mut findings);
            wider_than_planned(sources, host, firewall, &mut findings);
        }
    }
    sort(deployment, &mut findings);
    findings
}

fn sort(deployment: &Deployment, findings: &mut [Finding]) {
    order::sort_by_cached_key(findings, |f| {
        // Plan-wide findings first, then by plan host order.
        let host = f.host.as_deref().and_then(|h| deployment.host_id(h));
        (
            f.severity,
            host,
            f.ports.map(|p| p.first),
            f.code,
            f.spec.clone(),
            f.message.clone(),
        )
    });
}

struct FindingAt<'a> {
    code: FindingCode,
    severity: Severity,
    host: Option<&'a DeployedHost>,
    placed: Option<&'a Placed>,
}

impl FindingAt<'_> {
    fn say(self, message: String, fix: String) -> Finding {
        Finding {
            code: self.code,
            severity: self.severity,
            host: self.host.map(|h| h.name.clone()),
            component: self.placed.map(|p| p.spec.component.clone()),
            spec: self.placed.map(|p| p.spec.id.clone()),
            ports: self.placed.map(|p| p.ports),
            message,
            fix,
        }
    }
}

fn at<'a>(
    code: FindingCode,
    severity: Severity,
    host: &'a DeployedHost,
    placed: &'a Placed,
) -> FindingAt<'a> {
    FindingAt {
        code,
        severity,
        host: Some(host),
        placed: Some(placed),
    }
}

/// invalid-plan: a required component of a deployed profile is on no host.
fn required_components(deployment: &Deployment, findings: &mut Vec<Finding>) {
    for profile in &deployment.profiles {
        for component in profile.components.iter().filter(|c| c.required) {
            if deployment.running(&component.name).is_empty() {
                findings.push(Finding {
                    code: FindingCode::InvalidPlan,
                    severity: Severity::Error,
                    host: None,
                    component: Some(component.name.clone()),
                    spec: None,
                    ports: None,
                    message: format!(
                        "profile {} requires component {} ({}) but no host runs it",
                        quote(&profile.name),
                        quote(&component.name),
                        quote(&component.title)
                    ),
                    fix: format!(
                        "Add \"{}\" to the components of a host.",
                        quote(&component.name)
                    ),
                });
            }
        }
    }
}

/// The OCP units OCP manages on a host, which OCP-Agent must accompany.
const OCP_MANAGED: [&str; 2] = ["observer", "obproxy"];

/// invalid-plan: seed 001 deploys OCP-Agent "on the hosts that are managed by
/// OCP", so a host with OBServer or OBProxy needs it (and its 62888 and
/// metrics pool planned).
fn agents_on_managed_hosts(
    deployment: &Deployment,
    host: &DeployedHost,
    findings: &mut Vec<Finding>,
) {
    let from_ocp = |c: &str| deployment.profile_of(c).is_some_and(|p| p.name == "ocp");
    if !from_ocp("ocp-agent") || host.components.iter().any(|c| c == "ocp-agent") {
        return;
    }
    let managed: Vec<String> = host
        .components
        .iter()
        .filter(|c| OCP_MANAGED.contains(&c.as_str()) && from_ocp(c))
        .map(|c| quote(c))
        .list();
    if managed.is_empty() {
        return;
    }
    findings.push(Finding {
        code: FindingCode::InvalidPlan,
        severity: Severity::Error,
        host: Some(host.name.clone()),
        component: Some("ocp-agent".to_string()),
        spec: None,
        ports: None,
        message: format!(
            "{} runs {}, which OCP manages, but no ocp-agent: OCP-Agent is deployed on every host OCP manages, so its ports (62888 and the 62881-63881 metrics pool) are not planned there",
            quote(&host.name),
            managed.join(" and ")
        ),
        fix: format!(
            "Add \"ocp-agent\" to the components of {}.",
            quote(&host.name)
        ),
    });
}

/// inconsistent-port: a spec that must be the same on every server differs.
fn inconsistent_ports(deployment: &Deployment, findings: &mut Vec<Finding>) {
    // Every placement of such a spec, in plan order, with its host; then
    // sorted by spec and port, stably, so each port's hosts stay in plan
    // order. (A sorted list rather than a map of maps: two B-tree key types
    // fewer in the plugins, ~2.4 KB.)
    let mut all: Vec<(usize, &Placed, &str)> = Vec::new();
    for host in &deployment.hosts {
        let placed = host
            .placed
            .iter()
            .filter(|p| p.spec.same_on_all_hosts && !dual_node_gateway(deployment, host, p));
        for p in placed {
            all.push((all.len(), p, host.name.as_str()));
        }
    }
    order::sort_by(&mut all, |a, b| {
        (a.1.spec.id.as_str(), a.1.ports).cmp(&(b.1.spec.id.as_str(), b.1.ports))
    });
    for spec in all.chunk_by(|a, b| a.1.spec.id == b.1.spec.id) {
        let ports: Vec<&[(usize, &Placed, &str)]> =
            spec.chunk_by(|a, b| a.1.ports == b.1.ports).list();
        if ports.len() < 2 {
            continue;
        }
        // The spec's first placement in plan order.
        let Some(&(_, placed, _)) = spec.iter().min_by_key(|(i, _, _)| *i) else {
            continue;
        };
        let spec_id = placed.spec.id.as_str();
        // The port most hosts use is the one to align on; ties go to the vendor default.
        let majority = ports
            .iter()
            .max_by_key(|hosts| (hosts.len(), hosts[0].1.ports == placed.spec.ports))
            .map(|hosts| hosts[0].1.ports)
            .unwrap_or(placed.spec.ports);
        let spread = ports
            .iter()
            .map(|hosts| {
                let names: Vec<String> = hosts.iter().map(|(_, _, h)| quote(h)).list();
                format!("{} on {}", hosts[0].1.ports, names.join(", "))
            })
            .list()
            .join("; ");
        findings.push(Finding {
            code: FindingCode::InconsistentPort,
            severity: Severity::Error,
            host: None,
            component: Some(placed.spec.component.clone()),
            spec: Some(spec_id.to_string()),
            ports: Some(majority),
            message: format!(
                "{} must use the same port on every server, but uses {spread}",
                quote(spec_id)
            ),
            fix: format!(
                "Override {} to {majority} on every host that runs {}.",
                quote(spec_id),
                quote(&placed.spec.component)
            ),
        });
    }
}

/// Seed 000 cluster note 4: the FanRuan internal gateway on a main
/// application server (a host running FineDataLink) is the port reserved for
/// a dual-node gateway; note 2's "consistent" covers component servers only.
fn dual_node_gateway(deployment: &Deployment, host: &DeployedHost, placed: &Placed) -> bool {
    placed.spec.component == "fanruan-gateway"
        && deployment
            .profile_of("fanruan-gateway")
            .is_some_and(|p| p.name == "finedatalink-cluster")
        && host.components.iter().any(|c| c == "finedatalink")
}

/// port-conflict: specs on one host claim overlapping ports. One finding per
/// port range that the same specs share (a pair's is their overlap), naming
/// them all: N specs on one port give one finding, not N² pairs (issue 16).
fn port_conflicts(host: &DeployedHost, findings: &mut Vec<Finding>) {
    for transport in [Transport::Tcp, Transport::Udp] {
        let of = |allocation| -> Vec<&Placed> {
            host.placed
                .iter()
                .filter(|p| p.spec.transport == transport && p.spec.allocation == allocation)
                .list()
        };
        let (fixed, pools) = (of(Allocation::Fixed), of(Allocation::Pool));
        for (overlap, specs) in shared(&fixed) {
            findings.push(fixed_conflict(host, transport, overlap, &specs));
        }
        for (overlap, specs) in shared(&pools) {
            findings.push(pool_conflict(host, transport, overlap, &specs));
        }
        for pool in &pools {
            fixed_in_pool(host, &fixed, pool, findings);
        }
    }
}

/// The specs active past a boundary: those of `active` (sorted) that do not
/// end there, merged with those that start there, sorted. One pass: 10,000
/// specs ending at one port would cost 10,000 shifts of the vector each.
fn step(active: &[usize], changes: &[(u32, usize, bool)]) -> Vec<usize> {
    let ends: Sorted<usize> = changes.iter().filter(|c| !c.2).map(|c| c.1).collect();
    let starts: Sorted<usize> = changes.iter().filter(|c| c.2).map(|c| c.1).collect();
    let mut kept = active
        .iter()
        .copied()
        .filter(|i| !ends.contains(i))
        .peekable();
    let mut starts = starts.iter().copied().peekable();
    let mut next = Vec::with_capacity(active.len() + changes.len());
    loop {
        let take_kept = match (kept.peek(), starts.peek()) {
            (Some(k), Some(s)) => k <= s,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let item = if take_kept {
            kept.next()
        } else {
            starts.next()
        };
        if let Some(item) = item.filter(|item| next.last() != Some(item)) {
            next.push(item);
        }
    }
    next
}

/// The maximal port ranges that two or more of `specs` (one host's, of one
/// transport and allocation, in placement order) all hold, each with those
/// specs in placement order: a sweep over the ranges' ends.
fn shared<'p>(specs: &[&'p Placed]) -> Vec<(PortRange, Vec<&'p Placed>)> {
    // The boundaries: where each spec starts (true) and ends (false), in
    // port order (a sorted vector: a map by boundary cost the plugins a
    // B-tree key type, ~2.5 KB).
    let mut edges: Vec<(u32, usize, bool)> = Vec::new();
    // A typed plan skips the parser, so a range may be reversed: it holds no port.
    let valid = specs
        .iter()
        .enumerate()
        .filter(|(_, p)| p.ports.first <= p.ports.last);
    for (i, placed) in valid {
        edges.push((placed.ports.first.into(), i, true));
        edges.push((u32::from(placed.ports.last) + 1, i, false));
    }
    order::sort_by_key(&mut edges, |edge| edge.0);
    // The specs holding the current port, in placement order: a sorted
    // vector, not a B-tree (the last B-tree key type in the plugins, ~4 KB),
    // changed once per boundary, so each boundary costs what its range's
    // output does.
    let mut active: Vec<usize> = Vec::new();
    let mut out = Vec::new();
    let mut points = edges.chunk_by(|a, b| a.0 == b.0).peekable();
    while let Some(changes) = points.next() {
        let at = changes[0].0;
        active = step(&active, changes);
        let Some(next) = points.peek().filter(|_| active.len() > 1).map(|c| c[0].0) else {
            continue;
        };
        // `at` starts a spec and `next - 1` ends one, so both are ports.
        let range = PortRange {
            first: u16::try_from(at).unwrap_or(u16::MAX),
            last: u16::try_from(next - 1).unwrap_or(u16::MAX),
        };
        out.push((range, active.iter().map(|&i| specs[i]).list()));
    }
    out
}

/// How many names a grouped finding spells out before counting the rest.
const NAMED: usize = 8;

/// `a, b and c`, or `a, b, ... and 1998 more`: each name [`quote`]d.
fn names<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    let total = names.len();
    let mut shown: Vec<String> = names.take(NAMED).map(quote).list();
    if total > NAMED {
        return format!("{}, ... and {} more", shown.join(", "), total - NAMED);
    }
    let last = shown.pop().unwrap_or_default();
    if shown.is_empty() {
        last
    } else {
        format!("{} and {last}", shown.join(", "))
    }
}

fn ids<'a>(specs: &'a [&Placed]) -> impl ExactSizeIterator<Item = &'a str> {
    specs.iter().map(|p| p.spec.id.as_str())
}

/// Fixed ports claimed twice: an error, at the first claimant.
fn fixed_conflict(
    host: &DeployedHost,
    transport: Transport,
    overlap: PortRange,
    specs: &[&Placed],
) -> Finding {
    let t = transport.as_str();
    let on = quote(&host.name);
    let (message, fix) = match specs {
        [a, b] => (
            format!(
                "{} and {} both claim {t} port {overlap} on {on}",
                quote(&a.spec.id),
                quote(&b.spec.id)
            ),
            format!(
                "Override {} or {} to a free port, or move one component to another host.",
                quote(&a.spec.id),
                quote(&b.spec.id)
            ),
        ),
        _ => (
            format!(
                "{} specs claim {t} port {overlap} on {on}: {}",
                specs.len(),
                names(ids(specs))
            ),
            format!(
                "Override all but one of the {} specs to free ports, or move components to other hosts.",
                specs.len()
            ),
        ),
    };
    at(FindingCode::PortConflict, Severity::Error, host, specs[0]).say(message, fix)
}

/// Pools sharing ports: a warning, at the first pool.
fn pool_conflict(
    host: &DeployedHost,
    transport: Transport,
    overlap: PortRange,
    specs: &[&Placed],
) -> Finding {
    let t = transport.as_str();
    let on = quote(&host.name);
    let (message, fix) = match specs {
        [a, b] => (
            format!(
                "pools {} ({}) and {} ({}) share {} {t} ports ({overlap}) on {on}; the services compete for them at run time",
                quote(&a.spec.id),
                a.ports,
                quote(&b.spec.id),
                b.ports,
                overlap.count()
            ),
            format!(
                "Run {} and {} on different hosts if their pools run short.",
                quote(&a.spec.component),
                quote(&b.spec.component)
            ),
        ),
        _ => (
            format!(
                "{} pools share {} {t} ports ({overlap}) on {on}: {}; the services compete for them at run time",
                specs.len(),
                overlap.count(),
                names(ids(specs))
            ),
            format!(
                "Run {} on different hosts if their pools run short.",
                names(specs.iter().map(|p| p.spec.component.as_str()))
            ),
        ),
    };
    at(FindingCode::PortConflict, Severity::Warning, host, specs[0]).say(message, fix)
}

/// A fixed port of another component inside `pool`: a warning at the fixed
/// spec; specs with the same ports in the same pool share one finding.
fn fixed_in_pool(
    host: &DeployedHost,
    fixed: &[&Placed],
    pool: &Placed,
    findings: &mut Vec<Finding>,
) {
    let inside: Vec<&Placed> = fixed
        .iter()
        .copied()
        .filter(|f| f.ports.intersection(pool.ports).is_some())
        .list();
    // A component's own fixed port inside its own pool is the vendor's design
    // (OCP-Agent's 62888 in 62881-63881): the service skips it.
    // The others by ports, sorted stably so specs on one range stay in
    // placement order (a sorted list, not a map: one B-tree key type fewer
    // in the plugins).
    let mut others: Vec<&Placed> = inside
        .iter()
        .copied()
        .filter(|f| f.spec.component != pool.spec.component)
        .list();
    if others.is_empty() {
        return;
    }
    order::sort_by_key(&mut others, |f| f.ports);
    // Every fixed port of the host inside the pool is one the pool cannot
    // hand out, the pool owner's own included (62888 in 62881-63881).
    let taken: Sorted<u16> = (inside.iter())
        .flat_map(|p| p.ports.intersection(pool.ports))
        .flat_map(|r| r.first..=r.last)
        .collect();
    let remaining = pool.ports.count() - taken.len() as u32;
    for specs in others.chunk_by(|a, b| a.ports == b.ports) {
        let (first, ports) = (specs[0], specs[0].ports);
        let (what, start, moved) = match specs {
            [only] => (
                format!("{} port {ports}", quote(&only.spec.id)),
                quote(&only.spec.component),
                quote(&only.spec.id),
            ),
            _ => (
                format!(
                    "{} specs at port {ports} ({})",
                    specs.len(),
                    names(ids(specs))
                ),
                names(specs.iter().map(|p| p.spec.component.as_str())),
                format!("the {} specs", specs.len()),
            ),
        };
        findings.push(at(FindingCode::PortConflict, Severity::Warning, host, first).say(
            format!(
                "{what} lies inside the pool {} ({}) of {} on {}; {remaining} of {} pool ports remain",
                quote(&pool.spec.id),
                pool.ports,
                quote(&pool.spec.component),
                quote(&host.name),
                pool.ports.count()
            ),
            format!(
                "Start {start} before {} or override {moved} outside {}.",
                quote(&pool.spec.component),
                pool.ports
            ),
        ));
    }
}

/// privileged-port: a non-root deployment cannot bind below `ip_unprivileged_port_start`.
fn privileged_ports(
    host: &DeployedHost,
    observed: Option<&Observation>,
    findings: &mut Vec<Finding>,
) {
    if host.deploy_user != DeployUser::NonRoot {
        return;
    }
    let start = observed
        .and_then(|o| o.ip_unprivileged_port_start)
        .unwrap_or(DEFAULT_UNPRIVILEGED_PORT_START);
    let source = if observed
        .and_then(|o| o.ip_unprivileged_port_start)
        .is_some()
    {
        "observed"
    } else {
        "kernel default"
    };
    for placed in host
        .placed
        .iter()
        .filter(|p| u32::from(p.ports.first) < start)
    {
        findings.push(at(FindingCode::PrivilegedPort, Severity::Error, host, placed).say(
            format!(
                "{} uses port {}, below ip_unprivileged_port_start {start} ({source}), and {} deploys as a non-root user",
                quote(&placed.spec.id), placed.ports, quote(&host.name)
            ),
            format!(
                "Override {} to a port of {start} or above, or deploy as root.",
                quote(&placed.spec.id)
            ),
        ));
    }
}

/// browser-blocked-port: browsers refuse to connect to the Fetch standard's bad ports.
fn browser_blocked(host: &DeployedHost, findings: &mut Vec<Finding>) {
    for placed in host
        .placed
        .iter()
        .filter(|p| p.spec.exposure == Exposure::Browser)
    {
        let bad: Vec<u16> = BROWSER_BAD_PORTS
            .iter()
            .copied()
            .filter(|&p| placed.ports.contains(p))
            .list();
        if bad.is_empty() {
            continue;
        }
        let missed: Vec<String> = bad
            .iter()
            .filter(|p| MISSING_FROM_VENDOR_LIST.contains(p))
            .map(ToString::to_string)
            .list();
        let note = if missed.is_empty() {
            String::new()
        } else {
            format!(" (the vendor document's list misses {})", missed.join(", "))
        };
        // A pool still works if the service avoids the bad ports; a fixed port never does.
        let severity = match placed.spec.allocation {
            Allocation::Fixed => Severity::Error,
            Allocation::Pool => Severity::Warning,
        };
        let ports = bad.iter().map(ToString::to_string).list().join(", ");
        findings.push(at(FindingCode::BrowserBlockedPort, severity, host, placed).say(
            format!(
                "{} is reached with a web browser, but browsers block port {ports} (WHATWG Fetch bad ports){note}",
                quote(&placed.spec.id)
            ),
            format!("Override {} to a port browsers allow, such as 8080.", quote(&placed.spec.id)),
        ));
    }
}

/// ephemeral-collision: an outgoing connection may take a fixed port before the service binds it.
fn ephemeral_collisions(
    host: &DeployedHost,
    observed: Option<&Observation>,
    findings: &mut Vec<Finding>,
) {
    let (range, range_note) = match observed.and_then(|o| o.ip_local_port_range) {
        Some(range) => (range, "observed"),
        None => (DEFAULT_LOCAL_PORT_RANGE, "kernel default"),
    };
    let reserved = merged(observed.map_or(&[], |o| o.ip_local_reserved_ports.as_slice()));
    let is_reserved = |port: u16| {
        let i = reserved.partition_point(|r| r.last < port);
        reserved.get(i).is_some_and(|r| r.contains(port))
    };
    let colliding: Vec<(&Placed, Vec<u16>)> = host
        .placed
        .iter()
        .filter(|p| p.spec.allocation == Allocation::Fixed)
        .filter_map(|p| {
            let ports: Vec<u16> = p
                .ports
                .intersection(range)
                .into_iter()
                .flat_map(|r| r.first..=r.last)
                .filter(|&port| !is_reserved(port))
                .list();
            (!ports.is_empty()).then_some((p, ports))
        })
        .list();
    if colliding.is_empty() {
        return;
    }
    let all: Sorted<u16> = (reserved.iter())
        .flat_map(|r| r.first..=r.last)
        .chain(
            colliding
                .iter()
                .flat_map(|(_, ports)| ports.iter().copied()),
        )
        .collect();
    let fix = format!(
        "sysctl -w net.ipv4.ip_local_reserved_ports={}",
        port_list(&all)
    );
    for (placed, ports) in colliding {
        findings.push(at(FindingCode::EphemeralCollision, Severity::Warning, host, placed).say(
            format!(
                "{} port {} lies inside ip_local_port_range {} ({range_note}) and is not reserved; an outgoing connection can take it first",
                quote(&placed.spec.id),
                port_list(&Sorted::new(ports)),
                range
            ),
            fix.clone(),
        ));
    }
}

/// `ranges` as disjoint ranges in port order: an observed reserved-ports
/// list may repeat and overlap itself, and is then looked up per port.
fn merged(ranges: &[PortRange]) -> Vec<PortRange> {
    // A reversed range (a typed observation skips the parser) holds no port.
    let mut sorted: Vec<PortRange> = ranges.iter().copied().filter(|r| r.first <= r.last).list();
    order::sort(&mut sorted);
    let mut out: Vec<PortRange> = Vec::with_capacity(sorted.len());
    for range in sorted {
        match out.last_mut() {
            Some(last) if range.first <= last.last => last.last = last.last.max(range.last),
            _ => out.push(range),
        }
    }
    out
}

/// `8080,62881-63881`: the kernel's list syntax for reserved ports.
fn port_list(ports: &Sorted<u16>) -> String {
    let mut ranges: Vec<PortRange> = Vec::new();
    for &port in ports {
        match ranges.last_mut() {
            Some(last) if u32::from(last.last) + 1 == u32::from(port) => last.last = port,
            _ => ranges.push(PortRange::single(port)),
        }
    }
    ranges.iter().map(ToString::to_string).list().join(",")
}

/// fixed-port-override: the vendor says the port cannot be changed.
fn fixed_overrides(host: &DeployedHost, findings: &mut Vec<Finding>) {
    for placed in host.placed.iter().filter(|p| p.overridden) {
        if placed.spec.modifiable == Modifiable::NotSupported {
            findings.push(at(FindingCode::FixedPortOverride, Severity::Error, host, placed).say(
                format!(
                    "{} is overridden to {}, but the vendor says its port ({}) cannot be changed",
                    quote(&placed.spec.id), placed.ports, placed.spec.ports
                ),
                format!("Remove the override of {}; free port {} instead.", quote(&placed.spec.id), placed.spec.ports),
            ));
        }
    }
}

/// Specs whose port the seeds do not name: the catalog holds a documented
/// default, and the plan is expected to state the real port with an override.
const PORT_FROM_PLAN: &[(&str, &str)] = &[(
    "fineops-nginx.http",
    "the FineDataLink port document names no port for FineOps Nginx; FineOps' nginx default is 80 as root and 8090 as a non-root user (finekey.yaml)",
)];

/// invalid-plan (warning): the plan leaves a port the seeds do not name at
/// the catalog's assumed default.
fn unstated_ports(host: &DeployedHost, findings: &mut Vec<Finding>) {
    for placed in host.placed.iter().filter(|p| !p.stated) {
        let Some((_, why)) = PORT_FROM_PLAN.iter().find(|(id, _)| *id == placed.spec.id) else {
            continue;
        };
        findings.push(
            at(FindingCode::InvalidPlan, Severity::Warning, host, placed).say(
                format!(
                    "the plan does not say which port {} uses on {}, so portplan assumes {}: {why}",
                    quote(&placed.spec.id),
                    quote(&host.name),
                    placed.ports
                ),
                format!(
                    "Override {} to the port {} really listens on, even if it is {}.",
                    quote(&placed.spec.id),
                    quote(&placed.spec.component),
                    placed.ports
                ),
            ),
        );
    }
}

/// Client networks whose absence from a plan is a decision, not an
/// omission: the seeds keep those ports inside the project unless the plan
/// opts in (ARCHITECTURE.md, "Readings of the seeds").
const OPT_IN_NETWORKS: [&str; 2] = ["minio-clients", "ocp-slb"];

/// Networks that stand for a profile's hosts when that profile is not in the
/// plan (the catalog's descriptions: `fineops` is "The FineOps servers ...
/// when FineOps itself is not in the plan", `project` the FineDataLink
/// project nodes "that are not in this plan"). With the profile in the plan,
/// leaving the network out is no omission.
const STAND_IN_NETWORKS: [(&str, &str); 3] = [
    ("fineops", "fineops"),
    ("project", "finedatalink-single"),
    ("project", "finedatalink-cluster"),
];

/// `network` is a stand-in whose profile the plan lists.
fn stood_in(deployment: &Deployment, network: &str) -> bool {
    STAND_IN_NETWORKS
        .iter()
        .any(|(n, profile)| *n == network && deployment.profiles.iter().any(|p| p.name == *profile))
}

/// no-allowed-sources: a port meant for client networks that the plan does
/// not define. It fires when nothing in the plan reaches the port (it gets no
/// rule), and for a browser- or client-facing port even when plan hosts reach
/// it: the people with the browsers, or the applications, are a network the
/// plan forgot. (A port whose accessors are all absent from the plan is
/// simply closed, as the table shows.)
fn no_allowed_sources(
    deployment: &Deployment,
    sources: &Sources,
    id: HostId,
    findings: &mut Vec<Finding>,
) {
    let host = deployment.host(id);
    for placed in host
        .placed
        .iter()
        .filter(|p| p.spec.exposure != Exposure::Loopback)
    {
        let named: Vec<&str> = placed
            .spec
            .accessed_by
            .iter()
            .filter_map(|a| match a {
                Accessor::Network(n) if !OPT_IN_NETWORKS.contains(&n.as_str()) => Some(n.as_str()),
                _ => None,
            })
            .list();
        let undefined: Vec<&str> = named
            .iter()
            .copied()
            .filter(|n| !deployment.networks.contains_key(*n) && !stood_in(deployment, n))
            .list();
        if undefined.is_empty() {
            continue;
        }
        // Who is admitted, without listing every peer (n² over an
        // all-to-all spec): whether anyone is, and whether a network is.
        let (admitted, networks) = (
            sources.group_of(id, placed).is_some(),
            sources.names_networks(placed),
        );
        let quoted = undefined.iter().map(|n| format!("\"{}\"", quote(n))).list();
        let message = if !admitted {
            format!(
                "nothing in the plan may reach {} on {}, so it gets no firewall rule; it is meant for network {}",
                quote(&placed.spec.id),
                quote(&host.name),
                quoted.join(" and ")
            )
        } else if !networks {
            let who = if placed.spec.exposure == Exposure::Browser {
                "is opened in a browser"
            } else {
                "serves clients outside the plan"
            };
            format!(
                "{} on {} {who}, but no client network of the plan reaches it, only plan hosts; it is meant for network {}",
                quote(&placed.spec.id),
                quote(&host.name),
                quoted.join(" and ")
            )
        } else {
            continue;
        };
        findings.push(
            at(FindingCode::NoAllowedSources, Severity::Info, host, placed).say(
                message,
                format!(
                    "Add network {} with its CIDRs to the plan's networks if they need {}.",
                    quoted.join(" and "),
                    quote(&placed.spec.id)
                ),
            ),
        );
    }
}

/// `address:port`, with IPv6 addresses in brackets.
fn socket(listener: &Listener) -> String {
    let address = quote(&listener.address);
    if address.contains(':') {
        format!("[{address}]:{}", listener.port)
    } else {
        format!("{address}:{}", listener.port)
    }
}

/// How a listener's local address relates to a host address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Accepts connections to the host's address.
    Host,
    /// Bound to the host's address family, but not reachable at that address
    /// (loopback or another address): still blocks a wildcard bind.
    SameFamily,
    /// Only the other address family.
    OtherFamily,
}

/// A `::` listener covers IPv4 unless it is v6only.
fn reach(listener: &Listener, host: IpAddr) -> Reach {
    // `::ffff:198.18.1.11` is the IPv4 address it maps.
    let Some(local) = plan_address(&listener.address) else {
        return Reach::OtherFamily;
    };
    match (local, host) {
        (IpAddr::V6(v6), IpAddr::V4(_)) if v6.is_unspecified() && !listener.v6only => Reach::Host,
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
            if local.is_unspecified() || local == host {
                Reach::Host
            } else {
                Reach::SameFamily
            }
        }
        _ => Reach::OtherFamily,
    }
}

/// An observation's listeners sorted by transport and port, so each spec
/// finds its own by binary search: scanning every listener for every port
/// of a spec took seconds with a spec over 1-65535 and 60,000 listeners.
struct Listening<'o> {
    /// (transport, port, position in the observation, listener).
    sorted: Vec<(Transport, u16, usize, &'o Listener)>,
}

impl<'o> Listening<'o> {
    fn new(observation: &'o Observation) -> Self {
        let mut sorted: Vec<_> = observation
            .listeners
            .iter()
            .enumerate()
            .map(|(i, l)| (l.transport, l.port, i, l))
            .list();
        order::sort_by_key(&mut sorted, |&(transport, port, i, _)| (transport, port, i));
        Listening { sorted }
    }

    /// The listeners of `transport` on `ports` with their positions, in
    /// observation order (the order a message lists them in).
    fn on(&self, transport: Transport, ports: PortRange) -> Vec<(usize, &'o Listener)> {
        let key = |&(t, p, _, _): &(Transport, u16, usize, &Listener)| (t, p);
        let start = self
            .sorted
            .partition_point(|e| key(e) < (transport, ports.first));
        let end = self
            .sorted
            .partition_point(|e| key(e) <= (transport, ports.last));
        // A typed plan skips the parser, so `ports` may be reversed: no port.
        let mut found: Vec<(usize, &Listener)> = self
            .sorted
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .map(|&(_, _, i, l)| (i, l))
            .list();
        order::sort_by_key(&mut found, |&(i, _)| i);
        found
    }
}

fn owner(listener: &Listener) -> String {
    match (listener.pid, listener.command.as_deref().map(quote)) {
        (Some(pid), Some(command)) => format!("pid {pid} ({command})"),
        (Some(pid), None) => format!("pid {pid}"),
        (None, Some(command)) => format!("process {command}"),
        (None, None) => "an unknown process".to_string(),
    }
}

/// port-in-use: before install, a planned port is already held. One
/// finding per holder and reason, naming every spec it blocks: a holder of a
/// port N specs share is one finding, not N.
fn ports_in_use(host: &DeployedHost, listening: &Listening, findings: &mut Vec<Finding>) {
    // Each hold by (holder, severity, reason), sorted stably so a group's
    // specs stay in placement order (a sorted list, not a map of groups:
    // one B-tree key type fewer in the plugins).
    let mut held: Vec<((usize, Severity, &str), &Listener, &Placed)> = Vec::new();
    for placed in host.placed.iter() {
        for (i, listener) in listening.on(placed.spec.transport, placed.ports) {
            let (severity, why) = match (placed.spec.allocation, reach(listener, host.address)) {
                (Allocation::Pool, _) => (Severity::Info, "the pool has one port fewer"),
                // Seeds 000 and 002: any holder of a planned port must go
                // before install, whichever address family it holds.
                (Allocation::Fixed, Reach::OtherFamily) => (
                    Severity::Error,
                    "in the other address family only, but a dual-stack bind by the component would fail",
                ),
                (Allocation::Fixed, _) => (Severity::Error, "the component cannot bind it"),
            };
            held.push(((i, severity, why), listener, placed));
        }
    }
    order::sort_by(&mut held, |a, b| a.0.cmp(&b.0));
    for group in held.chunk_by(|a, b| a.0 == b.0) {
        let ((_, severity, why), listener, _) = group[0];
        let specs: Vec<&Placed> = group.iter().map(|hold| hold.2).list();
        let verb = if listener.transport == Transport::Tcp {
            "listens on"
        } else {
            "is bound to"
        };
        let (needed, fix) = match specs.as_slice() {
            [only] => (
                quote(&only.spec.id),
                format!(
                    "Stop {} or override {} to a free port.",
                    owner(listener),
                    quote(&only.spec.id)
                ),
            ),
            _ => (
                format!("{} specs ({})", specs.len(), names(ids(&specs))),
                format!(
                    "Stop {} or override the {} specs to free ports.",
                    owner(listener),
                    specs.len()
                ),
            ),
        };
        let message = format!(
            "{} {verb} {} {} on {}, needed by {needed}: {why}",
            owner(listener),
            listener.transport.as_str(),
            socket(listener),
            quote(&host.name),
        );
        findings.push(at(FindingCode::PortInUse, severity, host, specs[0]).say(message, fix));
    }
}

/// not-listening: after install, a fixed port has no listener others can reach.
fn not_listening(host: &DeployedHost, listening: &Listening, findings: &mut Vec<Finding>) {
    for placed in host
        .placed
        .iter()
        .filter(|p| p.spec.allocation == Allocation::Fixed)
    {
        let listeners: Vec<&Listener> = listening
            .on(placed.spec.transport, placed.ports)
            .into_iter()
            .map(|(_, l)| l)
            .list();
        let answered: Sorted<u16> = (listeners.iter())
            .filter(|l| {
                placed.spec.exposure == Exposure::Loopback || reach(l, host.address) == Reach::Host
            })
            .map(|l| l.port)
            .collect();
        let missing: Sorted<u16> = (placed.ports.first..=placed.ports.last)
            .filter(|port| !answered.contains(port))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let elsewhere: Vec<String> = listeners
            .iter()
            .filter(|l| missing.contains(&l.port))
            .map(|l| socket(l))
            .list();
        let message = if elsewhere.is_empty() {
            format!(
                "nothing {} {} port {} of {} on {}",
                if placed.spec.transport == Transport::Tcp {
                    "listens on"
                } else {
                    "is bound to"
                },
                placed.spec.transport.as_str(),
                port_list(&missing),
                quote(&placed.spec.id),
                quote(&host.name)
            )
        } else {
            format!(
                "{} listens only on {}, which {} cannot reach at {}",
                quote(&placed.spec.id),
                elsewhere.join(", "),
                if placed.spec.exposure == Exposure::Browser {
                    "browsers"
                } else {
                    "peers"
                },
                host.address_text
            )
        };
        findings.push(
            at(FindingCode::NotListening, Severity::Error, host, placed).say(
                message,
                format!(
                    "Start {} and make it listen on {} or the wildcard address.",
                    quote(&placed.spec.component),
                    host.address_text
                ),
            ),
        );
    }
}

/// overexposed (a warning): a rule portplan did not write admits a planned
/// port from sources the plan's rule does not. portplan changes only its own
/// rules, so the audit reads the others only to say so: an accept of a
/// management network on every port, or of everyone on one, opens the port
/// wider than planned while every portplan rule is intact. Measured on the
/// wire, `portplan reach` reports the same as an `overexposed` error.
fn wider_than_planned(
    sources: &Sources,
    host: &DeployedHost,
    firewall: Option<&ObservedFirewall>,
    findings: &mut Vec<Finding>,
) {
    let Some(firewall) = firewall.filter(|f| f.backend != FirewallBackend::None) else {
        return;
    };
    let foreign = firewall.open.iter().filter(|o| o.tag.is_none());
    for open in foreign {
        let facing = host.placed.iter().filter(|p| {
            p.spec.exposure != Exposure::Loopback && p.spec.transport == open.transport
        });
        for placed in facing {
            let Some(overlap) = open.ports.intersection(placed.ports) else {
                continue;
            };
            let planned = sources.nets(placed);
            let beyond = beyond(&open.sources, planned);
            if beyond.is_empty() {
                continue;
            }
            findings.push(
                at(FindingCode::Overexposed, Severity::Warning, host, placed).say(
                    format!(
                        "{} admits {} port {overlap} from {}, beyond the plan, by a rule portplan did not write",
                        firewall.backend.as_str(),
                        placed.spec.transport.as_str(),
                        beyond.join(", ")
                    ),
                    format!(
                        "Narrow that rule to the plan's sources for {} (or add them to the plan); portplan reach measures who gets through.",
                        quote(&placed.spec.id)
                    ),
                ),
            );
        }
    }
}

/// The sources (CIDRs; none: anywhere) that no planned CIDR holds whole.
fn beyond(admitted: &[String], planned: &[ipnet::IpNet]) -> Vec<String> {
    let within = |net: &ipnet::IpNet| planned.iter().any(|p| p.contains(net));
    if admitted.is_empty() {
        let anywhere = ["0.0.0.0/0", "::/0"].map(|a| a.parse::<ipnet::IpNet>());
        return if anywhere.iter().flatten().all(within) {
            Vec::new()
        } else {
            vec!["anywhere".to_string()]
        };
    }
    admitted
        .iter()
        .filter(|s| plan_net(s).is_none_or(|net| !within(&net) && !net.network().is_loopback()))
        .map(|s| quote(s))
        .list()
}

/// More ports than this in one admitted range: a rule that does not name the
/// port (an accept of a network, an interface, `!= 2881`), not one that opens
/// a service's range.
const BROAD_RULE_PORTS: u32 = 1024;

/// loopback-exposed: a loopback-only port is reachable from other hosts.
fn loopback_exposed(
    host: &DeployedHost,
    phase: Phase,
    firewall: Option<&ObservedFirewall>,
    listening: &Listening,
    findings: &mut Vec<Finding>,
) {
    let firewall = firewall.filter(|f| f.backend != FirewallBackend::None);
    for placed in host
        .placed
        .iter()
        .filter(|p| p.spec.exposure == Exposure::Loopback)
    {
        if let Some(firewall) = firewall {
            let listens_out = listening
                .on(placed.spec.transport, placed.ports)
                .iter()
                .any(|(_, l)| plan_address(&l.address).is_none_or(|a| !a.is_loopback()));
            // portplan never opens a loopback port: a tagged rule that does
            // was edited by hand, and the live audit's `firewall-drift`
            // names it, which `present` and `absent` then fix (an error here
            // would stop them from running).
            for open in firewall
                .open
                .iter()
                .filter(|o| o.transport == placed.spec.transport && o.tag.is_none())
            {
                let Some(overlap) = open.ports.intersection(placed.ports) else {
                    continue;
                };
                let outside: Vec<String> = if open.sources.is_empty() {
                    vec!["anywhere".to_string()]
                } else {
                    open.sources
                        .iter()
                        .filter(|s| plan_net(s).is_none_or(|net| !net.network().is_loopback()))
                        .map(|s| quote(s))
                        .list()
                };
                if outside.is_empty() {
                    continue;
                }
                // A rule that names the port opens it: an error. One that
                // admits (nearly) every port is a trust policy (a management
                // network, an interface) that exposes a local-only port only
                // where it listens beyond loopback: a warning until then.
                let broad = open.ports.count() > BROAD_RULE_PORTS;
                let (severity, kind) = if broad && !listens_out {
                    (Severity::Warning, ", by a rule that admits every port")
                } else {
                    (Severity::Error, "")
                };
                findings.push(
                    at(FindingCode::LoopbackExposed, severity, host, placed).say(
                        format!(
                            "{} is local only, but the firewall admits {} port {overlap} from {}{kind}",
                            quote(&placed.spec.id),
                            placed.spec.transport.as_str(),
                            outside.join(", ")
                        ),
                        format!(
                            "Remove the firewall rule that opens {overlap}/{}.",
                            placed.spec.transport.as_str()
                        ),
                    ),
                );
            }
        } else if phase == Phase::Postinstall {
            for (_, listener) in listening.on(placed.spec.transport, placed.ports) {
                let local = plan_address(&listener.address).is_some_and(|a| a.is_loopback());
                if !local {
                    findings.push(at(FindingCode::LoopbackExposed, Severity::Warning, host, placed).say(
                        format!(
                            "{} is local only, but listens on {} and no firewall was observed to keep it closed",
                            quote(&placed.spec.id),
                            socket(listener)
                        ),
                        format!("Bind {} to 127.0.0.1 or enable a firewall.", quote(&placed.spec.component)),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::step;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        /// A boundary's step leaves the specs a `BTreeSet` would hold after
        /// inserting the starts and removing the ends, in order (as the
        /// sweep's B-tree did).
        #[test]
        fn step_is_a_set_update(
            active in proptest::collection::btree_set(0usize..40, 0..30),
            changed in proptest::collection::vec(0usize..40, 0..20),
        ) {
            // A spec starts or ends at a boundary, not both; ends come from
            // the active ones, starts from the others, as in the sweep.
            let mut seen = BTreeSet::new();
            let changes: Vec<(u32, usize, bool)> = changed
                .into_iter()
                .filter(|i| seen.insert(*i))
                .map(|i| (7, i, !active.contains(&i)))
                .collect();
            let mut want = active.clone();
            for &(_, i, starts) in &changes {
                if starts {
                    want.insert(i);
                } else {
                    want.remove(&i);
                }
            }
            let active: Vec<usize> = active.into_iter().collect();
            prop_assert_eq!(step(&active, &changes), want.into_iter().collect::<Vec<_>>());
        }
    }
}
