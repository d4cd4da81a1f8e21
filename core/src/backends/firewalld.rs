//! firewalld: state from `firewall-cmd --list-all-zones` (runtime) and the
//! same with `--permanent`, each followed by `firewall-cmd --info-ipset=NAME`
//! for portplan's ipsets, then (as the binary reads it) the side's
//! policies and a [`DIRECT_RULES`] section (with the [`FILTER_TABLES`]
//! where firewalld may run iptables); or the same facts as the binary
//! reads them over firewalld's D-Bus API, a [`DbusDump`] in JSON per side. Rules are rich rules in the zone that serves the
//! host's interface, written to the runtime and to the permanent
//! configuration alike, so no reload is ever needed.
//!
//! A rich rule has no comment field, so portplan's tag rides in a rate-limited
//! log element (`log prefix="portplan:<spec>" level="info" limit value="1/h"`):
//! firewalld keeps a log prefix verbatim through its normalisation, and the
//! limit bounds the log to one line an hour per rule (firewalld refuses slower limits). Only rich rules with that
//! prefix are ever removed; zone ports, services and other rich rules are
//! read, never touched. portplan never uses `--add-port`, so firewalld never
//! merges its ranges with anyone else's.
//!
//! Each side (runtime, permanent) of a zone is a [`FirewalldZone`] of the
//! state. Only the zone serving the host filters for it; a zone that merely
//! holds old portplan rules is listed as not dropping, so rules leave it and
//! none arrive.
//!
//! A foreign drop or reject rich rule of the serving zone is
//! [`ForeignRule::ahead`] by firewalld's priorities (`read_zone`), less what
//! accepts asked before it may admit: the zone's own of a lower priority,
//! and the runtime's policies to the host of a negative priority
//! ([`before_zones`]), which the binary's reads carry with the direct rules
//! (a D-Bus dump, or a text with its [`DIRECT_RULES`] section); without
//! them, or with a direct rule, nothing is ahead.

use crate::list::List;
use crate::{Decode, Encode};
use serde::{Deserialize, Serialize};

use super::ahead::Admits;
use super::{
    Placed, SET_THRESHOLD, TAG_PREFIX, bare, behind_accepts, family_of, is_tag, normalize_source,
    parse_ports, transport_named,
};
use crate::model::{OpenPort, PlanError, PortRange, Transport};
use crate::order::{Sorted, SortedMap};
use crate::resolve::parse_net;
use crate::state::{
    ChainId, Command, FirewalldRule, FirewalldSide, FirewalldState, FirewalldZone, ForeignRule,
    IpFamily, TaggedRule,
};
use crate::table::{Map, Set};

/// What portplan's ipset names start with; only these are read or deleted.
pub const IPSET_PREFIX: &str = "portplan";

/// firewalld (and the kernel) refuse longer ipset names.
const IPSET_NAME_MAX: usize = 31;

/// One block of `--list-all-zones`, `--info-ipset` or `--info-service`
/// output.
#[derive(Debug, Default)]
struct Block {
    name: String,
    default: bool,
    /// Marked `(active)`: of a runtime policy, in use (read of policies
    /// only).
    active: bool,
    /// `key: value` lines in order; of two with one key the later counts
    /// ([`Block::field`]). A list, not a map: a block has a dozen, looked up
    /// a few times, and a `BTreeMap<String, String>` cost the plugins its
    /// B-tree code (~2.8 KB).
    fields: Vec<(String, String)>,
    rich_rules: Vec<String>,
}

/// Blocks start with an unindented name (`public (default, active)`), then
/// indented `key: value` lines; rich rules follow `rich rules:`, one per line.
fn blocks(text: &str) -> Vec<Block> {
    let mut out: Vec<Block> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        if !line.starts_with(char::is_whitespace) {
            let (name, marks) = line.split_once(' ').unwrap_or((line, ""));
            let marked = |mark: &str| {
                (marks.trim_matches(|c| c == '(' || c == ')').split(',')).any(|m| m.trim() == mark)
            };
            out.push(Block {
                name: name.to_string(),
                default: marked("default"),
                active: marked("active"),
                ..Block::default()
            });
            continue;
        }
        let Some(block) = out.last_mut() else {
            continue;
        };
        let line = line.trim();
        if line.starts_with("rule ") {
            block.rich_rules.push(line.to_string());
        } else if let Some((key, value)) = line.split_once(':') {
            // `forward-ports:` lists one per line below it
            // (`port=80:proto=tcp:toport=8080:toaddr=`): those lines
            // continue the field above.
            match block.fields.last_mut().filter(|_| key.contains('=')) {
                Some((_, above)) => {
                    above.push(' ');
                    above.push_str(line);
                }
                None => (block.fields).push((key.trim().to_string(), value.trim().to_string())),
            }
        }
    }
    out
}

impl Block {
    /// The value of the last `key:` line.
    fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.as_str())
    }

    fn words(&self, key: &str) -> impl Iterator<Item = &str> {
        self.field(key).unwrap_or_default().split_whitespace()
    }

    /// Whether it is a block of `kind`: it has that kind's line.
    fn is(&self, kind: Kind) -> bool {
        self.field(kind.0).is_some()
    }

    /// Whether the zone turns away what it does not accept: every target but
    /// ACCEPT (`default`, `%%REJECT%%`, `REJECT`, `DROP`) does.
    fn drops(&self) -> bool {
        self.field("target") != Some("ACCEPT")
    }
}

/// A rich rule's elements, each with its attributes, in order:
/// `rule family="ipv4" source address="..."` gives
/// `[("rule", [family]), ("source", [address])]`.
type Elements = Vec<(String, Vec<(String, String)>)>;

/// Split a rich rule into elements. firewalld prints attribute values in
/// double quotes; single quotes and bare values are accepted as its parser does.
fn elements(text: &str) -> Option<Elements> {
    let mut out: Elements = Vec::new();
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        if let Some(after) = rest.strip_prefix('=') {
            let (value, tail) = match after.chars().next() {
                Some(quote @ ('"' | '\'')) => {
                    let body = &after[1..];
                    let close = body.find(quote)?;
                    (&body[..close], &body[close + 1..])
                }
                _ => {
                    let stop = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..stop], &after[stop..])
                }
            };
            out.last_mut()?
                .1
                .push((word.to_string(), value.to_string()));
            rest = tail;
        } else {
            out.push((word.to_string(), Vec::new()));
        }
        rest = rest.trim_start();
    }
    Some(out)
}

/// The parts of a rich rule portplan reads.
#[derive(Debug, Default)]
struct RichRule {
    family: Option<IpFamily>,
    address: Option<String>,
    ipset: Option<String>,
    port: Option<(Transport, PortRange)>,
    tag: Option<String>,
    accept: bool,
    /// `accept`, `drop` or `reject`.
    action: Option<String>,
    /// Anything that narrows or redirects it (destination, `not`, priority,
    /// services, marks): it admits less than its port and source say.
    other: bool,
    /// It admits no TCP or UDP connection (an ICMP type, another protocol)
    /// that the audit can judge (a service: its ports are not read).
    closed: bool,
    /// It names a service, whose ports are in the service's definition.
    service: bool,
    /// `priority` (0 when not given); `None` when it does not read as one.
    priority: Option<i32>,
    /// It picks its traffic by more than family and protocol: a `source`
    /// (but `0.0.0.0/0`), `destination`, `port`, `source-port` or service.
    aimed: bool,
    /// `source NOT address="..."`: the address it takes everything but.
    source_not: Option<String>,
    /// `protocol value="tcp"` (or `6`), `"udp"` (or `17`).
    protocol: Option<Transport>,
    /// Something but its family, source address, port and logging narrows
    /// what its action takes (a destination, `not`, a MAC, a service, a
    /// protocol, a limit on the action): never [`ForeignRule::ahead`].
    narrowed: bool,
}

impl RichRule {
    /// Its action where it denies: `drop` or `reject`.
    fn deny(&self) -> Option<&str> {
        (self.action.as_deref()).filter(|action| matches!(*action, "drop" | "reject"))
    }
}

fn rich_rule(text: &str) -> Option<RichRule> {
    let mut rule = RichRule::default();
    let mut limits = 0;
    // Every element but these narrows the action; a limit after the action
    // limits the action itself (firewalld.richlanguage(5): "It is possible
    // to limit Log, NFLog, Audit and Action").
    let plain = [
        "rule", "source", "port", "log", "audit", "nflog", "accept", "drop", "reject",
    ];
    let mut previous = String::new();
    for (element, attributes) in elements(text)? {
        let logs = element == "limit" && rule.action.is_none();
        let after = std::mem::replace(&mut previous, element.clone());
        rule.narrowed |= !(plain.contains(&element.as_str()) || logs);
        let get = |key: &str| {
            attributes
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        match element.as_str() {
            "rule" => {
                rule.family = match get("family") {
                    Some("ipv4") => Some(IpFamily::Ipv4),
                    Some("ipv6") => Some(IpFamily::Ipv6),
                    _ => None,
                };
                rule.other |= get("priority").is_some_and(|p| p != "0");
                rule.priority = get("priority").map_or(Some(0), |p| p.parse().ok());
            }
            "source" => {
                let everywhere = get("address")
                    .and_then(normalize_source)
                    .is_some_and(|a| a.ends_with("/0"));
                rule.aimed |= !everywhere;
                rule.address = get("address").map(str::to_string);
                rule.ipset = get("ipset").map(str::to_string);
                rule.other |= get("mac").is_some();
                rule.narrowed |= get("mac").is_some();
            }
            // A port firewalld takes that does not read as numbers (a
            // service name from /etc/services, `7010-7000`): read as every
            // port of its protocol, and as narrowed (an adversarial review: the whole rule
            // was skipped, so a foreign accept on it went unaudited and a
            // tagged one unseen). An accept then opens every port for the
            // audit; a deny is no catch-all ahead; a tagged one is not
            // intact and is replaced. A forward port sends its traffic to a
            // local port (`to-port`, else `port`), which firewalld's input
            // chain accepts before the zones (`ct status dnat accept`): an
            // accept of that port (a `to-addr` is not read, wide); unread,
            // the audit was green over it (a review).
            "port" | "forward-port" => {
                let transport = transport_named(get("protocol")?)?;
                let ports = parse_ports(get("to-port").or(get("port"))?, '-');
                rule.accept |= element != "port";
                rule.other |= ports.is_none() || element != "port";
                rule.narrowed |= ports.is_none();
                rule.port = Some((transport, ports.unwrap_or(super::EVERY_PORT)));
                rule.aimed = true;
            }
            "log" => {
                rule.tag = get("prefix").filter(|p| is_tag(p)).map(str::to_string);
                rule.other |= get("level").is_some_and(|l| l != "info");
            }
            // portplan writes one limit, its log's, of 1/h: a second limits
            // the accept itself (a hand edit that drops some connections).
            "limit" => {
                limits += 1;
                rule.other |= get("value") != Some("1/h");
            }
            "audit" | "nflog" => rule.other = true,
            // A service's ports are in its definition: the rule opens
            // nothing itself; the binary lists the definition of a service
            // an accepting rule of the serving zone or a policy to the host
            // names, which reads as open (`services_named`).
            "icmp-type" | "icmp-block" | "service" => {
                rule.closed = true;
                rule.other = true;
                rule.service |= element == "service";
                rule.aimed |= element == "service";
            }
            // firewalld.richlanguage(5): "a protocol id number or a protocol
            // name" (/etc/protocols: `tcp 6 TCP`, `udp 17 UDP`), printed as
            // given; `6` read as other than TCP hid a deny of it (an
            // adversarial review).
            "protocol" => {
                rule.protocol = protocol_named(get("value").unwrap_or_default());
                rule.closed |= rule.protocol.is_none();
                rule.other = true;
            }
            // `source NOT address=`: firewalld prints the inversion as a
            // word of its own, which takes the source's attributes.
            "NOT" | "not" => {
                if after == "source" {
                    rule.source_not = get("address").map(str::to_string);
                    rule.aimed = true;
                }
                rule.other = true;
            }
            "destination" | "source-port" => {
                rule.aimed = true;
                rule.other = true;
            }
            "accept" => {
                rule.accept = true;
                rule.action = Some(element.clone());
            }
            "drop" | "reject" => {
                rule.action = Some(element.clone());
                rule.other = true;
            }
            _ => rule.other = true,
        }
    }
    // A tagged drop or reject is not portplan's (backends/mod.rs `owned_tag`).
    if rule.deny().is_some() {
        rule.tag = None;
    }
    rule.other |= rule.tag.is_some() && limits != 1;
    Some(rule)
}

/// One side of firewalld's configuration as read over its D-Bus API
/// (`getZoneSettings2` or `config.zone.getSettings2` per zone, the ipsets'
/// settings): the facts `--list-all-zones` prints that portplan reads, with
/// no text format in between. The binary writes it as JSON into
/// `firewall-output.main` (runtime) and `.extra` (permanent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DbusDump {
    /// `getDefaultZone`.
    pub default_zone: String,
    /// Every zone of the side, in the order firewalld lists them.
    pub zones: Vec<DbusZone>,
    /// portplan's ipsets of the side (names starting with [`IPSET_PREFIX`]).
    pub ipsets: Vec<DbusIpset>,
    /// The runtime's active policies (`getActivePolicies`, then
    /// `getPolicySettings` of each), which may decide a packet before the
    /// zone does, or after it; on the permanent side every configured
    /// policy (`getPolicyNames`, config.policy `getSettings`), which a
    /// reload makes so, and whose rich rules may name an ipset. As
    /// `firewall-cmd --list-all-policies` prints them (one text for all: a
    /// record type of their own cost the plugins another ~14 KB of
    /// decoding, and core reads that text anyway). `None` (a dump written
    /// before this field was): not known, so no foreign deny is read as
    /// ahead.
    #[serde(default)]
    pub policies: Option<String>,
    /// The runtime's direct rules and passthroughs (`getAllRules`,
    /// `getAllPassthroughs`), each as `ipv4 filter INPUT 0 -j ACCEPT` or
    /// `ipv4 passthrough -I INPUT -j ACCEPT`: any may accept before the
    /// zones, so where there is one no foreign deny is read as ahead.
    #[serde(default)]
    pub direct: Vec<String>,
    /// On the runtime side, iptables' tables as `iptables-save` and
    /// `ip6tables-save` print them (every table the kernel holds), in that
    /// order (empty where one did not run). Where firewalld may run its
    /// iptables backend (no [`BACKEND`] line of `direct` says nftables),
    /// what the filter tables accept before the zones: direct rules and
    /// passthroughs whether firewalld lists them or not, and anything
    /// written beside firewalld ([`saved_open`]), read from each that holds
    /// firewalld's ruleset. Under either backend, what the nat tables send
    /// to the host ([`nat_open`]). Empty where not read.
    #[serde(default)]
    pub saved: Vec<String>,
    /// Every other text of the side that may name one of portplan's ipsets
    /// (the policies' rich rules are read from `policies`): on the
    /// permanent side, the direct rules and passthroughs, as `direct`
    /// writes them. Read for one thing only: an ipset something here names is
    /// never deleted (a reload would find it missing and fail).
    #[serde(default)]
    pub references: Vec<String>,
    /// On the runtime side, the definitions of the services the serving
    /// zone and the active policies to the host from it apply
    /// ([`services_named`]): those they name and, as firewalld applies a service
    /// (`_service` in fw_policy.py), those they include, each once; as
    /// `firewall-cmd --info-service=NAME` prints each (one text for all, as
    /// `policies`). Each opens its ports to everyone ([`zone_opens`]): the
    /// binary resolves the includes as it reads, since it must walk them to
    /// know what to read, and a definition listed that the zone does not
    /// apply reads as open, the safe side for the audit. Empty on the
    /// permanent side, whose services open nothing now, and in a dump
    /// written before this field was, whose zones' services are not read.
    #[serde(default)]
    pub services: String,
}

/// The parts of one zone's settings portplan reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DbusZone {
    /// The zone's name.
    pub name: String,
    /// `target` (`default`, `ACCEPT`, `%%REJECT%%`, `DROP`).
    pub target: String,
    /// `sources`: addresses, CIDRs, MACs or `ipset:NAME` bound to the zone.
    pub sources: Vec<String>,
    /// `ports`, each as `PORT/PROTOCOL` (`8080/tcp`, `7000-7010/udp`).
    pub ports: Vec<String>,
    /// `rich_rules`, as the daemon normalised them.
    pub rich_rules: Vec<String>,
    /// `protocols` (`tcp`: every TCP port accepted).
    #[serde(default)]
    pub protocols: Vec<String>,
    /// `source_ports`, each as `PORT/PROTOCOL`.
    #[serde(default)]
    pub source_ports: Vec<String>,
    /// `services`, by name: each opens what its definition lists (the
    /// dump's `services`).
    #[serde(default)]
    pub services: Vec<String>,
    /// `forward_ports`, each as `port=P:proto=T:toport=Q:toaddr=A`, as
    /// `firewall-cmd --list-all-zones` prints them.
    #[serde(default)]
    pub forward_ports: Vec<String>,
}

/// The parts of one ipset's settings portplan reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DbusIpset {
    /// The ipset's name.
    pub name: String,
    /// Its entries.
    pub entries: Vec<String>,
}

impl DbusDump {
    /// The blocks `--list-all-zones` and `--info-ipset` would have printed.
    fn blocks(self) -> Vec<Block> {
        let joined = |words: Vec<String>| words.join(" ");
        let zones = self.zones.into_iter().map(|zone| Block {
            default: zone.name == self.default_zone,
            active: false,
            name: zone.name,
            fields: vec![
                ("target".to_string(), zone.target),
                ("sources".to_string(), joined(zone.sources)),
                ("ports".to_string(), joined(zone.ports)),
                ("protocols".to_string(), joined(zone.protocols)),
                ("source-ports".to_string(), joined(zone.source_ports)),
                ("services".to_string(), joined(zone.services)),
                ("forward-ports".to_string(), joined(zone.forward_ports)),
            ],
            rich_rules: zone.rich_rules,
        });
        let ipsets = self.ipsets.into_iter().map(|ipset| Block {
            name: ipset.name,
            default: false,
            active: false,
            fields: vec![("entries".to_string(), joined(ipset.entries))],
            rich_rules: Vec::new(),
        });
        let mut out = zones.chain(ipsets).list();
        let policies = self.policies.unwrap_or_default();
        for (text, kind) in [(policies, POLICY), (self.services, SERVICE)] {
            out.append(&mut split(blocks(&text), kind).0);
        }
        out
    }
}

/// The services whose definitions the runtime's listing carries
/// ([`DbusDump::services`]): those the zone `serving` names and those the
/// active policies to the host from it name, in their `services:` or in a
/// rich rule (`rule service name="postgresql" accept`: its definition is
/// read as open to everyone, wide on the rule's source), as `text` (a
/// `--list-all-zones` text with the policies' text) lists them. The binary
/// reads their definitions and those of the services they include.
pub fn services_named(text: &str, serving: &str) -> Vec<String> {
    named_in(&blocks(text), serving)
}

impl DbusDump {
    /// [`services_named`] as the dump's zones and policies list them.
    pub fn services_named(&self, serving: &str) -> Vec<String> {
        named_in(&self.clone().blocks(), serving)
    }
}

/// [`services_named`] of blocks of either form.
fn named_in(listed: &[Block], serving: &str) -> Vec<String> {
    let zone = |b: &&Block| !b.is(POLICY) && b.name == serving;
    let policy = |b: &&Block| b.is(POLICY) && b.active && to_host_from(b, serving);
    let mut named = Vec::new();
    for block in listed
        .iter()
        .filter(zone)
        .chain(listed.iter().filter(policy))
    {
        named.extend(block.words("services").map(str::to_string));
        named.extend(
            block
                .rich_rules
                .iter()
                .filter_map(|text| rich_service(text)),
        );
    }
    named
}

/// The service an accepting rich rule names (`service name="postgresql"
/// accept`), if any.
fn rich_service(text: &str) -> Option<String> {
    let elements = elements(text)?;
    elements.iter().find(|(element, _)| element == "accept")?;
    let (_, attributes) = elements
        .into_iter()
        .find(|(element, _)| element == "service")?;
    let (_, name) = attributes.into_iter().find(|(key, _)| key == "name")?;
    Some(name)
}

/// The line after which a side's `firewall-cmd` text lists its direct
/// rules and passthroughs, one a line as a [`DbusDump`]'s `direct` holds
/// them (`ipv4 filter INPUT 0 -j ACCEPT`, `ipv4 passthrough -I INPUT ...`).
/// The binary writes it last, after the side's `--list-all-policies` where
/// firewalld has policies (0.9 and later): a text with it lists everything
/// that may accept before the zones or name an ipset, as a dump does. No
/// zone's line reads so (a zone's name holds no space).
pub const DIRECT_RULES: &str = "direct rules:";

/// How the runtime's direct rules list which backend firewalld runs
/// (`FirewallBackend=nftables`, as firewalld.conf(5) writes it): the
/// binary adds this line to them, from the config's `FirewallBackend`
/// property over D-Bus or from firewalld.conf through `firewall-cmd`;
/// without it the backend is not known ([`direct_open`]).
pub const BACKEND: &str = "FirewallBackend=";

/// The line the binary adds to the runtime's direct rules, after the
/// [`BACKEND`] line, where firewalld runs nftables and its table does not
/// accept what was sent to the host (no `ct status dnat accept`: 0.6,
/// whose nftables backend accepted only established connections before the
/// zones, or 2.3 and later with `StrictForwardPorts=yes`, which rejects
/// what no forward port sent): what the nat tables send is then the zones'
/// to decide ([`nat_open`]).
pub const NFT_DNAT_UNACCEPTED: &str = "FirewallBackend=nftables, no ct status dnat accept";

/// How the binary adds the host's own addresses to the runtime's direct
/// rules: this, then each address, a space before each (`local addresses:
/// 127.0.0.1 198.18.1.11 ::1`). A `DNAT` to one of them sends to the host
/// ([`sends_here`]); the nat tables do not say which addresses are the
/// host's. Without it, only a loopback address is read as the host's.
pub const LOCAL_ADDRESSES: &str = "local addresses:";

/// [`NFT_DNAT_UNACCEPTED`] where firewalld's nftables table, as `nft list
/// table inet firewalld` prints it, has a `filter_INPUT` that does not
/// accept what was sent to the host (no `ct status dnat accept`); `None`
/// where it does, and where no such chain reads (a form not known: what
/// the nat tables send is read, wide).
pub fn nft_dnat_line(table: &str) -> Option<&'static str> {
    let (mut input, mut found) = (false, false);
    for line in table.lines().map(str::trim) {
        if let Some(chain) = line.strip_prefix("chain ") {
            input = chain.strip_suffix('{').map(str::trim) == Some("filter_INPUT");
            found |= input;
        }
        if input && line == "ct status dnat accept" {
            return None;
        }
    }
    found.then_some(NFT_DNAT_UNACCEPTED)
}

/// The lines after which a side's `firewall-cmd` text, following its
/// direct rules, holds iptables' tables as a [`DbusDump`]'s `saved` does
/// (named for the filter table, which they held first):
/// the first, then the second, as `iptables-save` and `ip6tables-save`
/// print them. No line of theirs reads so but one a comment with a line
/// break forges, which cuts a rule's quotes and so reads as every port.
pub const FILTER_TABLES: [&str; 2] = ["ipv4 filter table:", "ipv6 filter table:"];

/// One side's blocks, from either form: a JSON object is a [`DbusDump`],
/// anything else `firewall-cmd`'s text.
struct SideBlocks {
    blocks: Vec<Block>,
    /// Where the policies are known (a dump's `policies`, or a text's
    /// [`DIRECT_RULES`] section), the direct rules.
    direct: Option<Vec<String>>,
    /// Where those are known, every text of the side but the zones' and
    /// policies' that may name an ipset (its direct rules and a dump's
    /// `references`).
    references: Option<Vec<String>>,
    /// iptables' tables (a dump's `saved`), or none.
    saved: Vec<String>,
}

fn side_blocks(text: &str, input: &str) -> Result<SideBlocks, PlanError> {
    if !text.trim_start().starts_with('{') {
        let (listed, direct, saved) = direct_section(text);
        let references = direct.clone();
        let blocks = blocks(listed);
        return Ok(SideBlocks {
            blocks,
            direct,
            references,
            saved,
        });
    }
    // core's one decoder (not serde_json's own): one copy of the records'
    // decoding in the plugins, and the dump's first problem with its path.
    crate::decode::parse_json::<DbusDump>(text)
        .map(|mut dump| {
            let direct = std::mem::take(&mut dump.direct);
            let saved = std::mem::take(&mut dump.saved);
            let mut references = std::mem::take(&mut dump.references);
            references.extend(direct.iter().cloned());
            SideBlocks {
                direct: dump.policies.is_some().then_some(direct),
                references: Some(references),
                saved,
                blocks: dump.blocks(),
            }
        })
        .map_err(|e| {
            let first = e
                .problems
                .first()
                .map_or_else(String::new, |p| format!(", at {}: {}", p.path, p.message));
            PlanError::single(
                input,
                "",
                format!(
                    "not a firewalld D-Bus dump (portplan's JSON of zone and ipset settings){first}"
                ),
            )
        })
}

/// A text's lines before its [`DIRECT_RULES`] line, the direct rules
/// listed after it (`None` without such a line), and the
/// [`FILTER_TABLES`] after those (none without both lines).
fn direct_section(text: &str) -> (&str, Option<Vec<String>>, Vec<String>) {
    let Some((listed, rest)) = split_at_line(text, DIRECT_RULES) else {
        return (text, None, Vec::new());
    };
    let tables = split_at_line(rest, FILTER_TABLES[0])
        .and_then(|(rules, tables)| Some((rules, split_at_line(tables, FILTER_TABLES[1])?)));
    let (rules, saved) = match tables {
        Some((rules, (v4, v6))) => (rules, vec![v4.to_string(), v6.to_string()]),
        None => (rest, Vec::new()),
    };
    let mut direct = Vec::new();
    for rule in rules.lines().map(str::trim).filter(|rule| !rule.is_empty()) {
        direct.push(rule.to_string());
    }
    (listed, Some(direct), saved)
}

/// `text` before and after its first line reading `marker`.
fn split_at_line<'a>(text: &'a str, marker: &str) -> Option<(&'a str, &'a str)> {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_end() == marker {
            return Some((&text[..at], &text[at + line.len()..]));
        }
        at += line.len();
    }
    None
}

/// A kind of block other than a zone's, by the line that only its kind
/// has: [`POLICY`], [`SERVICE`], [`IPSET`].
#[derive(Clone, Copy)]
struct Kind(&'static str);

/// A policy's block (`--list-all-policies`, `--info-policy`, a dump's
/// policies): `egress-zones:`.
const POLICY: Kind = Kind("egress-zones");

/// A service's definition (`--info-service`): `modules:`, which every
/// firewalld since 0.4 prints for a service and for nothing else.
const SERVICE: Kind = Kind("modules");

/// An ipset's block (`--info-ipset`): `entries:`, once policies and
/// services are split off (no zone has it).
const IPSET: Kind = Kind("entries");

/// `blocks` of `kind`, and the others.
fn split(blocks: Vec<Block>, kind: Kind) -> (Vec<Block>, Vec<Block>) {
    blocks.into_iter().partition(|block| block.is(kind))
}

/// One side's blocks: zones by name, portplan's ipsets by name, and what
/// the policies asked before the zones may accept.
struct Side {
    zones: Vec<Block>,
    /// The policies as listed: in a dump, the runtime's active ones, or
    /// every configured one of the permanent side.
    policies: Vec<Block>,
    ipsets: SortedMap<String, Block>,
    /// The definitions of services listed (`--info-service`): on the
    /// runtime side, those the serving zone and its policies to the host
    /// apply ([`DbusDump::services`]).
    services: Vec<Block>,
    /// What the runtime's direct rules and passthroughs accept
    /// ([`direct_open`]); nothing on the permanent side.
    direct_open: Vec<OpenPort>,
    /// What the policies asked before the zones may accept: the runtime's
    /// only; `None` when the policies are not known, and on the permanent
    /// side, which decides nothing now (its direct rules are in
    /// `references`, so this would read as if there were none).
    before_zones: Option<Vec<Admits>>,
    /// The policies' rich rules and every other text but the zones' that
    /// may name an ipset ([`ipset_users`]).
    references: Vec<String>,
    /// Whether those are all of them: a D-Bus dump's are, and a text's
    /// with its [`DIRECT_RULES`] section; a bare `--list-all-zones` has no
    /// direct rules and no policies.
    references_known: bool,
}

fn side(text: &str, input: &str, runtime: bool) -> Result<Side, PlanError> {
    let SideBlocks {
        blocks,
        direct: known,
        references: dumped,
        saved,
    } = side_blocks(text, input)?;
    let known = known.filter(|_| runtime);
    let direct_open = (known.as_deref())
        .map(|direct| direct_open(direct, &saved))
        .unwrap_or_default();
    let references_known = dumped.is_some();
    let mut references = dumped.unwrap_or_default();
    let (mut policies, blocks): (Vec<Block>, Vec<Block>) = split(blocks, POLICY);
    for policy in &policies {
        references.extend_from_slice(&policy.rich_rules);
    }
    // The runtime's policies decide only while active (the binary's reads
    // list no other; `--list-all-policies` lists every one, and marks the
    // active ones rightly only from firewalld 2.1: before, every one with
    // zones, so that text still counts an idle one).
    policies.retain(|policy| !runtime || policy.active);
    let (services, blocks): (Vec<Block>, Vec<Block>) = split(blocks, SERVICE);
    let (ipsets, zones): (Vec<Block>, Vec<Block>) = split(blocks, IPSET);
    Ok(Side {
        references,
        references_known,
        zones,
        services,
        ipsets: SortedMap::new(
            (ipsets.into_iter())
                .filter(|b| b.name.starts_with(IPSET_PREFIX))
                .map(|b| (b.name.clone(), b))
                .list(),
        ),
        // A direct rule may accept before everything (firewalld's iptables
        // backend jumps to `INPUT_direct` first): read wide. What the
        // filter tables accept is asked before the zones too; what the nat
        // tables send is not (only what they sent is accepted early: a
        // zone's deny still meets a connection made to the port itself).
        before_zones: known.as_ref().map(|direct| {
            let mut ahead = direct_open.iter().map(Admits::of).list();
            let said = |l: &String| l.starts_with(BACKEND) || l.starts_with(LOCAL_ADDRESSES);
            match direct.iter().all(said) {
                true => (policies.iter()).for_each(|p| ahead.extend(before_zones(p))),
                false => ahead.extend(every_port().iter().map(Admits::of)),
            }
            ahead
        }),
        policies,
        direct_open: match known.as_deref() {
            Some(direct) => with_nat(direct_open, direct, &saved),
            None => direct_open,
        },
    })
}

/// What `policy` may accept before the zones decide, read wide: nothing
/// unless it sends traffic to the host (`egress-zones: HOST`) with a
/// negative priority (firewalld.richlanguage(5): "A negative priority value
/// will be executed before other firewalld primitives"; a zone's input
/// chain jumps to such policies first); then what it may accept
/// ([`policy_accepts`]), every port where it names a service.
fn before_zones(policy: &Block) -> Vec<Admits> {
    // A priority that does not read is taken as asked first.
    let asked_first =
        (policy.field("priority")).is_none_or(|p| !matches!(p.parse::<i32>(), Ok(p) if p >= 0));
    if !policy.words("egress-zones").any(|zone| zone == "HOST") || !asked_first {
        return Vec::new();
    }
    policy_accepts(policy, true).iter().map(Admits::of).list()
}

/// What `policy` may accept, read wide: every port where it accepts
/// everything (`target: ACCEPT`), and where it names a service or forwards
/// a port if `wide` (else its services' definitions are read with the
/// serving zone's, [`DbusDump::services`], and its forward ports as a
/// zone's); its ports, protocols and source ports as a zone's
/// ([`zone_opens`]); and what its accepting rich rules admit.
fn policy_accepts(policy: &Block, wide: bool) -> Vec<OpenPort> {
    // Read precisely for the audit: its services through their definitions,
    // its forward ports by `zone_opens`.
    let opaque = &["services", "forward-ports"][..2 * usize::from(wide)];
    if policy.field("target") == Some("ACCEPT")
        || opaque.iter().any(|k| policy.words(k).next().is_some())
    {
        return every_port();
    }
    let mut open = zone_opens(policy, &[]);
    for text in &policy.rich_rules {
        let Some(rule) = rich_rule(text) else {
            return every_port();
        };
        open.extend(may_accept(&rule));
    }
    open
}

/// What the runtime's direct rules and passthroughs accept: each one that
/// may add a rule to the filter table's chains but `OUTPUT`'s and
/// `FORWARD`'s ([`direct_input`]) read alone, as iptables reads an accept
/// of `INPUT` ([`super::iptables::read`]). firewalld's iptables backend
/// jumps from `INPUT` to `INPUT_direct` (the direct rules of `INPUT`)
/// before the zones; a passthrough's is one more rule of its chain. Wide:
/// an accept in a chain nothing reaches, after a deny, or (a passthrough's
/// `-A INPUT`) after firewalld's reject reads as open, so that no order of
/// listing hides one (`getAllRules` lists in the order rules were added,
/// not by priority). A rule typed by hand need not be written as
/// iptables-save writes it, which is what the reader reads: iptables takes
/// abbreviated and grouped options (`--jum ACCEPT`, `-vjACCEPT`), and
/// `iptables-restore`, which firewalld feeds direct rules to, splits words
/// at a `"`. So one that names `ACCEPT` but does not read as accepting, one
/// holding a `"`, and one that does not read at all (a source list `-s
/// a,b`) open every port. Nothing where the backend is nftables: "direct
/// rules that ACCEPT packets don't actually cause the packets to be
/// immediately accepted by the system. Those packets are still subject to
/// firewalld's nftables ruleset" (firewalld.direct(5)); the binary says
/// nftables only where firewalld's nftables table exists. Where the
/// backend is not known (firewalld before 0.6 has none but iptables), as
/// with iptables. Also, unless nftables, what the `saved` filter tables
/// accept ([`saved_open`]), each accept once: each that holds firewalld's
/// iptables ruleset ([`firewalld_iptables`]), and where the binary says
/// iptables (firewalld's nftables table does not exist) each that it read,
/// so that a table flushed whole (`iptables -F; iptables -X`), or one
/// `iptables-save` cannot print, reads as every port of its family.
fn direct_open(direct: &[String], saved: &[String]) -> Vec<OpenPort> {
    let mut open = Vec::new();
    let backend = |name: &str| direct.iter().any(|l| l.strip_prefix(BACKEND) == Some(name));
    if backend("nftables") {
        return open;
    }
    let iptables = backend("iptables");
    let live = [0, 1].map(|at| {
        let read = |t: &&str| firewalld_iptables(t) || (iptables && !t.trim().is_empty());
        saved.get(at).map(String::as_str).filter(read)
    });
    if live != [None, None] {
        open = saved_open(live);
    }
    // A listed rule may be one the tables are not read for (a passthrough
    // into a zone's chain): read too, each accept once.
    for text in direct_text_open(direct) {
        if !open.contains(&text) {
            open.push(text);
        }
    }
    // No rule read here is portplan's, whatever its comment says: a tag
    // would keep it out of `overexposed`.
    for open in &mut open {
        open.tag = None;
    }
    open
}

/// `open` with what the nat tables send to the host ([`nat_open`]), each
/// once, none of it tagged: no rule read there is portplan's.
fn with_nat(mut open: Vec<OpenPort>, direct: &[String], saved: &[String]) -> Vec<OpenPort> {
    for mut sent in nat_open(direct, saved) {
        sent.tag = None;
        if !open.contains(&sent) {
            open.push(sent);
        }
    }
    open
}

/// What the nat tables send to the host, which firewalld accepts before
/// its zones from 0.7 on (`--ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT`,
/// `ct status dnat accept`; its forward ports are read with the zones):
/// a `REDIRECT`, or a `DNAT` to no other host, in `PREROUTING` or a chain
/// it reaches, a direct rule's or passthrough's in `PREROUTING_direct`
/// (under either backend: its direct rules go through iptables), or one
/// added with `iptables -t nat` beside firewalld (`-p tcp --dport 81 -j
/// REDIRECT --to-ports 2881` opens 2881 to everyone). Each is read as the
/// accept of the port it sends to, from its sources ([`nat_as_input`]).
/// Not read where firewalld does not accept what they send: a family
/// whose filter table holds its iptables ruleset without that accept (0.4
/// to 0.6, or 2.3's `StrictForwardPorts=yes`), and every family where the
/// binary says its nftables table does not ([`NFT_DNAT_UNACCEPTED`]).
fn nat_open(direct: &[String], saved: &[String]) -> Vec<OpenPort> {
    if direct.iter().any(|line| line == NFT_DNAT_UNACCEPTED) {
        return Vec::new();
    }
    let local = direct.iter().find_map(|l| l.strip_prefix(LOCAL_ADDRESSES));
    let local = local.unwrap_or_default();
    let texts = [0, 1].map(|at| {
        let table = saved.get(at).map_or("", String::as_str);
        let accepts = !firewalld_iptables(table) || table.lines().any(|l| l.trim() == KNOWN_ACCEPT);
        match accepts {
            true => nat_as_input(table, local),
            false => String::new(),
        }
    });
    super::iptables::read(&texts[0], &texts[1]).map_or_else(|_| every_port(), |state| state.open)
}

/// The nat table's `PREROUTING` as the iptables reader reads an `INPUT`
/// that drops what it does not accept, with the user chains it reaches
/// that send to the host: a `REDIRECT`, or a `DNAT` to no other host
/// ([`sends_here`]), as an accept (of the ports it sends to: its
/// `--to-ports` or `--to-destination`, which the reader reads so), and a
/// nat `ACCEPT` (translate no more) as a return (read wide as letting the
/// rules after its jump be asked). A jump or goto to a chain that cannot
/// reach such a rule is left out, and so are the rules that send
/// nowhere here (`MASQUERADE`, `MARK`, a `DNAT` to a container or a pod):
/// kube-proxy's thousands of chains read as nothing, not as so many
/// hands that the walk reads wide. firewalld's jumps to its zones and
/// policies go as from `INPUT` ([`firewalld_removed`]). The nat `INPUT`
/// (what arrives here, already translated) is left out, not to be read as
/// this `INPUT`'s rules; `OUTPUT` and `POSTROUTING`, which no rule can
/// jump to, are never reached. A nat table iptables-nft-save cannot print
/// ([`NAT_INCOMPATIBLE`]) reads as every port.
fn nat_as_input(table: &str, local: &str) -> String {
    let mut rules = Vec::new();
    let mut nat = false;
    for line in table.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('*') {
            nat = name == "nat";
        }
        let rule = match line == NAT_INCOMPATIBLE {
            // A rule that does not read (an unclosed quote): every port.
            true => Some(("PREROUTING", "\"")),
            false => (line.strip_prefix("-A ").filter(|_| nat)).and_then(|r| r.split_once(' ')),
        };
        let Some((chain, rule)) = rule else {
            continue;
        };
        let chain = match chain {
            "INPUT" => continue,
            "PREROUTING" => "INPUT",
            chain => chain,
        };
        match super::iptables::saved_words(rule) {
            Some(words) => rules.extend(nat_rule(chain, words, local)),
            // One that does not read is kept as it is, in `INPUT` whatever
            // its chain (one jumped to only through it would be cut, or read
            // as nothing): the reader fails on it (every port).
            None => rules.push(NatRule {
                chain: "INPUT",
                to: None,
                sends: false,
                words: vec![rule.to_string()],
            }),
        }
    }
    let sending = sending_chains(&rules);
    let mut text = String::from("*filter\n:INPUT DROP\n");
    for rule in &rules {
        if (rule.to.as_deref()).is_some_and(|to| !sending.contains(to)) {
            continue;
        }
        for part in ["-A ", rule.chain, " "] {
            text.push_str(part);
        }
        match &rule.words[..] {
            [unread] => text.push_str(unread),
            words => text.push_str(&join_args(words.iter().map(String::as_str))),
        }
        text.push('\n');
    }
    firewalld_removed(&text)
}

/// What iptables-nft-save prints, in place of the nat table's rules
/// (iptables' own too), where the table holds a rule of nft's own that it
/// cannot print as iptables' (`nft add rule ip nat PREROUTING tcp dport 81
/// redirect to :2881`; 1.8.9, checked in a namespace): not read, so every
/// port, as a rule that does not read (wide: a masquerade written so too).
/// Not the line for a base chain of nft's own in that table (`# Table
/// `nat' contains incompatible base-chains`, nftables.conf's `chain
/// prerouting`), after which the rest is printed: that chain is not read,
/// as nft's own chains in tables of their own are not.
const NAT_INCOMPATIBLE: &str = "# Table `nat' is incompatible, use 'nft' tool.";

/// A nat rule as [`nat_as_input`] keeps it.
struct NatRule<'a> {
    chain: &'a str,
    /// The chain it jumps or goes to.
    to: Option<String>,
    /// Whether it sends to the host (a `REDIRECT`, a `DNAT` here).
    sends: bool,
    /// Its words, a sending rule's target an accept; one word, the rule as
    /// saved, where they do not read.
    words: Vec<String>,
}

/// A nat rule of `chain` as [`nat_as_input`] keeps it, from its words;
/// `None` for one that neither sends here, nor jumps, nor ends its chain.
/// `local`: the host's addresses, as [`LOCAL_ADDRESSES`] lists them.
fn nat_rule<'a>(chain: &'a str, mut words: Vec<String>, local: &str) -> Option<NatRule<'a>> {
    // The target, after every match (iptables-save writes it last): the
    // last `-j` or `-g`. A comment's `-j` (`--comment -j`, unquoted) comes
    // before it; a log prefix's after it names no chain that sends
    // (`-j LOG --log-prefix -j --log-level 4` reads as a jump to
    // `--log-level`).
    let at =
        (words.iter()).rposition(|w| matches!(w.as_str(), "-j" | "--jump" | "-g" | "--goto"))?;
    let mut options = words.split_off(at);
    let target = options.get(1)?.clone();
    let to = (options.iter())
        .skip_while(|w| *w != "--to-destination")
        .nth(1);
    let sends = matches!(target.as_str(), "REDIRECT" | "DNAT");
    if !to.is_none_or(|to| sends_here(to, local)) {
        return None;
    }
    let mut rule = NatRule {
        chain,
        to: None,
        sends,
        words,
    };
    // The target's own options stay (`--to-ports 2881`, `--random`).
    match target.as_str() {
        _ if sends => options[1] = "ACCEPT".into(),
        "ACCEPT" => options[1] = "RETURN".into(),
        "RETURN" => {}
        _ => rule.to = Some(target),
    }
    rule.words.extend(options);
    Some(rule)
}

/// Whether a `DNAT` to `to` (its `--to-destination`: `:2881`,
/// `127.0.0.1:2881-2890`, `[::1]:2881`, `198.18.2.11`) sends to this host:
/// where it names no address, a loopback one, or one of `local` (the
/// host's, space-separated as [`LOCAL_ADDRESSES`] lists them; compared as
/// text: iptables-save prints an address as `inet_ntop` does, and the
/// binary as Rust's `Display`, both RFC 5952's one form). Any other is
/// forwarded to another host (a container's, a pod's, one firewalld
/// forwards a port to), never to a listener here; a range is the host's
/// where either end is (one only inside it is not read). Read wide where the
/// translation changes nothing (a packet already to that address and
/// port), which conntrack does not mark as sent.
fn sends_here(to: &str, local: &str) -> bool {
    let (address, _) = super::iptables::destination(to);
    let address = address.trim_start_matches('[').trim_end_matches(']');
    // A range (`a-b`, `[a-b]:2881`) where either end is the host's.
    let here = |end: &str| {
        local.split_whitespace().any(|own| own == end)
            || parse_net(end).is_some_and(|net| net.addr().is_loopback())
    };
    address.is_empty() || address.split('-').any(here)
}

/// The chains of `rules` that send to the host, or jump or go to one that
/// does: found back from those that do, through who jumps to each, so in
/// one pass over the rules however deep the chains.
fn sending_chains<'a>(rules: &'a [NatRule<'a>]) -> Set<&'a str> {
    let mut callers: Map<&str, Vec<&str>> = Map::new();
    let mut found = Vec::new();
    for rule in rules {
        if let Some(to) = &rule.to {
            callers.get_or_default(to.as_str()).push(rule.chain);
        } else if rule.sends {
            found.push(rule.chain);
        }
    }
    let mut sending = Set::new();
    while let Some(chain) = found.pop() {
        if sending.insert(chain) {
            found.extend(callers.get(chain).into_iter().flatten());
        }
    }
    sending
}

/// Whether a filter table holds firewalld's iptables ruleset: it declares
/// `INPUT_direct`, which firewalld makes only with its iptables backend
/// (under nftables its direct rules go to the built-in chains,
/// fw_direct.py), and which a flush of `INPUT` keeps.
fn firewalld_iptables(table: &str) -> bool {
    table
        .lines()
        .any(|l| l.trim_start().starts_with(":INPUT_direct "))
}

/// The chains firewalld's iptables backend jumps to from `INPUT` (and the
/// nat table's `PREROUTING`) for its zones and policies, which are read
/// from its configuration (`build_default_rules` in ipXtables.py), less
/// the built-in chain's name: `INPUT_ZONES_SOURCE` and `INPUT_ZONES` (0.4
/// to 0.6; 0.8 and 0.9 with AllowZoneDrifting), `INPUT_ZONES` (0.7 to
/// 1.x), `INPUT_POLICIES_pre` and `_post` (0.9), `INPUT_POLICIES` (2.0 to
/// 2.4), `INPUT_dispatch` (2.5).
const DISPATCH: [&str; 6] = [
    "ZONES",
    "ZONES_SOURCE",
    "POLICIES_pre",
    "POLICIES_post",
    "POLICIES",
    "dispatch",
];

/// firewalld's accept, from 0.7 on, of what conntrack says belongs to a
/// known connection or was forwarded to the host (`DNAT`: a zone's forward
/// ports, read with the zone). Before 0.7 it names no `DNAT` and reads
/// closed, as does the rest of firewalld's `INPUT`: the loopback's accept,
/// the deny of what conntrack calls invalid, the jump to `INPUT_direct`
/// (whose accepts are read) and the final reject.
const KNOWN_ACCEPT: &str = "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT";

/// A saved filter table as [`saved_open`] reads it: without firewalld's
/// [`KNOWN_ACCEPT`] and its jumps to the [`DISPATCH`] chains (as a nat
/// table's `PREROUTING` read as `INPUT` names them too). The rest is
/// as iptables reads any `INPUT`: rules after its first catch-all (its
/// final reject) see no packet (`iptables -A INPUT` beside firewalld opens
/// nothing), and under the accepting policy firewalld leaves it a `RETURN`
/// accepts.
fn firewalld_removed(table: &str) -> String {
    let mut kept = String::new();
    for line in table.lines().map(str::trim) {
        // The nat table's `PREROUTING` is read as an `INPUT` ([`nat_as_input`]).
        let to = line.strip_prefix("-A INPUT -j ");
        let to = to.and_then(|to| {
            to.strip_prefix("INPUT_")
                .or_else(|| to.strip_prefix("PREROUTING_"))
        });
        let dispatch = to.is_some_and(|to| DISPATCH.contains(&to));
        if !dispatch && line != KNOWN_ACCEPT {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

/// What the runtime's filter tables accept beside firewalld's zones, as
/// iptables reads `INPUT` ([`super::iptables::read`]) of each family
/// whose table is `live` (chosen by [`direct_open`]), less firewalld's own
/// ([`firewalld_removed`]): direct rules in `INPUT_direct`, passthroughs
/// wherever `INPUT` reaches them, whether firewalld lists them or not
/// (`firewall-cmd --direct --passthrough` keeps no record), and rules
/// added with `iptables` beside firewalld. Where such an `INPUT` drops
/// nothing (flushed), every port of its family is open; where one does
/// not read, every port. Rules edited into firewalld's zone chains are not
/// read.
fn saved_open(live: [Option<&str>; 2]) -> Vec<OpenPort> {
    // A family not read: a chain that drops and accepts nothing.
    let texts = live.map(|t| t.map_or_else(|| "*filter\n:INPUT DROP\n".into(), firewalld_removed));
    let Ok(state) = super::iptables::read(&texts[0], &texts[1]) else {
        return every_port();
    };
    let mut open = state.open;
    for family in [IpFamily::Ipv4, IpFamily::Ipv6] {
        if !(state.chains.iter()).any(|chain| chain.family == family && chain.drops) {
            for transport in [Transport::Tcp, Transport::Udp] {
                let mut every = anywhere(transport, super::EVERY_PORT);
                every.sources.push(family.any().to_string());
                open.push(every);
            }
        }
    }
    open
}

/// What the direct rules and passthroughs listed accept, each read alone
/// ([`direct_open`]).
fn direct_text_open(direct: &[String]) -> Vec<OpenPort> {
    let mut open = Vec::new();
    for line in direct {
        let (family, rule) = line.split_once(' ').unwrap_or_default();
        let Some((args, read)) = direct_input(rule).filter(|_| matches!(family, "ipv4" | "ipv6"))
        else {
            continue;
        };
        // Under a dropping policy: a `RETURN` reads as no accept. A direct
        // rule's, in INPUT_direct, returns to INPUT and its zones; a
        // passthrough's may be in any chain (`-A SSHLIMIT -j RETURN` read as
        // an accept was every port, a review), and one in INPUT itself,
        // which hands the packet to the accepting policy firewalld leaves
        // it, is read from the live tables.
        let text = format!("*filter\n:INPUT DROP\n-A INPUT {args}\n");
        let texts = [text.as_str(), ""];
        let v6 = usize::from(family == "ipv6");
        match super::iptables::read(texts[v6], texts[1 - v6]) {
            Ok(state) if read => open.extend(state.open),
            _ => open.extend(every_port()),
        }
    }
    open
}

/// The arguments of a direct rule (`filter INPUT 0 ARGS`) or passthrough
/// (`passthrough ARGS`) that may add a rule to an input chain of the filter
/// table; `None` for one that surely does not. A passthrough names its
/// table (`-t`, `--table`, else `filter`) and its command (`-A`,
/// `--append`, `-I`, `--insert`) anywhere among its words, as firewalld's
/// `passthrough_parse_table_chain` reads them; a rule's priority, or an
/// insert's position, is left as a word no option takes, which narrows
/// nothing. Words are split as iptables' getopt takes them (`-jACCEPT`,
/// `--jump=ACCEPT`). Read wide: another table only where every table named
/// is one iptables has (a `-t` that is some option's value names none),
/// and `OUTPUT` or `FORWARD` only where every command names one; a
/// passthrough with no command read is not known to add nothing (an
/// abbreviated `--ins`): its words, which read as no accept. With whether
/// the reader reads them as iptables would: not where they name `ACCEPT`
/// but the reader finds another target or none, nor where a word holds a
/// `"` (for `iptables-restore` a word boundary).
fn direct_input(rule: &str) -> Option<(String, bool)> {
    // The table, chain and priority of a direct rule as they are, unsplit:
    // a chain named `#x` would begin a shell comment.
    let (head, args) = match rule.strip_prefix("passthrough ") {
        Some(args) => (Vec::new(), args),
        None => {
            let mut head: Vec<&str> = rule.splitn(4, ' ').collect();
            let args = head.pop().filter(|_| head.len() == 3).unwrap_or_default();
            (head, args)
        }
    };
    let Some(said) = super::iptables::saved_words(args) else {
        // A quote left open: not read (every port).
        return Some((String::new(), false));
    };
    let mut words: Vec<String> = Vec::new();
    for word in said {
        let short = word.len() > 2 && !word.starts_with("--") && word.starts_with('-');
        match word.split_once('=').filter(|_| word.starts_with("--")) {
            Some((option, value)) => words.extend([option.into(), value.into()]),
            None if short && word.as_bytes()[1].is_ascii_alphabetic() => {
                words.extend([word[..2].to_string(), word[2..].to_string()])
            }
            None => words.push(word),
        }
    }
    let after = |names: &[&str]| -> Vec<usize> {
        (1..words.len())
            .filter(|&i| names.contains(&words[i - 1].as_str()))
            .list()
    };
    let commands = after(&["-A", "--append", "-I", "--insert"]);
    let tables = after(&["-t", "--table"]);
    let named = |at: &[usize], what: &[&str], head: Option<&&str>| {
        let named = at.iter().map(|&i| words[i].as_str()).chain(head.copied());
        let mut named = named.peekable();
        named.peek().is_some() && named.all(|name| what.contains(&name))
    };
    let other_table = named(&tables, &["nat", "mangle", "raw", "security"], head.first());
    let outward = ["OUTPUT", "FORWARD", "OUTPUT_direct", "FORWARD_direct"];
    let output = named(&commands, &outward, head.get(1));
    let dropped = |i: &usize| commands.contains(&(i + 1)) || tables.contains(&(i + 1));
    let args: Vec<String> = (words.iter().enumerate())
        .filter(|(i, _)| !dropped(i) && !commands.contains(i) && !tables.contains(i))
        .map(|(_, word)| word.clone())
        .list();
    let accepts = super::iptables::target(&args).as_deref() == Some("ACCEPT");
    let read = (accepts || !rule.contains("ACCEPT")) && !words.iter().any(|w| w.contains('"'));
    let joined = join_args(args.iter().map(String::as_str));
    (!other_table && !output).then_some((joined, read))
}

/// Words as `firewall-cmd` prints a direct rule's (firewalld's `joinArgs`:
/// Python's `shlex.quote` of each), so that a rule read over D-Bus reads as
/// the same rule through `firewall-cmd`, and a word holding a blank or a
/// quote (`--comment "it's"`) splits back whole.
pub fn join_args<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    let mut joined = String::new();
    for word in words {
        let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
        if !joined.is_empty() {
            joined.push(' ');
        }
        match !word.is_empty() && word.chars().all(safe) {
            true => joined.push_str(word),
            false => joined.push_str(&format!("'{}'", word.replace('\'', "'\"'\"'"))),
        }
    }
    joined
}

/// Every port of both transports from anywhere.
fn every_port() -> Vec<OpenPort> {
    [Transport::Tcp, Transport::Udp]
        .map(|transport| anywhere(transport, super::EVERY_PORT))
        .into()
}

/// What an accepting rich rule may admit, read wide: every port where it
/// names none or names a service (whose ports are not read), from anywhere
/// where it names no address (an ipset's members are not read either).
/// Nothing for one that admits no TCP or UDP (an ICMP type, a protocol).
fn may_accept(rule: &RichRule) -> Vec<OpenPort> {
    if !rule.accept || (rule.closed && !rule.service) {
        return Vec::new();
    }
    let (transports, ports) = match rule.port.filter(|_| !rule.service) {
        Some((transport, ports)) => (vec![transport], ports),
        None => (vec![Transport::Tcp, Transport::Udp], super::EVERY_PORT),
    };
    let source = (rule.address.as_deref())
        .filter(|_| rule.ipset.is_none())
        .and_then(normalize_source);
    (transports.into_iter())
        .map(|transport| OpenPort {
            transport,
            ports,
            sources: source.iter().cloned().list(),
            tag: None,
        })
        .list()
}

pub(super) fn read(
    runtime: &str,
    permanent: &str,
    zone: Option<&str>,
) -> Result<FirewalldState, PlanError> {
    let sides = [
        ("main", side(runtime, "main", true)?),
        ("extra", side(permanent, "extra", false)?),
    ];
    let runtime = &sides[0].1;
    if runtime.zones.is_empty() {
        return Err(PlanError::single(
            "main",
            "",
            "not `firewall-cmd --list-all-zones` output: no zones",
        ));
    }
    // firewalld marks the default zone only while it is active, so the shell
    // asks firewalld which zone serves the host.
    let serving = match zone {
        Some(name) => runtime
            .zones
            .iter()
            .find(|z| z.name == name)
            .ok_or_else(|| {
                PlanError::single(
                    "zone",
                    name,
                    "no such zone in `firewall-cmd --list-all-zones`",
                )
            })?,
        None => runtime.zones.iter().find(|z| z.default).ok_or_else(|| {
            PlanError::single(
                "zone",
                "",
                "is required for firewalld: the zone serving the host's interface",
            )
        })?,
    };

    let mut state = FirewalldState::default();
    // The serving zone first, then any zone holding portplan's rules.
    let mut zones = vec![serving.name.clone()];
    for (_, side) in &sides {
        for zone in &side.zones {
            let tagged = zone
                .rich_rules
                .iter()
                .any(|r| rich_rule(r).is_some_and(|r| r.tag.is_some()));
            if tagged && !zones.contains(&zone.name) {
                zones.push(zone.name.clone());
            }
        }
    }
    for zone_name in &zones {
        for (which, (input, side)) in [FirewalldSide::Runtime, FirewalldSide::Permanent]
            .into_iter()
            .zip(&sides)
        {
            let table = which.as_str();
            let chain = ChainId::at(state.zones.len());
            let zone = side.zones.iter().find(|z| &z.name == zone_name);
            let serves = zone_name == &serving.name;
            if serves && zone.is_none() {
                return Err(PlanError::single(
                    *input,
                    zone_name,
                    format!("the zone serving the host is missing from the {table} configuration"),
                ));
            }
            state.zones.push(FirewalldZone {
                name: zone_name.clone(),
                side: which,
                drops: serves && zone.is_some_and(Block::drops),
            });
            let Some(zone) = zone else { continue };
            if serves {
                add_new(&mut state.foreign, after_allows(zone, side));
            }
            read_zone(
                &mut state,
                chain,
                zone,
                side,
                input,
                serves && which == FirewalldSide::Runtime,
            )?;
        }
    }
    state.foreign.extend(source_zones(runtime, &serving.name));
    // firewalld asks a policy to the host from the zone before the zone's
    // target, whatever its priority (a zone's chain jumps to the policies
    // of negative priority first and of positive priority just before its
    // catch-all: `build_policy_chain_rules` in firewalld's nftables.py):
    // what one accepts is open.
    for policy in runtime.policies.iter() {
        if to_host_from(policy, &serving.name) {
            state.open.extend(policy_accepts(policy, false));
        }
    }
    state.open.extend(runtime.direct_open.iter().cloned());
    // A policy only in the permanent configuration is the runtime's after
    // the next reload.
    for (_, side) in &sides {
        add_new(&mut state.foreign, late_policies(side, &serving.name));
    }
    state.foreign.extend(early_policies(runtime, &serving.name));
    for (_, side) in &sides {
        state.foreign.extend(ipset_users(side));
    }
    let left = left_ipsets(&state, &sides[1].1);
    state.foreign.extend(left);
    Ok(state)
}

/// `entries` not in `foreign` yet, added to it: the same rule read on both
/// sides is one refusal.
fn add_new(foreign: &mut Vec<ForeignRule>, entries: Vec<ForeignRule>) {
    let new = (entries.into_iter())
        .filter(|f| !foreign.contains(f))
        .list();
    foreign.extend(new);
}

/// The sources of one of portplan's ipsets, as it holds them and as they
/// read. firewalld takes an address range as a `hash:net` entry
/// (`10.20.0.1-10.20.255.254`): it reads as the CIDRs that cover it
/// exactly, and is held as written, so that portplan's rule is not as
/// planned and `present` removes the entry by its own text. Skipped, a
/// range added by hand left portplan's rule intact while it admitted the
/// range (an adversarial review). An entry that reads neither way reads as
/// its whole family.
fn ipset_entries(block: &Block) -> (Vec<String>, Vec<String>) {
    let mut held = Vec::new();
    let mut read = Vec::new();
    for text in block.words("entries") {
        if let Some(net) = normalize_source(text) {
            held.push(net.clone());
            read.push(net);
            continue;
        }
        held.push(text.to_string());
        read.extend(range_nets(text).unwrap_or_else(|| vec![family_of(text).any().to_string()]));
    }
    (held, read)
}

/// The CIDRs that cover the range `first-last` of one family exactly;
/// `None` where it is no such range.
fn range_nets(text: &str) -> Option<Vec<String>> {
    let (first, last) = text.split_once('-')?;
    let nets = crate::nets::cover(first.parse().ok()?, last.parse().ok()?);
    (!nets.is_empty()).then(|| nets.iter().map(|n| n.to_string()).list())
}

/// What `ForeignRule::action` says of one of portplan's permanent ipsets
/// that no portplan rule names: left behind by a run that failed or was
/// killed after `--new-ipset`, or by a rule deleted by hand. Its `source`
/// is `ipset:NAME`, which no address collides with.
pub(super) const IPSET_LEFT: &str = "left-ipset";

/// portplan's permanent ipsets that none of its rules names. A `--new-ipset`
/// of one fails (NAME_CONFLICT), so every later run failed (an adversarial
/// review); `commands` deletes such an ipset first, unless someone else's
/// rule names it ([`ipset_users`]).
///
/// Only where everything that may name one is known (a D-Bus dump, or a
/// text with its [`DIRECT_RULES`] section): a bare `--list-all-zones` has
/// no direct rules, and one of those naming it would make the deletion
/// break the next reload.
fn left_ipsets(state: &FirewalldState, permanent: &Side) -> Vec<ForeignRule> {
    if !permanent.references_known {
        return Vec::new();
    }
    let named = |name: &str| {
        (state.found.iter())
            .filter(|f| side_of(state, f.zone) == FirewalldSide::Permanent)
            .any(|f| f.ipset.as_deref() == Some(name))
    };
    (permanent.ipsets.keys())
        .filter(|name| !named(name))
        .map(|name| {
            let text = format!("ipset {name}: portplan's, named by none of its rules");
            super::named_thing(IPSET_LEFT, format!("ipset:{name}"), text)
        })
        .list()
}

/// What `ForeignRule::action` says of a rule or zone that uses one of
/// portplan's ipsets (`source ipset="portplan-..."`, `sources: ipset:...`):
/// its `source` is `ipset:NAME`, which no address collides with.
pub(super) const IPSET_USER: &str = "uses-ipset";

/// Every rule portplan did not write, and every zone binding, that names one
/// of portplan's ipsets, in any zone or policy or direct rule: deleting the
/// ipset under it would leave firewalld's permanent configuration invalid
/// (the next reload fails with INVALID_IPSET, and firewalld falls back to
/// its stock configuration, every operator rule dropped), so such an ipset
/// is kept while anything else uses it.
///
/// A rule names an ipset wherever its text does: `source ipset=`, `source
/// NOT ipset=`, `destination ipset=`, a direct rule's `--match-set`, or a
/// rule that does not parse. Read wide on purpose: an ipset kept for a
/// rule that only seemed to name it costs an unused ipset; one deleted
/// under a rule costs the host its firewall at the next boot.
fn ipset_users(side: &Side) -> Vec<ForeignRule> {
    let mut users = Vec::new();
    let mut user = |name: &str, text: String| {
        let user = super::named_thing(IPSET_USER, format!("ipset:{name}"), text);
        users.push(user);
    };
    // Loops, not iterator adapters: each `flat_map` and `chain` is a few
    // hundred bytes of the plugins.
    let mut texts: Vec<&String> = Vec::new();
    for zone in &side.zones {
        let foreign = |text: &&String| rich_rule(text).is_none_or(|r| r.tag.is_none());
        texts.extend(zone.rich_rules.iter().filter(foreign));
    }
    texts.extend(&side.references);
    for text in texts {
        (side.ipsets.keys())
            .filter(|name| text.contains(name.as_str()))
            .for_each(|name| user(name, text.clone()));
    }
    for zone in &side.zones {
        for source in zone.words("sources") {
            let name = source.strip_prefix("ipset:").unwrap_or_default();
            if side.ipsets.contains_key(name) {
                user(name, format!("zone {} (sources: {source})", zone.name));
            }
        }
    }
    users
}

/// Zones bound to sources (`sources: 198.18.1.0/24`), other than the one
/// serving the host: firewalld gives them every packet from those sources
/// before the interface's zone, so each binding is a foreign rule matching
/// every port from its source (`backends::shadows` refuses a plan whose
/// sources it covers). ipset and MAC sources are not addresses a plan names.
fn source_zones(runtime: &Side, serving: &str) -> Vec<ForeignRule> {
    let mut out = Vec::new();
    for zone in runtime.zones.iter().filter(|z| z.name != serving) {
        let Some(listed) = zone.field("sources").filter(|s| !s.trim().is_empty()) else {
            continue;
        };
        for source in listed.split_whitespace().filter_map(normalize_source) {
            for transport in [Transport::Tcp, Transport::Udp] {
                out.push(ForeignRule {
                    action: format!("{}{}", super::SOURCE_ZONE, zone.name),
                    family: family_of(&source),
                    transport,
                    ports: PortRange {
                        first: 1,
                        last: u16::MAX,
                    },
                    source: source.clone(),
                    text: format!("zone {} (sources: {})", zone.name, listed.trim()),
                    // Read as its own refusal (`backends::shadows`).
                    ahead: Vec::new(),
                });
            }
        }
    }
    out
}

/// portplan's rich rules of one zone on one side into `found`; when the zone
/// is what filters the host now, everything it opens into `open`.
fn read_zone(
    state: &mut FirewalldState,
    chain: ChainId,
    zone: &Block,
    side: &Side,
    input: &str,
    live: bool,
) -> Result<(), PlanError> {
    if live {
        state.open.extend(zone_opens(zone, &side.services));
    }
    // The zone's accepts by priority, and its foreign rules as read, with
    // a deny's priority where it may be ahead.
    let mut accepts: Vec<(Option<i32>, Admits)> = Vec::new();
    let mut denies_read: Vec<(Option<i32>, ForeignRule)> = Vec::new();
    for text in &zone.rich_rules {
        let Some(rule) = rich_rule(text) else {
            if text.contains(TAG_PREFIX) {
                return Err(PlanError::single(
                    input,
                    text,
                    "a portplan rich rule that does not parse",
                ));
            }
            continue;
        };
        if live {
            accepts.extend(
                may_accept(&rule)
                    .iter()
                    .map(|a| (rule.priority, Admits::of(a))),
            );
        }
        // A tagged rule without a port (a service, a source alone, a
        // forward-port) is portplan's all the same: taken as holding every
        // port and not intact, so that `present` replaces it and `absent`
        // removes it, rather than not see it.
        let denies = rule.deny().is_some();
        let (transport, ports, unread) = match rule.port {
            Some((transport, ports)) => (transport, ports, false),
            None if rule.tag.is_some() || rule.accept || denies => {
                (Transport::Tcp, super::EVERY_PORT, true)
            }
            None => continue,
        };
        // As held (an ipset's entry as written) and as read (its CIDRs).
        let (held, sources): (Vec<String>, Vec<String>) = match (&rule.address, &rule.ipset) {
            (Some(address), _) => {
                let source = normalize_source(address).ok_or_else(|| {
                    PlanError::single(input, address, "not an IP address or CIDR in a rich rule")
                })?;
                (vec![source.clone()], vec![source])
            }
            (None, Some(ipset)) => match side.ipsets.get(ipset) {
                Some(block) => ipset_entries(block),
                // A foreign ipset: its members are not known here. A portplan
                // rule naming one was edited by hand (below: not intact).
                None if rule.tag.is_some() => (Vec::new(), Vec::new()),
                None => continue,
            },
            (None, None) => (Vec::new(), Vec::new()),
        };
        let listed = Listed {
            text,
            rule: &rule,
            transport,
            ports,
            unread,
        };
        // What it admits, read wide for the audit (backends/admitted.rs): a
        // condition portplan does not read (a destination, a priority, a
        // limit) is taken not to narrow it; a port-less accept (a source
        // alone, a service) admits every port.
        if live && rule.accept && !rule.closed {
            let open: Vec<OpenPort> = (listed.transports().into_iter())
                .map(|transport| OpenPort {
                    transport,
                    ports,
                    sources: sources.clone(),
                    tag: rule.tag.clone(),
                })
                .list();
            state.open.extend(open);
        }
        if live && rule.tag.is_none() {
            let ahead = side.before_zones.is_some() && denies && !rule.narrowed;
            let priority = rule.priority.filter(|&p| ahead && p <= 0);
            (denies_read).extend(
                listed
                    .foreign(&sources, priority.is_some())
                    .into_iter()
                    .map(|f| (priority, f)),
            );
        }
        state.found.extend(listed.found(chain, side, held));
    }
    let before_zones = side.before_zones.as_deref().unwrap_or_default();
    for (priority, rule) in denies_read {
        state.foreign.extend(match priority {
            Some(p) => {
                // firewalld.richlanguage(5): priority 0 puts a drop or reject
                // in the zone's deny chain, walked before its allow chain; a
                // negative one, before both, in order; "Ordering for rules
                // with the same priority value is undefined".
                let first = |q: &Option<i32>| q.is_none_or(|q| q < p || (q == p && p != 0));
                let earlier = accepts.iter().filter(|(q, _)| first(q)).map(|(_, a)| a);
                behind_accepts(vec![rule], before_zones.iter().chain(earlier))
            }
            None => vec![rule],
        });
    }
    Ok(())
}

/// The serving zone's drop and reject rich rules that firewalld asks after
/// its allow chain, where portplan's accepts go (firewalld.richlanguage(5):
/// "A positive priority value will be executed after other firewalld
/// primitives"), as refusals ([`super::AFTER_ALLOWS`]): an accept
/// portplan added would turn them into allows for its traffic (an
/// adversarial review: only a rule on the exact tuple was refused). On
/// either side: the permanent one is the runtime after a reload.
fn after_allows(zone: &Block, side: &Side) -> Vec<ForeignRule> {
    let late = |rule: &RichRule| rule.priority.is_some_and(|p| p > 0);
    late_denies(&zone.rich_rules, side, late)
}

/// The drop and reject rich rules of a side's policies to the host from
/// the serving zone, of a positive priority (firewall-cmd(1): "If a
/// priority is > 0, then the policy's rules will execute after all rules
/// in all zones", portplan's accepts among them): refusals as
/// [`after_allows`]' are, each named with its policy. Only the binary's
/// D-Bus dump (or `--list-all-policies` text) carries the policies: the
/// runtime's active ones, and every configured one.
fn late_policies(side: &Side, serving: &str) -> Vec<ForeignRule> {
    let mut late = Vec::new();
    for policy in (side.policies.iter()).filter(|policy| after_zones(policy, serving)) {
        let denies = late_denies(&policy.rich_rules, side, |_| true);
        late.extend(denies.into_iter().map(|f| in_policy(policy, f)));
    }
    late
}

/// `entry`, read from one of `policy`'s rich rules, named with the policy.
fn in_policy(policy: &Block, entry: ForeignRule) -> ForeignRule {
    ForeignRule {
        text: format!("policy {}: {}", policy.name, entry.text),
        ..entry
    }
}

/// Whether `policy` filters traffic from `serving` to the host after the
/// zones: to `HOST`, from that zone or `ANY` (or from zones not listed:
/// read wide), of a positive priority.
fn after_zones(policy: &Block, serving: &str) -> bool {
    to_host_from(policy, serving) && policy_priority(policy).is_some_and(|p| p > 0)
}

/// Whether `policy` filters traffic from `serving` to the host: to `HOST`,
/// from that zone or `ANY` (or from zones not listed).
fn to_host_from(policy: &Block, serving: &str) -> bool {
    let from = |zone: &str| zone == "ANY" || zone == serving;
    policy.words("egress-zones").any(|zone| zone == "HOST")
        && (policy.field("ingress-zones").is_none() || policy.words("ingress-zones").any(from))
}

fn policy_priority(policy: &Block) -> Option<i32> {
    policy.field("priority").and_then(|p| p.parse().ok())
}

/// The drop and reject rich rules of the runtime's policies to the host
/// from the serving zone of a negative priority, asked before the zone
/// (firewall-cmd(1): "If a priority is < 0, then the policy's rules will
/// execute before all rules in all zones"), and so before portplan's
/// accepts: ahead on their ports, a note as the zone's own deny of
/// priority 0 or below is (a review: a policy's deny was never named, and
/// the refusal of a later deny advised moving it there). Read narrow as
/// [`read_zone`] reads those: nothing narrowed or on an ipset, less what
/// any policy asked before the zones may accept, and none where a direct
/// rule exists or the policies are not known.
fn early_policies(runtime: &Side, serving: &str) -> Vec<ForeignRule> {
    let Some(before) = runtime.before_zones.as_deref() else {
        return Vec::new();
    };
    let first = |policy: &&Block| policy_priority(policy).is_some_and(|p| p < 0);
    let mut out = Vec::new();
    for policy in (runtime.policies.iter())
        .filter(|p| to_host_from(p, serving))
        .filter(first)
    {
        for text in &policy.rich_rules {
            let Some(rule) = rich_rule(text) else {
                continue;
            };
            if rule.deny().is_none() || rule.narrowed || rule.ipset.is_some() {
                continue;
            }
            let (transport, ports) = rule.port.unwrap_or((Transport::Tcp, super::EVERY_PORT));
            let listed = Listed {
                text,
                rule: &rule,
                transport,
                ports,
                unread: rule.port.is_none(),
            };
            let sources = rule.address.as_deref().and_then(normalize_source);
            let read = listed.foreign(&sources.into_iter().list(), true);
            let read = read.into_iter().map(|f| in_policy(policy, f)).list();
            out.extend(behind_accepts(read, before.iter()));
        }
    }
    out
}

/// Of `rules`, the drops and rejects that `late` says are asked after the
/// zone's allows, as refusals, read wide: from anywhere where the source is
/// not an address or portplan's ipset (an operator's ipset, `NOT`, a MAC),
/// on every port where it names none or a service, whatever else narrows
/// it. Not a deny of every port from everywhere (`rule priority="32767"
/// reject`, the catch-all in effect, which accepts are meant to come
/// before), nor one that takes no TCP or UDP (an ICMP type, another
/// protocol).
fn late_denies(
    rules: &[String],
    side: &Side,
    late: impl Fn(&RichRule) -> bool,
) -> Vec<ForeignRule> {
    let mut out = Vec::new();
    for text in rules {
        let Some(rule) = rich_rule(text) else {
            continue;
        };
        let Some(deny) = rule.deny() else {
            continue;
        };
        if !late(&rule) || !rule.aimed || (rule.closed && !rule.service) {
            continue;
        }
        let (transports, ports) = match (rule.port.filter(|_| !rule.service), rule.protocol) {
            (Some((transport, ports)), _) => (vec![transport], ports),
            (None, Some(transport)) => (vec![transport], super::EVERY_PORT),
            (None, None) => (vec![Transport::Tcp, Transport::Udp], super::EVERY_PORT),
        };
        for (family, source) in late_sources(&rule, side) {
            out.extend(transports.iter().map(|&transport| ForeignRule {
                action: format!("{}{deny}", super::AFTER_ALLOWS),
                family,
                transport,
                ports,
                source: source.clone(),
                text: text.clone(),
                ahead: Vec::new(),
            }));
        }
    }
    out
}

/// The sources a deny asked after the allows may take, read wide: its
/// address, the members of portplan's ipset it names, or every address
/// outside its `NOT` address (one CIDR per prefix bit at most); else
/// anywhere, in its family or in both.
fn late_sources(rule: &RichRule, side: &Side) -> Vec<(IpFamily, String)> {
    let outside = |excluded: &str| {
        let net = parse_net(excluded)?;
        Some(
            crate::nets::outside(&net)
                .iter()
                .map(|n| n.to_string())
                .list(),
        )
    };
    let known: Option<Vec<String>> = match (&rule.source_not, &rule.address, &rule.ipset) {
        (Some(excluded), _, _) => outside(excluded),
        (None, Some(address), _) => normalize_source(address).map(|a| vec![a]),
        (None, None, Some(name)) => (side.ipsets.get(name)).map(|block| ipset_entries(block).1),
        (None, None, None) => None,
    };
    let families = rule.family.map_or(IpFamily::ALL.to_vec(), |f| vec![f]);
    let sources = known.unwrap_or_else(|| families.iter().map(|f| f.any().to_string()).list());
    (sources.into_iter())
        .filter_map(|source| {
            let family = rule
                .family
                .or_else(|| parse_net(&source).map(|n| IpFamily::of(&n)))?;
            Some((family, source))
        })
        .filter(|(family, _)| families.contains(family))
        .list()
}

/// The transport a firewalld protocol names, by name or number, in any
/// case (/etc/protocols: `tcp 6 TCP`, `udp 17 UDP`).
fn protocol_named(name: &str) -> Option<Transport> {
    match name.to_ascii_lowercase().as_str() {
        "tcp" | "6" => Some(Transport::Tcp),
        "udp" | "17" => Some(Transport::Udp),
        _ => None,
    }
}

/// What a zone itself opens to everyone: its `ports:`, and every port of a
/// transport its `protocols:` or `source-ports:` accept
/// (`--add-protocol=tcp` accepts all TCP; a source port is the client's,
/// so any destination port); the same of each service definition listed
/// (`services`). Only the ports were read once: the audit saw nothing the
/// protocols, source ports or services opened (adversarial reviews).
fn zone_opens(zone: &Block, services: &[Block]) -> Vec<OpenPort> {
    let mut open = Vec::new();
    // Whether every TCP, every UDP port is open: flags, not a search of
    // `open` per entry, which a text of many blocks made quadratic (a
    // review).
    let mut wide = [false; 2];
    for block in std::slice::from_ref(zone).iter().chain(services) {
        open.extend(zone_ports(block));
        let source_ports = (block.words("source-ports"))
            .filter_map(|entry| transport_named(entry.split_once('/')?.1));
        for transport in (block.words("protocols").filter_map(protocol_named)).chain(source_ports) {
            wide[usize::from(transport == Transport::Udp)] = true;
        }
    }
    for (transport, wide) in [Transport::Tcp, Transport::Udp].into_iter().zip(wide) {
        if wide {
            open.push(anywhere(transport, super::EVERY_PORT));
        }
    }
    open
}

/// `ports` of `transport` open to everyone.
fn anywhere(transport: Transport, ports: PortRange) -> OpenPort {
    OpenPort {
        transport,
        ports,
        sources: Vec::new(),
        tag: None,
    }
}

/// A zone's or service's `ports:` (open to everyone), and the local ports
/// its `forward-ports:` send to (`port=15432:proto=tcp:toport=5432:toaddr=`:
/// `toport`, else `port`; firewalld's input chain accepts what it
/// redirected, `ct status dnat accept`, before the zones; a `toaddr` is
/// not read, wide). A port firewalld takes that is no number (a name
/// from /etc/services, `7010-7000` in a service's definition: its loader
/// checks ports, keeps their text, and resolves them when it applies
/// them) reads as every port of its transport, as in a rich rule.
fn zone_ports(zone: &Block) -> Vec<OpenPort> {
    let ports = zone.words("ports").filter_map(|entry| {
        let (ports, protocol) = entry.split_once('/').unwrap_or((entry, ""));
        Some((transport_named(protocol)?, ports))
    });
    // firewalld prints the four fields in this order, each `key=value`.
    let forwarded = zone.words("forward-ports").filter_map(|entry| {
        let mut values = entry
            .split(':')
            .map(|pair| pair.split_once('=').map_or("", |p| p.1));
        let (port, protocol, to) = (values.next()?, values.next()?, values.next()?);
        Some((
            transport_named(protocol)?,
            if to.is_empty() { port } else { to },
        ))
    });
    (ports.chain(forwarded))
        .map(|(transport, ports)| {
            anywhere(
                transport,
                parse_ports(ports, '-').unwrap_or(super::EVERY_PORT),
            )
        })
        .list()
}

/// A listed rich rule with a port, as read.
struct Listed<'a> {
    text: &'a str,
    rule: &'a RichRule,
    transport: Transport,
    ports: PortRange,
    /// Tagged, but without a port: not as portplan writes it.
    unread: bool,
}

impl Listed<'_> {
    /// The family a rule with `source` is for: its own, else the source's.
    fn family(&self, source: &str) -> Option<IpFamily> {
        self.rule
            .family
            .or_else(|| parse_net(source).map(|n| IpFamily::of(&n)))
    }

    /// The transports it matches: both where it names no port.
    fn transports(&self) -> Vec<Transport> {
        match self.unread {
            true => vec![Transport::Tcp, Transport::Udp],
            false => vec![self.transport],
        }
    }

    /// A rule without portplan's tag that accepts, drops or rejects, one
    /// entry per source and transport; `ahead` on its ports when `ahead`
    /// (`read_zone` takes out what earlier accepts may admit), and then,
    /// without a source, from any address of its family, or of both.
    fn foreign(&self, sources: &[String], ahead: bool) -> Vec<ForeignRule> {
        let Some(action) = &self.rule.action else {
            return Vec::new();
        };
        // Not one on an ipset, which may be empty: only one with no source.
        let sourceless = self.rule.address.is_none() && self.rule.ipset.is_none();
        let any: Vec<String> = match (ahead && sourceless, self.rule.family) {
            (false, _) => Vec::new(),
            (true, Some(family)) => vec![family.any().to_string()],
            (true, None) => vec![
                IpFamily::Ipv4.any().to_string(),
                IpFamily::Ipv6.any().to_string(),
            ],
        };
        let mut out = Vec::new();
        for source in sources.iter().chain(&any) {
            let Some(family) = self.family(source) else {
                continue;
            };
            out.extend(self.transports().into_iter().map(|transport| ForeignRule {
                action: action.clone(),
                family,
                transport,
                ports: self.ports,
                source: source.clone(),
                text: self.text.to_string(),
                ahead: if ahead { vec![self.ports] } else { Vec::new() },
            }));
        }
        out
    }

    /// portplan's rule, one entry per source. portplan writes an accept with
    /// a family and a source, nothing else; a tagged rule edited by hand is
    /// not intact and is replaced.
    fn found(&self, zone: ChainId, side: &Side, sources: Vec<String>) -> Vec<FirewalldRule> {
        let Some(tag) = &self.rule.tag else {
            return Vec::new();
        };
        let rule = self.rule;
        let intact = rule.accept
            && !rule.other
            && !self.unread
            && rule.family.is_some()
            && !sources.is_empty();
        let sources = if sources.is_empty() {
            vec![rule.family.unwrap_or(IpFamily::Ipv4).any().to_string()]
        } else {
            sources
        };
        sources
            .into_iter()
            .filter_map(|source| {
                Some(FirewalldRule {
                    zone,
                    rich_rule: self.text.to_string(),
                    // Only portplan's own ipsets are ever deleted.
                    ipset: rule
                        .ipset
                        .clone()
                        .filter(|name| side.ipsets.contains_key(name)),
                    // An ipset's range entry, held as written, is no
                    // source a rule could be restored with.
                    intact: intact && parse_net(&source).is_some(),
                    rule: TaggedRule {
                        tag: tag.clone(),
                        family: self.family(&source)?,
                        transport: self.transport,
                        ports: self.ports,
                        source,
                    },
                })
            })
            .list()
    }
}

/// `portplan-observer_s-1a2b3c4d-v4`: the spec's head and a hash of the
/// whole tag, within firewalld's 31 characters, so two specs never share one.
pub(super) fn ipset_name(tag: &str, family: IpFamily) -> String {
    let spec: String = tag
        .trim_start_matches(TAG_PREFIX)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let suffix = family_suffix(family);
    // The hash of the whole tag keeps two specs apart whose sanitised names
    // agree (`app.a-b`, `app.a.b`) or share their head.
    let hash = super::name_hash(tag);
    let room = IPSET_NAME_MAX - IPSET_PREFIX.len() - hash.len() - suffix.len() - 3;
    let head: String = spec.chars().take(room).collect();
    format!("{IPSET_PREFIX}-{head}-{hash}-{suffix}")
}

/// A rich rule as firewalld prints it back, so a listed rule and a rendered
/// one compare equal.
fn render_rule(
    tag: &str,
    family: IpFamily,
    source: &Source,
    transport: Transport,
    ports: PortRange,
) -> String {
    let source = match source {
        Source::Address(address) => format!("address=\"{}\"", bare(address)),
        Source::Ipset(name) => format!("ipset=\"{name}\""),
    };
    format!(
        "rule family=\"{}\" source {source} port port=\"{ports}\" protocol=\"{}\" \
         log prefix=\"{tag}\" level=\"info\" limit value=\"1/h\" accept",
        family.as_str(),
        transport.as_str()
    )
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Address(String),
    Ipset(String),
}

type GroupKey = (ChainId, String, IpFamily, Transport, PortRange);

/// The commands for one side of one zone, gathered so each kind runs as one
/// `firewall-cmd` call where firewalld allows it.
#[derive(Default)]
struct Batch {
    remove_rules: Vec<String>,
    add_rules: Vec<String>,
}

/// Sources per ipset, as found, for each side (`0` runtime, `1` permanent).
type IpsetsBySide = [SortedMap<String, Sorted<String>>; 2];

/// Sources to add to an ipset, and to remove from it.
type Entries = (Sorted<String>, Sorted<String>);

/// Everything a change does, gathered per kind before it is written out.
#[derive(Default)]
struct Change {
    /// Per zone side, in the order of their ids (the groups come so).
    batches: Vec<(ChainId, Batch)>,
    new_ipsets: Vec<(String, IpFamily)>,
    /// Entries to add and to remove, per (side, ipset); of two groups that
    /// fill one ipset the later's.
    entries: Vec<((usize, String), Entries)>,
    kept_ipsets: Vec<String>,
}

impl Change {
    /// The batch of `chain`'s zone side.
    fn batch(&mut self, chain: ChainId) -> &mut Batch {
        let at = match self.batches.iter().rposition(|(c, _)| *c == chain) {
            Some(at) => at,
            None => {
                self.batches.push((chain, Batch::default()));
                self.batches.len() - 1
            }
        };
        &mut self.batches[at].1
    }
}

/// What the state holds, grouped: per group its rules; per side its
/// ipsets' sources.
struct Current<'s> {
    groups: SortedMap<GroupKey, Vec<&'s FirewalldRule>>,
    ipsets: IpsetsBySide,
}

fn side_of(state: &FirewalldState, chain: ChainId) -> FirewalldSide {
    // Checked at the boundary: every id names a zone side.
    state
        .zones
        .get(chain.index())
        .map_or(FirewalldSide::Runtime, |z| z.side)
}

fn group(chain: ChainId, r: &TaggedRule) -> GroupKey {
    (chain, r.tag.clone(), r.family, r.transport, r.ports)
}

fn current(state: &FirewalldState) -> Current<'_> {
    let groups = SortedMap::grouped(
        (state.found.iter())
            .map(|f| (group(f.zone, &f.rule), f))
            .list(),
    );
    let ipsets = [FirewalldSide::Runtime, FirewalldSide::Permanent].map(|side| {
        let filled = (state.found.iter())
            .filter(|f| side_of(state, f.zone) == side)
            .filter_map(|f| Some((f.ipset.clone()?, f.rule.source.clone())));
        SortedMap::grouped(filled.list()).map_values(Sorted::new)
    });
    Current { groups, ipsets }
}

/// Every changed group's rich rules are rewritten; ipsets are created in the
/// permanent configuration and filled on both sides. A side without the
/// ipset (firewalld only creates ipsets permanently, and only a reload brings
/// them to the runtime) gets one rule per source instead, which the next
/// reload replaces with the permanent configuration's ipset rule.
pub(super) fn commands(state: &FirewalldState, desired: &Sorted<Placed>) -> Vec<Command> {
    let current = current(state);
    let wanted = SortedMap::grouped(
        (desired.iter())
            .map(|(chain, rule)| (group(*chain, rule), rule.source.clone()))
            .list(),
    )
    .map_values(Sorted::new);
    let mut change = Change::default();
    let keys: Sorted<&GroupKey> = current.groups.keys().chain(wanted.keys()).collect();
    let none = Sorted::default();
    for key in keys {
        let want = wanted.get(key).unwrap_or(&none);
        plan_group(state, &current, key, want, &mut change);
    }
    write_out(state, &current, change)
}

/// The change of one group: nothing when its sources are as wanted, else
/// its rich rules (and ipset entries) replaced.
fn plan_group(
    state: &FirewalldState,
    current: &Current,
    key: &GroupKey,
    want_sources: &Sorted<String>,
    change: &mut Change,
) {
    let (chain, tag, family, transport, ports) = key;
    let permanent = side_of(state, *chain) == FirewalldSide::Permanent;
    let side = usize::from(permanent);
    let rules = current
        .groups
        .get(key)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let have_sources: Sorted<String> = (rules.iter())
        .filter(|f| f.intact)
        .map(|f| f.rule.source.clone())
        .collect();
    let have_texts: Sorted<String> = rules.iter().map(|f| f.rich_rule.clone()).collect();
    let name = ipset_name(tag, *family);
    let ipsets = &current.ipsets[side];
    let has_ipset = ipsets.contains_key(&name);
    let use_ipset = want_sources.len() > SET_THRESHOLD && (permanent || has_ipset);
    if use_ipset {
        change.kept_ipsets.push(name.clone());
    }
    if have_sources == *want_sources && rules.iter().all(|f| f.intact) {
        return;
    }
    let rule = |source: Source| render_rule(tag, *family, &source, *transport, *ports);
    let want_texts: Sorted<String> = if use_ipset {
        let none = Sorted::default();
        let have = ipsets.get(&name).unwrap_or(&none);
        if permanent && !has_ipset {
            change.new_ipsets.push((name.clone(), *family));
        }
        change.entries.push((
            (side, name.clone()),
            (
                want_sources.difference(have).cloned().collect(),
                have.difference(want_sources).cloned().collect(),
            ),
        ));
        Sorted::new(vec![rule(Source::Ipset(name))])
    } else {
        (want_sources.iter())
            .map(|s| rule(Source::Address(s.clone())))
            .collect()
    };
    // firewalld tells `198.18.2.10` from `198.18.2.10/32`; portplan does not.
    let have_canonical: Vec<(String, &String)> =
        have_texts.iter().map(|t| (canonical(t), t)).list();
    let batch = change.batch(*chain);
    for (canon, text) in &have_canonical {
        if !want_texts.contains(canon) {
            batch.remove_rules.push((*text).clone());
        }
    }
    for text in &want_texts {
        if !have_canonical.iter().any(|(canon, _)| canon == text) {
            batch.add_rules.push(text.clone());
        }
    }
}

/// The calls, in an order firewalld accepts: rich rules out, unused ipsets
/// deleted, new ipsets created and filled, rich rules in.
fn write_out(state: &FirewalldState, current: &Current, change: Change) -> Vec<Command> {
    // One call per side and zone for all its rules of one kind.
    let rules_call = |chain: ChainId, flag: &str, rules: &[String]| {
        let name = state
            .zones
            .get(chain.index())
            .map_or("", |z| z.name.as_str());
        let zone = format!("--zone={name}");
        let rules = rules.iter().map(|r| format!("{flag}={r}"));
        firewall_cmd(
            side_of(state, chain) == FirewalldSide::Permanent,
            std::iter::once(zone).chain(rules),
        )
    };
    let mut commands = Vec::new();
    for (chain, batch) in &change.batches {
        if !batch.remove_rules.is_empty() {
            commands.push(rules_call(
                *chain,
                "--remove-rich-rule",
                &batch.remove_rules,
            ));
        }
    }
    // Permanent ipsets no desired rule uses any more, once no rule names
    // them; one someone else's rule or zone uses stays (see `ipset_users`).
    // One left behind ([`IPSET_LEFT`]) goes too, before anything is made:
    // it is in no current group, so a desired one makes it anew.
    let used = |name: &str| {
        (state.foreign.iter())
            .any(|f| f.action == IPSET_USER && f.source.strip_prefix("ipset:") == Some(name))
    };
    let kept = Sorted::new(change.kept_ipsets);
    let unused = (current.ipsets[1].keys())
        .filter(|name| !change.batches.is_empty() && !kept.contains(*name))
        .cloned();
    let left = (state.foreign.iter())
        .filter(|f| f.action == IPSET_LEFT)
        .filter_map(|f| f.source.strip_prefix("ipset:").map(str::to_string));
    let gone = unused.chain(left).filter(|name| !used(name));
    for name in Sorted::new(gone.list()).iter() {
        commands.push(firewall_cmd(true, [format!("--delete-ipset={name}")]));
    }
    for (name, family) in &Sorted::new(change.new_ipsets) {
        let family = if *family == IpFamily::Ipv4 {
            "inet"
        } else {
            "inet6"
        };
        commands.push(firewall_cmd(
            true,
            [
                format!("--new-ipset={name}"),
                "--type=hash:net".into(),
                format!("--option=family={family}"),
            ],
        ));
    }
    // Of two groups that fill one ipset, the later's (as they were made).
    for ((side, name), (add, remove)) in SortedMap::new(change.entries).iter() {
        for (flag, sources) in [("--remove-entry", remove), ("--add-entry", add)] {
            for source in sources {
                commands.push(firewall_cmd(
                    *side == 1,
                    [
                        format!("--ipset={name}"),
                        format!("{flag}={}", bare(source)),
                    ],
                ));
            }
        }
    }
    for (chain, batch) in &change.batches {
        if !batch.add_rules.is_empty() {
            commands.push(rules_call(*chain, "--add-rich-rule", &batch.add_rules));
        }
    }
    commands
}

/// `firewall-cmd`, on the permanent configuration when asked, with `args`.
fn firewall_cmd(permanent: bool, args: impl IntoIterator<Item = String>) -> Command {
    let mut argv = vec!["firewall-cmd".to_string()];
    if permanent {
        argv.push("--permanent".into());
    }
    argv.extend(args);
    Command { argv, stdin: None }
}

/// A listed portplan rule in the form [`render_rule`] writes, so the same
/// rule written two ways is recognised as one.
fn canonical(text: &str) -> String {
    let Some(rule) = rich_rule(text) else {
        return text.to_string();
    };
    // Only a rule of portplan's own shape has a canonical form; one edited
    // by hand (a priority, a second limit, ...) stays itself and is
    // replaced (a drop or reject is someone else's: `rich_rule`).
    if !rule.accept || rule.other {
        return text.to_string();
    }
    let (Some(tag), Some(family), Some((transport, ports))) = (&rule.tag, rule.family, rule.port)
    else {
        return text.to_string();
    };
    let source = match (&rule.address, &rule.ipset) {
        (Some(address), _) => match normalize_source(address) {
            Some(address) => Source::Address(address),
            None => return text.to_string(),
        },
        (None, Some(ipset)) => Source::Ipset(ipset.clone()),
        (None, None) => return text.to_string(),
    };
    render_rule(tag, family, &source, transport, ports)
}

/// `v4` or `v6`, closing a set or ipset name.
pub(super) fn family_suffix(family: IpFamily) -> &'static str {
    match family {
        IpFamily::Ipv4 => "v4",
        IpFamily::Ipv6 => "v6",
    }
}
