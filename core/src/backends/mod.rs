//! Firewall backends: read a backend's state from its own output, diff it
//! against a host's desired rules, and render the exact commands.
//!
//! Only rules carrying portplan's tag are ever changed or removed; every other
//! rule is read only to know where input is filtered and what is open. The
//! shells run the commands; nothing here runs anything.
//!
//! The diff is shared: every backend's state is seen as a list of slots
//! (chains, zone sides, ufw's one list) that drop or not and take one family
//! or both, and a set of `(slot, tagged rule)` pairs. Only rendering differs.

mod admitted;
mod ahead;
mod firewalld;
mod iptables;
mod nftables;
mod reached;
mod ufw;

pub use firewalld::{
    BACKEND as FIREWALLD_BACKEND, DIRECT_RULES as FIREWALLD_DIRECT_RULES,
    FILTER_TABLES as FIREWALLD_FILTER_TABLES, IPSET_PREFIX as FIREWALLD_IPSET_PREFIX,
    LOCAL_ADDRESSES as FIREWALLD_LOCAL_ADDRESSES,
    NFT_DNAT_UNACCEPTED as FIREWALLD_NFT_DNAT_UNACCEPTED, join_args as firewalld_join_args,
    nft_dnat_line as firewalld_nft_dnat_line, services_named as firewalld_services_named,
};
pub use firewalld::{
    DbusDump as FirewalldDbusDump, DbusIpset as FirewalldDbusIpset, DbusZone as FirewalldDbusZone,
};

use crate::list::List;
use crate::model::{FirewallBackend, FirewallRule, PlanError, PortRange, Transport};
use crate::order::{self, Sorted};
use crate::resolve::parse_net;
use crate::state::{
    ChainId, Command, FirewallChange, FirewallOutput, FirewallState, FirewalldSide, FirewalldState,
    FirewalldZone, ForeignRule, IpFamily, IptablesChain, IptablesState, NftChain, NftFamily,
    NftState, TaggedRule, UfwState,
};
use crate::table::Map;
use admitted::Admitted;
use ahead::behind_accepts;
pub use ahead::{denied_ahead, overridden};

/// Longest tag written into a backend's comment (nftables allows 128 bytes).
const MAX_TAG: usize = 64;

/// More sources than this go into a named set (nftables) or ipset (firewalld).
const SET_THRESHOLD: usize = 3;

/// Every port: what a rule without a port match (or one that does not
/// read) may admit.
const EVERY_PORT: PortRange = PortRange {
    first: 1,
    last: 65535,
};

/// The prefix that marks a rule as portplan's: the one place it is spelled.
pub const TAG_PREFIX: &str = "portplan:";

/// A rule of the diff: the slot that holds it and what it admits.
type Placed = (ChainId, TaggedRule);

/// Read a backend's state (WIT `read-firewall`).
pub(crate) fn read_firewall(
    backend: FirewallBackend,
    output: &FirewallOutput,
) -> Result<FirewallState, PlanError> {
    match backend {
        FirewallBackend::Nftables => nftables::read(&output.main).map(FirewallState::Nftables),
        FirewallBackend::Iptables => {
            iptables::read(&output.main, &output.extra).map(FirewallState::Iptables)
        }
        FirewallBackend::Firewalld => {
            firewalld::read(&output.main, &output.extra, output.zone.as_deref())
                .map(FirewallState::Firewalld)
        }
        FirewallBackend::Ufw => ufw::read(&output.main, &output.extra).map(FirewallState::Ufw),
        FirewallBackend::None => Err(no_state()),
    }
}

fn no_state() -> PlanError {
    PlanError::single(
        "backend",
        "none",
        "there is no firewall state for backend none",
    )
}

/// A host with nothing open behind a default-drop firewall (WIT
/// `empty-firewall`): nftables an `inet filter` input chain, iptables
/// `INPUT DROP` for both families, firewalld the `public` zone on both sides,
/// ufw active and denying incoming.
pub(crate) fn empty_firewall(backend: FirewallBackend) -> Result<FirewallState, PlanError> {
    Ok(match backend {
        FirewallBackend::Nftables => FirewallState::Nftables(NftState {
            chains: vec![NftChain {
                family: NftFamily::Inet,
                table: "filter".into(),
                name: "input".into(),
                drops: true,
                insert_before: None,
                managed_by: None,
            }],
            ..NftState::default()
        }),
        FirewallBackend::Iptables => FirewallState::Iptables(IptablesState {
            chains: [IpFamily::Ipv4, IpFamily::Ipv6]
                .map(|family| IptablesChain {
                    family,
                    drops: true,
                    insert_before: None,
                })
                .to_vec(),
            ..IptablesState::default()
        }),
        FirewallBackend::Firewalld => FirewallState::Firewalld(FirewalldState {
            zones: [FirewalldSide::Runtime, FirewalldSide::Permanent]
                .map(|side| FirewalldZone {
                    name: "public".into(),
                    side,
                    drops: true,
                })
                .to_vec(),
            ..FirewalldState::default()
        }),
        FirewallBackend::Ufw => FirewallState::Ufw(UfwState {
            active: true,
            drops: true,
            ..UfwState::default()
        }),
        FirewallBackend::None => return Err(no_state()),
    })
}

/// A slot of a state: whether it drops input, which families it sees, and
/// the tool that owns it when portplan must not write there.
struct Slot {
    drops: bool,
    takes: [bool; 2],
    owner: Option<String>,
}

impl Slot {
    /// Whether portplan's rules of `family` go here: it drops that family
    /// and no other tool owns it.
    fn filters(&self, family: IpFamily) -> bool {
        self.drops && self.takes[family.index()] && self.owner.is_none()
    }
}

fn takes_both() -> [bool; 2] {
    [true, true]
}

fn takes(f: impl Fn(IpFamily) -> bool) -> [bool; 2] {
    [f(IpFamily::Ipv4), f(IpFamily::Ipv6)]
}

fn slots(state: &FirewallState) -> Vec<Slot> {
    match state {
        FirewallState::Nftables(s) => {
            s.chains
                .iter()
                .map(|c| Slot {
                    drops: c.drops,
                    takes: takes(|f| c.family.takes(f)),
                    owner: c.managed_by.as_ref().map(|tool| {
                        format!("{tool}'s {} {} {}", c.family.as_str(), c.table, c.name)
                    }),
                })
                .list()
        }
        FirewallState::Iptables(s) => s
            .chains
            .iter()
            .map(|c| Slot {
                drops: c.drops,
                takes: takes(|f| c.family == f),
                owner: None,
            })
            .list(),
        FirewallState::Firewalld(s) => s
            .zones
            .iter()
            .map(|z| Slot {
                drops: z.drops,
                takes: takes_both(),
                owner: None,
            })
            .list(),
        FirewallState::Ufw(s) => vec![Slot {
            drops: s.drops,
            takes: takes_both(),
            owner: None,
        }],
    }
}

/// What names a slot across two reads of one host, for the restore plan.
fn slot_key(state: &FirewallState, id: ChainId) -> Option<String> {
    match state {
        FirewallState::Nftables(s) => s
            .chains
            .get(id.index())
            .map(|c| format!("{} {} {}", c.family.as_str(), c.table, c.name)),
        FirewallState::Iptables(s) => s.chains.get(id.index()).map(|c| c.family.as_str().into()),
        FirewallState::Firewalld(s) => s
            .zones
            .get(id.index())
            .map(|z| format!("{} {}", z.side.as_str(), z.name)),
        FirewallState::Ufw(_) => (id.0 == 0).then(String::new),
    }
}

/// The change from `state` to exactly `rules` (WIT `plan-firewall`).
///
/// A desired rule goes into every slot that drops input of its family: an
/// accept in one chain does not get a packet past a drop in another.
pub(crate) fn plan_firewall(
    rules: &[FirewallRule],
    state: &FirewallState,
    remove_all: bool,
) -> Result<FirewallChange, PlanError> {
    state.check("state")?;
    let wanted = if remove_all {
        Sorted::default()
    } else {
        expand(rules)?
    };
    let slots = slots(state);
    owned_elsewhere(state, &slots, &wanted)?;
    let (desired, unfiltered) = place(&slots, &wanted);
    let current = held(state, &desired);
    let add: Vec<Placed> = desired.difference(&current).cloned().list();
    collisions(state, &add)?;
    let adding = unique(&add);
    shadows(state, &wanted, &adding)?;
    let remove = leaving(state, &desired);
    let mut notes: Vec<String> = unfiltered.into_iter().map(unfiltered_note).list();
    // Only where portplan places rules: elsewhere the note above says why
    // it adds none.
    let placed = unique(desired.as_slice());
    notes.extend(denied_ahead(state, &placed));
    notes.extend(overridden(state, &placed));
    Ok(FirewallChange {
        backend: state.backend(),
        add: adding,
        remove: unique(&remove),
        commands: render(state, &desired, &add, &remove),
        notes,
    })
}

/// A firewalld zone bound to sources: firewalld hands it every packet from
/// those sources before the interface's zone sees them (`read` lists each
/// such binding as a foreign rule with this action prefix).
pub(crate) const SOURCE_ZONE: &str = "zone ";

/// A foreign entry that names a thing of the firewall's, not traffic: an
/// ipset someone else's rule uses, a set or ipset of portplan's left
/// behind. `action` says which; `source` (`ipset:NAME`, `set:FAMILY TABLE
/// NAME`) is no address, so no collision or shadow check ever matches it.
fn named_thing(action: &str, source: String, text: String) -> ForeignRule {
    ForeignRule {
        action: action.into(),
        family: IpFamily::Ipv4,
        transport: Transport::Tcp,
        ports: EVERY_PORT,
        source,
        text,
        ahead: Vec::new(),
    }
}

/// The families no input chain portplan writes into drops (policy accept,
/// no catch-all), IPv4 first: for them `plan-firewall` adds no rule and
/// takes portplan's own out (its note says why). The audit words such a
/// planned rule's removal by it.
pub fn unfiltered_families(state: &FirewallState) -> Vec<IpFamily> {
    let slots = slots(state);
    families(IpFamily::ALL.map(|f| !slots.iter().any(|s| s.filters(f))))
}

/// A goto in an input chain portplan writes into (nftables `goto`,
/// iptables `-g`), before its catch-all, to a chain that does not drop
/// everything: the packet never comes back, and when the chain it went to
/// ends, the input chain's policy decides, so a rule after it never sees
/// what the goto takes. `read` lists each such goto as foreign rules with
/// this action prefix, one per family, transport, port range and source it
/// may match ([`goto_rules`]); a goto to a chain that drops everything is a
/// deny (unconditional: the catch-all) instead.
pub(crate) const GOTO: &str = "goto ";

/// What `ForeignRule::action` starts with for a deny after a rated rule
/// that is its chain's catch-all in effect (nftables: Arch's `pkttype host
/// limit rate 5/second reject`): portplan's rules must go before the rated
/// rule, and there they would come before this deny too, turning it into
/// an allow for their traffic; after it, the rated rule rejects most of
/// their packets. `shadows` refuses a rule whose traffic it meets.
pub(crate) const BEHIND_RATED: &str = "behind a rated catch-all: ";

/// What `ForeignRule::action` starts with for a firewalld drop or reject
/// rich rule of the serving zone with a positive priority, or of a policy
/// to the host of a positive priority, on a source or a port (not the
/// catch-all in effect, `rule priority="32767" reject`): firewalld asks it
/// after the zone's allow chain, where portplan's accepts go, so an accept
/// portplan added would admit what it denies. `shadows` refuses a rule
/// whose traffic it meets.
pub(crate) const AFTER_ALLOWS: &str = "after the zone's allows: ";

/// Whether `action` is a deny's asked after where portplan's rules go.
fn after_portplan(action: &str) -> bool {
    action.starts_with(AFTER_ALLOWS) || action.starts_with(BEHIND_RATED)
}

/// Whether `action` is one of the refusals [`shadows`] reads of a rule that
/// may meet what portplan would add after it (a goto, or a deny after where
/// portplan's rules go); each is listed as itself too, so [`collisions`]
/// passes over these.
fn stops_adding(action: &str) -> bool {
    action.starts_with(GOTO) || after_portplan(action)
}

/// What a goto matches, read wide: its conditions as [`Admitted`] reads an
/// accept's (a match it cannot judge, an interface other than `lo`, a mark,
/// a named port set, narrows nothing), and its sources (none read: from
/// anywhere). Wide, because a goto that may take a planned connection must
/// be refused: read narrow, portplan would add its rule after it and say it
/// opened a port that stays shut. What surely takes no new connection from
/// another host (`lo`, a conntrack state without `new`, another protocol)
/// takes nothing portplan opens.
struct GotoMatch<'a> {
    admitted: &'a Admitted,
    sources: &'a [String],
}

/// At most this many ports ranges per transport, and foreign rules per
/// family, for one goto: beyond them its ports are read as their hull and
/// its sources as anywhere (wider, so still safe), rather than a goto on a
/// set of 50,000 sources and 100 port ranges making millions of rules.
const GOTO_SPANS: usize = 8;
const GOTO_RULES: usize = 64;

/// [`GOTO`]'s foreign rules for a goto to `target` in a chain of `families`.
fn goto_rules(
    families: &[IpFamily],
    matched: GotoMatch<'_>,
    target: &str,
    text: &str,
) -> Vec<ForeignRule> {
    let spans = goto_spans(matched.admitted);
    let mut rules = Vec::new();
    for &family in families {
        let of_family = |s: &&String| parse_net(s).is_some_and(|n| IpFamily::of(&n) == family);
        let mut sources: Vec<&String> = matched.sources.iter().filter(of_family).list();
        let any = family.any().to_string();
        if matched.sources.is_empty() || sources.len() * spans.len() > GOTO_RULES {
            sources = vec![&any];
        }
        for source in sources {
            rules.extend(spans.iter().map(|&(transport, ports)| ForeignRule {
                action: format!("{GOTO}{target}"),
                family,
                transport,
                ports,
                source: source.clone(),
                text: text.to_string(),
                // Read wide, and refused on its own (`shadows`).
                ahead: Vec::new(),
            }));
        }
    }
    rules
}

/// The transports and port ranges a goto may take, at most [`GOTO_SPANS`]
/// ranges per transport (more: their hull).
fn goto_spans(admitted: &Admitted) -> Vec<(Transport, PortRange)> {
    let spans: Vec<(Transport, PortRange)> = (admitted.open(&[], None).into_iter())
        .map(|open| (open.transport, open.ports))
        .list();
    let mut taken = Vec::new();
    for transport in [Transport::Tcp, Transport::Udp] {
        let ranges: Vec<PortRange> = (spans.iter())
            .filter(|(t, _)| *t == transport)
            .map(|(_, ports)| *ports)
            .list();
        let hull = (ranges.len() > GOTO_SPANS).then(|| PortRange {
            first: ranges.iter().map(|r| r.first).min().unwrap_or(1),
            last: ranges.iter().map(|r| r.last).max().unwrap_or(65535),
        });
        let ranges = hull.map_or(ranges, |hull| vec![hull]);
        taken.extend(ranges.into_iter().map(|ports| (transport, ports)));
    }
    taken
}

/// Foreign rules that decide a wanted rule's traffic before portplan's rule
/// is ever asked. A firewalld zone bound to a source that covers the rule's
/// source is an error naming the zone: portplan's rule in the interface's
/// zone would never match, and portplan does not write into a zone the
/// operator set up for other traffic. So is a [`GOTO`] before where
/// portplan's rules go that may take a rule's packets: they would never see
/// them, and portplan does not put them before it, where they would skip
/// whatever the chain it goes to denies. (A deny asked before portplan's
/// rules is a note instead: [`denied_ahead`].) The probe (`portplan reach`)
/// shows either on the wire.
fn shadows(
    state: &FirewallState,
    wanted: &Sorted<TaggedRule>,
    adding: &[TaggedRule],
) -> Result<(), PlanError> {
    let mut problems = Vec::new();
    for (i, foreign) in state.foreign().iter().enumerate() {
        // A goto stops only the rules portplan would add, after it: one of
        // its rules already before it works. Any packet of theirs it may
        // take is one they would never see.
        let covered: Vec<&TaggedRule> = if stops_adding(&foreign.action) {
            adding.iter().filter(|r| meets(foreign, r)).list()
        } else if foreign.action.starts_with(SOURCE_ZONE) {
            wanted.iter().filter(|r| covers(foreign, r)).list()
        } else {
            continue;
        };
        let Some(first) = covered.first() else {
            continue;
        };
        if let Some(zone) = foreign.action.strip_prefix(SOURCE_ZONE) {
            problems.push(crate::model::Problem {
                path: format!("state.firewalld.foreign[{i}]"),
                value: foreign.text.clone(),
                message: format!(
                    "firewalld zone {zone} is bound to source {}, so it, not the zone serving \
                     the host's interface, handles traffic from {} ({} {} for {}{}); portplan's \
                     rules would never match it. Open the port in zone {zone} yourself, or take \
                     {} out of that zone's sources",
                    foreign.source,
                    first.source,
                    first.transport.as_str(),
                    first.ports,
                    first.tag,
                    more(covered.len()),
                    first.source
                ),
            });
        } else {
            // One problem per deny or goto, not one per family and transport.
            if problems.iter().any(|p| p.value == foreign.text) {
                continue;
            }
            let traffic = format!(
                "{} on {} {} for {}{}",
                first.source,
                first.transport.as_str(),
                first.ports,
                first.tag,
                more(covered.len())
            );
            let message = stopped_message(&foreign.action, &traffic);
            problems.push(crate::model::Problem {
                path: format!("state.{}.foreign[{i}]", state.backend().as_str()),
                value: foreign.text.clone(),
                message,
            });
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PlanError { problems })
    }
}

/// Why a refusal `shadows` reads ([`stops_adding`]) stops `traffic`, and
/// what the operator may do.
fn stopped_message(action: &str, traffic: &str) -> String {
    if let Some(target) = action.strip_prefix(GOTO) {
        format!(
            "this rule sends the packets it matches to chain {target} for good (a goto: when \
             {target} ends, the input chain's policy decides), and it may match {traffic}, \
             which portplan's rules after it would then never see. Make the goto a jump (the \
             chain then hands back what it does not decide), or add the accept to chain \
             {target} yourself and take the port out of the plan"
        )
    } else if let Some(deny) = action.strip_prefix(AFTER_ALLOWS) {
        format!(
            "this {deny} rich rule has a positive priority (its own in the zone, or its \
             policy's to the host), so firewalld asks it after the zone's allow rules, where \
             portplan's accepts go, and it may match {traffic} (read wide: an ipset's members, \
             a service's ports, a MAC are not known): portplan's accept would admit what it \
             denies. Narrow the deny so that it does not take this traffic; or give it a \
             priority of 0 or below (its policy: a negative one), where firewalld asks it \
             before every allow, the zone's services and ports too; or take the port out of \
             the plan"
        )
    } else {
        format!(
            "this deny comes after a rate-limited reject that is the chain's catch-all in \
             effect (it rejects most new connections, so portplan's rules go before it), and \
             it matches {traffic}: an accept before the reject would come before this deny too \
             and admit what it denies. Move the deny before the rate-limited reject, or take \
             the port out of the plan"
        )
    }
}

fn more(n: usize) -> String {
    match n {
        1 => String::new(),
        n => format!(", and {} more", n - 1),
    }
}

/// Whether `foreign` matches every packet `rule` admits: same family and
/// transport, its ports around the rule's, its source around the rule's.
fn covers(foreign: &ForeignRule, rule: &TaggedRule) -> bool {
    let within = |outer: &str, inner: &str| match (parse_net(outer), parse_net(inner)) {
        (Some(outer), Some(inner)) => outer.contains(&inner),
        _ => false,
    };
    foreign.family == rule.family
        && foreign.transport == rule.transport
        && foreign.ports.first <= rule.ports.first
        && rule.ports.last <= foreign.ports.last
        && within(&foreign.source, &rule.source)
}

/// Whether `foreign` may match a packet `rule` admits: same family and
/// transport, ports in common, one source within the other (two CIDRs are
/// nested or apart).
fn meets(foreign: &ForeignRule, rule: &TaggedRule) -> bool {
    let nested = match (parse_net(&foreign.source), parse_net(&rule.source)) {
        (Some(a), Some(b)) => a.contains(&b) || b.contains(&a),
        _ => false,
    };
    foreign.family == rule.family
        && foreign.transport == rule.transport
        && foreign.ports.intersection(rule.ports).is_some()
        && nested
}

/// Where each wanted rule goes: into every slot that drops its family and is
/// portplan's to write (an accept in one chain does not get a packet past a
/// drop in another); and the families no such slot filters, IPv4 first.
fn place(slots: &[Slot], wanted: &Sorted<TaggedRule>) -> (Sorted<Placed>, Vec<IpFamily>) {
    let mut desired = Vec::new();
    let mut unfiltered = [false; 2];
    for rule in wanted {
        let ids: Vec<ChainId> = (0..slots.len())
            .filter(|&i| slots[i].filters(rule.family))
            .map(ChainId::at)
            .list();
        if ids.is_empty() {
            unfiltered[rule.family.index()] = true;
        }
        desired.extend(ids.into_iter().map(|id| (id, rule.clone())));
    }
    (Sorted::new(desired), families(unfiltered))
}

/// The families marked in `marked` (indexed by [`IpFamily::index`]), IPv4
/// first. An array, not a `BTreeSet` of two values: the plugins would carry
/// the B-tree's code for the one key type (~3 KB).
fn families(marked: [bool; 2]) -> Vec<IpFamily> {
    IpFamily::ALL
        .into_iter()
        .filter(|f| marked[f.index()])
        .list()
}

/// One owner per netfilter table: when a chain another tool owns drops a
/// family portplan must open, portplan's rules cannot work from here (an
/// accept in its own table does not get a packet past that drop) and must
/// not be written into that chain (iptables-nft's save/restore round trip
/// loses their sets). The operator picks the owning tool instead.
fn owned_elsewhere(
    state: &FirewallState,
    slots: &[Slot],
    wanted: &Sorted<TaggedRule>,
) -> Result<(), PlanError> {
    let mut wants = [false; 2];
    for rule in wanted {
        wants[rule.family.index()] = true;
    }
    let blocking: Vec<&str> = slots
        .iter()
        .filter(|slot| slot.drops && (0..2).any(|f| wants[f] && slot.takes[f]))
        .filter_map(|slot| slot.owner.as_deref())
        .list();
    if blocking.is_empty() {
        return Ok(());
    }
    Err(PlanError::single(
        format!("state.{}", state.backend().as_str()),
        blocking.join(", "),
        format!(
            "input is dropped by {}, a chain another tool owns; portplan writes no native nftables \
             rule into another tool's table (a boot's save/restore round trip would lose its \
             sources and open the port to everyone), and a rule in its own table would not get \
             a packet past that drop. Use firewall: iptables (the tool that owns the chain)",
            blocking.join(" and ")
        ),
    ))
}

/// Refuse to add a rule where a foreign rule holds the same source, ports
/// and transport, whatever its action: ufw would take the foreign rule over
/// (a deny becomes portplan's allow), and on every backend one of the two
/// would shadow the other. portplan never changes someone else's rule.
fn collisions(state: &FirewallState, add: &[Placed]) -> Result<(), PlanError> {
    let backend = state.backend().as_str();
    let foreign = state.foreign();
    // The first foreign rule on each tuple: one lookup per rule to add, not
    // a scan of every foreign rule (a blocklist set may hold 100,000).
    let mut on_tuple: Map<(IpFamily, Transport, PortRange, &str), usize> = Map::new();
    // A goto's reading is `shadows`' (the rule itself is listed too), and
    // so are a deny's behind a rated catch-all or after firewalld's allows.
    for (i, f) in foreign.iter().enumerate() {
        if !stops_adding(&f.action) {
            let tuple = (f.family, f.transport, f.ports, f.source.as_str());
            on_tuple.get_or_insert_with(tuple, || i);
        }
    }
    let mut problems = Vec::new();
    for (_, rule) in add {
        let tuple = (
            rule.family,
            rule.transport,
            rule.ports,
            rule.source.as_str(),
        );
        let Some((i, foreign)) = on_tuple.get(&tuple).map(|&i| (i, &foreign[i])) else {
            continue;
        };
        problems.push(crate::model::Problem {
            path: format!("state.{backend}.foreign[{i}]"),
            value: foreign.text.clone(),
            message: format!(
                "a rule portplan did not write ({}) already matches source {} on {} {} that \
                 {} would admit; portplan never changes or removes another's rule. Remove or \
                 change that rule by hand, or take the port out of the plan",
                foreign.action,
                rule.source,
                rule.transport.as_str(),
                rule.ports,
                rule.tag
            ),
        });
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PlanError { problems })
    }
}

fn unfiltered_note(family: IpFamily) -> String {
    let family = family.title();
    format!(
        "no input chain drops {family} traffic, so its ports are open to everyone already; \
         portplan adds no {family} rules until a default-drop firewall is in place"
    )
}

/// portplan's intact rules: what counts as already in place.
fn current(state: &FirewallState) -> Sorted<Placed> {
    (state.found_rules().into_iter())
        .filter(|(_, _, intact)| *intact)
        .map(|(id, rule, _)| (id, rule.clone()))
        .collect()
}

/// portplan's intact rules that stay where they are through the change:
/// on iptables not one a delete of its twin takes along
/// ([`iptables::dragged`]), which is added back.
fn held(state: &FirewallState, desired: &Sorted<Placed>) -> Sorted<Placed> {
    let current = current(state);
    let FirewallState::Iptables(s) = state else {
        return current;
    };
    let dragged = Sorted::new(iptables::dragged(s, desired));
    current.difference(&dragged).cloned().collect()
}

/// portplan's rules that go: every hand-edited one (a tagged rule counts
/// only if its action, negation, source, ports and position are what
/// portplan writes), and every intact one that is not desired.
fn leaving(state: &FirewallState, desired: &Sorted<Placed>) -> Vec<Placed> {
    state
        .found_rules()
        .into_iter()
        .filter(|(id, rule, intact)| !intact || !desired.contains(&(*id, (*rule).clone())))
        .map(|(id, rule, _)| (id, rule.clone()))
        .list()
}

fn unique(pairs: &[Placed]) -> Vec<TaggedRule> {
    (pairs.iter().map(|(_, r)| r.clone()))
        .collect::<Sorted<_>>()
        .into_iter()
        .list()
}

/// portplan's rules as they are in `state` and as `plan-firewall` would leave
/// them, one line per chain or zone side and rule (`runtime public
/// portplan:observer.sql ipv4 tcp dport 2881 saddr 198.18.2.10/32`), sorted:
/// the audit's diff, where firewalld's two sides can differ.
pub fn placements(
    rules: &[FirewallRule],
    state: &FirewallState,
) -> Result<(Vec<String>, Vec<String>), PlanError> {
    state.check("state")?;
    let wanted = expand(rules)?;
    let slots = slots(state);
    let line = |id: ChainId, rule: &TaggedRule| {
        format!("{} {rule}", slot_key(state, id).unwrap_or_default())
            .trim_start()
            .to_string()
    };
    let mut now: Vec<String> = state
        .found_rules()
        .into_iter()
        .map(|(id, rule, intact)| {
            let shown = line(id, rule);
            if intact {
                shown
            } else {
                format!("{shown} (edited by hand)")
            }
        })
        .list();
    let (desired, _) = place(&slots, &wanted);
    let mut after: Vec<String> = desired.iter().map(|(id, rule)| line(*id, rule)).list();
    order::sort(&mut now);
    order::sort(&mut after);
    Ok((now, after))
}

/// The commands that take `now` back to exactly the portplan rules `before`
/// held (WIT `plan-restore`): a rollback that undoes portplan's changes and
/// nobody else's. Slots are matched by name (chain, zone side), not by index.
pub(crate) fn plan_restore(
    before: &FirewallState,
    now: &FirewallState,
) -> Result<Vec<Command>, PlanError> {
    before.check("before")?;
    now.check("now")?;
    if before.backend() != now.backend() {
        return Err(PlanError::single(
            "now",
            now.backend().as_str(),
            format!(
                "is not the backend of `before` ({})",
                before.backend().as_str()
            ),
        ));
    }
    let count = slots(now).len();
    let index_in_now = |id: ChainId| {
        let key = slot_key(before, id)?;
        (0..count)
            .map(ChainId::at)
            .find(|&candidate| slot_key(now, candidate).as_ref() == Some(&key))
    };
    // Hand-edited rules cannot be written back as they were; portplan's
    // intact rules can, and are what a run may have changed.
    let desired: Sorted<Placed> = (current(before).into_iter())
        .filter_map(|(id, rule)| Some((index_in_now(id)?, rule)))
        .collect();
    let current = held(now, &desired);
    let add: Vec<Placed> = desired.difference(&current).cloned().list();
    let remove = leaving(now, &desired);
    Ok(render(now, &desired, &add, &remove))
}

/// The backend's commands for a change: the set-based backends (nftables,
/// firewalld) rewrite changed groups from the whole desired set, the
/// rule-based ones (iptables, ufw) delete and add single rules.
fn render(
    state: &FirewallState,
    desired: &Sorted<Placed>,
    add: &[Placed],
    remove: &[Placed],
) -> Vec<Command> {
    if add.is_empty() && remove.is_empty() {
        return Vec::new();
    }
    match state {
        FirewallState::Nftables(s) => nftables::commands(s, desired),
        FirewallState::Iptables(s) => iptables::commands(s, desired, add),
        FirewallState::Firewalld(s) => firewalld::commands(s, desired),
        FirewallState::Ufw(s) => ufw::commands(s, desired, add),
    }
}

/// One tagged rule per source of each desired rule, as `plan-firewall`
/// reads `rules`: what a firewall that filters every family holds when it
/// is as planned. The audit tells a planned rule from a stray one by it.
pub fn tagged_rules(rules: &[FirewallRule]) -> Result<Vec<TaggedRule>, PlanError> {
    expand(rules).map(|rules| rules.into_iter().list())
}

/// One tagged rule per source of each desired rule.
fn expand(rules: &[FirewallRule]) -> Result<Sorted<TaggedRule>, PlanError> {
    let mut out = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        check_rule(i, rule)?;
        for (j, source) in rule.sources.iter().enumerate() {
            let net = parse_net(source).ok_or_else(|| {
                PlanError::single(
                    format!("rules[{i}].sources[{j}]"),
                    source,
                    "not an IP address or CIDR",
                )
            })?;
            out.push(TaggedRule {
                tag: sanitize_tag(&rule.tag),
                family: IpFamily::of(&net),
                transport: rule.transport,
                ports: rule.ports,
                source: net.to_string(),
            });
        }
    }
    Ok(Sorted::new(out))
}

/// A typed record skips the JSON parser's checks: a rule must carry
/// portplan's tag (else it would never be read back as portplan's) and a
/// valid range (else the commands would name port 0 or `10-5`).
fn check_rule(i: usize, rule: &FirewallRule) -> Result<(), PlanError> {
    if !rule.tag.starts_with(TAG_PREFIX) {
        return Err(PlanError::single(
            format!("rules[{i}].tag"),
            &rule.tag,
            format!("a desired rule's tag starts with `{TAG_PREFIX}`"),
        ));
    }
    let ports = rule.ports;
    if ports.first == 0 || ports.first > ports.last {
        return Err(PlanError::single(
            format!("rules[{i}].ports"),
            format!("{}-{}", ports.first, ports.last),
            "not a port range within 1-65535 with first <= last",
        ));
    }
    Ok(())
}

/// Plan text reaches the backend's comment field: keep it to a safe alphabet
/// and a bounded length, so no quoting or comment syntax can be injected.
/// A tag that had to change (an unsafe character, or too long) ends in a
/// hash of the original, so two specs never share a tag.
pub(crate) fn sanitize_tag(tag: &str) -> String {
    let clean: String = tag
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean == tag && clean.len() <= MAX_TAG {
        return clean;
    }
    let hash = name_hash(tag);
    let head: String = clean.chars().take(MAX_TAG - hash.len() - 1).collect();
    format!("{head}-{hash}")
}

/// Whether a rule's comment is a tag portplan writes: its prefix, then what
/// [`sanitize_tag`] leaves (letters, digits, `.-_:`), 64 bytes at most. A
/// comment that only starts with the prefix (`portplan: admin ssh (keep)`)
/// is someone else's rule, never changed or removed.
///
/// A tag marks a rule as portplan's only on a rule that could be one of
/// portplan's edited: portplan writes accepts and nothing else, so a tagged
/// drop, reject, jump or goto is someone's decision about that traffic (an
/// operator who turned portplan's allow into a deny, or wrote the tag on a
/// rule of their own). The readers take such a rule as foreign
/// ([`owned_tag`]): never removed, and a refusal where portplan would add
/// its rule on the same tuple, so that a deny is never turned into an allow.
fn is_tag(comment: &str) -> bool {
    comment.len() <= MAX_TAG
        && comment.strip_prefix(TAG_PREFIX).is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        })
}

/// The tag of a rule that is portplan's: a comment in [`is_tag`]'s form on
/// a rule that does not deny (`denies`: its verdict drops, rejects or hands
/// the traffic to another chain).
fn owned_tag(comment: Option<&str>, denies: bool) -> Option<String> {
    comment.filter(|c| !denies && is_tag(c)).map(str::to_string)
}

/// What one rule of a chain other than input tells of whether the chain
/// drops every packet it is handed, or never accepts one ([`chain_kinds`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ChainStep {
    /// An unconditional drop or reject: nothing gets past it.
    DropsAll,
    /// Logs, or drops some: the packet goes on to the next rule.
    GoesOn,
    /// Returns to the chain that jumped here, deciding nothing.
    Returns,
    /// Goes on, as far as dropping everything goes (as it was read before
    /// chains that never accept were), yet may change the packet or decide
    /// it out of sight (iptables-nft's NFQUEUE, a rewrite): the chain may
    /// let it go.
    GoesOnActing,
    /// Accepts, queues, or hands the packet on: the chain may let it go.
    MayLetGo,
}

/// The chains other than input, by key, that a jump to may leave the
/// packet in: those that drop every packet they are handed (`LOGDROP`:
/// log, then drop: an unconditional jump to one is a catch-all), and those
/// that never accept one (fail2ban's `f2b-sshd`: a reject of each banned
/// address, then a return), after a jump to which a deny is still ahead.
struct ChainKinds<K> {
    dropping: Vec<K>,
    silent: Vec<K>,
}

/// Chains are asked by a predicate on their key, so that a reader
/// compares its own borrowed names rather than build a key per lookup.
impl<K> ChainKinds<K> {
    /// Whether the chain `is` names drops every packet it is handed.
    fn drops(&self, is: impl Fn(&K) -> bool) -> bool {
        self.dropping.iter().any(is)
    }

    /// Whether a jump to the chain `is` names may let the packet go
    /// (never-accepting chains return what they do not drop; a dropping
    /// one keeps it).
    fn may_let_go(&self, is: impl Fn(&K) -> bool + Copy) -> bool {
        !self.drops(is) && !self.silent.iter().any(is)
    }
}

/// [`ChainKinds`] from `rules`, each rule's chain key and the rule, in
/// listed order. Dropping: before the chain's first [`ChainStep::DropsAll`]
/// only rules that go on. Silent: no rule that may let the packet go; a
/// jump to another chain is read as one that may (not followed).
fn chain_kinds<K: PartialEq, R>(
    rules: impl IntoIterator<Item = (K, R)>,
    mut step: impl FnMut(R) -> ChainStep,
) -> ChainKinds<K> {
    // Per chain, in listed order: whether it drops everything (`None`
    // while undecided), and whether a rule may let a packet go.
    let mut chains: Vec<(K, Option<bool>, bool)> = Vec::new();
    for (key, rule) in rules {
        // Both tools list a chain's rules together: the last chain first,
        // so a ruleset of many chains is read in linear time.
        let at = if chains.last().is_some_and(|(k, ..)| *k == key) {
            chains.len() - 1
        } else if let Some(at) = chains.iter().position(|(k, ..)| *k == key) {
            at
        } else {
            chains.push((key, None, false));
            chains.len() - 1
        };
        let Some((_, dropping, lets_go)) = chains.get_mut(at) else {
            continue;
        };
        // Both known: the rest of the chain tells nothing more (and nft's
        // reading of a rule may unfold its sets).
        if dropping.is_some() && *lets_go {
            continue;
        }
        let step = step(rule);
        *lets_go |= matches!(step, ChainStep::MayLetGo | ChainStep::GoesOnActing);
        if dropping.is_none() {
            *dropping = match step {
                ChainStep::DropsAll => Some(true),
                ChainStep::GoesOn | ChainStep::GoesOnActing => None,
                ChainStep::Returns | ChainStep::MayLetGo => Some(false),
            };
        }
    }
    let mut kinds = ChainKinds {
        dropping: Vec::new(),
        silent: Vec::new(),
    };
    for (key, dropping, lets_go) in chains {
        if dropping == Some(true) {
            kinds.dropping.push(key);
        } else if !lets_go {
            kinds.silent.push(key);
        }
    }
    kinds
}

/// Eight hex digits of FNV-1a over `text`: fixed and platform-independent,
/// so every artifact names the same set or ipset alike (std's hasher is
/// randomly seeded). Written here: the whole function is one fold.
fn name_hash(text: &str) -> String {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{:08x}", hash as u32)
}

/// The transport a tool names `tcp` or `udp`; `None` for any other name.
fn transport_named(name: &str) -> Option<Transport> {
    match name {
        "tcp" => Some(Transport::Tcp),
        "udp" => Some(Transport::Udp),
        _ => None,
    }
}

/// A port range as a backend prints it, `8080` or `8000` SEPARATOR `8010`
/// (`:` for iptables and ufw, `-` for nftables and firewalld).
fn parse_ports(text: &str, separator: char) -> Option<PortRange> {
    let (first, last) = text.split_once(separator).unwrap_or((text, text));
    let (first, last) = (first.parse::<u16>().ok()?, last.parse::<u16>().ok()?);
    (first > 0 && first <= last).then_some(PortRange { first, last })
}

/// A port range the way iptables and ufw write it (`8000:8010`); nftables and
/// firewalld take `PortRange`'s own `8000-8010`.
fn colon_ports(ports: PortRange) -> String {
    if ports.is_single() {
        ports.first.to_string()
    } else {
        format!("{}:{}", ports.first, ports.last)
    }
}

/// A single host's CIDR (`/32`, `/128`) as the bare address the tools take.
fn bare(cidr: &str) -> &str {
    cidr.strip_suffix("/32")
        .or_else(|| cidr.strip_suffix("/128"))
        .unwrap_or(cidr)
}

/// The family of a normalized source (IPv6 ones hold a `:`).
fn family_of(source: &str) -> IpFamily {
    if source.contains(':') {
        IpFamily::Ipv6
    } else {
        IpFamily::Ipv4
    }
}

/// Every range of a port list as iptables and ufw write it (`--dports
/// 2911,2912:2920`, `allow 2883,2884:2886/tcp`); `None` where one does not
/// read.
fn port_list(text: &str) -> Option<Vec<PortRange>> {
    text.split(',').map(|p| parse_ports(p, ':')).collect()
}

/// A source as the backends print it: a CIDR with its prefix, `/32` included.
fn normalize_source(text: &str) -> Option<String> {
    parse_net(text).map(|net| net.to_string())
}
