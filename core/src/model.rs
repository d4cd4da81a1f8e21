//! The data model, one Rust type per type of `wit/portplan.wit`.
//!
//! Field and case names follow the WIT in kebab-case, so the JSON that the
//! Extism plugin, the CLI and the page exchange is the WIT record written out.
//! Input is strict (`deny_unknown_fields`); a list or option the input leaves
//! out defaults to empty, and output always writes every field.

use std::fmt;
use std::sync::Arc;

use crate::reach::{Expectation, ProbeOutcome, Verdict};
use crate::{Decode, Encode};
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// An inclusive range of ports; a single port has `first == last`.
///
/// Input accepts a bare number (`8080`), the same as text (`"8080"`,
/// `"8000-8010"`), or `{"first": .., "last": ..}`;
/// output is always the record. Port 0 and `first > last` are rejected here,
/// so every `PortRange` in the program is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Encode)]
#[serde(rename_all = "kebab-case")]
pub struct PortRange {
    /// The lowest port of the range.
    pub first: u16,
    /// The highest port of the range, inclusive.
    pub last: u16,
}

impl PortRange {
    /// A range of one port.
    pub const fn single(port: u16) -> Self {
        PortRange {
            first: port,
            last: port,
        }
    }

    /// How many ports the range holds (never 0).
    pub fn count(self) -> u32 {
        u32::from(self.last) - u32::from(self.first) + 1
    }

    /// Whether this is a range of exactly one port.
    pub fn is_single(self) -> bool {
        self.first == self.last
    }

    /// Whether `port` lies inside the range.
    pub fn contains(self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }

    /// The ports both ranges hold, if any.
    pub fn intersection(self, other: PortRange) -> Option<PortRange> {
        let first = self.first.max(other.first);
        let last = self.last.min(other.last);
        (first <= last).then_some(PortRange { first, last })
    }

    fn checked(first: u64, last: u64) -> Result<Self, String> {
        for port in [first, last] {
            if port == 0 || port > 65535 {
                return Err(format!("port {port} is outside 1-65535"));
            }
        }
        if first > last {
            return Err(format!("first port {first} is above last port {last}"));
        }
        Ok(PortRange {
            first: first as u16,
            last: last as u16,
        })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RangeVisitor;

        impl<'de> Visitor<'de> for RangeVisitor {
            type Value = PortRange;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port number 1-65535 or {\"first\": port, \"last\": port}")
            }

            fn visit_u64<E: de::Error>(self, port: u64) -> Result<PortRange, E> {
                PortRange::checked(port, port).map_err(E::custom)
            }

            fn visit_i64<E: de::Error>(self, port: i64) -> Result<PortRange, E> {
                Err(E::custom(format!("port {port} is outside 1-65535")))
            }

            /// Templating tools (Ansible's Jinja, YAML quoting) hand numbers
            /// over as text: `"8080"` and `"8000-8010"` mean what they say.
            fn visit_str<E: de::Error>(self, text: &str) -> Result<PortRange, E> {
                let number = |part: &str| {
                    part.trim().parse::<u64>().map_err(|_| {
                        E::custom(format!(
                            "{} is not a port number or a range like \"8000-8010\"",
                            crate::decode::debug_quoted(text)
                        ))
                    })
                };
                let (first, last) = match text.split_once('-') {
                    Some((first, last)) => (number(first)?, number(last)?),
                    None => (number(text)?, number(text)?),
                };
                PortRange::checked(first, last).map_err(E::custom)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PortRange, A::Error> {
                let (mut first, mut last) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    let slot = match key.as_str() {
                        "first" => &mut first,
                        "last" => &mut last,
                        other => return Err(de::Error::unknown_field(other, &["first", "last"])),
                    };
                    if slot.is_some() {
                        return Err(de::Error::custom(format!("duplicate field `{key}`")));
                    }
                    *slot = Some(map.next_value::<u64>()?);
                }
                let first = first.ok_or_else(|| de::Error::missing_field("first"))?;
                let last = last.ok_or_else(|| de::Error::missing_field("last"))?;
                PortRange::checked(first, last).map_err(de::Error::custom)
            }
        }

        deserializer.deserialize_any(RangeVisitor)
    }
}

/// Layer-4 transport of a port.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Decode, Encode,
)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Transport {
    /// The lower-case name used by every firewall backend.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// The WIT's (and JSON's) kebab-case spelling of unit enums, in one place
/// each: `as_str` on every enum that text is built from.
macro_rules! spelled {
    ($($name:ident { $($case:ident => $text:literal),* $(,)? })*) => {$(
        impl $name {
            /// The WIT's (and JSON's) spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$case => $text),* }
            }
        }
    )*};
}

spelled! {
    Exposure { Loopback => "loopback", Peers => "peers", Browser => "browser" }
    Severity { Error => "error", Warning => "warning", Info => "info" }
    FirewallBackend {
        Firewalld => "firewalld", Ufw => "ufw", Nftables => "nftables", Iptables => "iptables",
        None => "none",
    }
    FindingCode {
        PortConflict => "port-conflict", PortInUse => "port-in-use",
        NotListening => "not-listening", PrivilegedPort => "privileged-port",
        BrowserBlockedPort => "browser-blocked-port", EphemeralCollision => "ephemeral-collision",
        FixedPortOverride => "fixed-port-override", InconsistentPort => "inconsistent-port",
        LoopbackExposed => "loopback-exposed", InvalidPlan => "invalid-plan",
        NoAllowedSources => "no-allowed-sources", FirewallDrift => "firewall-drift",
        Unreachable => "unreachable", Overexposed => "overexposed",
    }
    Phase { Preinstall => "preinstall", Postinstall => "postinstall" }
    Expectation { Allow => "allow", Deny => "deny" }
    ProbeOutcome {
        Connected => "connected", WrongResponder => "wrong-responder", Timeout => "timeout",
        Refused => "refused", Unreachable => "unreachable", Error => "error",
    }
    Verdict { AsExpected => "as-expected", Mismatch => "mismatch", Unknown => "unknown" }
}

/// Whether a spec names a port or a pool the service picks from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case")]
pub enum Allocation {
    /// The service listens on exactly these ports.
    Fixed,
    /// The service picks any free port of the range at run time.
    Pool,
}

/// Who may reach a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case")]
pub enum Exposure {
    /// Local only: never opened in a firewall.
    Loopback,
    /// Opened only to the spec's accessors.
    Peers,
    /// People reach it with a web browser: browser-blocked ports are errors.
    Browser,
}

/// How bad a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Decode, Encode,
)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// The deployment will fail or be unsafe as planned.
    Error,
    /// It may work, but something needs a look.
    Warning,
    /// Worth knowing; nothing to fix.
    Info,
}

/// Whether the services are deployed by root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case")]
pub enum DeployUser {
    /// Deployed as root: any port may be bound.
    Root,
    /// Deployed as another user: ports below `ip_unprivileged_port_start` cannot be bound.
    NonRoot,
}

/// When a host is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Before install: planned ports must be free.
    Preinstall,
    /// After install: fixed ports must be listening.
    Postinstall,
}

/// A firewall implementation on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case")]
pub enum FirewallBackend {
    /// firewalld (zones, rich rules).
    Firewalld,
    /// Uncomplicated Firewall.
    Ufw,
    /// nftables.
    Nftables,
    /// iptables and ip6tables.
    Iptables,
    /// No firewall: report only.
    None,
}

/// The stable code of a finding.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Decode, Encode,
)]
#[serde(rename_all = "kebab-case")]
pub enum FindingCode {
    /// Two specs on one host claim overlapping ports.
    PortConflict,
    /// Before install, a planned port is held by a process.
    PortInUse,
    /// After install, a fixed port has no listener reachable from the network.
    NotListening,
    /// A port below `ip_unprivileged_port_start` for a non-root deployment.
    PrivilegedPort,
    /// A browser-facing port on the WHATWG Fetch bad-port list.
    BrowserBlockedPort,
    /// A fixed port inside the kernel's ephemeral range and not reserved.
    EphemeralCollision,
    /// An override moves a port the vendor says cannot be changed.
    FixedPortOverride,
    /// A port that must be equal on every server differs.
    InconsistentPort,
    /// A loopback-only port is reachable from other hosts.
    LoopbackExposed,
    /// The plan is incomplete (e.g. a required component is missing).
    InvalidPlan,
    /// A network-facing port that nobody in the plan is allowed to reach.
    NoAllowedSources,
    /// The host's firewall is not as planned: a portplan rule is missing,
    /// extra or altered (found by the audit of `state: checked`).
    FirewallDrift,
    /// The probe: a source the plan admits could not connect.
    Unreachable,
    /// The probe: a source the plan does not admit connected.
    Overexposed,
}

/// Output format of `render-report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case")]
pub enum ReportFormat {
    /// The report record as pretty JSON.
    Json,
    /// A readable text table of ports and findings.
    Table,
    /// The network team's request sheet as a Markdown table.
    Markdown,
    /// The network team's request sheet as CSV.
    Csv,
}

/// Who reaches a port.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Decode, Encode,
)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Accessor {
    /// Every plan host that runs this component.
    Component(String),
    /// The CIDRs of this named client network of the plan.
    Network(String),
    /// Every plan host that runs any component of this profile.
    Profile(String),
}

/// Whether and how a port can be changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Modifiable {
    /// The vendor says the port cannot be changed.
    NotSupported,
    /// How the vendor says to change it.
    Configurable(String),
}

/// A deployable unit of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Component {
    /// Unique name, lower-case with dashes, e.g. `ocp-server`.
    pub name: String,
    /// Vendor's name, e.g. `OCP-Server`.
    pub title: String,
    /// What it is.
    #[serde(default)]
    pub description: String,
    /// A plan using the profile must place it on at least one host.
    #[serde(default)]
    pub required: bool,
}

/// A client network a profile's specs refer to, defined with CIDRs by the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NetworkRole {
    /// Name used in `accessed-by`, e.g. `admin`.
    pub name: String,
    /// Who they are.
    #[serde(default)]
    pub description: String,
}

/// One row of a vendor port table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PortSpec {
    /// Stable id, `component.name`, e.g. `ocp-server.http`.
    pub id: String,
    /// The component that listens.
    pub component: String,
    /// The port or inclusive range.
    pub ports: PortRange,
    /// tcp or udp.
    pub transport: Transport,
    /// Application protocol (http, grpc, mysql, ...): informational.
    #[serde(default)]
    pub protocol: String,
    /// A port, or a pool the service picks from.
    pub allocation: Allocation,
    /// Who may reach it.
    pub exposure: Exposure,
    /// Components, profiles and client networks that connect to it.
    #[serde(default)]
    pub accessed_by: Vec<Accessor>,
    /// Whether and how the port can be changed.
    pub modifiable: Modifiable,
    /// Must be the same port on every host that runs the component.
    #[serde(default)]
    pub same_on_all_hosts: bool,
    /// Not in the vendor table: off unless the plan enables it.
    #[serde(default)]
    pub optional: bool,
    /// What the port is for.
    pub purpose: String,
    /// Where the row comes from.
    pub source: String,
}

/// A product's port table: components, client networks and port specs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Profile {
    /// Unique name, e.g. `ocp`.
    pub name: String,
    /// Readable name.
    pub title: String,
    /// What the profile covers.
    #[serde(default)]
    pub description: String,
    /// The vendor document it is derived from.
    #[serde(default)]
    pub source: String,
    /// Deployable units.
    pub components: Vec<Component>,
    /// Client networks the specs refer to.
    #[serde(default)]
    pub networks: Vec<NetworkRole>,
    /// The port table.
    pub specs: Vec<PortSpec>,
}

/// A named set of CIDRs for people and systems outside the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ClientNetwork {
    /// Name referred to by `accessed-by`, e.g. `admin`.
    pub name: String,
    /// Addresses or CIDRs, IPv4 or IPv6.
    pub cidrs: Vec<String>,
    /// Who they are.
    #[serde(default)]
    pub description: String,
    /// Every client goes through these addresses (a load balancer in front
    /// of a service): a port that admits this network admits it instead of,
    /// not besides, its other accessors.
    #[serde(default)]
    pub exclusive: bool,
}

/// A port moved away from the vendor's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PortOverride {
    /// Spec id, e.g. `ocp-server.http`.
    pub spec: String,
    /// The new port or range.
    pub ports: PortRange,
}

/// A machine of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PlanHost {
    /// Unique name (the Ansible inventory name).
    pub name: String,
    /// Unique IPv4 or IPv6 address others reach it at.
    pub address: String,
    /// Components it runs.
    pub components: Vec<String>,
    /// Overrides the plan's deploy user for this host.
    #[serde(default)]
    pub deploy_user: Option<DeployUser>,
    /// Overrides for this host only; they win over the plan's.
    #[serde(default)]
    pub overrides: Vec<PortOverride>,
}

/// What was observed on a host, with the phase it was observed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HostObservation {
    /// Plan host name.
    pub host: String,
    /// Before or after install.
    pub phase: Phase,
    /// What was seen.
    pub observation: Observation,
}

/// A deployment: profiles, hosts, client networks and overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Plan {
    /// Name of the deployment.
    pub name: String,
    /// Catalog (or custom) profiles deployed.
    pub profiles: Vec<String>,
    /// Who deploys the services (default root).
    #[serde(default)]
    pub deploy_user: Option<DeployUser>,
    /// The machines.
    pub hosts: Vec<PlanHost>,
    /// Client networks outside the plan.
    #[serde(default)]
    pub networks: Vec<ClientNetwork>,
    /// Overrides for every host.
    #[serde(default)]
    pub overrides: Vec<PortOverride>,
    /// Optional spec ids turned on.
    #[serde(default)]
    pub enable: Vec<String>,
    /// Profiles defined by the plan itself.
    #[serde(default)]
    pub custom_profiles: Vec<Profile>,
    /// Pasted or gathered observations, checked with the plan.
    #[serde(default)]
    pub observations: Vec<HostObservation>,
}

/// A socket in LISTEN state (TCP) or bound (UDP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Listener {
    /// tcp or udp.
    pub transport: Transport,
    /// Local address, e.g. `0.0.0.0`, `::`, `127.0.0.1`.
    pub address: String,
    /// Local port.
    pub port: u16,
    /// For an IPv6 socket: it does not accept IPv4.
    #[serde(default)]
    pub v6only: bool,
    /// Owning process.
    #[serde(default)]
    pub pid: Option<u32>,
    /// Owning process's command name.
    #[serde(default)]
    pub command: Option<String>,
}

/// A port the host's firewall currently admits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct OpenPort {
    /// tcp or udp.
    pub transport: Transport,
    /// The ports admitted.
    pub ports: PortRange,
    /// Admitted sources as CIDRs; empty means from anywhere.
    #[serde(default)]
    pub sources: Vec<String>,
    /// `portplan:<spec-id>` when portplan added the rule.
    #[serde(default)]
    pub tag: Option<String>,
}

/// The firewall as observed on a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ObservedFirewall {
    /// Which firewall is active.
    pub backend: FirewallBackend,
    /// What it admits.
    #[serde(default)]
    pub open: Vec<OpenPort>,
}

/// Everything known about a host's state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Observation {
    /// Listening TCP and bound UDP sockets.
    #[serde(default)]
    pub listeners: Vec<Listener>,
    /// `net.ipv4.ip_local_port_range`.
    #[serde(default)]
    pub ip_local_port_range: Option<PortRange>,
    /// `net.ipv4.ip_local_reserved_ports`.
    #[serde(default)]
    pub ip_local_reserved_ports: Vec<PortRange>,
    /// `net.ipv4.ip_unprivileged_port_start`.
    #[serde(default)]
    pub ip_unprivileged_port_start: Option<u32>,
    /// Effective uid of the observer.
    #[serde(default)]
    pub effective_uid: Option<u32>,
    /// The active firewall and what it admits.
    #[serde(default)]
    pub firewall: Option<ObservedFirewall>,
}

/// One problem found by the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Finding {
    /// Stable code.
    pub code: FindingCode,
    /// How bad.
    pub severity: Severity,
    /// The host, when the finding is about one.
    pub host: Option<String>,
    /// The component, when the finding is about one.
    pub component: Option<String>,
    /// The spec id, when the finding is about one.
    pub spec: Option<String>,
    /// The ports concerned.
    pub ports: Option<PortRange>,
    /// What is wrong.
    pub message: String,
    /// One line that fixes it.
    pub fix: String,
}

/// One row of a host's port table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PortEntry {
    /// Spec id.
    pub spec: String,
    /// Component that listens.
    pub component: String,
    /// Effective ports (after overrides).
    pub ports: PortRange,
    /// tcp or udp.
    pub transport: Transport,
    /// Application protocol.
    pub protocol: String,
    /// Port or pool.
    pub allocation: Allocation,
    /// Who may reach it.
    pub exposure: Exposure,
    /// The report's source group the desired firewall rule admits, by
    /// name; none when the port admits nobody (loopback, or no accessor but
    /// the host itself).
    pub group: Option<String>,
    /// What it is for.
    pub purpose: String,
    /// Whether an override moved it from the vendor default.
    pub overridden: bool,
}

/// A host's port table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct HostPorts {
    /// Plan host name.
    pub host: String,
    /// Its address.
    pub address: String,
    /// Its ports, by port number.
    pub ports: Vec<PortEntry>,
}

/// Who a report's rows admit, listed once however many rows admit them
/// (issue 16: an all-to-all spec of n hosts names its n peers once, not in
/// each of the n rows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SourceGroup {
    /// `g1`, `g2`, ...: one per distinct accessor list, numbered in the
    /// order of the plan's specs, so unique in a report and the same in
    /// every report of the plan.
    pub name: String,
    /// The admitted addresses as the fewest CIDRs, IPv4 first: every host
    /// running an accessor (the one whose port it opens included) and the
    /// client networks; an exclusive network's CIDRs alone when one fronts
    /// the port (and then `hosts` is empty).
    pub sources: Vec<String>,
    /// The plan hosts behind `sources`, by name, in plan order.
    pub hosts: Vec<String>,
    /// The client networks behind `sources`, by name.
    pub networks: Vec<String>,
}

/// A rule the host's firewall should hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FirewallRule {
    /// Plan host name whose firewall holds it.
    pub host: String,
    /// The spec it opens.
    pub spec: String,
    /// `portplan:<spec-id>`, written into the backend's comment field.
    pub tag: String,
    /// tcp or udp.
    pub transport: Transport,
    /// The ports opened.
    pub ports: PortRange,
    /// Exactly the sources admitted, as aggregated CIDRs: shared by the
    /// rules that admit one source group (with a 5,000-host plan, eleven
    /// rules of one host list the same 2,000 sources).
    pub sources: Arc<[String]>,
    /// What it is for.
    pub purpose: String,
}

/// How many findings of each severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Summary {
    /// Error findings.
    pub errors: u32,
    /// Warning findings.
    pub warnings: u32,
    /// Info findings.
    pub infos: u32,
}

/// The result of validating a plan or checking a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Report {
    /// Plan name.
    pub plan: String,
    /// Counts by severity.
    pub summary: Summary,
    /// All findings, errors first.
    pub findings: Vec<Finding>,
    /// Per-host port tables, in plan order.
    pub hosts: Vec<HostPorts>,
    /// The source groups the port tables' rows name, in the order they are
    /// first named. A host's desired firewall rules are its rows that name
    /// a group ([`crate::firewall_rules`]).
    pub source_groups: Vec<SourceGroup>,
}

/// One reason an input was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Problem {
    /// Where in the input, as a path like `hosts[1].address` (`.` for the whole input).
    pub path: String,
    /// The offending value as written, or empty when it is missing.
    pub value: String,
    /// What is wrong with it.
    pub message: String,
}

/// Why an input was rejected; nothing was evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PlanError {
    /// Every problem found, in input order.
    pub problems: Vec<Problem>,
}

impl PlanError {
    /// An error with a single problem.
    pub fn single(
        path: impl Into<String>,
        value: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        PlanError {
            problems: vec![Problem {
                path: path.into(),
                value: value.into(),
                message: message.into(),
            }],
        }
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if p.value.is_empty() {
                write!(f, "{}: {}", p.path, p.message)?;
            } else {
                write!(f, "{}: {} (value: {})", p.path, p.message, p.value)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for PlanError {}
