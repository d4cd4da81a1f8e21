//! The deployment model: a plan in which every name resolved and every
//! address parsed, the input of the rules and of the port tables.
//!
//! A deployment also carries the indexes the rules and the port tables look
//! names up in (host by name, component to profile, who runs a component or
//! a profile), built once when it is resolved: every rule then answers "which
//! hosts run X" from a sorted list instead of rescanning every host, which
//! made validation quadratic in the hosts (issue 16).

use crate::list::List;
use crate::table::Map;
use std::rc::Rc;

use core::net::IpAddr;
use ipnet::IpNet;

use crate::model::{DeployUser, HostObservation, PortRange, PortSpec, Profile};
use crate::order::{self, Sorted, SortedMap};

/// A spec placed on a host with its effective ports.
#[derive(Debug, Clone)]
pub(crate) struct Placed {
    /// Shared by every host the spec is placed on: a spec carries its
    /// purpose and source texts, and copying them per host made resolving a
    /// large plan cost more than validating one host of it.
    pub spec: Rc<PortSpec>,
    pub ports: PortRange,
    pub overridden: bool,
    /// The plan names its ports (an override, even one equal to the default).
    pub stated: bool,
}

/// A plan host, resolved.
#[derive(Debug, Clone)]
pub(crate) struct DeployedHost {
    pub name: String,
    pub address: IpAddr,
    pub address_text: String,
    /// Shared by every host that lists the same components.
    pub components: Rc<[String]>,
    pub deploy_user: DeployUser,
    /// Specs of its components, by port then transport then id: one
    /// allocation shared by every host of the same components.
    pub placed: Rc<[Placed]>,
    /// Boxed: most hosts of a large plan have none, and a host is read far
    /// more often than its observation.
    pub observation: Option<Box<HostObservation>>,
}

/// A host of a [`Deployment`] by its plan position. Ordering ids is ordering
/// hosts in plan order, which is the order every report lists them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct HostId(u32);

impl HostId {
    /// The position in [`Deployment::hosts`]. A `u32` holds every plan the
    /// input limits admit, and ids are only made by [`Deployment::ids`].
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A plan whose every reference resolves: the input of the rules.
#[derive(Debug, Clone)]
pub(crate) struct Deployment {
    pub name: String,
    pub profiles: Vec<Profile>,
    pub hosts: Vec<DeployedHost>,
    /// Client networks by name, aggregated.
    pub networks: SortedMap<String, Vec<IpNet>>,
    /// The networks every client goes through (`exclusive` in the plan).
    pub exclusive: Sorted<String>,
    index: Index,
}

/// Name lookups, built once per deployment.
#[derive(Debug, Clone, Default)]
struct Index {
    /// Every host, sorted by name (for a binary search, without copying
    /// the names).
    by_name: Vec<HostId>,
    /// Component name to the position of the first profile defining it.
    /// (Hashed, as the maps below: only asked, never listed.)
    profile_of: Map<String, usize>,
    /// Component name to the hosts running it, in plan order.
    runs: Map<String, Vec<HostId>>,
    /// Profile name to the hosts running any of its components, in plan order.
    members: Map<String, Vec<HostId>>,
}

impl Deployment {
    pub fn new(
        name: String,
        profiles: Vec<Profile>,
        hosts: Vec<DeployedHost>,
        networks: SortedMap<String, Vec<IpNet>>,
        exclusive: Sorted<String>,
    ) -> Self {
        let mut deployment = Deployment {
            name,
            profiles,
            hosts,
            networks,
            exclusive,
            index: Index::default(),
        };
        deployment.index = Index::new(&deployment);
        deployment
    }

    /// Every host's id, in plan order.
    pub fn ids(&self) -> impl Iterator<Item = HostId> + use<> {
        (0..self.hosts.len()).map(|i| HostId(u32::try_from(i).unwrap_or(u32::MAX)))
    }

    /// The host of `id`; ids come from this deployment, so it exists.
    pub fn host(&self, id: HostId) -> &DeployedHost {
        &self.hosts[id.index()]
    }

    /// The profile that defines `component`.
    pub fn profile_of(&self, component: &str) -> Option<&Profile> {
        self.index
            .profile_of
            .get(component)
            .and_then(|&i| self.profiles.get(i))
    }

    pub fn host_id(&self, name: &str) -> Option<HostId> {
        let by_name = &self.index.by_name;
        let i = by_name.partition_point(|&id| self.host(id).name.as_str() < name);
        by_name
            .get(i)
            .copied()
            .filter(|&id| self.host(id).name == name)
    }

    /// The hosts that run `component`, in plan order.
    pub fn running(&self, component: &str) -> &[HostId] {
        self.index.runs.get(component).map_or(&[], Vec::as_slice)
    }

    /// The hosts that run any component of `profile`, in plan order.
    pub fn members(&self, profile: &str) -> &[HostId] {
        self.index.members.get(profile).map_or(&[], Vec::as_slice)
    }
}

impl Index {
    fn new(deployment: &Deployment) -> Self {
        let mut index = Index::default();
        for (i, profile) in deployment.profiles.iter().enumerate() {
            for component in &profile.components {
                // The first definer wins, as a search in profile order would.
                index
                    .profile_of
                    .get_or_insert_with(component.name.clone(), || i);
            }
        }
        index.by_name = deployment.ids().list();
        // Stable: of two hosts of one name (a plan resolve rejects), the first.
        order::sort_by(&mut index.by_name, |a, b| {
            deployment.host(*a).name.cmp(&deployment.host(*b).name)
        });
        // One buffer for every host's profiles, not a set each.
        let mut profiles = Vec::new();
        for (id, host) in deployment.ids().zip(&deployment.hosts) {
            profiles.clear();
            for component in host.components.iter() {
                push(&mut index.runs, component, id);
                profiles.extend(index.profile_of.get(component).copied());
            }
            order::sort(&mut profiles);
            profiles.dedup();
            for &p in &profiles {
                push(&mut index.members, &deployment.profiles[p].name, id);
            }
        }
        index
    }
}

/// `id` appended to the hosts of `name`; the name is copied only the first
/// time, not once per host.
fn push(map: &mut Map<String, Vec<HostId>>, name: &str, id: HostId) {
    match map.get_mut(name) {
        Some(ids) => ids.push(id),
        None => {
            map.insert(name.to_string(), vec![id]);
        }
    }
}
