//! Denies asked before portplan's rules: a foreign drop, reject or deny that
//! is [`ForeignRule::ahead`] and covers a rule portplan places drops that
//! rule's traffic whatever portplan adds. portplan never puts its accept
//! before it (that would turn the deny into an allow); it names it, in a
//! note (issue 15: ufw's earlier deny "warns") and in the audit.
//!
//! Read narrow, so that no note is false: the readers set `ahead` only on a
//! rule with no match but family, protocol, ports and source, before the
//! catch-all and before anything in its chain that may decide the packet
//! otherwise ([`behind_accepts`]; a goto, a verdict map or a jump to a
//! chain that may accept, which the readers see themselves; firewalld's
//! order is its priorities). What is left unjudged, the probe (`portplan
//! reach`) measures.

use crate::list::List;
use crate::table::Map;

use ipnet::IpNet;

use super::admitted;
use crate::model::{FirewallBackend, OpenPort, PortRange, Transport};
use crate::order;
use crate::resolve::parse_net;
use crate::state::{FirewallState, ForeignRule, IpFamily, TaggedRule};

/// What an accept read before a rule may admit, for [`behind_accepts`]:
/// its transport and ports, and its sources parsed once (`None`: from
/// anywhere, or more than [`super::GOTO_RULES`] sources, or one that does
/// not read as an address: read wide, it may admit anything).
pub(super) struct Admits {
    transport: Transport,
    ports: PortRange,
    nets: Option<Vec<IpNet>>,
}

impl Admits {
    /// What `open` (an accept's reading, `admitted.rs`) may admit.
    pub(super) fn of(open: &OpenPort) -> Admits {
        let nets: Option<Vec<IpNet>> = (open.sources.len() <= super::GOTO_RULES)
            .then(|| {
                open.sources
                    .iter()
                    .map(|s| parse_net(s))
                    .collect::<Option<_>>()
            })
            .flatten()
            .filter(|nets: &Vec<IpNet>| !nets.is_empty());
        Admits {
            transport: open.transport,
            ports: open.ports,
            nets,
        }
    }

    /// `ports` of `transport` from `source` (`None`, or one that does not
    /// read as an address: anywhere), as a ufw rule's words give them.
    pub(super) fn from_words(
        transport: Transport,
        ports: PortRange,
        source: Option<&str>,
    ) -> Admits {
        Admits {
            transport,
            ports,
            nets: source.and_then(parse_net).map(|net| vec![net]),
        }
    }

    /// Whether it may admit a packet of `transport` from `source`.
    fn may_admit(&self, transport: Transport, source: Option<IpNet>) -> bool {
        let nested = |a: &IpNet| source.is_none_or(|b| a.contains(&b) || b.contains(a));
        self.transport == transport && self.nets.as_ref().is_none_or(|n| n.iter().any(nested))
    }
}

/// `denies` with the ports an accept read before them in the same chain
/// (`accepts`, portplan's or not) may admit from their source taken out of
/// their [`ForeignRule::ahead`]: that traffic never reaches them (`tcp
/// dport 22 accept` before `ip saddr 198.18.0.0/16 drop` leaves the drop
/// ahead on every port but 22). The entries themselves stay as read.
pub(super) fn behind_accepts<'a>(
    mut denies: Vec<ForeignRule>,
    accepts: impl Iterator<Item = &'a Admits> + Clone,
) -> Vec<ForeignRule> {
    for deny in denies.iter_mut().filter(|d| !d.ahead.is_empty()) {
        let source = parse_net(&deny.source);
        let taken: Vec<PortRange> = (accepts.clone())
            .filter(|admits| admits.may_admit(deny.transport, source))
            .filter_map(|admits| admits.ports.intersection(deny.ports))
            .list();
        if !taken.is_empty() {
            let left = admitted::complement(&admitted::merged(taken));
            deny.ahead = admitted::intersection(&left, &admitted::merged(deny.ahead.clone()));
        }
    }
    denies
}

/// One note per foreign rule (one read as several entries, per transport,
/// source or port range, is named once: [`rule_of`]) whose
/// entries are `ahead`, deny, and cover one of `placed`, the rules portplan
/// places (not those of a family no chain drops: the unfiltered note says
/// why none go there). In the order the rules were read.
///
/// Each deny is indexed by its source network, and each placed rule looks
/// up its source's supernets (at most 33 or 129): linear in the foreign
/// rules and the placed ones, where a scan of every pair would not be (a
/// blocklist set of 100,000 sources, a plan of 20,000).
pub fn denied_ahead(state: &FirewallState, placed: &[TaggedRule]) -> Vec<String> {
    let foreign = state.foreign();
    let mut around: Map<(IpFamily, Transport, IpNet), Vec<usize>> = Map::new();
    // Each rule to its first entry read, which orders the notes.
    let mut first: Map<(Option<IpFamily>, &str), usize> = Map::new();
    for (i, deny) in foreign.iter().enumerate() {
        let ahead = !deny.ahead.is_empty() && denies(deny);
        if let Some(net) = parse_net(&deny.source).filter(|_| ahead) {
            let key = (deny.family, deny.transport, net.trunc());
            around.get_or_default(key).push(i);
            first.get_or_insert_with(rule_of(state, deny), || i);
        }
    }
    // By each rule's first entry: the first entry that covers a placed
    // rule (its text names the rule), that placed rule, how many it covers.
    let mut named: Map<usize, (usize, &TaggedRule, usize)> = Map::new();
    for rule in placed {
        let Some(net) = parse_net(&rule.source) else {
            continue;
        };
        let within =
            |ahead: &PortRange| ahead.first <= rule.ports.first && rule.ports.last <= ahead.last;
        let mut rules: Vec<(usize, usize)> = supernets(net)
            .filter_map(|outer| around.get(&(rule.family, rule.transport, outer)))
            .flatten()
            .filter(|&&i| foreign[i].ahead.iter().any(within))
            .filter_map(|&i| Some((*first.get(&rule_of(state, &foreign[i]))?, i)))
            .list();
        order::sort_by_key(&mut rules, |&pair| pair);
        rules.dedup_by_key(|(group, _)| *group);
        for (group, entry) in rules {
            named.get_or_insert_with(group, || (entry, rule, 0)).2 += 1;
        }
    }
    let mut notes: Vec<(usize, (usize, &TaggedRule, usize))> = named.into_entries();
    order::sort_by_key(&mut notes, |(group, _)| *group);
    (notes.into_iter())
        .filter_map(|(_, (entry, rule, n))| note(state.backend(), &foreign[entry], rule, n))
        .list()
}

/// A deny asked after where portplan's rules go ([`super::AFTER_ALLOWS`],
/// [`super::BEHIND_RATED`]) that may meet a rule of `placed`, which is then
/// in place (one to add was refused by `shadows`): the deny came after
/// portplan's rule, which may admit what it denies. portplan leaves its own
/// rule and says so, once per deny rule ([`rule_of`]): `present` in a note,
/// the audit in a finding (an adversarial review: nothing said so).
///
/// Found as [`denied_ahead`] finds its denies, through supernets, both ways
/// (a deny around a placed source, or inside it): linear in the denies and
/// the placed rules, where a scan of every pair was not (a blocklist of
/// 100,000 behind Arch's rated reject, a plan of 20,000).
pub fn overridden(state: &FirewallState, placed: &[TaggedRule]) -> Vec<String> {
    type Key = (IpFamily, Transport, IpNet);
    let foreign = state.foreign();
    let late: Vec<(Key, usize)> = (foreign.iter().enumerate())
        .filter(|(_, f)| super::after_portplan(&f.action))
        .filter_map(|(i, f)| Some(((f.family, f.transport, parse_net(&f.source)?.trunc()), i)))
        .list();
    if late.is_empty() {
        return Vec::new();
    }
    let ours: Vec<(Key, usize)> = (placed.iter().enumerate())
        .filter_map(|(j, r)| Some(((r.family, r.transport, parse_net(&r.source)?.trunc()), j)))
        .list();
    let index = |entries: &[(Key, usize)]| {
        let mut map: Map<Key, Vec<usize>> = Map::new();
        for (key, i) in entries {
            map.get_or_default(*key).push(*i);
        }
        map
    };
    let (late_at, ours_at) = (index(&late), index(&ours));
    // Each deny rule by its first entry, in the order read; each entry to
    // its rule's, once, not per pair met.
    let mut first: Map<(Option<IpFamily>, &str), usize> = Map::new();
    let group_of: Map<usize, usize> = (late.iter())
        .map(|&(_, i)| {
            (
                i,
                *first.get_or_insert_with(rule_of(state, &foreign[i]), || i),
            )
        })
        .collect();
    // By deny rule, each placed rule it meets (sources nested, ports in
    // common) once, with the deny's first entry that does: a blocklist of
    // 100,000 and placed rules from anywhere meet pair by pair through
    // `/0`, and make only as many notes as deny rules.
    let mut seen: Map<(usize, usize), usize> = Map::new();
    let mut meet = |i: usize, j: usize| {
        let group = group_of.get(&i).copied();
        if let Some(group) =
            group.filter(|_| foreign[i].ports.intersection(placed[j].ports).is_some())
        {
            let entry = seen.get_or_insert_with((group, j), || i);
            *entry = (*entry).min(i);
        }
    };
    for &((family, transport, net), i) in &late {
        let around = supernets(net).filter_map(|outer| ours_at.get(&(family, transport, outer)));
        around.flatten().for_each(|&j| meet(i, j));
    }
    for &((family, transport, net), j) in &ours {
        let around = (supernets(net).filter(|outer| *outer != net))
            .filter_map(|outer| late_at.get(&(family, transport, outer)));
        around.flatten().for_each(|&i| meet(i, j));
    }
    let mut met: Vec<(usize, usize, usize)> = (seen.into_entries().into_iter())
        .map(|((group, j), i)| (group, j, i))
        .list();
    order::sort(&mut met);
    let mut notes = Vec::new();
    for group in met.chunk_by(|a, b| a.0 == b.0) {
        let (_, j, i) = group[0];
        notes.push(override_note(state, &foreign[i], &placed[j], group.len()));
    }
    notes
}

fn override_note(
    state: &FirewallState,
    deny: &ForeignRule,
    first: &TaggedRule,
    n: usize,
) -> String {
    format!(
        "the {} rule `{}` is asked after portplan's rule for {}: {} on {} {}{}, and may \
         match that traffic (read wide), which portplan's rule then admits (the deny came after \
         it; portplan leaves its own rule in place): narrow the deny, or move it before \
         portplan's rules (firewalld: a priority of 0 or below in the zone, a negative one \
         for a policy), or take the port out of the plan",
        state.backend().as_str(),
        deny.text,
        first.tag,
        first.source,
        first.transport.as_str(),
        first.ports,
        super::more(n)
    )
}

/// What names the rule an entry was read from: nftables' entries are one
/// per source, transport and port range, each named `family table chain
/// handle N: what it matches`, so the part before `: `; the others' text is
/// the rule's own line.
fn rule_of<'a>(state: &FirewallState, entry: &'a ForeignRule) -> (Option<IpFamily>, &'a str) {
    match state {
        FirewallState::Nftables(_) => (
            None,
            (entry.text.split_once(": ")).map_or(&entry.text, |(at, _)| at),
        ),
        // iptables' and ip6tables' rules are two, whatever their text.
        FirewallState::Iptables(_) => (Some(entry.family), &entry.text),
        _ => (None, &entry.text),
    }
}

/// `net` and every network around it, down to the whole address space.
fn supernets(net: IpNet) -> impl Iterator<Item = IpNet> {
    (0..=net.prefix_len())
        .filter_map(move |len| IpNet::new(net.addr(), len).ok().map(|n| n.trunc()))
}

fn denies(rule: &ForeignRule) -> bool {
    words(&rule.action).is_some()
}

/// The verb and participle of a denying action, as each tool spells it
/// (`DROP`, `drop`, `deny`, `REJECT`).
fn words(action: &str) -> Option<(&'static str, &'static str)> {
    match action.to_ascii_lowercase().as_str() {
        "deny" => Some(("denies", "denied")),
        "reject" => Some(("rejects", "rejected")),
        "drop" => Some(("drops", "dropped")),
        _ => None,
    }
}

/// The note on `deny`, which covers `first` and `n - 1` more placed rules.
fn note(
    backend: FirewallBackend,
    deny: &ForeignRule,
    first: &TaggedRule,
    n: usize,
) -> Option<String> {
    let (verb, done) = words(&deny.action)?;
    let (tool, why) = match backend {
        FirewallBackend::Ufw => ("ufw", "ufw takes the first rule that matches"),
        FirewallBackend::Iptables => (
            match first.family {
                IpFamily::Ipv4 => "iptables",
                IpFamily::Ipv6 => "ip6tables",
            },
            "the first rule of INPUT that decides a packet is final",
        ),
        FirewallBackend::Nftables => (
            "nftables",
            "a drop or reject is final, before portplan's accept in its own chain or in \
             another input chain whatever its priority",
        ),
        FirewallBackend::Firewalld => (
            "firewalld",
            "firewalld asks a zone's drop and reject rich rules before its accepts, those \
             of a negative priority before both, and a policy's to the host of a negative \
             priority before the zone",
        ),
        FirewallBackend::None => return None,
    };
    let more = super::more(n);
    Some(format!(
        "the {tool} rule `{}` comes before portplan's rules and {verb} {} on {} {} ({}{more}); \
         {why}, so that traffic stays {done}",
        deny.text,
        first.source,
        first.transport.as_str(),
        first.ports,
        first.tag,
    ))
}
