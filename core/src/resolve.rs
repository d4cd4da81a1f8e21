//! Resolution: [`Plan`] to a checked [`Deployment`] in which every name
//! resolves and every address parses.
//!
//! Everything that makes a plan meaningless is a [`PlanError`] here, with the
//! path and value of each problem; everything that makes it merely wrong is a
//! finding of the rules.

use crate::list::List;
use crate::table::{Map, Set};
use std::rc::Rc;

use core::net::IpAddr;
use ipnet::{IpNet, Ipv4Net};

use crate::decode::{VALUE_LIMIT, quote};
use crate::deployment::{DeployedHost, Deployment, Placed};
use crate::model::{
    Accessor, DeployUser, Observation, Plan, PlanError, PlanHost, PortOverride, PortRange,
    PortSpec, Problem, Profile,
};
use crate::order::{self, Sorted, SortedMap};
use crate::{catalog, limits, nets};

/// Collects problems in input order while resolving.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    /// A problem with `value` as it is quoted: escaped and capped ([`quote`]).
    /// A message that names plan values quotes each with [`quote`] or [`list`].
    fn push(&mut self, path: String, value: &str, message: String) {
        self.0.push(Problem {
            path,
            value: quote(value),
            message,
        });
    }
}

/// Most characters of a list of names in a message; the rest is counted.
const LIST_LIMIT: usize = 2 * VALUE_LIMIT;

/// Names as a message lists them: each [`quote`]d, joined with `, `, and
/// when that would pass [`LIST_LIMIT`], the first ones and `... (N more)`.
fn list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<String> = names.into_iter().map(quote).list();
    let mut out = String::new();
    for (i, name) in names.iter().enumerate() {
        let sep = if i == 0 { "" } else { ", " };
        if out.chars().count() + sep.len() + name.chars().count() > LIST_LIMIT {
            out.push_str(&format!("{sep}... ({} more)", names.len() - i));
            break;
        }
        out.push_str(sep);
        out.push_str(name);
    }
    out
}

/// Parse an address or CIDR as a firewall prints it; a bare address is a
/// single-address network. An IPv4-mapped IPv6 source stays IPv6 here: in an
/// `ip6tables` or `ip6` rule it is one, and matches no IPv4 packet. Addresses
/// from a plan or an observation go through [`plan_net`] instead.
pub(crate) fn parse_net(text: &str) -> Option<IpNet> {
    let Some((address, prefix)) = text.split_once('/') else {
        return text.parse::<IpAddr>().ok().map(IpNet::from);
    };
    // The address through std's parser, as a host's address is read: ipnet's
    // takes `010.0.0.0/8` as 10.0.0.0/8, where inet_aton (and so whatever
    // the CIDR was copied from) reads 8.0.0.0/8. The prefix in plain digits
    // (`/8`, not `/08` or `/+8`).
    let address = address.parse::<IpAddr>().ok()?;
    let plain = !prefix.is_empty()
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && (prefix == "0" || !prefix.starts_with('0'));
    let len = prefix.parse::<u8>().ok().filter(|_| plain)?;
    IpNet::new(address, len).ok().map(|net| net.trunc())
}

/// An address written in a plan or an observation: an IPv4-mapped IPv6
/// address (`::ffff:198.18.1.11`) is the IPv4 address it maps, so it is a
/// duplicate of `198.18.1.11` and never an IPv6 source.
pub(crate) fn plan_address(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>().ok().map(ipv4_mapped)
}

/// An address or CIDR written in a plan or an observation, like [`parse_net`]
/// but IPv4-mapped IPv6 ones are IPv4: `::ffff:198.18.1.0/120` is
/// `198.18.1.0/24`. A prefix shorter than /96 covers more than the mapped
/// range and stays IPv6.
pub(crate) fn plan_net(text: &str) -> Option<IpNet> {
    parse_net(text).map(|net| match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => v6
            .network()
            .to_ipv4_mapped()
            .and_then(|v4| Ipv4Net::new(v4, v6.prefix_len() - 96).ok())
            .map_or(net, IpNet::V4),
        other => other,
    })
}

fn ipv4_mapped(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// Resolve a plan against the catalog. Every problem is reported, not just the first.
pub(crate) fn resolve(plan: &Plan) -> Result<Deployment, PlanError> {
    let mut problems = Problems::default();
    let builtin = catalog::profiles();

    check_custom_profiles(plan, builtin, &mut problems);
    let profiles = used_profiles(plan, builtin, &mut problems);
    let known = Known::new(plan, &profiles, &mut problems);
    let networks = resolve_networks(plan, &profiles, &mut problems);

    if plan.hosts.is_empty() {
        problems.push(
            "hosts".into(),
            "[]",
            "a plan needs at least one host".into(),
        );
    }
    let mut taken = Taken::with_capacity(plan.hosts.len());
    let mut placements = Placements::default();
    let mut hosts = Vec::with_capacity(plan.hosts.len());
    let mut rows = 0;
    for (i, host) in plan.hosts.iter().enumerate() {
        let resolved = resolve_host(
            plan,
            i,
            host,
            &known,
            &mut taken,
            &mut placements,
            &mut problems,
        );
        // Checked while placing, so an oversized plan stops here.
        rows += resolved.as_ref().map_or(0, |h| h.placed.len());
        limits::check_rows(rows)?;
        hosts.extend(resolved);
    }
    interchangeable_component_servers(plan, &known, &mut hosts);
    limits::check_rows(hosts.iter().map(|h| h.placed.len()).sum())?;
    attach_observations(plan, &mut hosts, &mut problems);

    if problems.0.is_empty() {
        let exclusive = (plan.networks.iter())
            .filter(|n| n.exclusive)
            .map(|n| n.name.clone())
            .collect();
        Ok(Deployment::new(
            plan.name.clone(),
            profiles,
            hosts,
            networks,
            exclusive,
        ))
    } else {
        Err(PlanError {
            problems: problems.0,
        })
    }
}

/// What every host of a plan is resolved against.
struct Known<'p> {
    profiles: &'p [Profile],
    specs: SortedMap<&'p str, &'p PortSpec>,
    /// Component name to its specs, in profile order: placing a host looks
    /// up its components instead of scanning every spec. Shared, not copied,
    /// into every placement.
    by_component: SortedMap<&'p str, Vec<Rc<PortSpec>>>,
    components: Sorted<&'p str>,
    enabled: Sorted<String>,
}

impl<'p> Known<'p> {
    /// The used profiles' specs and components; the plan's enabled optional
    /// specs and plan-wide overrides checked against them.
    fn new(plan: &Plan, profiles: &'p [Profile], problems: &mut Problems) -> Self {
        let all_specs = || profiles.iter().flat_map(|p| &p.specs);
        let specs = SortedMap::new(all_specs().map(|s| (s.id.as_str(), s)).list());
        let components = (profiles.iter())
            .flat_map(|p| &p.components)
            .map(|c| c.name.as_str())
            .collect();
        let by_component = SortedMap::grouped(
            all_specs()
                .map(|spec| (spec.component.as_str(), Rc::new(spec.clone())))
                .list(),
        );
        let enabled = check_enable(plan, &specs, problems);
        check_overrides(&plan.overrides, "overrides", &specs, None, problems);
        Known {
            profiles,
            specs,
            by_component,
            components,
            enabled,
        }
    }
}

/// Host names and addresses seen so far, by the index of the first holder.
struct Taken<'p> {
    // Hashed: only asked whether a name or address came before, never
    // listed, so their order cannot reach any output.
    names: Map<&'p str, usize>,
    addresses: Map<IpAddr, usize>,
}

impl Taken<'_> {
    /// Sized for every host up front (the input limits bound the count):
    /// growing them one rehash at a time was a fifth of resolving 5,000
    /// hosts.
    fn with_capacity(hosts: usize) -> Self {
        Taken {
            names: Map::with_capacity(hosts),
            addresses: Map::with_capacity(hosts),
        }
    }
}

/// The rows placed for each list of components a host without overrides of
/// its own runs: most hosts of a large plan list one of a few, so each list
/// is placed (looked up, filtered, sorted) and copied once, and its hosts
/// share the list and its rows instead of a copy each.
#[derive(Default)]
struct Placements<'p>(Map<&'p [String], Shared>);

/// A host's components and the rows placed for them, shared between hosts.
type Shared = (Rc<[String]>, Rc<[Placed]>);

impl<'p> Placements<'p> {
    /// The components of `host` and the rows placed for them.
    fn place(&mut self, host: &'p PlanHost, known: &Known, plan: &Plan) -> Shared {
        let placed = |overrides| place(host.components.iter(), known, &plan.overrides, overrides);
        if !host.overrides.is_empty() {
            let placed = placed(&host.overrides);
            return (host.components.as_slice().into(), placed.into());
        }
        self.0
            .get_or_insert_with(host.components.as_slice(), || {
                (host.components.as_slice().into(), placed(&[]).into())
            })
            .clone()
    }
}

/// One plan host: its name, address, components and overrides checked; the
/// resolved host when its address parses (other problems are collected).
fn resolve_host<'p>(
    plan: &Plan,
    i: usize,
    host: &'p PlanHost,
    known: &Known,
    taken: &mut Taken<'p>,
    placements: &mut Placements<'p>,
    problems: &mut Problems,
) -> Option<DeployedHost> {
    // Written only into a problem's path: most hosts have none.
    let at = HostAt(i);
    if host.name.trim().is_empty() {
        problems.push(
            format!("{at}.name"),
            &host.name,
            "a host needs a name".into(),
        );
    } else if let Some(first) = taken.names.insert(host.name.as_str(), i) {
        problems.push(
            format!("{at}.name"),
            &host.name,
            format!("duplicate host name; hosts[{first}] has it already"),
        );
    }
    let address = host_address(i, &at, host, taken, problems);
    check_host_components(plan, &at, host, known, problems);
    if !host.overrides.is_empty() {
        check_overrides(
            &host.overrides,
            &format!("{at}.overrides"),
            &known.specs,
            Some(&host.components),
            problems,
        );
    }
    let address = address?;
    // An IPv4 address as written is already as it displays (the parser
    // takes no leading zeros): kept, not formatted again.
    let address_text = match address {
        IpAddr::V4(_) if !host.address.contains(':') => host.address.clone(),
        _ => address.to_string(),
    };
    let (components, placed) = placements.place(host, known, plan);
    Some(DeployedHost {
        name: host.name.clone(),
        address,
        address_text,
        components,
        deploy_user: host
            .deploy_user
            .or(plan.deploy_user)
            .unwrap_or(DeployUser::Root),
        placed,
        observation: None,
    })
}

/// The path of `hosts[i]`, written only when a problem names it.
struct HostAt(usize);

impl std::fmt::Display for HostAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "hosts[{}]", self.0)
    }
}

/// Why a host's address cannot be the one its peers and clients reach it
/// at (and its rules admit from): the wildcard, loopback, multicast or
/// IPv4's broadcast address.
fn unusable(address: IpAddr) -> Option<&'static str> {
    let broadcast = matches!(address, IpAddr::V4(v4) if v4.is_broadcast());
    if address.is_unspecified() {
        Some("the wildcard address")
    } else if address.is_loopback() {
        Some("a loopback address")
    } else if address.is_multicast() {
        Some("a multicast address")
    } else if broadcast {
        Some("the broadcast address")
    } else {
        None
    }
}

fn host_address(
    i: usize,
    at: &HostAt,
    host: &PlanHost,
    taken: &mut Taken,
    problems: &mut Problems,
) -> Option<IpAddr> {
    let Some(address) = plan_address(&host.address) else {
        problems.push(
            format!("{at}.address"),
            &host.address,
            "not an IPv4 or IPv6 address".into(),
        );
        return None;
    };
    if let Some(why) = unusable(address) {
        problems.push(
            format!("{at}.address"),
            &host.address,
            format!("{why}: not an address other hosts can reach this host at"),
        );
        return None;
    }
    if let Some(first) = taken.addresses.insert(address, i) {
        problems.push(
            format!("{at}.address"),
            &host.address,
            format!("duplicate host address; hosts[{first}] has it already"),
        );
    }
    Some(address)
}

fn check_host_components(
    plan: &Plan,
    at: &HostAt,
    host: &PlanHost,
    known: &Known,
    problems: &mut Problems,
) {
    if host.components.is_empty() {
        problems.push(
            format!("{at}.components"),
            "[]",
            "a host needs at least one component".into(),
        );
    }
    let mut seen = Set::new();
    for (j, component) in host.components.iter().enumerate() {
        if !known.components.contains(&component.as_str()) {
            problems.push(
                format!("{at}.components[{j}]"),
                component,
                format!(
                    "unknown component for profiles {}; known: {}",
                    list(plan.profiles.iter().map(String::as_str)),
                    list(known.components.iter().copied())
                ),
            );
        } else if listed_before(&host.components, j, &mut seen) {
            problems.push(
                format!("{at}.components[{j}]"),
                component,
                "listed twice on this host".into(),
            );
        }
    }
}

/// Whether `components[j]` is listed before it; `seen` holds the ones asked
/// about so far. Hosts list a few components: a set (an allocation per
/// host) only for a long list.
fn listed_before<'c>(components: &'c [String], j: usize, seen: &mut Set<&'c str>) -> bool {
    if components.len() <= 16 {
        components[..j].contains(&components[j])
    } else {
        !seen.insert(components[j].as_str())
    }
}

/// Every profile and component name a custom profile's accessor may name:
/// the catalog's and the plan's own, whether the plan deploys them or not.
struct Names<'p> {
    profiles: Sorted<&'p str>,
    components: Sorted<&'p str>,
}

impl<'p> Names<'p> {
    fn new(plan: &'p Plan, builtin: &'p [Profile]) -> Self {
        let all = || builtin.iter().chain(&plan.custom_profiles);
        Names {
            profiles: all().map(|p| p.name.as_str()).collect(),
            components: all()
                .flat_map(|p| &p.components)
                .map(|c| c.name.as_str())
                .collect(),
        }
    }
}

fn check_custom_profiles(plan: &Plan, builtin: &[Profile], problems: &mut Problems) {
    let known = Names::new(plan, builtin);
    let mut names = Set::new();
    // The firewall tag each spec id becomes, and the first id that took it.
    let mut tags: Map<String, &str> = Map::new();
    for (i, profile) in plan.custom_profiles.iter().enumerate() {
        let at = format!("custom-profiles[{i}]");
        if builtin.iter().any(|b| b.name == profile.name) || !names.insert(profile.name.as_str()) {
            problems.push(
                format!("{at}.name"),
                &profile.name,
                "a profile of this name exists already".into(),
            );
        }
        let components: Sorted<&str> = profile.components.iter().map(|c| c.name.as_str()).collect();
        let networks: Sorted<&str> = profile.networks.iter().map(|n| n.name.as_str()).collect();
        let mut ids = Set::new();
        for (j, spec) in profile.specs.iter().enumerate() {
            let at = format!("{at}.specs[{j}]");
            if !components.contains(&spec.component.as_str()) {
                problems.push(
                    format!("{at}.component"),
                    &spec.component,
                    "not a component of this profile".into(),
                );
            }
            if spec
                .id
                .split_once('.')
                .map(|(c, name)| (c, name.is_empty()))
                != Some((spec.component.as_str(), false))
            {
                problems.push(
                    format!("{at}.id"),
                    &spec.id,
                    format!("a spec id is `{}.<name>`", quote(&spec.component)),
                );
            }
            if !ids.insert(spec.id.as_str()) {
                problems.push(format!("{at}.id"), &spec.id, "duplicate spec id".into());
            }
            // A tag that had to change ends in a hash of the id: an id
            // written in that form (`app.a_b-29d67797` beside `app.a b`)
            // would share its rules' tag, and each spec's rules would read
            // as the other's.
            let tag = crate::backends::sanitize_tag(&crate::sources::tag(&spec.id));
            match tags.get(&tag) {
                Some(first) if *first != spec.id => problems.push(
                    format!("{at}.id"),
                    &spec.id,
                    format!(
                        "its firewall tag `{}` is spec {}'s too; rename one of them",
                        quote(&tag),
                        quote(first)
                    ),
                ),
                Some(_) => {}
                None => {
                    tags.insert(tag, &spec.id);
                }
            }
            if spec.exposure == crate::model::Exposure::Loopback && !spec.accessed_by.is_empty() {
                // The list as the plan writes it (JSON), not Rust's `Debug`
                // of it (`[Component("x")]`).
                problems.push(
                    format!("{at}.accessed-by"),
                    &crate::encode::compact(&spec.accessed_by),
                    "a loopback spec is reached by nobody from outside; leave accessed-by empty"
                        .into(),
                );
            }
            for (k, accessor) in spec.accessed_by.iter().enumerate() {
                let path = format!("{at}.accessed-by[{k}]");
                match accessor {
                    Accessor::Network(name) if !networks.contains(&name.as_str()) => {
                        problems.push(
                            path,
                            name,
                            "network not declared in this profile's networks".into(),
                        );
                    }
                    Accessor::Component(name) if !known.components.contains(&name.as_str()) => {
                        problems.push(
                            path,
                            name,
                            "unknown component: no built-in or custom profile defines it".into(),
                        );
                    }
                    Accessor::Profile(name) if !known.profiles.contains(&name.as_str()) => {
                        problems.push(
                            path,
                            name,
                            format!(
                                "unknown profile; known profiles: {}",
                                list(known.profiles.iter().copied())
                            ),
                        );
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The profiles the plan deploys, built-in or custom, in plan order.
fn used_profiles(plan: &Plan, builtin: &[Profile], problems: &mut Problems) -> Vec<Profile> {
    if plan.profiles.is_empty() {
        problems.push(
            "profiles".into(),
            "[]",
            "a plan needs at least one profile".into(),
        );
    }
    let mut used: Vec<Profile> = Vec::new();
    for (i, name) in plan.profiles.iter().enumerate() {
        let found = builtin
            .iter()
            .chain(&plan.custom_profiles)
            .find(|p| &p.name == name);
        match found {
            None => {
                let known = catalog::names(builtin);
                problems.push(
                    format!("profiles[{i}]"),
                    name,
                    format!("unknown profile; known profiles: {known}"),
                );
            }
            Some(_) if used.iter().any(|p| &p.name == name) => {
                problems.push(format!("profiles[{i}]"), name, "listed twice".into());
            }
            Some(profile) => {
                for component in &profile.components {
                    if let Some(other) = used
                        .iter()
                        .find(|p| p.components.iter().any(|c| c.name == component.name))
                    {
                        problems.push(
                            format!("profiles[{i}]"),
                            name,
                            format!(
                                "defines component {} as profile {} does; a plan can use only one of them",
                                quote(&component.name),
                                quote(&other.name)
                            ),
                        );
                        break;
                    }
                }
                used.push(profile.clone());
            }
        }
    }
    used
}

fn check_enable(
    plan: &Plan,
    specs: &SortedMap<&str, &PortSpec>,
    problems: &mut Problems,
) -> Sorted<String> {
    let mut enabled = Vec::new();
    for (i, id) in plan.enable.iter().enumerate() {
        match specs.get(&id.as_str()) {
            None => problems.push(
                format!("enable[{i}]"),
                id,
                "unknown spec id in the plan's profiles".into(),
            ),
            Some(spec) if !spec.optional => problems.push(
                format!("enable[{i}]"),
                id,
                "not an optional spec; it is always on".into(),
            ),
            Some(_) => enabled.push(id.clone()),
        }
    }
    Sorted::new(enabled)
}

fn check_overrides(
    overrides: &[PortOverride],
    at: &str,
    specs: &SortedMap<&str, &PortSpec>,
    host_components: Option<&[String]>,
    problems: &mut Problems,
) {
    let mut seen = Set::new();
    for (i, o) in overrides.iter().enumerate() {
        let path = format!("{at}[{i}].spec");
        match specs.get(&o.spec.as_str()) {
            None => problems.push(
                path,
                &o.spec,
                "unknown spec id in the plan's profiles".into(),
            ),
            Some(spec) => {
                if let Some(components) = host_components
                    && !components.contains(&spec.component)
                {
                    problems.push(
                        path,
                        &o.spec,
                        format!(
                            "this host does not run component {}",
                            quote(&spec.component)
                        ),
                    );
                } else if !seen.insert(o.spec.as_str()) {
                    problems.push(path, &o.spec, "overridden twice".into());
                } else if spec.ports.is_single() != o.ports.is_single() {
                    let shape = if spec.ports.is_single() {
                        "a single port"
                    } else {
                        "a range"
                    };
                    problems.push(
                        format!("{at}[{i}].ports"),
                        &o.ports.to_string(),
                        format!(
                            "spec {} is {shape} ({}); the override must be too",
                            quote(&spec.id),
                            spec.ports
                        ),
                    );
                }
            }
        }
    }
}

fn resolve_networks(
    plan: &Plan,
    profiles: &[Profile],
    problems: &mut Problems,
) -> SortedMap<String, Vec<IpNet>> {
    let roles: Sorted<&str> = (profiles.iter())
        .flat_map(|p| &p.networks)
        .map(|n| n.name.as_str())
        .collect();
    let mut networks = Vec::new();
    let mut seen = Set::new();
    for (i, network) in plan.networks.iter().enumerate() {
        let at = format!("networks[{i}]");
        if !roles.contains(&network.name.as_str()) {
            let known = list(roles.iter().copied());
            problems.push(
                format!("{at}.name"),
                &network.name,
                format!(
                    "no spec of the plan's profiles is reached by this network; known: {known}"
                ),
            );
        }
        if network.cidrs.is_empty() {
            problems.push(
                format!("{at}.cidrs"),
                "[]",
                "a network needs at least one CIDR".into(),
            );
        }
        let mut nets = Vec::new();
        for (j, cidr) in network.cidrs.iter().enumerate() {
            match plan_net(cidr) {
                Some(net) => nets.push(net),
                None => problems.push(
                    format!("{at}.cidrs[{j}]"),
                    cidr,
                    "not an IP address or CIDR".into(),
                ),
            }
        }
        networks.push((network.name.clone(), nets::aggregate(&nets)));
        if !seen.insert(network.name.as_str()) {
            problems.push(
                format!("{at}.name"),
                &network.name,
                "duplicate network name".into(),
            );
        }
    }
    SortedMap::new(networks)
}

/// The specs of `components`, with overrides applied (host wins over plan).
fn place<'a>(
    components: impl Iterator<Item = &'a String>,
    known: &Known,
    plan_overrides: &[PortOverride],
    host_overrides: &[PortOverride],
) -> Vec<Placed> {
    let components: Sorted<&String> = components.collect();
    // The first override of a spec counts (a second one is a problem), the
    // host's before the plan's.
    let mut overrides: Map<&str, PortRange> = Map::new();
    for o in host_overrides.iter().chain(plan_overrides) {
        overrides.get_or_insert_with(o.spec.as_str(), || o.ports);
    }
    let mut placed: Vec<Placed> = components
        .iter()
        .filter_map(|c| known.by_component.get(&c.as_str()))
        .flatten()
        .filter(|s| !s.optional || known.enabled.contains(&s.id))
        .map(|spec| {
            let chosen = overrides.get(spec.id.as_str()).copied();
            Placed {
                ports: chosen.unwrap_or(spec.ports),
                overridden: chosen.is_some_and(|p| p != spec.ports),
                stated: chosen.is_some(),
                spec: Rc::clone(spec),
            }
        })
        .list();
    order::sort_by(&mut placed, |a, b| {
        (a.ports, a.spec.transport, &a.spec.id).cmp(&(b.ports, b.spec.transport, &b.spec.id))
    });
    placed
}

/// Seed 000 cluster note 2: "If you have prepared multiple component
/// servers, ensure the port configuration of all component servers is
/// consistent and meets the requirements since the components are randomly
/// assigned during installation." With two or more component servers (hosts
/// of `finedatalink-cluster` that run a component-server component and not
/// FineDataLink itself), each is given every component any of them runs: its
/// ports are placed, checked and opened on every component server.
fn interchangeable_component_servers(plan: &Plan, known: &Known, hosts: &mut [DeployedHost]) {
    let Some(cluster) = known
        .profiles
        .iter()
        .find(|p| p.name == "finedatalink-cluster")
    else {
        return;
    };
    let on_main_servers = ["finedatalink", "ops-agent"];
    let server_components: Vec<&str> = cluster
        .components
        .iter()
        .map(|c| c.name.as_str())
        .filter(|c| !on_main_servers.contains(c))
        .list();
    let is_component_server = |h: &DeployedHost| {
        !h.components.iter().any(|c| c == "finedatalink")
            && h.components
                .iter()
                .any(|c| server_components.contains(&c.as_str()))
    };
    let servers: Vec<usize> = (0..hosts.len())
        .filter(|&i| is_component_server(&hosts[i]))
        .list();
    if servers.len() < 2 {
        return;
    }
    // By name, each plan host's position. Hashed, as every map and set here
    // that is only asked, never listed: its order cannot reach any output,
    // and one hash map type costs the plugins a tenth of a B-tree's code.
    let plan_hosts: Map<&str, usize> = (plan.hosts.iter().enumerate())
        .map(|(i, h)| (h.name.as_str(), i))
        .collect();
    let union: Vec<&str> = server_components
        .iter()
        .copied()
        .filter(|c| {
            servers
                .iter()
                .any(|&i| hosts[i].components.iter().any(|h| h == c))
        })
        .list();
    for i in servers {
        let host = &mut hosts[i];
        let missing: Vec<String> = union
            .iter()
            .filter(|c| !host.components.iter().any(|h| h == *c))
            .map(|c| (*c).to_string())
            .list();
        if missing.is_empty() {
            continue;
        }
        host.components = host.components.iter().cloned().chain(missing).collect();
        let host_overrides = plan_hosts
            .get(host.name.as_str())
            .map_or(&[][..], |&h| plan.hosts[h].overrides.as_slice());
        host.placed = place(
            host.components.iter(),
            known,
            &plan.overrides,
            host_overrides,
        )
        .into();
    }
}

fn attach_observations(plan: &Plan, hosts: &mut [DeployedHost], problems: &mut Problems) {
    if plan.observations.is_empty() {
        return;
    }
    // The first host of a name, as a search in plan order would find it.
    let mut by_name: Map<&str, usize> = Map::new();
    for (i, host) in hosts.iter().enumerate() {
        by_name.get_or_insert_with(host.name.as_str(), || i);
    }
    let found: Vec<Option<usize>> = plan
        .observations
        .iter()
        .map(|o| by_name.get(o.host.as_str()).copied())
        .list();
    let mut seen = Set::new();
    for ((i, observed), found) in plan.observations.iter().enumerate().zip(found) {
        let at = format!("observations[{i}]");
        let Some(host) = found.and_then(|i| hosts.get_mut(i)) else {
            problems.push(
                format!("{at}.host"),
                &observed.host,
                "not a host of the plan".into(),
            );
            continue;
        };
        if !seen.insert(observed.host.as_str()) {
            problems.push(
                format!("{at}.host"),
                &observed.host,
                "observed twice".into(),
            );
            continue;
        }
        check_observation(
            &observed.observation,
            &format!("{at}.observation"),
            problems,
        );
        host.observation = Some(Box::new(observed.clone()));
    }
}

/// Addresses in an observation must parse, like the plan's.
pub(crate) fn check_observation_error(observation: &Observation) -> Result<(), PlanError> {
    let mut problems = Problems::default();
    check_observation(observation, "observation", &mut problems);
    if problems.0.is_empty() {
        Ok(())
    } else {
        Err(PlanError {
            problems: problems.0,
        })
    }
}

fn check_observation(observation: &Observation, at: &str, problems: &mut Problems) {
    for (i, listener) in observation.listeners.iter().enumerate() {
        if plan_address(&listener.address).is_none() {
            problems.push(
                format!("{at}.listeners[{i}].address"),
                &listener.address,
                "not an IPv4 or IPv6 address".into(),
            );
        }
        if listener.port == 0 {
            problems.push(
                format!("{at}.listeners[{i}].port"),
                "0",
                "port 0 is outside 1-65535: no socket listens on it".into(),
            );
        }
    }
    if let Some(firewall) = &observation.firewall {
        for (i, open) in firewall.open.iter().enumerate() {
            for (j, source) in open.sources.iter().enumerate() {
                if plan_net(source).is_none() {
                    problems.push(
                        format!("{at}.firewall.open[{i}].sources[{j}]"),
                        source,
                        "not an IP address or CIDR".into(),
                    );
                }
            }
        }
    }
}
