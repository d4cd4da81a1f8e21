//! Conversions between wit-bindgen's types and core's.
//!
//! Outbound (core to WIT) is `Lower`, field by field. Inbound (WIT to core)
//! is core's `Encode`: the WIT value written as the contract's JSON text by
//! core's writer, which core then parses strictly. Both are generated from
//! one list of fields per type, so a field missing here fails to compile,
//! and `tests/wit_contract.rs` keeps core's names equal to the WIT's.

use portplan_core as model;
use portplan_core::Encode;
use portplan_core::shell::JsonOut as Out;

use crate::wit;

/// Core value to WIT value.
pub trait Lower<T> {
    fn lower(self) -> T;
}

macro_rules! identity {
    ($($t:ty),*) => {$(
        impl Lower<$t> for $t {
            fn lower(self) -> $t {
                self
            }
        }
    )*};
}
identity!(String, bool, u16, u32, u64);

impl<A: Lower<B>, B> Lower<Vec<B>> for Vec<A> {
    fn lower(self) -> Vec<B> {
        self.into_iter().map(Lower::lower).collect()
    }
}

/// A rule's sources, shared in core between the rules of one group.
impl<A: Lower<B> + Clone, B> Lower<Vec<B>> for std::sync::Arc<[A]> {
    fn lower(self) -> Vec<B> {
        self.iter().cloned().map(Lower::lower).collect()
    }
}

impl<A: Lower<B>, B> Lower<Option<B>> for Option<A> {
    fn lower(self) -> Option<B> {
        self.map(Lower::lower)
    }
}

impl<A: Lower<B>, B, E: Lower<F>, F> Lower<Result<B, F>> for Result<A, E> {
    fn lower(self) -> Result<B, F> {
        self.map(Lower::lower).map_err(Lower::lower)
    }
}

/// `NonRoot` and `non_root` to the WIT's `non-root`.
fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(if c == '_' { '-' } else { c });
        }
    }
    out
}

/// A record's member: its key in the WIT's spelling (out of line: one copy
/// for every record).
#[inline(never)]
fn key(out: &mut Out, field: &str) {
    out.key(&kebab(field));
}

macro_rules! records {
    ($($name:ident { $($field:ident),* $(,)? })*) => {$(
        impl Lower<wit::$name> for model::$name {
            fn lower(self) -> wit::$name {
                wit::$name { $($field: self.$field.lower()),* }
            }
        }
        impl Encode for wit::$name {
            fn encode(&self, out: &mut Out) {
                out.begin_object();
                $(key(out, stringify!($field)); self.$field.encode(out);)*
                out.end_object();
            }
        }
    )*};
}

macro_rules! enums {
    ($($name:ident { $($case:ident),* $(,)? })*) => {$(
        impl Lower<wit::$name> for model::$name {
            fn lower(self) -> wit::$name {
                match self { $(model::$name::$case => wit::$name::$case),* }
            }
        }
        impl Encode for wit::$name {
            fn encode(&self, out: &mut Out) {
                match self { $(wit::$name::$case => out.string(&kebab(stringify!($case)))),* }
            }
        }
    )*};
}

records! {
    PortRange { first, last }
    Component { name, title, description, required }
    NetworkRole { name, description }
    PortSpec {
        id, component, ports, transport, protocol, allocation, exposure, accessed_by, modifiable,
        same_on_all_hosts, optional, purpose, source,
    }
    Profile { name, title, description, source, components, networks, specs }
    ClientNetwork { name, cidrs, description, exclusive }
    PortOverride { spec, ports }
    PlanHost { name, address, components, deploy_user, overrides }
    Listener { transport, address, port, v6only, pid, command }
    OpenPort { transport, ports, sources, tag }
    ObservedFirewall { backend, open }
    Observation {
        listeners, ip_local_port_range, ip_local_reserved_ports, ip_unprivileged_port_start,
        effective_uid, firewall,
    }
    HostObservation { host, phase, observation }
    Plan { name, profiles, deploy_user, hosts, networks, overrides, enable, custom_profiles, observations }
    Finding { code, severity, host, component, spec, ports, message, fix }
    PortEntry { spec, component, ports, transport, protocol, allocation, exposure, group, purpose, overridden }
    SourceGroup { name, sources, hosts, networks }
    HostPorts { host, address, ports }
    FirewallRule { host, spec, tag, transport, ports, sources, purpose }
    Summary { errors, warnings, infos }
    Report { plan, summary, findings, hosts, source_groups }
    Problem { path, value, message }
    PlanError { problems }
    FirewallOutput { main, extra, zone }
    TaggedRule { tag, family, transport, ports, source }
    NftChain { family, table, name, drops, insert_before, managed_by }
    NftRule { chain, rule, handle, set, intact }
    NftState { chains, found, open, foreign }
    IptablesChain { family, drops, insert_before }
    IptablesRule { chain, rule, number, saved, intact }
    IptablesState { chains, found, open, foreign }
    FirewalldZone { name, side, drops }
    FirewalldRule { zone, rule, rich_rule, ipset, intact }
    FirewalldState { zones, found, open, foreign }
    UfwRule { rule, words, intact }
    ForeignRule { action, family, transport, ports, source, text, ahead }
    UfwState { active, drops, found, open, foreign }
    Command { argv, stdin }
    FirewallChange { backend, add, remove, commands, notes }
    ListenPort { spec, port, transport }
    ProbeTarget { destination, address, spec, port, transport, expect, why }
    ProbePlan { plan, source, phase, listen, targets, sampling }
    ProbeResult { destination, spec, port, transport, outcome, detail, elapsed_ms }
    ProbeResults { plan, source, phase, results }
    ServeStatus { plan, host, listening, held }
    TruthRow { source, destination, spec, port, transport, expect, outcome, verdict, detail }
    TruthSummary { rows, as_expected, mismatches, unknown }
    TruthTable { plan, phase, summary, rows, findings }
}

enums! {
    Transport { Tcp, Udp }
    Allocation { Fixed, Pool }
    Exposure { Loopback, Peers, Browser }
    Severity { Error, Warning, Info }
    DeployUser { Root, NonRoot }
    Phase { Preinstall, Postinstall }
    FirewallBackend { Firewalld, Ufw, Nftables, Iptables, None }
    FindingCode {
        PortConflict, PortInUse, NotListening, PrivilegedPort, BrowserBlockedPort, EphemeralCollision,
        FixedPortOverride, InconsistentPort, LoopbackExposed, InvalidPlan, NoAllowedSources,
        FirewallDrift, Unreachable, Overexposed,
    }
    Expectation { Allow, Deny }
    ProbeOutcome { Connected, WrongResponder, Timeout, Refused, Unreachable, Error }
    Verdict { AsExpected, Mismatch, Unknown }
    ReportFormat { Json, Table, Markdown, Csv }
    IpFamily { Ipv4, Ipv6 }
    NftFamily { Inet, Ip, Ip6 }
    FirewalldSide { Runtime, Permanent }
}

/// The WIT's `chain-id` is a bare `u32`; core's is a checked newtype.
impl Lower<u32> for model::ChainId {
    fn lower(self) -> u32 {
        self.0
    }
}

impl Lower<wit::FirewallState> for model::FirewallState {
    fn lower(self) -> wit::FirewallState {
        match self {
            model::FirewallState::Nftables(s) => wit::FirewallState::Nftables(s.lower()),
            model::FirewallState::Iptables(s) => wit::FirewallState::Iptables(s.lower()),
            model::FirewallState::Firewalld(s) => wit::FirewallState::Firewalld(s.lower()),
            model::FirewallState::Ufw(s) => wit::FirewallState::Ufw(s.lower()),
        }
    }
}

/// A variant with a payload is `{"case": payload}`, as serde writes it.
impl Encode for wit::FirewallState {
    fn encode(&self, out: &mut Out) {
        match self {
            wit::FirewallState::Nftables(s) => out.variant("nftables", s),
            wit::FirewallState::Iptables(s) => out.variant("iptables", s),
            wit::FirewallState::Firewalld(s) => out.variant("firewalld", s),
            wit::FirewallState::Ufw(s) => out.variant("ufw", s),
        }
    }
}

/// A case with text is `{"case": "text"}`; one without is `"case"`.
fn case(out: &mut Out, name: &str, payload: Option<&String>) {
    match payload {
        None => out.string(name),
        Some(payload) => out.variant(name, payload),
    }
}

impl Lower<wit::ProbeSource> for model::ProbeSource {
    fn lower(self) -> wit::ProbeSource {
        match self {
            model::ProbeSource::Host(h) => wit::ProbeSource::Host(h),
            model::ProbeSource::Network(n) => wit::ProbeSource::Network(n),
            model::ProbeSource::Outsider => wit::ProbeSource::Outsider,
        }
    }
}

impl Encode for wit::ProbeSource {
    fn encode(&self, out: &mut Out) {
        match self {
            wit::ProbeSource::Host(h) => case(out, "host", Some(h)),
            wit::ProbeSource::Network(n) => case(out, "network", Some(n)),
            wit::ProbeSource::Outsider => case(out, "outsider", None),
        }
    }
}

impl Lower<wit::Accessor> for model::Accessor {
    fn lower(self) -> wit::Accessor {
        match self {
            model::Accessor::Component(c) => wit::Accessor::Component(c),
            model::Accessor::Network(n) => wit::Accessor::Network(n),
            model::Accessor::Profile(p) => wit::Accessor::Profile(p),
        }
    }
}

impl Encode for wit::Accessor {
    fn encode(&self, out: &mut Out) {
        match self {
            wit::Accessor::Component(c) => case(out, "component", Some(c)),
            wit::Accessor::Network(n) => case(out, "network", Some(n)),
            wit::Accessor::Profile(p) => case(out, "profile", Some(p)),
        }
    }
}

impl Lower<wit::Modifiable> for model::Modifiable {
    fn lower(self) -> wit::Modifiable {
        match self {
            model::Modifiable::NotSupported => wit::Modifiable::NotSupported,
            model::Modifiable::Configurable(how) => wit::Modifiable::Configurable(how),
        }
    }
}

impl Encode for wit::Modifiable {
    fn encode(&self, out: &mut Out) {
        match self {
            wit::Modifiable::NotSupported => case(out, "not-supported", None),
            wit::Modifiable::Configurable(how) => case(out, "configurable", Some(how)),
        }
    }
}
