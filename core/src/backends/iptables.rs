//! iptables and ip6tables: state from `iptables-save`/`ip6tables-save`, one
//! rule per source in the filter table's INPUT chain, inserted before the
//! first catch-all DROP/REJECT, removed by its saved spec (`-D INPUT ...`).

use crate::list::List;
use crate::order::Sorted;

use super::admitted::Admitted;
use super::reached::{self, Hand, Step};
use super::{
    ChainKinds, ChainStep, EVERY_PORT, Placed, colon_ports, is_tag, normalize_source, owned_tag,
    transport_named,
};
use crate::model::{OpenPort, PlanError, PortRange, Transport};
use crate::order;
use crate::state::{
    ChainId, Command, ForeignRule, IpFamily, IptablesChain, IptablesRule, IptablesState, TaggedRule,
};

/// The parts of one saved rule portplan cares about.
#[derive(Default)]
struct Saved {
    source: Option<String>,
    protocol: Option<String>,
    dport: Option<String>,
    comment: Option<String>,
    target: Option<String>,
    /// `! -s`: every source but that one.
    negated_source: bool,
    /// `-g`: the target is gone to, never returned from.
    goto: bool,
    /// Anything else (interfaces, states, negations, a field matched twice):
    /// the rule is conditional.
    other: bool,
}

/// The words of a saved rule as iptables-restore reads them. iptables-save
/// puts a value with anything but letters, digits, `_` and `-` in double
/// quotes, each `"`, `\` and `'` in it after a backslash
/// (`xtables_save_string`); POSIX double quotes, which shlex follows, keep
/// the backslash before a `'`. So `\'` is read as `'` first (an
/// adversarial review: a comment `"don\'t remove"` on portplan's rule
/// kept its backslash, the `-D` matched nothing, and every run failed).
pub(super) fn saved_words(line: &str) -> Option<Vec<String>> {
    shlex::split(&line.replace("\\'", "'"))
}

/// The target a rule's words jump or go to, as the reader finds it.
pub(super) fn target(tokens: &[String]) -> Option<String> {
    parse_rule(tokens).target
}

fn parse_rule(tokens: &[String]) -> Saved {
    let mut saved = Saved::default();
    let mut negated = false;
    let mut i = 0;
    while i < tokens.len() {
        let value = tokens.get(i + 1).cloned();
        let option = tokens[i].as_str();
        let field = match option {
            "!" => {
                saved.other = true;
                negated = true;
                i += 1;
                continue;
            }
            "-s" | "--source" => {
                saved.negated_source = negated;
                &mut saved.source
            }
            "-p" | "--protocol" => &mut saved.protocol,
            "--dport" | "--dports" | "--destination-port" | "--destination-ports" => {
                &mut saved.dport
            }
            // A second comment (`-m comment` twice) must not hide a tag:
            // the tag is kept, and the rule is not as portplan writes it.
            "--comment" if saved.comment.as_deref().is_some_and(is_tag) => {
                saved.other = true;
                i += 2;
                continue;
            }
            "--comment" => &mut saved.comment,
            // A goto decides as a jump does: someone else's rule.
            "-j" | "--jump" => &mut saved.target,
            "-g" | "--goto" => {
                saved.goto = true;
                &mut saved.target
            }
            // Matches that only load a module, and the reject type, add no condition.
            "-m" if matches!(
                value.as_deref(),
                Some("tcp" | "udp" | "comment" | "multiport")
            ) =>
            {
                i += 2;
                continue;
            }
            "--reject-with" => {
                i += 2;
                continue;
            }
            _ => {
                saved.other = true;
                negated = false;
                i += 1;
                continue;
            }
        };
        // The same field matched twice: both must hold, which one field
        // cannot say (`--dport 1 --dports 7001` admits nothing).
        let twice = field.is_some();
        *field = value;
        saved.other |= twice;
        negated = false;
        i += 2;
    }
    saved
}

/// What a saved rule admits if it accepts, read wide (see `admitted`):
/// `!` negates the option after it.
fn admitted(tokens: &[String]) -> Admitted {
    let mut admitted = Admitted::default();
    let mut negated = false;
    let mut i = 0;
    while i < tokens.len() {
        let value = tokens.get(i + 1).map(String::as_str).unwrap_or_default();
        let list = || value.split(',');
        match tokens[i].as_str() {
            "!" => {
                negated = true;
                i += 1;
                continue;
            }
            "-p" | "--protocol" => admitted.protocols([value], negated),
            "--dport" | "--dports" | "--destination-port" | "--destination-ports" => {
                admitted.ports(None, super::port_list(value), negated)
            }
            "-i" | "--in-interface" => admitted.interface(value, negated),
            "--ctstate" | "--state" => admitted.states(list(), negated),
            // A nat rule's (`nat_as_input` in firewalld.rs): where it sends.
            "--to-ports" => admitted.sent(super::parse_ports(value, '-')),
            "--to-destination" => admitted.sent(port_sent(value)),
            // Options whose value is no option, however it reads (`--comment
            // "--state"`): skipped with it.
            "-m" | "--match" | "--comment" | "-j" | "--jump" | "-g" | "--goto" | "-s"
            | "--source" | "-d" | "--destination" | "--log-prefix" | "--match-set" => {}
            other => {
                // An option read elsewhere (`! -s`) or not at all takes the `!`.
                negated &= !other.starts_with('-');
                i += 1;
                continue;
            }
        }
        negated = false;
        i += 2;
    }
    admitted
}

/// The port a `DNAT`'s `--to-destination` sends to (`:2881`,
/// `127.0.0.1:2881-2890`, `[::1]:2881`; `:1000-2000/1100`, each shifted to
/// from 1100, sends to 1000-2000), the shift aside; `None` where it names
/// none.
fn port_sent(value: &str) -> Option<PortRange> {
    let (_, port) = destination(value);
    super::parse_ports(port.split('/').next().unwrap_or_default(), '-')
}

/// A `DNAT`'s `--to-destination` (`198.18.2.11:2881`, `[::1]:2881`,
/// `:2881`, `fe80::1`) as its address and its port, empty where it names
/// none: the port follows the address's last `:` (`]:` of one in
/// brackets; an IPv6 address without them names none).
pub(super) fn destination(value: &str) -> (&str, &str) {
    match value.bytes().rposition(|b| b == b':') {
        Some(at) => {
            let (address, port) = value.split_at(at);
            match address.ends_with(']') || !address.as_bytes().contains(&b':') {
                true => (address, &port[1..]),
                false => (value, ""),
            }
        }
        None => (value, ""),
    }
}

pub(super) fn read(ipv4: &str, ipv6: &str) -> Result<IptablesState, PlanError> {
    let mut state = IptablesState::default();
    for (input, text, family) in [
        ("main", ipv4, IpFamily::Ipv4),
        ("extra", ipv6, IpFamily::Ipv6),
    ] {
        read_family(&mut state, input, text, family)?;
    }
    Ok(state)
}

fn read_family(
    state: &mut IptablesState,
    input: &str,
    text: &str,
    family: IpFamily,
) -> Result<(), PlanError> {
    let kinds = chain_kinds(text);
    let foreign_before = state.foreign.len();
    let mut place = Place {
        chain: ChainId::at(state.chains.len()),
        number: 0,
        accepts: Vec::new(),
        decided: false,
        hands: Vec::new(),
        returns_accept: false,
    };
    let mut table = String::new();
    let mut chain: Option<IptablesChain> = None;
    for (line_no, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('*') {
            table = name.to_string();
        } else if table == "filter" && line.starts_with(":INPUT ") {
            let policy = line.split_whitespace().nth(1);
            place.returns_accept = policy == Some("ACCEPT");
            chain = Some(IptablesChain {
                family,
                drops: policy == Some("DROP"),
                insert_before: None,
            });
        } else if table == "filter" && line.starts_with("-A INPUT ") {
            let Some(chain) = chain.as_mut() else {
                continue;
            };
            place.number = place.number.saturating_add(1);
            let at = format!("{input}:{}", line_no + 1);
            read_rule(state, chain, &mut place, &at, line, family, &kinds)?;
        }
    }
    // A goto matters only in a chain portplan writes into: one that drops.
    if !chain.as_ref().is_some_and(|c| c.drops) {
        let read = state
            .foreign
            .split_off(foreign_before.min(state.foreign.len()));
        (state.foreign).extend(
            read.into_iter()
                .filter(|f| !f.action.starts_with(super::GOTO)),
        );
    }
    state.chains.extend(chain);
    if !place.hands.is_empty() {
        state.open.extend(reached_open(place.hands, text, &kinds));
    }
    Ok(())
}

/// What the filter table's user chains that `hands` lead to accept
/// ([`reached`]), each rule read only once its chain is reached.
fn reached_open(hands: Vec<Hand>, text: &str, kinds: &ChainKinds<String>) -> Vec<OpenPort> {
    let mut table = "";
    let (mut chains, mut rules) = (Vec::new(), Vec::new());
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('*') {
            table = name;
        }
        let rest = line.strip_prefix("-A ").filter(|_| table == "filter");
        if let Some((name, rule)) = rest.and_then(|rest| rest.split_once(' ')) {
            chains.push(name.to_string());
            rules.push(rule);
        }
    }
    let mut read = |at: usize| {
        rules
            .get(at)
            .map_or_else(Step::default, |rule| step(rule, kinds))
    };
    reached::opened(hands, &chains, &mut read)
}

/// One rule of a user chain: an accept, a return, a jump or goto (to a
/// target no user chain is named after: nothing), and whether it decides
/// every packet it is asked of (a jump to a chain that drops everything
/// does).
fn step(rule: &str, kinds: &ChainKinds<String>) -> Step {
    let spec = saved_words(rule).unwrap_or_default();
    let saved = parse_rule(&spec);
    let target = saved.target.as_deref().unwrap_or_default();
    let decides = saved.goto
        || matches!(target, "ACCEPT" | "DROP" | "REJECT" | "RETURN")
        || kinds.drops(|d| d == target);
    let mut step = Step {
        ends: decides && unconditional(&saved),
        ..Step::default()
    };
    let matched = (admitted(&spec), sources(&saved));
    match target {
        "ACCEPT" => step.accepts.push(matched),
        "RETURN" => step.returns.push(matched),
        to if user_chain(to) => step.hands.push(hand(to, matched, saved.goto)),
        _ => {}
    }
    step
}

/// Whether a target may name a user chain: not one of the built-in
/// verdicts and logs (`ACCEPT` and the rest never lead to a chain, so a
/// ruleset of those alone is not scanned again for chains).
fn user_chain(target: &str) -> bool {
    !matches!(
        target,
        "" | "ACCEPT" | "DROP" | "REJECT" | "RETURN" | "LOG" | "NFLOG"
    )
}

/// A jump or goto to `to` as [`reached`] walks it (`returns`: see
/// [`Hand::returns`]).
fn hand(to: &str, (admitted, sources): (Admitted, Vec<String>), returns: bool) -> Hand {
    Hand {
        to: to.to_string(),
        admitted,
        sources,
        returns,
    }
}

/// A rule's source as an accept's (`! -s`: from anywhere, read wide).
fn sources(saved: &Saved) -> Vec<String> {
    (saved.source.as_deref())
        .filter(|_| !saved.negated_source)
        .and_then(normalize_source)
        .into_iter()
        .list()
}

/// Whether a saved rule matches every packet: no match portplan does not
/// read, no source, protocol or port.
fn unconditional(saved: &Saved) -> bool {
    !saved.other && saved.source.is_none() && saved.protocol.is_none() && saved.dport.is_none()
}

/// The filter table's user chains that drop every packet they are handed
/// (`LOGDROP`: `-j LOG`, then `-j DROP`) or never accept one (fail2ban's
/// `f2b-sshd`: `-j REJECT` per banned source, then `-j RETURN`;
/// [`super::chain_kinds`]).
fn chain_kinds(text: &str) -> ChainKinds<String> {
    let mut table = "";
    let rules = text.lines().map(str::trim).filter_map(|line| {
        if let Some(name) = line.strip_prefix('*') {
            table = name;
        }
        let rest = line.strip_prefix("-A ").filter(|_| table == "filter")?;
        let mut spec = saved_words(rest).filter(|tokens| !tokens.is_empty())?;
        let name = spec.remove(0);
        (!matches!(name.as_str(), "INPUT" | "FORWARD" | "OUTPUT")).then_some((name, spec))
    });
    super::chain_kinds(rules, |spec| {
        let saved = parse_rule(&spec);
        match saved.target.as_deref() {
            Some("DROP" | "REJECT") if unconditional(&saved) => ChainStep::DropsAll,
            None | Some("DROP" | "REJECT" | "LOG" | "NFLOG") => ChainStep::GoesOn,
            Some("RETURN") if !saved.goto => ChainStep::Returns,
            Some(_) => ChainStep::MayLetGo,
        }
    })
}

/// Where a rule of INPUT is, and what the rules before it hold for it.
struct Place {
    chain: ChainId,
    /// Its 1-based number.
    number: u32,
    /// What this INPUT's accepts before it may admit: a deny after one is
    /// not [`ForeignRule::ahead`] on those ports.
    accepts: Vec<super::ahead::Admits>,
    /// A rule before it may have decided a packet otherwise, out of sight:
    /// a jump or goto to a chain that does not drop everything (it may
    /// accept), `RETURN` (but one to an accepting policy, read as the
    /// accept it is), a queue. No deny after one is ahead.
    decided: bool,
    /// Every jump and goto before the catch-all: what the chains they lead
    /// to accept is open ([`reached`]).
    hands: Vec<Hand>,
    /// INPUT's policy accepts: a `RETURN` in it ends the built-in chain,
    /// where the policy decides, and so accepts what it matches.
    returns_accept: bool,
}

/// One `-A INPUT` rule: a catch-all DROP/REJECT, or an unconditional jump
/// to a chain that drops everything, marks where rules go; an ACCEPT before
/// it opens ports, as does a `RETURN` under an accepting policy; a tagged
/// one is portplan's. `at` is its input line.
fn read_rule(
    state: &mut IptablesState,
    chain: &mut IptablesChain,
    place: &mut Place,
    at: &str,
    line: &str,
    family: IpFamily,
    kinds: &ChainKinds<String>,
) -> Result<(), PlanError> {
    let tokens = saved_words(line)
        .ok_or_else(|| PlanError::single(at, line, "unbalanced quotes in a saved rule"))?;
    // `-A INPUT` was matched above: the saved rule is what follows it.
    let spec = tokens.get(2..).unwrap_or_default().to_vec();
    let saved = parse_rule(&spec);
    let catch_all = unconditional(&saved)
        && saved
            .target
            .as_deref()
            .is_some_and(|t| matches!(t, "DROP" | "REJECT") || kinds.drops(|d| d == t));
    let after_catch_all = chain.insert_before.is_some();
    if catch_all {
        chain.drops = true;
        chain.insert_before.get_or_insert(place.number);
    }
    let (chain_id, number) = (place.chain, place.number);
    // What it lets in, before any catch-all (after one it sees no packet):
    // an accept, or a `RETURN` to INPUT's accepting policy
    // (never portplan's: its tag is read as a deny's, `denies` below).
    let returns = !saved.goto && saved.target.as_deref() == Some("RETURN");
    let accepts = !after_catch_all
        && (saved.target.as_deref() == Some("ACCEPT") || returns && place.returns_accept);
    let to_dropping = |t: &str| kinds.drops(|d| d == t);
    // Logging decides nothing; an accept is read as what it admits; a jump
    // (not a goto) to a chain that never accepts leaves the packet here or
    // drops it (fail2ban's): the rules after it still decide first.
    let decides_unseen = |t: &str| {
        !matches!(t, "ACCEPT" | "DROP" | "REJECT" | "LOG" | "NFLOG")
            && !to_dropping(t)
            && (saved.goto || kinds.may_let_go(|c| c == t))
    };
    // Its own `ahead` does not matter: it is no deny. A `RETURN` read as
    // an accept is asked as one.
    place.decided |= !accepts && saved.target.as_deref().is_some_and(decides_unseen);
    // A goto elsewhere, before any catch-all: rules after it never see what
    // it takes. `read_family` keeps it where the chain drops (`super::GOTO`).
    if let Some(target) =
        (saved.target.as_deref()).filter(|t| saved.goto && !to_dropping(t) && !after_catch_all)
    {
        let sources = saved
            .source
            .as_deref()
            .filter(|_| !saved.negated_source)
            .and_then(normalize_source);
        let matched = super::GotoMatch {
            admitted: &admitted(&spec),
            sources: sources.as_slice(),
        };
        let text = format!("{} {line}", program(family));
        state
            .foreign
            .extend(super::goto_rules(&[family], matched, target, &text));
    }
    // Logging decides nothing: a tagged LOG is portplan's accept edited, as
    // a tagged nft rule with only `log` is.
    // A value the reading took for an option (`! --helper --comment`, a
    // helper named so) can hide the target: any `-j X` or `-g X` among the
    // tokens that is not an accept or a log makes the rule a deny, and so
    // never portplan's (an adversarial review: a tagged DROP read as
    // portplan's accept was deleted and replaced by one).
    let verdict_words = spec
        .windows(2)
        .filter(|w| matches!(w[0].as_str(), "-j" | "--jump" | "-g" | "--goto"));
    let denies = (saved.target.iter().map(String::as_str))
        .chain(verdict_words.map(|w| w[1].as_str()))
        .any(|t| !matches!(t, "ACCEPT" | "LOG" | "NFLOG"));
    let tag = owned_tag(saved.comment.as_deref(), denies);
    if let Some(to) = (saved.target.as_deref()).filter(|t| !after_catch_all && user_chain(t)) {
        let returns = saved.goto && place.returns_accept;
        (place.hands).push(hand(to, (admitted(&spec), sources(&saved)), returns));
    }
    if accepts {
        let opened = admitted(&spec).open(&sources(&saved), tag.as_deref());
        (place.accepts).extend(opened.iter().map(super::ahead::Admits::of));
        state.open.extend(opened);
    }
    let listed = saved.dport.as_deref().and_then(super::port_list);
    let transport = saved.protocol.as_deref().and_then(transport_named);
    // A DROP or REJECT on a source without ports (`-s 198.18.0.0/16 -j
    // DROP`) holds every port, of both transports without `-p`, as ufw's
    // `deny from` does: tcp here, udp too where it is listed as foreign.
    let sources_only = tag.is_none()
        && !saved.other
        && !saved.negated_source
        && saved.dport.is_none()
        && saved.source.is_some()
        && matches!(saved.target.as_deref(), Some("DROP" | "REJECT"));
    // A tagged rule whose protocol or ports do not read as portplan writes
    // them (no port match, a multiport list) is portplan's all the same:
    // taken as holding every port and not intact, so that `present`
    // replaces it and `absent` removes it (by its saved spec), rather than
    // not see it.
    let (transport, ranges, unread) = match (transport, listed) {
        (Some(transport), Some(ranges)) if tag.is_none() || ranges.len() == 1 => {
            (transport, ranges, false)
        }
        (transport, _) if tag.is_some() => {
            (transport.unwrap_or(Transport::Tcp), vec![EVERY_PORT], true)
        }
        (Some(transport), None) if sources_only => (transport, vec![EVERY_PORT], false),
        (None, None) if sources_only && saved.protocol.is_none() => {
            (Transport::Tcp, vec![EVERY_PORT], false)
        }
        _ => return Ok(()),
    };
    let source = match &saved.source {
        Some(source) => normalize_source(source)
            .ok_or_else(|| PlanError::single(at, source, "not an IP address or CIDR"))?,
        None => family.any().to_string(),
    };
    if let (None, Some(target)) = (&tag, &saved.target) {
        let transports = match saved.protocol {
            None if sources_only => vec![Transport::Tcp, Transport::Udp],
            _ => vec![transport],
        };
        // Before portplan's rules, which go before the catch-all, on
        // nothing but its protocol, ports and source.
        let ahead = !saved.other && !saved.negated_source && !after_catch_all && !place.decided;
        let mut read = Vec::new();
        for transport in transports {
            read.extend(ranges.iter().map(|ports| ForeignRule {
                action: target.clone(),
                family,
                transport,
                ports: *ports,
                source: source.clone(),
                text: line.to_string(),
                ahead: if ahead { vec![*ports] } else { Vec::new() },
            }));
        }
        state
            .foreign
            .extend(super::behind_accepts(read, place.accepts.iter()));
    }
    let ports = ranges[0];
    if let Some(tag) = tag {
        // Rules come in chain order: one after the catch-all never matches.
        let rule = TaggedRule {
            tag,
            family,
            transport,
            ports,
            source,
        };
        // Behind a goto that may take its packets it never sees them (the
        // foreign gotos read so far are this INPUT's, before it): not
        // intact, so it is taken out and the goto refused.
        let behind = (state.foreign.iter())
            .any(|f| f.action.starts_with(super::GOTO) && super::meets(f, &rule));
        // No `-s` is every source: what iptables-save prints for portplan's
        // own `-s 0.0.0.0/0` (it leaves a zero address and mask out), read
        // as that source, so a rule open to everyone is intact too (an
        // adversarial review: it never was, and every run failed its
        // verify).
        let intact = saved.target.as_deref() == Some("ACCEPT")
            && !saved.other
            && !unread
            && !after_catch_all
            && !behind;
        state.found.push(IptablesRule {
            chain: chain_id,
            rule,
            number,
            saved: spec,
            intact,
        });
    }
    Ok(())
}

/// Which of portplan's rules `-D` deletes, by position in `found`: those
/// that go and every copy of their saved spec. `-D` by spec deletes the
/// chain's first rule of that spec, so where a rule that goes has a twin
/// that stays (one spec saved twice, a copy after the catch-all), deleting
/// one copy would take the one that stays, run after run. Every copy goes,
/// and the one that stays is added back before the catch-all ([`dragged`]).
fn deletes(state: &IptablesState, desired: &Sorted<Placed>) -> Vec<bool> {
    let goes = |f: &IptablesRule| !f.intact || !desired.contains(&(f.chain, f.rule.clone()));
    // Copies side by side (sorted, not a map: no B-tree over saved specs in
    // the plugins).
    let mut by_spec: Vec<(ChainId, &[String], usize)> = (state.found.iter().enumerate())
        .map(|(i, f)| (f.chain, f.saved.as_slice(), i))
        .list();
    order::sort(&mut by_spec);
    let mut marked = vec![false; state.found.len()];
    for copies in by_spec.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        if copies
            .iter()
            .any(|&(_, _, i)| state.found.get(i).is_some_and(goes))
        {
            for &(_, _, i) in copies {
                if let Some(marked) = marked.get_mut(i) {
                    *marked = true;
                }
            }
        }
    }
    marked
}

/// portplan's intact, desired rules that a delete of their twin takes
/// along ([`deletes`]): not in place, so added back.
pub(super) fn dragged(state: &IptablesState, desired: &Sorted<Placed>) -> Vec<Placed> {
    (state.found.iter().zip(deletes(state, desired)))
        .filter(|(f, deleted)| *deleted && f.intact && desired.contains(&(f.chain, f.rule.clone())))
        .map(|(f, _)| (f.chain, f.rule.clone()))
        .list()
}

fn program(family: IpFamily) -> &'static str {
    if family == IpFamily::Ipv6 {
        "ip6tables"
    } else {
        "iptables"
    }
}

/// `-D` for each removed rule, then `-I` at the catch-all's (shifted)
/// position, or `-A` when the chain has none.
pub(super) fn commands(
    state: &IptablesState,
    desired: &Sorted<Placed>,
    add: &[Placed],
) -> Vec<Command> {
    let mut commands = Vec::new();
    let mut deleted = Vec::new();
    // Hand-edited rules, intact ones no longer desired, and their twins, by
    // their saved spec.
    let marked = deletes(state, desired);
    for found in (state.found.iter().zip(marked)).filter_map(|(f, m)| m.then_some(f)) {
        // Checked at the boundary: every rule's chain exists.
        let Some(chain) = state.chains.get(found.chain.index()) else {
            continue;
        };
        let mut argv = vec![
            program(chain.family).to_string(),
            "-w".into(),
            "-D".into(),
            "INPUT".into(),
        ];
        argv.extend(found.saved.iter().cloned());
        commands.push(Command { argv, stdin: None });
        deleted.push(found);
    }
    for (index, chain) in state.chains.iter().enumerate() {
        let id = ChainId::at(index);
        let adds: Vec<&TaggedRule> = add.iter().filter(|(c, _)| *c == id).map(|(_, r)| r).list();
        // Deleting rules above the catch-all moves it up.
        let mut position = chain.insert_before.map(|before| {
            let above = deleted
                .iter()
                .filter(|f| f.chain == id && f.number < before)
                .count();
            before.saturating_sub(u32::try_from(above).unwrap_or(u32::MAX))
        });
        for rule in adds {
            let mut argv = vec![program(chain.family).to_string(), "-w".into()];
            match &mut position {
                Some(position) => {
                    argv.extend(["-I".into(), "INPUT".into(), position.to_string()]);
                    *position = position.saturating_add(1);
                }
                None => argv.extend(["-A".into(), "INPUT".into()]),
            }
            let transport = rule.transport.as_str().to_string();
            let ports = colon_ports(rule.ports);
            argv.extend([
                "-s".into(),
                rule.source.clone(),
                "-p".into(),
                transport.clone(),
                "-m".into(),
                transport,
                "--dport".into(),
                ports,
                "-m".into(),
                "comment".into(),
                "--comment".into(),
                rule.tag.clone(),
                "-j".into(),
                "ACCEPT".into(),
            ]);
            commands.push(Command { argv, stdin: None });
        }
    }
    commands
}
