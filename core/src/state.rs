//! The firewall side of the model: what a backend printed, the typed state
//! read from it, and the change that takes it to the desired rules. One Rust
//! type per WIT type, like `model.rs`.
//!
//! Each backend's state is its own record, because the backends differ in
//! what a rule is (an nft handle, an iptables rule number and saved spec, a
//! firewalld rich rule on one side of a zone, ufw's words). Rules point at
//! their chain or zone by a [`ChainId`]; [`FirewallState::check`] rejects a
//! dangling one at the boundary, naming its path, so nothing past it indexes
//! out of bounds.

use crate::list::List;
use crate::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::model::{OpenPort, PlanError, PortRange, Transport};

/// Address family of a rule.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Decode, Encode,
)]
#[serde(rename_all = "kebab-case")]
pub enum IpFamily {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl IpFamily {
    /// The WIT's (and JSON's) spelling: `ipv4`, `ipv6`.
    pub fn as_str(self) -> &'static str {
        match self {
            IpFamily::Ipv4 => "ipv4",
            IpFamily::Ipv6 => "ipv6",
        }
    }

    /// Both families, in their order (IPv4 first).
    pub const ALL: [IpFamily; 2] = [IpFamily::Ipv4, IpFamily::Ipv6];

    /// The family's position in [`IpFamily::ALL`]: an index into the
    /// `[_; 2]` arrays that hold something per family.
    pub fn index(self) -> usize {
        usize::from(self == IpFamily::Ipv6)
    }

    /// The family an address or CIDR text belongs to.
    pub fn of(net: &ipnet::IpNet) -> Self {
        match net {
            ipnet::IpNet::V4(_) => IpFamily::Ipv4,
            ipnet::IpNet::V6(_) => IpFamily::Ipv6,
        }
    }

    /// `IPv4` or `IPv6`, for prose.
    pub fn title(self) -> &'static str {
        match self {
            IpFamily::Ipv4 => "IPv4",
            IpFamily::Ipv6 => "IPv6",
        }
    }

    /// The source that means "from anywhere" in this family.
    pub fn any(self) -> &'static str {
        match self {
            IpFamily::Ipv4 => "0.0.0.0/0",
            IpFamily::Ipv6 => "::/0",
        }
    }
}

/// One source admitted to one port of one spec: the unit portplan adds and removes.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Decode, Encode,
)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TaggedRule {
    /// `portplan:<spec-id>`, in the backend's comment field.
    pub tag: String,
    /// IPv4 or IPv6.
    pub family: IpFamily,
    /// tcp or udp.
    pub transport: Transport,
    /// The ports admitted.
    pub ports: PortRange,
    /// The admitted source as a CIDR.
    pub source: String,
}

/// A rule portplan did not write that names a source and ports, whatever it
/// does (accept, drop, reject, ufw's deny or limit). portplan never changes
/// or removes one, and refuses to add its own rule on the same source, ports
/// and transport: some tools would merge the two (ufw "updates" the foreign
/// rule), and on every tool the operator's rule would be shadowed or shadow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ForeignRule {
    /// What it does, as the tool says it (`accept`, `DROP`, `deny`, ...).
    pub action: String,
    /// IPv4 or IPv6.
    pub family: IpFamily,
    /// tcp or udp.
    pub transport: Transport,
    /// The ports it matches.
    pub ports: PortRange,
    /// The source it matches as a CIDR (`0.0.0.0/0`: any).
    pub source: String,
    /// The rule as the tool prints it, to name it.
    pub text: String,
    /// The ports (of `ports`) on which a packet it matches meets it before
    /// portplan's rules and before anything that may decide it otherwise,
    /// where it matches nothing but what the fields above say (no interface,
    /// state, direction or other match). nftables and iptables: before the
    /// catch-all of its input chain (nftables: or in another input chain),
    /// after no goto, verdict map, queue or return of its chain and no jump
    /// to a chain that may accept (fail2ban's never does), less the ports
    /// an accept before it may admit from its source (`tcp dport 22 accept`
    /// before `ip saddr 198.18.0.0/16 drop` leaves it ahead on every port
    /// but 22); ufw: an active ufw's rule (ufw appends
    /// portplan's after it), less what an allow or limit before it may
    /// admit; firewalld: a drop or reject rich rule of the serving zone of
    /// priority 0 or below, less what an accept of a lower priority (or an
    /// equal negative one) or a policy to the host asked before the zone
    /// may admit, and none where the policies and direct rules are not
    /// known (the binary's reads carry them: a D-Bus dump, or a text with
    /// its `direct rules:` section) or a direct rule
    /// exists. Read narrow, unlike a goto: a drop, reject or deny ahead on
    /// the ports and source of a rule portplan places drops what that rule
    /// admits, and `plan-firewall` says so in a note (the audit, in a
    /// finding). Ports rather than a flag, so that the rule itself stays
    /// one entry as read, which `collisions` compares whole.
    ///
    /// A state written as JSON before this field was reads as none.
    #[serde(default)]
    pub ahead: Vec<PortRange>,
}

/// `portplan:observer.sql ipv4 tcp dport 2881 saddr 198.18.2.10/32`: the
/// one way a tagged rule is written in diffs and messages.
impl std::fmt::Display for TaggedRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} dport {} saddr {}",
            self.tag,
            self.family.as_str(),
            self.transport.as_str(),
            self.ports,
            self.source
        )
    }
}

/// What a backend's own tools printed: the input `read-firewall` parses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FirewallOutput {
    /// nftables: `nft -j list ruleset`. iptables: `iptables-save`. firewalld:
    /// `firewall-cmd --list-all-zones`, then `firewall-cmd --info-ipset=NAME`
    /// for each of portplan's ipsets, or the same read over D-Bus as JSON
    /// (`shell::FirewalldDbusDump`). ufw: `ufw status verbose`.
    pub main: String,
    /// iptables: `ip6tables-save`. firewalld: the same as `main` with
    /// `--permanent` (or its D-Bus dump). ufw: `ufw show added`. nftables: unused.
    #[serde(default)]
    pub extra: String,
    /// firewalld: the zone that serves the interface carrying the host's
    /// address (`firewall-cmd --get-zone-of-interface=DEV`, else
    /// `--get-default-zone`); it gets the rules.
    #[serde(default)]
    pub zone: Option<String>,
}

impl FirewallOutput {
    /// The outputs of a backend that needs no zone (all but firewalld).
    pub fn new(main: impl Into<String>, extra: impl Into<String>) -> Self {
        FirewallOutput {
            main: main.into(),
            extra: extra.into(),
            zone: None,
        }
    }
}

/// Index of a chain (nftables, iptables) or of one side of a zone
/// (firewalld) in its state's list. Checked by [`FirewallState::check`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Decode, Encode,
)]
#[serde(transparent)]
pub struct ChainId(pub u32);

impl ChainId {
    /// The id of the `index`-th chain of a list.
    pub(crate) fn at(index: usize) -> Self {
        // States hold a handful of chains; the count never nears u32::MAX.
        ChainId(u32::try_from(index).unwrap_or(u32::MAX))
    }

    /// The list index it names.
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// The nftables families whose chains can filter input.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Decode, Encode,
)]
#[serde(rename_all = "kebab-case")]
pub enum NftFamily {
    /// Both IPv4 and IPv6.
    Inet,
    /// IPv4 only.
    Ip,
    /// IPv6 only.
    Ip6,
}

impl NftFamily {
    /// nft's own spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            NftFamily::Inet => "inet",
            NftFamily::Ip => "ip",
            NftFamily::Ip6 => "ip6",
        }
    }

    /// Whether a chain of this family sees traffic of `family`.
    pub fn takes(self, family: IpFamily) -> bool {
        matches!(
            (self, family),
            (NftFamily::Inet, _)
                | (NftFamily::Ip, IpFamily::Ipv4)
                | (NftFamily::Ip6, IpFamily::Ipv6)
        )
    }
}

/// An nftables base chain on the input hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NftChain {
    /// Its table's family.
    pub family: NftFamily,
    /// Its table.
    pub table: String,
    /// The chain.
    pub name: String,
    /// Whether it drops what it does not accept (policy or a final drop/reject).
    pub drops: bool,
    /// The handle of the first catch-all drop/reject; new rules go before it.
    pub insert_before: Option<u64>,
    /// The tool that owns the chain when it is not nft's to write, e.g.
    /// `iptables-nft` for its `ip filter INPUT`: portplan never writes
    /// there (a boot's `iptables-nft-save | iptables-nft-restore` drops the
    /// sets of native rules, opening their ports to everyone).
    pub managed_by: Option<String>,
}

/// One of portplan's nftables rules, one entry per source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NftRule {
    /// Its chain in `chains`.
    pub chain: ChainId,
    /// What it admits.
    pub rule: TaggedRule,
    /// The rule's handle.
    pub handle: u64,
    /// The named set holding its sources, when portplan created it (named
    /// `portplan_*`, with a `portplan:` comment); a foreign set is never deleted.
    pub set: Option<String>,
    /// Whether it is exactly what portplan writes: accept, no other match
    /// (no negation), its own source, before the catch-all drop. A tagged rule
    /// edited by hand is not, and is replaced.
    pub intact: bool,
}

/// nftables, as `nft -j list ruleset` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NftState {
    /// Base chains on the input hook.
    #[serde(default)]
    pub chains: Vec<NftChain>,
    /// portplan's rules.
    #[serde(default)]
    pub found: Vec<NftRule>,
    /// Every port an accept rule admits (portplan's or not).
    #[serde(default)]
    pub open: Vec<OpenPort>,
    /// Rules portplan did not write that name a source and ports.
    #[serde(default)]
    pub foreign: Vec<ForeignRule>,
}

/// The filter table's INPUT chain of iptables (IPv4) or ip6tables (IPv6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct IptablesChain {
    /// `ipv4`: iptables; `ipv6`: ip6tables.
    pub family: IpFamily,
    /// Whether it drops what it does not accept (policy or a final DROP/REJECT).
    pub drops: bool,
    /// The 1-based rule number of the first catch-all DROP/REJECT.
    pub insert_before: Option<u32>,
}

/// One of portplan's iptables rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct IptablesRule {
    /// Its chain in `chains`.
    pub chain: ChainId,
    /// What it admits.
    pub rule: TaggedRule,
    /// Its 1-based rule number in the chain.
    pub number: u32,
    /// The rule as saved after `-A INPUT`: what `-D INPUT` takes.
    pub saved: Vec<String>,
    /// Whether it is exactly what portplan writes (ACCEPT, no negation or
    /// other match, before the catch-all); else it is replaced.
    pub intact: bool,
}

/// iptables and ip6tables, as `iptables-save` and `ip6tables-save` show them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct IptablesState {
    /// The INPUT chains read (at most one per family).
    #[serde(default)]
    pub chains: Vec<IptablesChain>,
    /// portplan's rules.
    #[serde(default)]
    pub found: Vec<IptablesRule>,
    /// Every port an accept rule admits (portplan's or not).
    #[serde(default)]
    pub open: Vec<OpenPort>,
    /// Rules portplan did not write that name a source and ports.
    #[serde(default)]
    pub foreign: Vec<ForeignRule>,
}

/// firewalld's two configurations.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Decode, Encode,
)]
#[serde(rename_all = "kebab-case")]
pub enum FirewalldSide {
    /// What filters now.
    Runtime,
    /// What firewalld loads at start and reload.
    Permanent,
}

impl FirewalldSide {
    /// The WIT's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FirewalldSide::Runtime => "runtime",
            FirewalldSide::Permanent => "permanent",
        }
    }
}

/// One side of one firewalld zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FirewalldZone {
    /// The zone.
    pub name: String,
    /// Runtime or permanent.
    pub side: FirewalldSide,
    /// Whether this zone serves the host and drops what it does not accept:
    /// portplan's rules go here. A zone that only holds old portplan rules
    /// does not, so rules leave it and none arrive.
    pub drops: bool,
}

/// One of portplan's firewalld rich rules, one entry per source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FirewalldRule {
    /// Its zone side in `zones`.
    pub zone: ChainId,
    /// What it admits.
    pub rule: TaggedRule,
    /// The rich rule as firewalld lists it.
    pub rich_rule: String,
    /// The ipset holding its sources, if any.
    pub ipset: Option<String>,
    /// Whether it is exactly what portplan writes (accept, nothing else);
    /// else it is replaced.
    pub intact: bool,
}

/// firewalld, as `firewall-cmd --list-all-zones` shows both sides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FirewalldState {
    /// The serving zone's two sides, then every other zone side holding portplan's rules.
    #[serde(default)]
    pub zones: Vec<FirewalldZone>,
    /// portplan's rules.
    #[serde(default)]
    pub found: Vec<FirewalldRule>,
    /// Every port the serving zone's runtime admits (portplan's or not).
    #[serde(default)]
    pub open: Vec<OpenPort>,
    /// Rules portplan did not write that name a source and ports.
    #[serde(default)]
    pub foreign: Vec<ForeignRule>,
}

/// One of portplan's ufw rules, one entry per transport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct UfwRule {
    /// What it admits.
    pub rule: TaggedRule,
    /// Its words after `ufw`, as `ufw show added` prints them (what `ufw delete` takes).
    pub words: Vec<String>,
    /// Whether it is exactly what portplan writes (allow from its source,
    /// nothing else); else it is replaced.
    pub intact: bool,
}

/// ufw, as `ufw status verbose` and `ufw show added` show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct UfwState {
    /// Whether ufw is enabled. An inactive ufw still takes rules.
    pub active: bool,
    /// Whether incoming traffic not allowed is turned away (an inactive ufw
    /// counts: enabling it without the rules would cut the services off).
    pub drops: bool,
    /// portplan's rules.
    #[serde(default)]
    pub found: Vec<UfwRule>,
    /// Every port an allow rule admits once ufw is active (portplan's or not).
    #[serde(default)]
    pub open: Vec<OpenPort>,
    /// Rules portplan did not write that name a source and ports.
    #[serde(default)]
    pub foreign: Vec<ForeignRule>,
}

/// A backend's current state, as far as portplan is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum FirewallState {
    /// nftables.
    Nftables(NftState),
    /// iptables and ip6tables.
    Iptables(IptablesState),
    /// firewalld.
    Firewalld(FirewalldState),
    /// ufw.
    Ufw(UfwState),
}

impl FirewallState {
    /// The backend it was read from.
    pub fn backend(&self) -> crate::model::FirewallBackend {
        use crate::model::FirewallBackend as B;
        match self {
            FirewallState::Nftables(_) => B::Nftables,
            FirewallState::Iptables(_) => B::Iptables,
            FirewallState::Firewalld(_) => B::Firewalld,
            FirewallState::Ufw(_) => B::Ufw,
        }
    }

    /// Every port an accept rule admits, portplan's or not.
    pub fn open(&self) -> &[OpenPort] {
        match self {
            FirewallState::Nftables(s) => &s.open,
            FirewallState::Iptables(s) => &s.open,
            FirewallState::Firewalld(s) => &s.open,
            FirewallState::Ufw(s) => &s.open,
        }
    }

    /// Rules portplan did not write that name a source and ports.
    pub fn foreign(&self) -> &[ForeignRule] {
        match self {
            FirewallState::Nftables(s) => &s.foreign,
            FirewallState::Iptables(s) => &s.foreign,
            FirewallState::Firewalld(s) => &s.foreign,
            FirewallState::Ufw(s) => &s.foreign,
        }
    }

    /// portplan's rules, each with the chain or zone side holding it
    /// (ufw has one), hand-edited ones included.
    pub fn tagged(&self) -> Vec<(ChainId, &TaggedRule)> {
        self.found_rules()
            .into_iter()
            .map(|(id, rule, _)| (id, rule))
            .list()
    }

    /// portplan's rules with their slot and whether they are intact.
    pub(crate) fn found_rules(&self) -> Vec<(ChainId, &TaggedRule, bool)> {
        match self {
            FirewallState::Nftables(s) => {
                s.found.iter().map(|f| (f.chain, &f.rule, f.intact)).list()
            }
            FirewallState::Iptables(s) => {
                s.found.iter().map(|f| (f.chain, &f.rule, f.intact)).list()
            }
            FirewallState::Firewalld(s) => {
                s.found.iter().map(|f| (f.zone, &f.rule, f.intact)).list()
            }
            FirewallState::Ufw(s) => s
                .found
                .iter()
                .map(|f| (ChainId(0), &f.rule, f.intact))
                .list(),
        }
    }

    /// Reject a rule that points at a chain or zone side the state does not
    /// hold, naming its path in the input (`state.nftables.found[3].chain`).
    pub fn check(&self, at: &str) -> Result<(), PlanError> {
        let (case, field, count, ids): (&str, &str, usize, Vec<ChainId>) = match self {
            FirewallState::Nftables(s) => (
                "nftables",
                "chain",
                s.chains.len(),
                s.found.iter().map(|f| f.chain).list(),
            ),
            FirewallState::Iptables(s) => (
                "iptables",
                "chain",
                s.chains.len(),
                s.found.iter().map(|f| f.chain).list(),
            ),
            FirewallState::Firewalld(s) => (
                "firewalld",
                "zone",
                s.zones.len(),
                s.found.iter().map(|f| f.zone).list(),
            ),
            FirewallState::Ufw(_) => return Ok(()),
        };
        let mut problems: Vec<crate::model::Problem> = ids
            .iter()
            .enumerate()
            .filter(|(_, id)| id.index() >= count)
            .map(|(i, id)| crate::model::Problem {
                path: format!("{at}.{case}.found[{i}].{field}"),
                value: id.0.to_string(),
                message: format!(
                    "no such {}: the state holds {count}",
                    if field == "zone" {
                        "zone side"
                    } else {
                        "chain"
                    }
                ),
            })
            .list();
        if let FirewallState::Nftables(s) = self {
            problems.extend(nft_names(s, at));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(PlanError { problems })
        }
    }
}

/// Whether nft's scanner reads `name` as one bare word: a letter, `_` or
/// `.`, then letters, digits and `/ - _ .`.
pub(crate) fn nft_word(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '.'))
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))
}

/// Every table, chain and set name of `state` that portplan would write
/// into an `nft -f -` script and that nft does not read as one bare word
/// (an adversarial review: a set or table name holding a newline and
/// `delete rule ...` became a command of the script, deleting a foreign
/// drop). nft's scanner reads a name as a letter, `_` or `.`, then
/// letters, digits and `/ - _ .`; anything else is refused, named.
pub(crate) fn nft_names(state: &NftState, at: &str) -> Vec<crate::model::Problem> {
    let mut names = Vec::new();
    for (i, c) in state.chains.iter().enumerate() {
        for (field, name) in [("table", &c.table), ("name", &c.name)] {
            names.push((format!("{at}.nftables.chains[{i}].{field}"), name));
        }
    }
    for (i, f) in state.found.iter().enumerate() {
        if let Some(set) = &f.set {
            names.push((format!("{at}.nftables.found[{i}].set"), set));
        }
    }
    (names.into_iter())
        .filter(|(_, name)| !nft_word(name))
        .map(|(path, name)| crate::model::Problem {
            path,
            value: name.clone(),
            message: "not a name nft reads as one word (a letter, `_` or `.`, then letters, digits, `/ - _ .`): portplan writes no nft script with it".into(),
        })
        .list()
}

/// One command to run, as an argv (never through a shell).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Command {
    /// Program and arguments.
    pub argv: Vec<String>,
    /// Standard input, if the command reads one (`nft -f -`).
    pub stdin: Option<String>,
}

/// What it takes to bring a backend from its state to the desired rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FirewallChange {
    /// The backend the commands are for.
    pub backend: crate::model::FirewallBackend,
    /// Rules to add.
    pub add: Vec<TaggedRule>,
    /// Rules to remove (only ever portplan's).
    pub remove: Vec<TaggedRule>,
    /// The commands, in order; empty when nothing changes.
    pub commands: Vec<Command>,
    /// What the operator should know (e.g. nothing filters input).
    pub notes: Vec<String>,
}
