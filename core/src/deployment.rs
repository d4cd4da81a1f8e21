//! The deployment model: a plan in which every name resolved and every
//! address parsed, the input of the rules and of the port tables.

use std::collections::{BTreeMap, BTreeSet};

use core::net::IpAddr;
use ipnet::IpNet;

use crate::model::{DeployUser, HostObservation, PortRange, PortSpec, Profile};

/// A spec placed on a host with its effective ports.
#[derive(Debug, Clone)]
pub(crate) struct Placed {
    pub spec: PortSpec,
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
    pub components: Vec<String>,
    pub deploy_user: DeployUser,
    /// Specs of its components, by port then transport then id.
    pub placed: Vec<Placed>,
    pub observation: Option<HostObservation>,
}

/// A plan whose every reference resolves: the input of the rules.
#[derive(Debug, Clone)]
pub(crate) struct Deployment {
    pub name: String,
    pub profiles: Vec<Profile>,
    pub hosts: Vec<DeployedHost>,
    /// Client networks by name, aggregated.
    pub networks: BTreeMap<String, Vec<IpNet>>,
    /// The networks every client goes through (`exclusive` in the plan).
    pub exclusive: BTreeSet<String>,
}

impl Deployment {
    /// The profile that defines `component`.
    pub fn profile_of(&self, component: &str) -> Option<&Profile> {
        self.profiles
            .iter()
            .find(|p| p.components.iter().any(|c| c.name == component))
    }

    pub fn host_index(&self, name: &str) -> Option<usize> {
        self.hosts.iter().position(|h| h.name == name)
    }
}
