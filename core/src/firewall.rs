//! Desired firewall rules: who may reach each port of each host.
//!
//! A rule admits exactly the addresses of the plan hosts that run an accessor
//! of the spec, plus the CIDRs of the client networks the spec names. The host
//! itself is left out (its own traffic never crosses its input filter from
//! outside), loopback specs get no rule, and nothing is ever admitted from
//! everywhere unless a client network says `0.0.0.0/0` itself.

use ipnet::IpNet;

use crate::model::{Accessor, Exposure};
use crate::plan::{DeployedHost, Deployment, Placed};

/// The tag portplan writes into a rule's comment, and the only rules it ever changes.
pub fn tag(spec_id: &str) -> String {
    format!("portplan:{spec_id}")
}

/// The sources admitted to `placed` on `host`, aggregated into the fewest CIDRs
/// that cover exactly the same addresses (adjacent ones merge, nothing widens),
/// IPv4 before IPv6, each by address.
pub(crate) fn sources(deployment: &Deployment, host: &DeployedHost, placed: &Placed) -> Vec<IpNet> {
    if placed.spec.exposure == Exposure::Loopback {
        return Vec::new();
    }
    let mut nets = Vec::new();
    for accessor in &placed.spec.accessed_by {
        match accessor {
            Accessor::Component(component) => nets.extend(
                peers(deployment, host)
                    .filter(|h| h.components.contains(component))
                    .map(|h| IpNet::from(h.address)),
            ),
            Accessor::Profile(profile) => nets.extend(
                peers(deployment, host)
                    .filter(|h| {
                        h.components
                            .iter()
                            .any(|c| deployment.profile_of(c).is_some_and(|p| &p.name == profile))
                    })
                    .map(|h| IpNet::from(h.address)),
            ),
            Accessor::Network(network) => nets.extend(
                deployment
                    .networks
                    .get(network)
                    .into_iter()
                    .flatten()
                    .copied(),
            ),
        }
    }
    IpNet::aggregate(&nets)
}

fn peers<'d>(
    deployment: &'d Deployment,
    host: &'d DeployedHost,
) -> impl Iterator<Item = &'d DeployedHost> {
    deployment.hosts.iter().filter(move |h| h.name != host.name)
}
