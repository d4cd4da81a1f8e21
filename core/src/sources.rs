//! Desired firewall rules: who may reach each port of each host.
//!
//! A rule admits exactly the addresses of the plan hosts that run an accessor
//! of the spec, plus the CIDRs of the client networks the spec names.
//! Loopback specs get no rule, and nothing is ever admitted from everywhere
//! unless a client network says `0.0.0.0/0` itself.
//!
//! Near-linear by construction (issue 16): who an accessor list admits is
//! worked out once per distinct list ([`Group`]: its hosts, networks and
//! aggregated CIDRs), and the report names each group once ([`SourceGroup`]),
//! its rows by the group's name.
//!
//! **The host's own address (issue 16's decision).** A rule admits every
//! host of its group, the host whose port it opens included, so that every
//! host of an all-to-all spec (OBServer RPC, the FineDataLink cluster ports)
//! admits one and the same set: named once, an n-host plan's report is O(n),
//! not n² (every peer but me is a different set on each host). What that
//! adds: the host's own connections to its plan address (which arrive on
//! `lo`, from an accessor: itself), and packets from outside forged with
//! that address as their source. On IPv4 the kernel drops the latter before
//! the input filter when the address is configured on the host and
//! `accept_local` is 0 (the default; the reverse lookup of a local source
//! fails). On IPv6, which has no such check, or where `accept_local` is set,
//! or where the plan address is not the host's own (a NAT address), a forger
//! gains no more than by forging a peer's address, which the rule admits
//! anyway (and a forged TCP handshake's answer goes to the host itself).
//! Who *reaches* a port ([`Reach`]: the port table's purpose, the findings,
//! the probe plans) still leaves the host out: it never probes itself. A row
//! whose group admits nobody but the host itself (a single OBServer) names
//! no group and gets no rule, as before.

use crate::list::List;
use crate::table::Map;
use std::cell::OnceCell;

use core::net::IpAddr;
use ipnet::IpNet;

use crate::backends::TAG_PREFIX;
use crate::deployment::{Deployment, HostId, Placed};
use crate::model::{Accessor, Exposure, SourceGroup};
use crate::nets;
use crate::order::{self, Sorted};

/// The tag portplan writes into a rule's comment, and the only rules it ever changes.
pub(crate) fn tag(spec_id: &str) -> String {
    format!("{TAG_PREFIX}{spec_id}")
}

/// Who reaches one port of one host: the plan hosts and client networks by
/// name (the addresses the rule admits: [`Sources::nets`]).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Reach {
    /// Plan hosts, in plan order: the first [`NAMED`].
    pub hosts: Vec<String>,
    /// The plan hosts past the first [`NAMED`], counted.
    pub more_hosts: usize,
    /// Client networks, by name.
    pub networks: Vec<String>,
    /// Accessors an exclusive network stands in for (`host NAME`,
    /// `network NAME`): they reach the port through it, not directly. At
    /// most [`NAMED`] hosts, then `... (N more hosts)`.
    pub fronted: Vec<String>,
}

/// Most hosts a [`Reach`] names (admitted, or fronted by an exclusive
/// network); the rest are counted.
pub(crate) const NAMED: usize = 20;

/// Who every accessor list of a deployment admits, worked out once.
pub(crate) struct Sources<'d> {
    deployment: &'d Deployment,
    /// Every accessor list's group ([`numbered`], and any list a placed spec
    /// adds).
    ids: Map<&'d [Accessor], GroupId>,
    /// The groups of the placed specs' lists, by [`GroupId`]; `None` for a
    /// list no placed spec names. A vector beside `ids` rather than a
    /// second map by accessor list: one map type fewer in the
    /// plugins (~3 KB).
    groups: Vec<Option<Group<'d>>>,
}

/// A group of [`Sources`], as a report row names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct GroupId(usize);

/// `table`'s entry for `group`, the table grown to hold it. Groups are
/// numbered from 0, so a vector by group serves as a set or map of them
/// (a B-tree keyed by group cost the plugins ~2 KB per use).
pub(crate) fn by_group<T: Default>(table: &mut Vec<T>, group: GroupId) -> &mut T {
    let i = group.index();
    if table.len() <= i {
        table.resize_with(i + 1, T::default);
    }
    &mut table[i]
}

impl GroupId {
    /// The group's number, from 0: its place in a table by group.
    pub fn index(self) -> usize {
        self.0
    }

    /// `g1`, `g2`, ...: numbered in the order the deployment's specs first
    /// name their accessor lists, so every report of a plan (the whole
    /// plan's, or one host's) gives a list the same name.
    pub fn name(self) -> String {
        format!("g{}", self.0 + 1)
    }
}

/// What one accessor list admits: every host running an accessor, and the
/// client networks.
struct Group<'d> {
    /// The group's name in every report of the deployment.
    id: GroupId,
    /// Every plan host running an accessor, in plan order.
    hosts: Vec<HostId>,
    /// The client networks the plan defines, by name.
    networks: Sorted<&'d str>,
    /// One of them is exclusive: it alone is admitted.
    exclusive: bool,
    /// The admitted CIDRs, aggregated, every accessor host included.
    nets: Vec<IpNet>,
    /// The plan hosts, in plan order, whose address `nets` does not cover,
    /// found once when a probe plan first asks.
    outside: OnceCell<Vec<HostId>>,
    /// The networks' own CIDRs, aggregated: an address they cover stays
    /// admitted when its host is left out.
    network_nets: Vec<IpNet>,
}

impl<'d> Sources<'d> {
    /// The groups of every spec in `placed` (one host's, or the whole plan's).
    pub fn new(deployment: &'d Deployment, placed: impl IntoIterator<Item = &'d Placed>) -> Self {
        let mut ids = numbered(deployment);
        let mut groups: Vec<Option<Group>> = Vec::new();
        for p in placed {
            if p.spec.exposure != Exposure::Loopback {
                let accessors = p.spec.accessed_by.as_slice();
                // Every placed spec is a profile's, so its list is numbered;
                // were one not, it would still get a name of its own.
                let next = GroupId(ids.len());
                let id = *ids.get_or_insert_with(accessors, || next);
                by_group(&mut groups, id)
                    .get_or_insert_with(|| Group::new(deployment, accessors, id));
            }
        }
        Sources {
            deployment,
            ids,
            groups,
        }
    }

    /// The group the rule of `placed` on host `id` admits, when it admits
    /// anyone but the host itself.
    pub fn group_of(&self, id: HostId, placed: &Placed) -> Option<GroupId> {
        let group = self.group(placed)?;
        // Cut out, the host's address leaves nothing only when it is the
        // group's one CIDR, a single address (no pieces are built to see).
        let others = match self.cut_at(group, id) {
            Some(i) => {
                group.nets.len() > 1 || group.nets[i].prefix_len() < group.nets[i].max_prefix_len()
            }
            None => !group.nets.is_empty(),
        };
        others.then_some(group.id)
    }

    /// Whether the group of `placed` admits a client network (the exclusive
    /// one when there is one).
    pub fn names_networks(&self, placed: &Placed) -> bool {
        self.group(placed)
            .is_some_and(|g| !g.admitted_networks(self.deployment).is_empty())
    }

    /// The report's record of the group of `placed` (which names it).
    pub fn source_group(&self, placed: &Placed) -> Option<SourceGroup> {
        let group = self.group(placed)?;
        let deployment = self.deployment;
        let hosts = if group.exclusive {
            Vec::new()
        } else {
            let name = |h: &HostId| deployment.host(*h).name.clone();
            group.hosts.iter().map(name).list()
        };
        Some(SourceGroup {
            name: group.id.name(),
            sources: group.nets.iter().map(text).list(),
            hosts,
            networks: group.admitted_networks(deployment),
        })
    }

    fn group(&self, placed: &Placed) -> Option<&Group<'d>> {
        if placed.spec.exposure == Exposure::Loopback {
            return None;
        }
        let id = self.ids.get(placed.spec.accessed_by.as_slice())?;
        self.groups.get(id.0)?.as_ref()
    }

    /// Who reaches `placed` on host `id` when an exclusive network fronts
    /// it, for the port table's purpose; None otherwise, without the
    /// per-peer work of [`Sources::reach`] (a row of an all-to-all spec would
    /// name every peer: n² for the whole report).
    pub fn fronted(&self, id: HostId, placed: &Placed) -> Option<Reach> {
        let group = self.group(placed)?;
        group.exclusive.then(|| self.reach(id, placed))
    }

    /// Who reaches `placed` on host `id`.
    pub fn reach(&self, id: HostId, placed: &Placed) -> Reach {
        let Some(group) = self.group(placed) else {
            return Reach::default();
        };
        let deployment = self.deployment;
        // Named up to a cap, then counted: every row of an all-to-all spec
        // on every host says this (the report's purpose, each probe's why),
        // so full lists would grow with the square of the hosts.
        let hosts: Vec<String> = group
            .hosts
            .iter()
            .filter(|&&h| h != id)
            .take(NAMED)
            .map(|h| deployment.host(*h).name.clone())
            .list();
        let member = usize::from(group.hosts.binary_search(&id).is_ok());
        let more_hosts = group.hosts.len() - member - hosts.len();
        if group.exclusive {
            // Seed 001: "In general, other components access OCP-Server
            // through SLB or DNS address." An exclusive network is admitted
            // alone; whom it stands in for is returned for the report.
            let (exclusive, others): (Vec<&str>, Vec<&str>) = group
                .networks
                .iter()
                .partition(|n| deployment.exclusive.contains(**n));
            let mut fronted: Vec<String> = hosts.iter().map(|h| format!("host {h}")).list();
            if more_hosts > 0 {
                fronted.push(format!("... ({more_hosts} more hosts)"));
            }
            fronted.extend(others.iter().map(|n| format!("network {n}")));
            return Reach {
                hosts: Vec::new(),
                more_hosts: 0,
                networks: exclusive.into_iter().map(str::to_string).list(),
                fronted,
            };
        }
        Reach {
            hosts,
            more_hosts,
            networks: group.networks.iter().map(|n| (*n).to_string()).list(),
            fronted: Vec::new(),
        }
    }

    /// The CIDRs the group of `placed` admits, what every host's rule of it
    /// admits (its own address included: the decision above), sorted and
    /// disjoint, so whether one of them covers an address is a binary
    /// search ([`covers`]).
    pub fn nets(&self, placed: &Placed) -> &[IpNet] {
        self.group(placed)
            .map_or(&[], |group| group.nets.as_slice())
    }

    /// The plan hosts, in plan order, whose address the rule of `placed`
    /// does not admit: worked out once per group for every probe plan drawn
    /// from these sources (each port's negative test is looked up among
    /// them, not scanned for over every host). None for a loopback spec.
    pub fn outside(&self, placed: &Placed) -> Option<&[HostId]> {
        let group = self.group(placed)?;
        let outside = group.outside.get_or_init(|| {
            let deployment = self.deployment;
            let out = |id: &HostId| !covers(&group.nets, deployment.host(*id).address);
            deployment.ids().filter(out).list()
        });
        Some(outside)
    }

    /// How many CIDRs the group of `placed` admits, without formatting
    /// them (the report's size is checked before it is built).
    pub fn count(&self, placed: &Placed) -> usize {
        self.group(placed).map_or(0, |group| group.nets.len())
    }

    /// Where host `id`'s address would be cut out of the group's CIDRs: the
    /// position of the CIDR holding it, when the host is an accessor whose
    /// address no network covers (a rule that admitted only that address
    /// would admit nobody but the host itself).
    fn cut_at(&self, group: &Group, id: HostId) -> Option<usize> {
        let address = self.deployment.host(id).address;
        let accessor = group.hosts.binary_search(&id).is_ok();
        let i = holder(&group.nets, address)?;
        (accessor && holder(&group.network_nets, address).is_none()).then_some(i)
    }
}

impl<'d> Group<'d> {
    /// The client networks the group admits, by name: the exclusive ones
    /// alone when there is one.
    fn admitted_networks(&self, deployment: &Deployment) -> Vec<String> {
        let admitted = |n: &&&str| !self.exclusive || deployment.exclusive.contains(**n);
        let networks = self.networks.iter().filter(admitted);
        networks.map(|n| (*n).to_string()).list()
    }

    fn new(deployment: &'d Deployment, accessors: &[Accessor], id: GroupId) -> Self {
        let mut hosts: Vec<HostId> = Vec::new();
        let mut networks = Vec::new();
        for accessor in accessors {
            match accessor {
                Accessor::Component(c) => hosts.extend_from_slice(deployment.running(c)),
                Accessor::Profile(p) => hosts.extend_from_slice(deployment.members(p)),
                Accessor::Network(n) => {
                    if let Some((name, _)) = deployment.networks.get_key_value(n) {
                        networks.push(name.as_str());
                    }
                }
            }
        }
        order::sort(&mut hosts);
        hosts.dedup();
        let networks = Sorted::new(networks);
        let exclusive = networks.iter().any(|n| deployment.exclusive.contains(*n));
        let admitted = networks
            .iter()
            .filter(|n| !exclusive || deployment.exclusive.contains(**n));
        let network_nets: Vec<IpNet> = admitted
            .flat_map(|n| deployment.networks.get(*n).into_iter().flatten().copied())
            .list();
        let network_nets = nets::aggregate(&network_nets);
        let nets = if exclusive {
            network_nets.clone()
        } else {
            let mut all: Vec<IpNet> = hosts
                .iter()
                .map(|&h| IpNet::from(deployment.host(h).address))
                .list();
            all.extend(&network_nets);
            nets::aggregate(&all)
        };
        // Aggregated: disjoint, IPv4 before IPv6, each by address, which is
        // what `covers` searches.
        debug_assert!(
            nets.windows(2)
                .all(|w| order(w[0].broadcast()) < order(w[1].network()))
        );
        Group {
            id,
            hosts,
            networks,
            exclusive,
            outside: OnceCell::new(),
            nets,
            network_nets,
        }
    }
}

/// A CIDR as the report writes it, as `IpNet`'s `Display` does. An IPv4
/// one is written without `core::fmt` (a fifth of a 5,000-host plan's
/// `check-host` went to formatting its sources piece by piece), in one
/// allocation.
fn text(net: &IpNet) -> String {
    let IpNet::V4(v4) = net else {
        return net.to_string();
    };
    let mut text = String::with_capacity(18);
    let mut digits = itoa::Buffer::new();
    for (i, octet) in v4.addr().octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        text.push_str(digits.format(octet));
    }
    text.push('/');
    text.push_str(digits.format(v4.prefix_len()));
    text
}

/// Whether one of `nets` (aggregated: sorted and disjoint) covers
/// `address`, by binary search.
pub(crate) fn covers(nets: &[IpNet], address: IpAddr) -> bool {
    holder(nets, address).is_some()
}

/// Every accessor list of the deployment's non-loopback specs, numbered in
/// the order its profiles (in plan order) and their specs first name it:
/// the same in every report of the plan, and worked out from the specs, not
/// from every host's port table (a one-host report stays independent of the
/// fleet's size).
fn numbered(deployment: &Deployment) -> Map<&[Accessor], GroupId> {
    let mut ids = Map::new();
    let specs = deployment.profiles.iter().flat_map(|p| &p.specs);
    for spec in specs.filter(|s| s.exposure != Exposure::Loopback) {
        let next = GroupId(ids.len());
        ids.get_or_insert_with(spec.accessed_by.as_slice(), || next);
    }
    ids
}

/// Where an address sorts among aggregated CIDRs: IPv4 before IPv6, then by
/// address, the order `nets::aggregate` returns them in.
fn order(address: IpAddr) -> (bool, u128) {
    match address {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    }
}

/// The position of the CIDR holding `address` among aggregated (sorted,
/// disjoint) CIDRs, by binary search.
fn holder(nets: &[IpNet], address: IpAddr) -> Option<usize> {
    let after = nets.partition_point(|n| order(n.network()) <= order(address));
    let i = after.checked_sub(1)?;
    nets[i].contains(&address).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(texts: &[&str]) -> Vec<IpNet> {
        texts.iter().filter_map(|t| t.parse().ok()).collect()
    }

    #[test]
    fn a_cidr_is_written_as_ipnet_writes_it() {
        let mut written = 0;
        for address in [
            0u32,
            1,
            9,
            10,
            99,
            100,
            255,
            256,
            0x0a00_0001,
            0xc612_0a0b,
            u32::MAX,
        ] {
            for prefix in [0u8, 1, 8, 9, 10, 24, 31, 32] {
                let v4 = ipnet::Ipv4Net::new(address.into(), prefix).expect("prefix");
                let net = IpNet::V4(v4);
                assert_eq!(text(&net), net.to_string());
                written += 1;
            }
        }
        let v6: IpNet = "fd00::1/128".parse().expect("v6");
        assert_eq!(text(&v6), "fd00::1/128");
        assert_eq!(written, 88);
    }

    #[test]
    fn the_holder_of_an_address_is_found_by_binary_search() {
        let all = nets(&["10.0.0.0/29", "10.0.0.8/32", "fd00::/126"]);
        assert_eq!(holder(&all, "10.0.0.8".parse().expect("a")), Some(1));
        assert_eq!(holder(&all, "10.0.0.9".parse().expect("a")), None);
        assert_eq!(holder(&all, "fd00::3".parse().expect("a")), Some(2));
        assert_eq!(holder(&all, "fd00::4".parse().expect("a")), None);
    }
}
