//! Denies asked before portplan's rules: a foreign drop, reject or deny that
//! is [`ForeignRule::ahead`] and covers a rule portplan places drops that
//! rule's traffic whatever portplan adds. portplan never puts its accept
//! before it (that would turn the deny into an allow); it names it, in a
//! note (issue 15: ufw's earlier deny "warns") and in the audit.
//!
//! Read narrow, so that no note is false: the readers set `ahead` only on a
//! rule with no match but family, protocol, ports and source, before the
//! catch-all and before anything in its chain that may decide the packet
//! otherwise ([`behind_accepts`]; a jump, goto or verdict map, which the
//! readers see themselves). What is left unjudged, the probe (`portplan
//! reach`) measures.

use std::collections::HashMap;

use ipnet::IpNet;

use super::admitted;
use crate::model::{FirewallBackend, OpenPort, PortRange, Transport};
use crate::order;
use crate::resolve::parse_net;
use crate::state::{FirewallState, ForeignRule, IpFamily, TaggedRule};

/// `denies` read where accepts read before them in the same chain
/// (`accepts`, portplan's or not) may admit some of their traffic: that
/// traffic never reaches the deny. An entry's ports such an accept may
/// admit are split off, not `ahead`; the rest stay as read (`tcp dport 22
/// accept` before `ip saddr 198.18.0.0/16 drop` leaves the drop ahead on
/// every port but 22). The accepts are read wide (`admitted.rs`): only one
/// that surely takes none of the deny's traffic (another port or source,
/// established only, `lo`) leaves it ahead.
pub(super) fn behind_accepts<'a>(
    denies: Vec<ForeignRule>,
    accepts: impl Iterator<Item = &'a OpenPort> + Clone,
) -> Vec<ForeignRule> {
    let mut out = Vec::with_capacity(denies.len());
    for deny in denies {
        let net = parse_net(&deny.source);
        let taken: Vec<PortRange> = (accepts.clone())
            .filter(|open| deny.ahead && may_admit(open, deny.transport, net))
            .filter_map(|open| open.ports.intersection(deny.ports))
            .collect();
        if taken.is_empty() {
            out.push(deny);
            continue;
        }
        let taken = admitted::merged(taken);
        let left = admitted::intersection(&admitted::complement(&taken), &[deny.ports]);
        let mut pieces: Vec<(PortRange, bool)> = (taken.into_iter().map(|p| (p, false)))
            .chain(left.into_iter().map(|p| (p, true)))
            .collect();
        order::sort_by_key(&mut pieces, |(ports, _)| ports.first);
        out.extend(pieces.into_iter().map(|(ports, ahead)| ForeignRule {
            ports,
            ahead,
            ..deny.clone()
        }));
    }
    out
}

/// Whether `open` may admit a packet of `transport` from `source` (a deny's):
/// from anywhere, or one source within the other (a source that does not
/// read as an address may be anything).
fn may_admit(open: &OpenPort, transport: Transport, source: Option<IpNet>) -> bool {
    let nested = |text: &String| match (parse_net(text), source) {
        (Some(a), Some(b)) => a.contains(&b) || b.contains(&a),
        _ => true,
    };
    open.transport == transport && (open.sources.is_empty() || open.sources.iter().any(nested))
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
    let mut around: HashMap<(IpFamily, Transport, IpNet), Vec<usize>> = HashMap::new();
    // Each rule to its first entry read, which names it.
    let mut first: HashMap<&str, usize> = HashMap::new();
    for (i, deny) in foreign.iter().enumerate() {
        if let Some(net) = parse_net(&deny.source).filter(|_| deny.ahead && denies(deny)) {
            let key = (deny.family, deny.transport, net.trunc());
            around.entry(key).or_default().push(i);
            first.entry(rule_of(state, deny)).or_insert(i);
        }
    }
    // By the first entry of each rule: the first placed rule it covers, and
    // how many it covers.
    let mut named: HashMap<usize, (&TaggedRule, usize)> = HashMap::new();
    for rule in placed {
        let Some(net) = parse_net(&rule.source) else {
            continue;
        };
        let mut rules: Vec<usize> = supernets(net)
            .filter_map(|outer| around.get(&(rule.family, rule.transport, outer)))
            .flatten()
            .map(|&i| &foreign[i])
            .filter(|deny| deny.ports.first <= rule.ports.first)
            .filter(|deny| rule.ports.last <= deny.ports.last)
            .filter_map(|deny| first.get(rule_of(state, deny)).copied())
            .collect();
        order::sort_by_key(&mut rules, |&i| i);
        rules.dedup();
        for i in rules {
            named.entry(i).or_insert((rule, 0)).1 += 1;
        }
    }
    let mut notes: Vec<(usize, &TaggedRule, usize)> = named
        .into_iter()
        .map(|(i, (rule, n))| (i, rule, n))
        .collect();
    order::sort_by_key(&mut notes, |(i, _, _)| *i);
    (notes.into_iter())
        .filter_map(|(i, rule, n)| note(state.backend(), &foreign[i], rule, n))
        .collect()
}

/// What names the rule an entry was read from: nftables' entries are one
/// per source, transport and port range, each named `family table chain
/// handle N: what it matches`, so the part before `: `; the others' text is
/// the rule's own line.
fn rule_of<'a>(state: &FirewallState, entry: &'a ForeignRule) -> &'a str {
    match state {
        FirewallState::Nftables(_) => {
            (entry.text.split_once(": ")).map_or(&entry.text, |(at, _)| at)
        }
        _ => &entry.text,
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
        // firewalld's rich rules are never read as ahead (priorities decide).
        _ => return None,
    };
    let more = match n {
        1 => String::new(),
        n => format!(", and {} more", n - 1),
    };
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
