//! nftables: state from `nft -j list ruleset`; changes as one `nft -f -`
//! transaction, so they apply entirely or not at all.
//!
//! portplan's rules are grouped by (chain, tag, family, transport, ports): one
//! rule per group, its sources inline or, past [`SET_THRESHOLD`], in a named
//! set. A group whose sources differ from the desired ones is replaced whole.

use crate::list::List;
use crate::table::Map;

use core::net::IpAddr;
use ipnet::IpNet;
use serde_json::Value;

use super::admitted::Admitted;
use super::reached::{self, Hand, Step};
use super::{
    ChainKinds, ChainStep, EVERY_PORT, Placed, SET_THRESHOLD, TAG_PREFIX, bare, is_tag,
    normalize_source, owned_tag, transport_named,
};
use crate::model::{OpenPort, PlanError, PortRange, Transport};
use crate::nets;
use crate::order::{Sorted, SortedMap};
use crate::state::{
    ChainId, Command, ForeignRule, IpFamily, NftChain, NftFamily, NftRule, NftState, TaggedRule,
};

fn malformed(what: &str) -> PlanError {
    PlanError::single(
        "main",
        "",
        format!("not `nft -j list ruleset` output: {what}"),
    )
}

/// A set reference, address or prefix as nft's JSON writes it.
fn addresses(right: &Value, sets: &Sets, at: (&str, &str)) -> (Vec<String>, Option<String>) {
    match right {
        Value::String(text) => match text.strip_prefix('@') {
            Some(name) => {
                let key = (at.0.to_string(), at.1.to_string(), name.to_string());
                (
                    sets.get(&key)
                        .map(|(sources, _)| sources.clone())
                        .unwrap_or_default(),
                    Some(name.to_string()),
                )
            }
            None => (normalize_source(text).into_iter().list(), None),
        },
        // An element with a comment (or a timeout): `{"elem": {"val": ...}}`.
        Value::Object(object) if object.contains_key("elem") => {
            addresses(&object["elem"]["val"], sets, at)
        }
        Value::Object(object) => {
            match (object.get("prefix"), object.get("set"), object.get("range")) {
                (Some(prefix), _, _) => {
                    let addr = prefix
                        .get("addr")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let len = prefix
                        .get("len")
                        .and_then(Value::as_u64)
                        .unwrap_or_default();
                    (
                        normalize_source(&format!("{addr}/{len}"))
                            .into_iter()
                            .list(),
                        None,
                    )
                }
                (None, Some(Value::Array(items)), _) => {
                    let mut all = Vec::new();
                    for item in items {
                        all.extend(addresses(item, sets, at).0);
                    }
                    (all, None)
                }
                // nft merges adjacent interval elements into `first-last` ranges.
                (None, None, Some(Value::Array(pair))) if pair.len() == 2 => {
                    (range_cover(pair[0].as_str(), pair[1].as_str()), None)
                }
                _ => (Vec::new(), None),
            }
        }
        _ => (Vec::new(), None),
    }
}

/// The CIDRs that cover exactly the addresses `first..=last`.
fn range_cover(first: Option<&str>, last: Option<&str>) -> Vec<String> {
    let parse = |text: Option<&str>| text.and_then(|t| t.parse::<IpAddr>().ok());
    match (parse(first), parse(last)) {
        (Some(first), Some(last)) => nets::cover(first, last)
            .iter()
            .map(ToString::to_string)
            .list(),
        _ => Vec::new(),
    }
}

/// The same addresses in the fewest CIDRs, as the desired rules write them.
fn canonical(sources: Vec<String>) -> Vec<String> {
    let nets: Vec<IpNet> = sources.iter().filter_map(|s| s.parse().ok()).list();
    nets::aggregate(&nets)
        .iter()
        .map(ToString::to_string)
        .list()
}

fn port_ranges(right: &Value) -> Vec<PortRange> {
    read_ports(right).unwrap_or_else(|| match right {
        // Lenient where a rule is matched against portplan's: what reads.
        Value::Object(object) => match object.get("set") {
            Some(Value::Array(items)) => {
                let mut all = Vec::new();
                for item in items {
                    all.extend(port_ranges(item));
                }
                all
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    })
}

/// Every port of a `dport` match's right side, or `None` where any part of
/// it does not read (a named set, an element portplan does not know).
fn read_ports(right: &Value) -> Option<Vec<PortRange>> {
    let range = |first: &Value, last: &Value| {
        let (first, last) = (first.as_u64()?, last.as_u64()?);
        (0 < first && first <= last && last <= 65535).then_some(PortRange {
            first: first as u16,
            last: last as u16,
        })
    };
    match right {
        Value::Number(_) => Some(vec![range(right, right)?]),
        Value::Object(object) => match (object.get("range"), object.get("set")) {
            (Some(Value::Array(pair)), _) if pair.len() == 2 => {
                Some(vec![range(&pair[0], &pair[1])?])
            }
            (None, Some(Value::Array(items))) => {
                let mut ranges = Vec::new();
                for item in items {
                    ranges.extend(read_ports(item)?);
                }
                Some(ranges)
            }
            _ if object.contains_key("elem") => read_ports(&object["elem"]["val"]),
            _ => None,
        },
        _ => None,
    }
}

/// What one rule matches and does, as far as portplan reads rules.
#[derive(Default)]
struct Rule {
    sources: Option<(IpFamily, Vec<String>, Option<String>)>,
    ports: Option<(Transport, Vec<PortRange>)>,
    verdict: Option<String>,
    /// Statements other than counters, logging and the verdict.
    conditional: bool,
    /// What the rule admits if it accepts, read wide (the audit's).
    admitted: Admitted,
    /// Its only conditions are a rate limit and the packet type (Arch's
    /// `pkttype host limit rate 5/second reject`).
    rated: bool,
    /// No condition at all: only counters, logging and the verdict.
    bare: bool,
    /// The chain a `jump` or `goto` hands the packet to.
    to: Option<String>,
    /// A match whose content the listing hides (iptables-nft's `xt`).
    hidden: bool,
    /// A statement that may change the packet or decide it out of sight:
    /// iptables-nft's target other than REJECT, LOG or NFLOG (NFQUEUE, MARK;
    /// ACCEPT, DROP and RETURN are native), a rewrite, any statement not
    /// read. A chain with one is not read as never accepting.
    acts: bool,
    /// Its jumps and gotos: its verdict, or the elements of its verdict map.
    gotos: Vec<Goto>,
    /// Its verdict map's accepting elements (`tcp dport vmap { 2883 :
    /// accept }`), each as what it admits and from where (empty: from
    /// anywhere).
    map_accepts: Vec<(Admitted, Vec<String>)>,
    /// Its verdict map's returning elements, read as those accepts are.
    map_returns: Vec<(Admitted, Vec<String>)>,
    /// Its verdict map has an element that may decide other than by
    /// accepting, dropping or returning (a jump, goto, queue).
    map_decides: bool,
}

/// A goto or jump and what it may take, read wide ([`super::GotoMatch`]).
struct Goto {
    to: String,
    /// A jump: the packet comes back unless the chain decides it.
    jump: bool,
    admitted: Admitted,
    /// Empty: from anywhere.
    sources: Vec<String>,
}

impl Goto {
    /// A goto (or `jump`) to `to` at the end of `rule` as read so far.
    fn after(rule: &Rule, to: &str, jump: bool) -> Goto {
        // More sources than a goto's rules hold are read as anywhere
        // (`super::GOTO_RULES`), before a map's every element copies them.
        let sources = (rule.sources.as_ref())
            .map(|(_, sources, _)| sources)
            .filter(|sources| sources.len() <= super::GOTO_RULES)
            .cloned();
        Goto {
            to: to.to_string(),
            jump,
            // A hidden match may be anything: it narrows nothing.
            admitted: if rule.hidden {
                Admitted::default()
            } else {
                rule.admitted.clone()
            },
            sources: sources.unwrap_or_default(),
        }
    }
}

/// Whether a rule's sources come from a named set.
fn set_referenced(rule: &Rule) -> bool {
    rule.sources
        .as_ref()
        .is_some_and(|(_, _, set)| set.is_some())
}

fn read_rule(expr: &[Value], (sets, maps): (&Sets, &Maps<'_>), at: (&str, &str)) -> Rule {
    let mut rule = Rule::default();
    // Conditions other than a rate limit and the packet type.
    let mut narrowed = false;
    let mut rated = false;
    let mut bare = true;
    for statement in expr {
        let Some((kind, body)) = statement.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        bare &= matches!(
            kind.as_str(),
            "counter" | "log" | "accept" | "drop" | "reject" | "jump" | "goto" | "return"
        );
        match kind.as_str() {
            "match" => {
                let left = body.get("left").unwrap_or(&Value::Null);
                let (protocol, field) = header_field(left);
                let right = body.get("right").unwrap_or(&Value::Null);
                let negated = match body.get("op").and_then(Value::as_str) {
                    Some("==" | "in") => Some(false),
                    Some("!=") => Some(true),
                    _ => None,
                };
                let equal = negated == Some(false);
                admit(&mut rule.admitted, left, right, negated);
                // The same field matched twice: both must hold, which one
                // field cannot say (`ip saddr A ip saddr B` admits nothing).
                let twice = match field {
                    Some("saddr") => rule.sources.is_some(),
                    Some("dport") => rule.ports.is_some(),
                    _ => false,
                };
                rule.conditional |= twice;
                // Only `pkttype host` (every packet addressed to the host, as
                // Arch's stock rule has it) leaves a catch-all in effect;
                // `pkttype broadcast`, `!= host` narrow it to less.
                let pkttype = member(body, &["left", "meta", "key"]).and_then(Value::as_str)
                    == Some("pkttype")
                    && equal
                    && right.as_str() == Some("host");
                rated |= pkttype;
                narrowed |= !pkttype;
                match (protocol, field) {
                    (Some("ip"), Some("saddr")) if equal => {
                        let (sources, set) = addresses(right, sets, at);
                        rule.sources = Some((IpFamily::Ipv4, canonical(sources), set));
                    }
                    (Some("ip6"), Some("saddr")) if equal => {
                        let (sources, set) = addresses(right, sets, at);
                        rule.sources = Some((IpFamily::Ipv6, canonical(sources), set));
                    }
                    (Some("tcp"), Some("dport")) if equal => {
                        rule.ports = Some((Transport::Tcp, port_ranges(right)))
                    }
                    (Some("udp"), Some("dport")) if equal => {
                        rule.ports = Some((Transport::Udp, port_ranges(right)))
                    }
                    _ => rule.conditional = true,
                }
            }
            "accept" | "drop" | "reject" => rule.verdict = Some(kind.clone()),
            // Where a jump or goto leads decides what the rule does to the
            // traffic it matches: someone else's rule on that traffic.
            "jump" | "goto" => {
                rule.verdict = Some(kind.clone());
                rule.to = body
                    .get("target")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                rule.conditional = true;
                if let Some(to) = rule.to.as_deref() {
                    rule.gotos.push(Goto::after(&rule, to, kind == "jump"));
                }
            }
            "counter" | "log" => {}
            // iptables-nft's compat match or target (`-m state`, `-m
            // multiport`): what it matches is not in the listing. The
            // iptables backend reads such rules from iptables-save; read
            // wide here, its hidden `--state RELATED,ESTABLISHED` would open
            // every port.
            "xt" => {
                rule.conditional = true;
                rule.hidden = true;
                narrowed = true;
                rule.admitted.close();
                // `{"type": "target", "name": "NFQUEUE"}`; older nft prints
                // `null`, which says nothing.
                let kind = |key: &str| body.get(key).and_then(Value::as_str);
                rule.acts |= kind("type") != Some("match")
                    && !matches!(kind("name"), Some("REJECT" | "LOG" | "NFLOG"));
            }
            // `limit rate 5/second`: the packets under the rate. `limit rate
            // over ...` (a flood guard) takes only the excess: a deny of
            // some packets, never a catch-all.
            "limit" => {
                rule.conditional = true;
                let over = body.get("inv").and_then(Value::as_bool) == Some(true);
                rated |= !over;
                narrowed |= over;
            }
            // Decided other than by accepting: a deny where it matters.
            "return" | "queue" | "continue" | "vmap" => {
                rule.verdict = Some(kind.clone());
                rule.conditional = true;
                narrowed = true;
                if kind == "vmap" {
                    let read = map_verdicts(&rule, body, (sets, maps), at);
                    rule.gotos.extend(read.gotos);
                    rule.map_accepts.extend(read.accepts);
                    rule.map_returns.extend(read.returns);
                    rule.map_decides = read.decides;
                }
            }
            _ => {
                rule.conditional = true;
                narrowed = true;
                rule.acts = true;
            }
        }
    }
    rule.rated = rated && !narrowed;
    rule.bare = bare;
    rule
}

/// The chains, by (family, table, name), that drop every packet they are
/// handed (`chain logdrop { log; drop }`) or never accept one
/// ([`super::chain_kinds`]).
fn chain_kinds(
    items: &[Value],
    named: (&Sets, &Maps<'_>),
    input: &[NftChain],
) -> ChainKinds<(String, String, String)> {
    let rules = items
        .iter()
        .filter_map(|i| i.get("rule"))
        .filter_map(|item| {
            let key = (
                text(item, "family"),
                text(item, "table"),
                text(item, "chain"),
            );
            // The input chains are hooked, never jumped to: read once, later.
            let hooked =
                |c: &NftChain| c.family.as_str() == key.0 && c.table == key.1 && c.name == key.2;
            (!input.iter().any(hooked)).then_some((key, item))
        });
    super::chain_kinds(rules, |item| {
        let family = text(item, "family");
        let table = text(item, "table");
        let expr = item.get("expr").and_then(Value::as_array);
        let expr = expr.map(Vec::as_slice).unwrap_or_default();
        let rule = read_rule(expr, named, (&family, &table));
        match rule.verdict.as_deref() {
            Some("drop" | "reject") if rule.bare => ChainStep::DropsAll,
            None | Some("drop" | "reject") if rule.acts => ChainStep::GoesOnActing,
            None | Some("drop" | "reject") => ChainStep::GoesOn,
            Some("return") => ChainStep::Returns,
            Some(_) => ChainStep::MayLetGo,
        }
    })
}

/// The gotos and accepts of a verdict map (`meta l4proto vmap { tcp : goto
/// tcp_in }`, `tcp dport vmap { 22 : accept, 2883 : accept }`, or a named
/// one, `vmap @protocols`): each element's goto takes, and each accept
/// admits, what the rule matched so far and its key. Its accepts were not
/// read: a port opened to everyone through a map, a common idiom, went
/// unseen by the audit (an adversarial review).
fn map_verdicts<'a>(
    rule: &Rule,
    body: &'a Value,
    (sets, maps): (&'a Sets, &'a Maps<'a>),
    at: (&str, &str),
) -> MapVerdicts {
    let key = body.get("key").unwrap_or(&Value::Null);
    let (protocol, field) = header_field(key);
    let data = body.get("data").unwrap_or(&Value::Null);
    let elements = match data.as_str().and_then(|d| d.strip_prefix('@')) {
        Some(name) => maps
            .get(&(at.0.to_string(), at.1.to_string(), name.to_string()))
            .copied(),
        None => data.get("set").and_then(Value::as_array).map(Vec::as_slice),
    };
    let by_source = matches!((protocol, field), (Some("ip" | "ip6"), Some("saddr")));
    let mut read = MapVerdicts::default();
    for element in elements.unwrap_or_default() {
        let Some([value, verdict]) = element.as_array().map(Vec::as_slice) else {
            continue;
        };
        if verdict.get("accept").is_some() {
            add_accept(&mut read.accepts, map_accept(rule, key, value, (sets, at)));
            continue;
        }
        // A return decides out of sight where the policy drops (`returns`).
        if verdict.get("return").is_some() {
            add_accept(&mut read.returns, map_accept(rule, key, value, (sets, at)));
            continue;
        }
        // Only an accept or a drop leaves the rules after it asked of the
        // rest; a jump, goto or queue may decide it out of sight.
        read.decides |= verdict.get("drop").is_none();
        // A goto first, as before jumps were read (an element that names
        // both is no nft output).
        let goto = member(verdict, &["goto", "target"]);
        let Some(to) =
            (goto.or_else(|| member(verdict, &["jump", "target"]))).and_then(Value::as_str)
        else {
            continue;
        };
        let mut goto = Goto::after(rule, to, goto.is_none());
        admit(&mut goto.admitted, key, value, Some(false));
        // Its sources hold all it may take, whatever the rule's also say.
        if by_source {
            goto.sources = canonical(addresses(value, sets, at).0);
        }
        read.gotos.push(goto);
    }
    read
}

/// What a verdict map's elements do: gotos, accepts and returns (each
/// what it admits, and from where: empty, anywhere), and whether any may
/// decide otherwise than by accepting, dropping or returning.
#[derive(Default)]
struct MapVerdicts {
    gotos: Vec<Goto>,
    accepts: Vec<(Admitted, Vec<String>)>,
    /// Its returning elements, read as its accepts are.
    returns: Vec<(Admitted, Vec<String>)>,
    decides: bool,
}

/// What one accepting element admits: the rule's matches so far and its
/// key, part by part for a concatenated one (`ip saddr . tcp dport`). An
/// element with a comment or counter is `{"elem": {"val": ...}}`. A key
/// whose parts do not pair with the value's narrows nothing (read wide).
fn map_accept(
    rule: &Rule,
    key: &Value,
    value: &Value,
    (sets, at): (&Sets, (&str, &str)),
) -> (Admitted, Vec<String>) {
    let value = member(value, &["elem", "val"]).unwrap_or(value);
    let mut admitted = rule.admitted.clone();
    let mut sources = (rule.sources.as_ref()).map_or_else(Vec::new, |(_, s, _)| s.clone());
    let (keys, values) = (concat_parts(key), concat_parts(value));
    if keys.len() == values.len() {
        for (key, value) in keys.into_iter().zip(values) {
            admit(&mut admitted, key, value, Some(false));
            if matches!(header_field(key), (Some("ip" | "ip6"), Some("saddr"))) {
                sources = canonical(addresses(value, sets, at).0);
            }
        }
    }
    (admitted, sources)
}

/// The parts of a concatenation (`{"concat": [...]}`), else `value` alone.
fn concat_parts(value: &Value) -> Vec<&Value> {
    match value.get("concat").and_then(Value::as_array) {
        Some(parts) => parts.iter().list(),
        None => vec![value],
    }
}

/// `accept` added to `accepts`, merged into one that admits the same (its
/// sources joined; from anywhere if either is): a map of 200 sources is one
/// open entry, not 200 (a review: each was a finding per planned rule).
fn add_accept(
    accepts: &mut Vec<(Admitted, Vec<String>)>,
    (admitted, sources): (Admitted, Vec<String>),
) {
    match accepts.iter_mut().find(|(a, _)| *a == admitted) {
        Some((_, held)) if held.is_empty() || sources.is_empty() => held.clear(),
        Some((_, held)) => {
            held.extend(sources);
            *held = canonical(std::mem::take(held));
        }
        None => accepts.push((admitted, sources)),
    }
}

/// [`super::GOTO`]'s foreign rules for `goto`, in `chain` at `handle`, in
/// the families of its sources.
fn goto_rules(chain: &NftChain, goto: &Goto, handle: Option<u64>) -> Vec<ForeignRule> {
    let families: &[IpFamily] = match chain.family {
        NftFamily::Inet => &IpFamily::ALL,
        NftFamily::Ip => &[IpFamily::Ipv4],
        NftFamily::Ip6 => &[IpFamily::Ipv6],
    };
    let matched = super::GotoMatch {
        admitted: &goto.admitted,
        sources: &goto.sources,
    };
    let text = format!(
        "{} {} {} handle {}: goto {}",
        chain.family.as_str(),
        chain.table,
        chain.name,
        handle.unwrap_or_default(),
        goto.to
    );
    super::goto_rules(families, matched, &goto.to, &text)
}

/// The header and field a payload expression reads (`tcp`, `dport`).
fn header_field(left: &Value) -> (Option<&str>, Option<&str>) {
    let payload = left.get("payload");
    let read = |key: &str| payload.and_then(|p| p.get(key)).and_then(Value::as_str);
    (read("protocol"), read("field"))
}

/// What one match, `left` against `right`, narrows of what a rule admits.
/// `negated`: `!=`; `None`: an operator that compares otherwise (`>=`,
/// `<`, a bitwise match), whose values are not read: no narrowing by them.
fn admit(admitted: &mut Admitted, left: &Value, right: &Value, negated: Option<bool>) {
    let (protocol, field) = header_field(left);
    let key = member(left, &["meta", "key"])
        .or_else(|| member(left, &["ct", "key"]))
        .and_then(Value::as_str);
    // The words of `right` where its operator and values read.
    let read = || negated.zip(words(right));
    match (key, protocol, field) {
        (Some("l4proto"), _, _)
        | (_, Some("ip"), Some("protocol"))
        | (_, Some("ip6"), Some("nexthdr")) => {
            if let Some((negated, names)) = read() {
                admitted.protocols(names, negated)
            }
        }
        (Some("state"), _, _) if left.get("ct").is_some() => {
            if let Some((negated, states)) = read() {
                admitted.states(states, negated)
            }
        }
        (Some("iif" | "iifname"), _, _) => {
            if let Some((negated, names)) = read()
                && names.iter().all(|n| *n == "lo")
            {
                admitted.interface("lo", negated);
            }
        }
        (_, Some(transport @ ("tcp" | "udp" | "th")), Some("dport")) => {
            let transport = transport_named(transport);
            // A named set's ports are not read: no narrowing.
            let ranges = negated.and_then(|_| read_ports(right));
            admitted.ports(transport, ranges, negated.unwrap_or_default());
        }
        // Any other field of a transport header matches only that protocol,
        // which `nft -j` leaves implied (`icmp type echo-request`,
        // `icmpv6 type ...`, `udp sport 53` list no l4proto match), whatever
        // the field's own operator.
        (_, Some(header), Some(_)) if !NETWORK_HEADERS.contains(&header) && header != "th" => {
            admitted.protocols([header], false)
        }
        _ => {}
    }
}

/// Payload headers below the transport (and IPv6's extension headers): a
/// match on them names no transport protocol.
const NETWORK_HEADERS: [&str; 10] = [
    "ether", "vlan", "arp", "ip", "ip6", "ll", "rt", "frag", "hbh", "dst",
];

/// The words of a match's right side: `"tcp"`, `["established", "related"]`
/// or `{"set": [...]}`; `None` where one of them does not read ([`word`]).
fn words(right: &Value) -> Option<Vec<&str>> {
    let items = match right {
        Value::Array(items) => items.as_slice(),
        Value::Object(object) => match object.get("set") {
            Some(Value::Array(items)) => items.as_slice(),
            _ => std::slice::from_ref(right),
        },
        other => std::slice::from_ref(other),
    };
    let words: Option<Vec<&str>> = items.iter().map(word).collect();
    words.filter(|w| !w.is_empty())
}

/// One value of a match as a word: a name, or a protocol's number as its
/// name where it is TCP or UDP (`nft -j` prints the number where the host
/// has no /etc/protocols). `None` for what does not read as one (a set
/// reference, a range, a `*`): the match then narrows nothing.
fn word(value: &Value) -> Option<&str> {
    match value {
        Value::String(text) if text.starts_with('@') || text == "*" => None,
        Value::String(text) => Some(text),
        Value::Number(number) => Some(match number.as_u64() {
            Some(6) => "tcp",
            Some(17) => "udp",
            _ => "another",
        }),
        Value::Object(object) => object.get("elem").and_then(|e| word(&e["val"])),
        _ => None,
    }
}

fn nft_family(text: &str) -> Option<NftFamily> {
    match text {
        "inet" => Some(NftFamily::Inet),
        "ip" => Some(NftFamily::Ip),
        "ip6" => Some(NftFamily::Ip6),
        _ => None,
    }
}

/// Whether a chain is iptables-nft's: it keeps the iptables layout, tables
/// `filter` of family `ip`/`ip6` with upper-case built-in chains. A native
/// ruleset spells its chains in lower case (`inet filter input`), the
/// convention of nft's own examples and of every distribution's default.
fn iptables_nft(family: NftFamily, table: &str, chain: &str) -> bool {
    family != NftFamily::Inet && table == "filter" && chain == "INPUT"
}

/// Sets by (family, table, name): the addresses they hold, and whether
/// portplan created the set (named `portplan_*`, with a `portplan:` comment).
/// Hashed: only asked, never listed.
type Sets = Map<(String, String, String), (Vec<String>, bool)>;

/// The verdict maps' elements (`[key, verdict]`), by (family, table, name).
type Maps<'a> = Map<(String, String, String), &'a [Value]>;

/// The member at `keys`, one object inside the next (as `Value::pointer`
/// with plain keys, without its parser of `~` escapes and array indexes).
fn member<'a>(value: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().try_fold(value, |value, key| value.get(key))
}

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// nft 1.0.6 to 1.0.9 write a table's lone flag from freed memory: where
/// that is no string, its JSON stops after `"flags": ` and it still exits
/// 0 (seen on a table made dormant).
const CUT_AT_FLAGS: &str = "\"flags\":";

pub(super) fn read(json: &str) -> Result<NftState, PlanError> {
    let (root, repeated) = crate::decode::read_any(json).map_err(|e| {
        if json.trim_end().ends_with(CUT_AT_FLAGS) {
            return malformed(
                "it stops at a table's `flags` (nft 1.0.6 to 1.0.9 write a table's one flag, \
                 such as `dormant`, from freed memory); `nft list tables` then `nft list \
                 table FAMILY NAME` shows which table and flag: a dormant table filters \
                 nothing",
            );
        }
        malformed(&e.to_string())
    })?;
    // nft never writes a key twice in one object: such text is not its
    // output, and which of the values it meant would be a guess.
    if let Some((_, key, _)) = repeated.first() {
        let key = crate::decode::quote(key);
        return Err(malformed(&format!("the key `{key}` is repeated")));
    }
    let items = root
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("no `nftables` array"))?;
    let (sets, maps) = (read_sets(items), read_maps(items));
    let named = (&sets, &maps);
    let mut state = NftState::default();
    let mut before = Before::default();
    let (dormant, unread) = table_flags(items);
    for chain in items.iter().filter_map(|i| i.get("chain")) {
        if text(chain, "hook") != "input" || text(chain, "type") != "filter" {
            continue;
        }
        // The kernel asks no chain of a dormant table: its drop drops
        // nothing, its accepts admit nothing (an adversarial review: `nft
        // add table inet filter '{ flags dormant; }'` left every port open
        // while the audit read the chain as dropping, portplan's rules in
        // place).
        let table = (text(chain, "family"), text(chain, "table"));
        if let Some((id, flag)) = unread.iter().find(|(id, _)| *id == table) {
            return Err(unread_flag(id, flag));
        }
        if dormant.contains(&table) {
            continue;
        }
        if let Some(family) = nft_family(&text(chain, "family")) {
            let (table, name) = (text(chain, "table"), text(chain, "name"));
            if text(chain, "policy") != "drop" {
                before.returns_accept.push(state.chains.len());
            }
            state.chains.push(NftChain {
                family,
                managed_by: iptables_nft(family, &table, &name).then(|| "iptables-nft".into()),
                table,
                name,
                drops: text(chain, "policy") == "drop",
                insert_before: None,
            });
        }
    }
    let kinds = chain_kinds(items, named, &state.chains);
    for item in items.iter().filter_map(|i| i.get("rule")) {
        read_item(&mut state, item, named, &kinds, &mut before)?;
    }
    let hands = core::mem::take(&mut before.hands);
    if !hands.is_empty() {
        state.open.extend(reached_open(hands, items, named, &kinds));
    }
    // A rated rule: the catch-all in effect, before any plain one after it.
    for (index, handle) in before.rated {
        if let Some(chain) = state.chains.get_mut(index) {
            chain.insert_before = handle;
        }
    }
    state.foreign.extend(left_sets(&state, items));
    // A name portplan would write into its script must be one nft reads
    // as a word (`FirewallState::check`): refused here already, named.
    if let Some(bad) = crate::state::nft_names(&state, "state").into_iter().next() {
        return Err(PlanError::single("main", bad.value, bad.message));
    }
    // A goto matters only in a chain portplan writes into: one that drops.
    let drops = |i: usize| state.chains.get(i).is_some_and(|c| c.drops);
    for (i, rules) in before.gotos {
        if drops(i) {
            state.foreign.extend(rules);
        }
    }
    Ok(state)
}

/// The (family, name) of every table flagged `dormant`, and of every one
/// whose lone flag does not read, with what it reads: nft -j prints
/// several flags as an array, one as a string, and nft 1.0.6 to 1.0.9
/// (Debian 12, Ubuntu 24.04) print that one string from freed memory
/// (`flags dormant` came out as `"flags": "Lester Gooch #5"`, its release
/// name). Such a table is refused where it has an input chain
/// ([`unread_flag`]), rather than guessed: read as dormant, an `owner`
/// table's drop would vanish; read as awake, a dormant table would read as
/// filtering while it filters nothing (a review).
type TableFlags = (Vec<(String, String)>, Vec<((String, String), String)>);

fn table_flags(items: &[Value]) -> TableFlags {
    let (mut dormant, mut unread) = (Vec::new(), Vec::new());
    for table in items.iter().filter_map(|i| i.get("table")) {
        let id = (text(table, "family"), text(table, "name"));
        match table.get("flags") {
            Some(Value::String(flag)) if flag == "dormant" => dormant.push(id),
            Some(Value::String(flag)) if !matches!(flag.as_str(), "owner" | "persist") => {
                unread.push((id, flag.clone()))
            }
            Some(Value::Array(flags)) if flags.iter().any(|f| f.as_str() == Some("dormant")) => {
                dormant.push(id)
            }
            _ => {}
        }
    }
    (dormant, unread)
}

/// The refusal of an input chain's table whose lone flag does not read.
fn unread_flag((family, name): &(String, String), flag: &str) -> PlanError {
    let message = format!(
        "table {family} {name}: its one flag reads `{}`, which nft 1.0.6 to 1.0.9 print from \
         freed memory for `dormant` or `owner`; portplan cannot tell whether its input chain \
         filters at all (`nft list table {family} {name}` shows the flag; a newer nft prints it)",
        crate::decode::quote(flag)
    );
    PlanError::single("main", flag, message)
}

fn read_maps(items: &[Value]) -> Maps<'_> {
    let maps = items.iter().filter_map(|i| i.get("map"));
    maps.filter(|map| text(map, "map") == "verdict")
        .map(|map| {
            let elements = map.get("elem").and_then(Value::as_array);
            let key = (text(map, "family"), text(map, "table"), text(map, "name"));
            (key, elements.map_or(&[][..], Vec::as_slice))
        })
        .collect()
}

/// What `ForeignRule::action` says of a set of portplan's (its prefix and
/// a `portplan:` comment) in a table it writes into that none of its rules
/// names: left when its rule was deleted by hand. Its `source` is
/// `set:FAMILY TABLE NAME`, which no address collides with.
pub(super) const SET_LEFT: &str = "left-set";

/// portplan's sets that none of its rules names, in the tables of the
/// chains it writes into. `create set` of one fails the transaction, so
/// `commands` deletes it first (a review: every later run failed); nft
/// itself refuses to delete a set a rule still uses, which fails the
/// transaction whole. Only names nft reads as one word.
fn left_sets(state: &NftState, items: &[Value]) -> Vec<ForeignRule> {
    let named = |table: &str, name: &str| {
        (state.found.iter()).any(|f| {
            f.set.as_deref() == Some(name)
                && state
                    .chains
                    .get(f.chain.index())
                    .is_some_and(|c| c.table == table)
        })
    };
    let written = |family: &str, table: &str| {
        (state.chains.iter()).any(|c| c.family.as_str() == family && c.table == table)
    };
    // In the listing's order (core's hash maps are asked, never listed).
    (items.iter().filter_map(|i| i.get("set")))
        .map(|set| {
            (
                text(set, "family"),
                text(set, "table"),
                text(set, "name"),
                set,
            )
        })
        .filter(|(family, table, name, set)| {
            name.starts_with(SET_PREFIX)
                && is_tag(&text(set, "comment"))
                && written(family, table)
                && !named(table, name)
                && crate::state::nft_word(name)
        })
        .map(|(family, table, name, _)| {
            let text =
                format!("{family} {table} set {name}: portplan's, named by none of its rules");
            super::named_thing(SET_LEFT, format!("set:{family} {table} {name}"), text)
        })
        .list()
}

fn read_sets(items: &[Value]) -> Sets {
    let mut sets = Map::new();
    for set in items.iter().filter_map(|i| i.get("set")) {
        let elements = set
            .get("elem")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let at = (text(set, "family"), text(set, "table"));
        let mut sources = Vec::new();
        for element in elements {
            sources.extend(addresses(element, &Map::new(), (&at.0, &at.1)).0);
        }
        let name = text(set, "name");
        let owned = name.starts_with(SET_PREFIX) && is_tag(&text(set, "comment"));
        sets.insert((at.0, at.1, name), (sources, owned));
    }
    sets
}

/// A rule that matches sources and ports, as read: one entry per port range
/// and source, portplan's or foreign.
struct Seen<'a> {
    /// `family table chain`, to name a foreign rule.
    at: String,
    chain: ChainId,
    family: IpFamily,
    transport: Transport,
    ranges: &'a [PortRange],
    sources: &'a [String],
    /// A deny on sources alone: named without a port match.
    every_port: bool,
}

impl Seen<'_> {
    /// Each range with each source. A list, not a `flat_map`: a few
    /// hundred bytes of the plugins.
    fn each(&self) -> Vec<(PortRange, &String)> {
        let mut each = Vec::new();
        for ports in self.ranges {
            for source in self.sources {
                each.push((*ports, source));
            }
        }
        each
    }

    /// `ahead`: see [`ForeignRule::ahead`].
    fn foreign(&self, action: &str, handle: u64, ahead: bool) -> Vec<ForeignRule> {
        (self.each().into_iter())
            .map(|(ports, source)| ForeignRule {
                action: action.to_string(),
                family: self.family,
                transport: self.transport,
                ports,
                source: source.clone(),
                text: if self.every_port {
                    format!(
                        "{} handle {handle}: {} saddr {source} {action}",
                        self.at,
                        self.family.as_str()
                    )
                } else {
                    format!(
                        "{} handle {handle}: {} saddr {source} {} dport {ports} {action}",
                        self.at,
                        self.family.as_str(),
                        self.transport.as_str()
                    )
                },
                ahead: if ahead { vec![ports] } else { Vec::new() },
            })
            .list()
    }

    fn found(&self, tag: &str, handle: u64, set: Option<&str>, intact: bool) -> Vec<NftRule> {
        (self.each().into_iter())
            .map(|(ports, source)| NftRule {
                chain: self.chain,
                rule: TaggedRule {
                    tag: tag.to_string(),
                    family: self.family,
                    transport: self.transport,
                    ports,
                    source: source.clone(),
                },
                handle,
                set: set.map(str::to_string),
                intact,
            })
            .list()
    }
}

/// What the rules read so far hold for those after them in their chain,
/// each by its chain's index in `NftState::chains`.
#[derive(Default)]
struct Before {
    /// Gotos that may take a planned connection ([`super::GOTO`]).
    gotos: Vec<(usize, Vec<ForeignRule>)>,
    /// Every jump and goto before a catch-all: what the chains they lead
    /// to accept is open ([`reached`]).
    hands: Vec<Hand>,
    /// What accepts may admit: a deny after one is not
    /// [`ForeignRule::ahead`] on those ports.
    accepts: Vec<(usize, super::ahead::Admits)>,
    /// Chains where a rule may have decided a packet otherwise, out of
    /// sight of the rules after it: a jump or goto to a chain that does not
    /// drop everything (it may accept), a verdict map, a queue, a return.
    /// No deny after one is ahead.
    decided: Vec<usize>,
    /// Per chain, a rated rule that is its catch-all in effect (Arch's
    /// `pkttype host limit rate 5/second reject`): where portplan's rules
    /// go, even before a plain catch-all after it. A deny after it on
    /// traffic portplan would admit has no place left for portplan's
    /// accept: before the rated rule is before that deny too, after it
    /// is behind a reject of most packets ([`super::BEHIND_RATED`]).
    rated: Vec<(usize, Option<u64>)>,
    /// Chains whose policy accepts (nft's default): a `return` in a base
    /// chain ends it, where the policy decides, and so accepts.
    returns_accept: Vec<usize>,
}

/// What the chains `hands` lead to accept ([`reached`]): each chain's
/// rules read only once it is reached (reading a rule unfolds its sets).
fn reached_open(
    hands: Vec<Hand>,
    items: &[Value],
    named: (&Sets, &Maps<'_>),
    kinds: &ChainKinds<(String, String, String)>,
) -> Vec<OpenPort> {
    // Loops, not `list`: each new iterator type is another copy of it.
    let (mut rules, mut chains) = (Vec::new(), Vec::new());
    for item in items.iter().filter_map(|i| i.get("rule")) {
        let (family, table) = (text(item, "family"), text(item, "table"));
        chains.push(chain_key(&family, &table, &text(item, "chain")));
        rules.push(item);
    }
    let mut read = |at: usize| {
        rules
            .get(at)
            .map_or_else(Step::default, |item| step(item, named, kinds))
    };
    reached::opened(hands, &chains, &mut read)
}

/// One rule of a chain reached by a jump or goto, as [`reached`] walks it
/// (a bare jump to a chain that drops everything ends it).
fn step(
    item: &Value,
    named: (&Sets, &Maps<'_>),
    kinds: &ChainKinds<(String, String, String)>,
) -> Step {
    let (family, table) = (text(item, "family"), text(item, "table"));
    let expr = item.get("expr").and_then(Value::as_array);
    let rule = read_rule(
        expr.map_or(&[][..], Vec::as_slice),
        named,
        (&family, &table),
    );
    let verdict = rule.verdict.as_deref();
    let dropping = |to: &str| kinds.drops(chain_named(&family, &table, to));
    let ends = rule.bare
        && (matches!(
            verdict,
            Some("accept" | "drop" | "reject" | "goto" | "return")
        ) || rule.to.as_deref().is_some_and(dropping));
    let (mut accepts, mut returns) = (rule.map_accepts, rule.map_returns);
    let sources = rule.sources.map(|(_, sources, _)| sources);
    match verdict {
        Some("accept") => accepts.push((rule.admitted, sources.unwrap_or_default())),
        Some("return") => returns.push((rule.admitted, sources.unwrap_or_default())),
        _ => {}
    }
    let mut hands = Vec::new();
    for goto in &rule.gotos {
        hands.push(hand(&family, &table, goto, true));
    }
    Step {
        accepts,
        returns,
        hands,
        ends,
    }
}

/// A jump or goto as [`reached`] walks it: `goto.to` is in the rule's own
/// table (a jump or goto never leaves it); a goto `returns` where the
/// chain it leaves does ([`Hand::returns`]).
fn hand(family: &str, table: &str, goto: &Goto, returns: bool) -> Hand {
    Hand {
        to: chain_key(family, table, &goto.to),
        admitted: goto.admitted.clone(),
        sources: goto.sources.clone(),
        returns: returns && !goto.jump,
    }
}

/// A chain's name in [`reached`]: a line each for family, table and name
/// (names nft lists hold no line break).
fn chain_key(family: &str, table: &str, name: &str) -> String {
    format!("{family}\n{table}\n{name}")
}

/// The chain `to` of `family`'s `table` (a jump or goto never leaves its
/// table), as a [`ChainKinds`] key is asked.
fn chain_named<'a>(
    family: &'a str,
    table: &'a str,
    to: &'a str,
) -> impl Fn(&(String, String, String)) -> bool + Copy + 'a {
    move |(f, t, c)| f == family && t == table && c == to
}

/// One rule of an input chain: a catch-all drop marks where rules go; an
/// accept before it opens ports, as does a `return` under an accepting
/// policy; a tagged one is portplan's.
fn read_item(
    state: &mut NftState,
    item: &Value,
    (sets, maps): (&Sets, &Maps<'_>),
    kinds: &ChainKinds<(String, String, String)>,
    before: &mut Before,
) -> Result<(), PlanError> {
    let (family, table, chain_name) = (
        text(item, "family"),
        text(item, "table"),
        text(item, "chain"),
    );
    let Some(index) = state
        .chains
        .iter()
        .position(|c| c.family.as_str() == family && c.table == table && c.name == chain_name)
    else {
        return Ok(());
    };
    let handle = item.get("handle").and_then(Value::as_u64);
    let expr = item
        .get("expr")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let rule = read_rule(expr, (sets, maps), (&family, &table));
    let verdict = rule.verdict.as_deref();
    // Rules come in chain order: one after the catch-all never matches.
    let after_catch_all = state
        .chains
        .get(index)
        .is_some_and(|c| c.insert_before.is_some());
    // What it lets in, before any catch-all (after one it sees no packet):
    // an accept, or a `return` to an accepting policy
    // (never portplan's: its tag is read as a deny's, `denies` below).
    let accepting = before.returns_accept.contains(&index);
    let returns = verdict == Some("return") && accepting;
    let accepts = !after_catch_all && (verdict == Some("accept") || returns);
    let refuses = matches!(verdict, Some("drop" | "reject"))
        && rule.sources.is_none()
        && rule.ports.is_none();
    // A jump or goto to a chain that drops everything: a deny, and
    // unconditional, a catch-all.
    let dropping_chain = |to: &str| kinds.drops(chain_named(&family, &table, to));
    let to_dropping = rule.to.as_deref().is_some_and(dropping_chain);
    let drops_all = rule.bare && to_dropping;
    let may_decide = match verdict {
        // A jump to a chain that never accepts leaves the packet here or
        // drops it (fail2ban's): the rules after it still decide first.
        Some("jump") => rule
            .to
            .as_deref()
            .is_none_or(|to| kinds.may_let_go(chain_named(&family, &table, to))),
        Some("goto") => !to_dropping,
        // A map of accepts and drops decides nothing the rules after it
        // would not see: its accepts narrow what is ahead, as an accept's
        // do (a review: `ct state vmap { established : accept, invalid :
        // drop }`, the nftables wiki's first line, hid every deny after it).
        Some("vmap") => rule.map_decides || !accepting && !rule.map_returns.is_empty(),
        Some("return") => !accepts,
        Some("queue") => true,
        // What an iptables-nft match hides may admit anything.
        Some("accept") => rule.hidden,
        _ => false,
    };
    if may_decide && !before.decided.contains(&index) {
        before.decided.push(index);
    }
    if (refuses && !rule.conditional || drops_all)
        && let Some(chain) = state.chains.get_mut(index)
    {
        chain.drops = true;
        if chain.insert_before.is_none() {
            chain.insert_before = handle;
        }
    }
    // A goto elsewhere, before any catch-all: rules after it never see what
    // it takes (kept by its chain, `super::GOTO`). One to a chain that
    // drops everything is a deny.
    if let Some(chain) = state.chains.get(index).filter(|_| !after_catch_all) {
        let mut rules = Vec::new();
        for goto in (rule.gotos.iter()).filter(|goto| !goto.jump && !dropping_chain(&goto.to)) {
            rules.extend(goto_rules(chain, goto, handle));
        }
        if !rules.is_empty() {
            before.gotos.push((index, rules));
        }
        for goto in &rule.gotos {
            before.hands.push(hand(&family, &table, goto, accepting));
        }
    }
    // A catch-all in effect though not in form: Arch Linux's stock chain ends
    // `pkttype host limit rate 5/second counter reject` before its drop
    // policy. Only a rate and the packet type narrow it, so an accept after
    // it is reached by at most the packets over the rate: portplan's rules
    // go before it, as before a plain catch-all (it drops nothing by itself).
    let behind_rated = !after_catch_all && before.rated.iter().any(|(chain, _)| *chain == index);
    if refuses
        && rule.rated
        && state
            .chains
            .get(index)
            .is_some_and(|c| c.insert_before.is_none())
    {
        before.rated.push((index, handle));
    }
    let denies = verdict.is_some_and(|v| v != "accept");
    let comment = owned_tag(item.get("comment").and_then(Value::as_str), denies);
    let comment = comment.as_deref();
    // A map's returns accept as a `return` does.
    let map_returns = rule.map_returns.iter().filter(|_| accepting);
    let map_accepts = rule.map_accepts.iter().chain(map_returns);
    for (admitted, sources) in map_accepts.filter(|_| !after_catch_all) {
        let opened = admitted.open(sources, None);
        let admits = opened
            .iter()
            .map(|open| (index, super::ahead::Admits::of(open)));
        before.accepts.extend(admits);
        state.open.extend(opened);
    }
    if accepts {
        let sources = rule
            .sources
            .as_ref()
            .map(|(_, sources, _)| sources.as_slice())
            .unwrap_or_default();
        let opened = rule.admitted.open(sources, comment);
        let admits = opened
            .iter()
            .map(|open| (index, super::ahead::Admits::of(open)));
        before.accepts.extend(admits);
        state.open.extend(opened);
    }
    // A tagged rule whose ports or sources do not read (no port match, `!=`,
    // a named port set, an unknown source set) is portplan's all the same:
    // taken as holding every port from anywhere and not intact, so that
    // `present` replaces it and `absent` removes it, rather than not see it.
    // A deny on sources alone (`ip saddr 198.18.0.0/16 drop`) holds every
    // port of both transports, as ufw's `deny from` does: tcp here, udp too
    // where it is listed as foreign below.
    // Only one with no other match: another could be misread (`meta
    // l4proto udp`), and would then refuse a plan of every port from it.
    let sources_only =
        rule.ports.is_none() && !rule.conditional && matches!(verdict, Some("drop" | "reject"));
    let (transport, ranges, unread) = match rule.ports.clone() {
        Some((transport, ranges)) if !ranges.is_empty() => (transport, ranges, false),
        Some((transport, _)) if comment.is_some() => (transport, vec![EVERY_PORT], true),
        None if comment.is_some() => (Transport::Tcp, vec![EVERY_PORT], true),
        None if sources_only && rule.sources.is_some() => (Transport::Tcp, vec![EVERY_PORT], false),
        _ => return Ok(()),
    };
    let (rule_family, mut sources, set) = match &rule.sources {
        Some((rule_family, sources, set)) => (*rule_family, sources.clone(), set.clone()),
        // No source match: from anywhere, in the chain's family.
        None => {
            let rule_family = if family == "ip6" {
                IpFamily::Ipv6
            } else {
                IpFamily::Ipv4
            };
            (rule_family, vec![rule_family.any().to_string()], None)
        }
    };
    let unread = unread || sources.is_empty();
    if sources.is_empty() && comment.is_some() {
        sources.push(rule_family.any().to_string());
    }
    let seen = Seen {
        at: format!("{family} {table} {chain_name}"),
        chain: ChainId::at(index),
        family: rule_family,
        transport,
        ranges: &ranges,
        sources: &sources,
        every_port: sources_only,
    };
    let Some(tag) = comment else {
        // Asked before portplan's rules (which go before the catch-all, and
        // in another input chain are not asked first at all), on nothing but
        // its family, protocol, ports and sources.
        let ahead = !rule.conditional && !after_catch_all && !before.decided.contains(&index);
        if let Some(action) = verdict {
            let handle = handle.unwrap_or_default();
            let mut read = seen.foreign(action, handle, ahead);
            if sources_only {
                let udp = Seen {
                    transport: Transport::Udp,
                    ..seen
                };
                read.extend(udp.foreign(action, handle, ahead));
            }
            if behind_rated && matches!(action, "drop" | "reject") {
                let refusals = (read.iter()).map(|f| ForeignRule {
                    action: format!("{}{action}", super::BEHIND_RATED),
                    ahead: Vec::new(),
                    ..f.clone()
                });
                state.foreign.extend(refusals.list());
            }
            let accepts = (before.accepts.iter())
                .filter(|(i, _)| *i == index)
                .map(|(_, admits)| admits);
            state.foreign.extend(super::behind_accepts(read, accepts));
        }
        return Ok(());
    };
    let handle =
        handle.ok_or_else(|| malformed(&format!("the portplan rule {tag} has no handle")))?;
    // Only a set portplan created is portplan's to delete.
    let owned_set = set.filter(|name| {
        sets.get(&(family.clone(), table.clone(), name.clone()))
            .is_some_and(|(_, owned)| *owned)
    });
    let intact = verdict == Some("accept")
        && !rule.conditional
        && !unread
        && rule.sources.is_some()
        && !after_catch_all
        && owned_set.is_some() == set_referenced(&rule);
    let mut found = seen.found(tag, handle, owned_set.as_deref(), intact);
    // Behind a goto of its chain that may take its packets it never sees
    // them: not intact, so it is taken out and the goto refused.
    for (_, gotos) in before.gotos.iter().filter(|(i, _)| *i == index) {
        for found in &mut found {
            found.intact &= !gotos.iter().any(|goto| super::meets(goto, &found.rule));
        }
    }
    state.found.extend(found);
    Ok(())
}

type GroupKey = (ChainId, String, IpFamily, Transport, PortRange);

/// One of portplan's groups as found: its intact sources, the handles of
/// the rules holding them and the named sets they live in.
struct Found {
    sources: Sorted<String>,
    handles: Sorted<u64>,
    sets: Sorted<String>,
    /// A member was edited by hand: the group is rewritten.
    broken: bool,
}

impl Found {
    fn of(rules: &[&NftRule]) -> Found {
        let intact = rules.iter().filter(|f| f.intact);
        Found {
            sources: intact.map(|f| f.rule.source.clone()).collect(),
            handles: rules.iter().map(|f| f.handle).collect(),
            sets: rules.iter().filter_map(|f| f.set.clone()).collect(),
            broken: rules.iter().any(|f| !f.intact),
        }
    }
}

fn group_of(chain: ChainId, rule: &TaggedRule) -> GroupKey {
    (
        chain,
        rule.tag.clone(),
        rule.family,
        rule.transport,
        rule.ports,
    )
}

/// What portplan's set names start with.
const SET_PREFIX: &str = "portplan_";

/// `portplan_ocp_server_http_1a2b3c4d_v4`: a set name nft accepts, unique per tag.
fn set_name(tag: &str, family: IpFamily) -> String {
    let spec: String = tag
        .trim_start_matches(TAG_PREFIX)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    // The hash of the whole tag keeps two specs apart whose sanitised names
    // agree (`app.a-b` and `app.a.b`).
    format!(
        "{SET_PREFIX}{spec}_{}_{}",
        super::name_hash(tag),
        super::firewalld::family_suffix(family)
    )
}

/// The lines that add one group: its set when it has many sources, then
/// its rule, before the chain's catch-all drop/reject.
fn add_group(chain: &NftChain, key: &GroupKey, sources: &[String]) -> Vec<String> {
    let (_, tag, family, transport, ports) = key;
    let at = format!("{} {}", chain.family.as_str(), chain.table);
    let selector = if *family == IpFamily::Ipv4 {
        "ip saddr"
    } else {
        "ip6 saddr"
    };
    let mut lines = Vec::new();
    let listed: Vec<&str> = sources.iter().map(|s| bare(s)).list();
    let matched = match listed.as_slice() {
        [one] => format!("{selector} {one}"),
        _ if listed.len() > SET_THRESHOLD => {
            let name = set_name(tag, *family);
            let kind = if *family == IpFamily::Ipv4 {
                "ipv4_addr"
            } else {
                "ipv6_addr"
            };
            // `create`, not `add`: a set of that name already there (left
            // behind, or someone else's) fails the whole transaction, where
            // `add` merged into it. The elements on a line of their own:
            // nft 1.0.6's `create set` drops inline `elements` silently.
            lines.push(format!(
                "create set {at} {name} {{ type {kind}; flags interval; comment \"{tag}\"; }}"
            ));
            lines.push(format!(
                "add element {at} {name} {{ {} }}",
                listed.join(", ")
            ));
            format!("{selector} @{name}")
        }
        _ => format!("{selector} {{ {} }}", listed.join(", ")),
    };
    let place = match chain.insert_before {
        Some(handle) => format!("insert rule {at} {} position {handle}", chain.name),
        None => format!("add rule {at} {}", chain.name),
    };
    lines.push(format!(
        "{place} {matched} {} dport {ports} accept comment \"{tag}\"",
        transport.as_str()
    ));
    lines
}

/// One `nft -f -` script: delete every changed group's rules and sets, then
/// add the desired groups, each before the chain's catch-all drop/reject.
pub(super) fn commands(state: &NftState, desired: &Sorted<Placed>) -> Vec<Command> {
    let current = SortedMap::grouped(
        (state.found.iter())
            .map(|f| (group_of(f.chain, &f.rule), f))
            .list(),
    );
    let wanted = SortedMap::grouped(
        (desired.iter())
            .map(|(chain, rule)| (group_of(*chain, rule), rule.source.clone()))
            .list(),
    )
    .map_values(Sorted::new);
    let keys: Sorted<&GroupKey> = current.keys().chain(wanted.keys()).collect();
    let changed: Vec<(&GroupKey, Option<Found>)> = (keys.into_iter())
        .map(|k| (k, current.get(k).map(|rules| Found::of(rules))))
        .filter(|(k, found)| match (found, wanted.get(k)) {
            (Some(found), Some(sources)) => found.broken || found.sources != *sources,
            _ => true,
        })
        .list();

    // By handle, then sets once their rules are gone.
    let mut deletes = Vec::new();
    let mut set_deletes = Vec::new();
    let mut adds = Vec::new();
    for (key, found) in changed {
        // Checked at the boundary: every slot id names a chain.
        let Some(chain) = state.chains.get(key.0.index()) else {
            continue;
        };
        let at = format!("{} {}", chain.family.as_str(), chain.table);
        if let Some(Found { handles, sets, .. }) = found {
            deletes.extend(
                handles
                    .iter()
                    .map(|h| (*h, format!("delete rule {at} {} handle {h}", chain.name))),
            );
            set_deletes.extend(sets.iter().map(|s| format!("delete set {at} {s}")));
        }
        if let Some(sources) = wanted.get(key) {
            adds.extend(add_group(chain, key, sources.as_slice()));
        }
    }
    // portplan's sets left behind go too, before any is made again.
    let left = (state.foreign.iter())
        .filter(|f| f.action == SET_LEFT)
        .filter_map(|f| f.source.strip_prefix("set:"));
    set_deletes.extend(left.map(|set| format!("delete set {set}")));
    let deletes = Sorted::new(deletes);
    let mut script: Vec<String> = deletes.into_iter().map(|(_, line)| line).list();
    script.extend(Sorted::new(set_deletes));
    script.extend(adds);
    script.push(String::new());
    vec![Command {
        argv: vec!["nft".into(), "-f".into(), "-".into()],
        stdin: Some(script.join("\n")),
    }]
}
