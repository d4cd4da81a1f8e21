//! ufw: state from `ufw status verbose` (active or not, the default incoming
//! policy) and `ufw show added` (every user rule as the command that adds
//! it, which ufw prints whether it is active or not). portplan's rules are
//! `ufw allow from SOURCE to any port PORTS proto T comment 'portplan:<spec>'`
//! and are removed with `ufw delete` and the same words.
//!
//! An inactive ufw still takes rules and applies them once enabled, so it
//! counts as filtering (enabling it without the rules would cut the services
//! off); the shell reports that it is inactive.
//!
//! ufw keeps one rule per source, port and protocol: adding portplan's allow
//! where a foreign rule of any action (allow, deny, reject, limit) has that
//! tuple would rewrite the foreign rule ("Rule updated"), turning a deny into
//! an allow. Such a collision is refused before anything runs (in
//! `backends/mod.rs`, for every backend).

use super::ahead::Admits;
use super::{Placed, bare, colon_ports, family_of, normalize_source, owned_tag, transport_named};
use crate::list::List;
use crate::model::{OpenPort, PlanError, PortRange, Transport};
use crate::order::Sorted;

use crate::state::{ChainId, Command, ForeignRule, IpFamily, TaggedRule, UfwRule, UfwState};

/// Whether `ufw status` says it is active (`None`: not its output).
fn is_active(status: &str) -> Option<bool> {
    match status.lines().next()?.trim() {
        "Status: active" => Some(true),
        "Status: inactive" => Some(false),
        _ => None,
    }
}

/// The parts of one `ufw ...` rule portplan cares about.
#[derive(Default)]
struct Rule {
    action: String,
    from: Option<String>,
    to_any: bool,
    port: Option<String>,
    proto: Option<String>,
    comment: Option<String>,
    /// Interfaces, directions, app profiles, `to` addresses, a source
    /// port: the rule admits less than its port and source say.
    other: bool,
    /// An application's rule (`allow OpenSSH`, `... app CIFS`).
    app: bool,
    /// An outgoing rule (`allow out 53`): it admits nothing in.
    out: bool,
}

/// Read the words after `ufw` as ufw's own grammar has them: the short form
/// `allow 22/tcp`, or the long form with `from`, `to`, `port`, `proto`.
fn parse(words: &[String]) -> Rule {
    let mut rule = Rule {
        action: words.first().cloned().unwrap_or_default(),
        to_any: true,
        ..Rule::default()
    };
    // ufw's short form (`get_command`): `ACTION [out] [log|log-all] PORT[/PROTO]`
    // or `... APP`: the port or application comes after those words.
    let lead = 1 + words
        .iter()
        .skip(1)
        .take_while(|w| matches!(w.as_str(), "out" | "log" | "log-all"))
        .count();
    // `port` names the source's port after `from` (until `to`), the
    // destination's otherwise: ufw's `from ADDR port P to ADDR port P`.
    let mut after_from = false;
    let mut i = 1;
    while i < words.len() {
        let value = words.get(i + 1).cloned();
        match words[i].as_str() {
            "in" => {
                i += 1;
                continue;
            }
            // Logging changes nothing admitted, but portplan writes none.
            "log" | "log-all" => {
                rule.other = true;
                i += 1;
                continue;
            }
            "out" => {
                rule.out = true;
                i += 1;
                continue;
            }
            "app" => rule.app = true,
            "from" => {
                rule.from = value;
                after_from = true;
            }
            "to" => {
                rule.to_any = value.as_deref() == Some("any");
                after_from = false;
            }
            // A source port matches connections from that port to every
            // destination port: never portplan's rule, and its destination
            // ports are every port (read wide for what it may admit).
            "port" if after_from => rule.other = true,
            "port" => rule.port = value,
            "proto" => rule.proto = value,
            "comment" => rule.comment = value,
            short if i == lead && words.len() - lead <= 3 && short != "on" => {
                if short.starts_with(char::is_alphabetic) {
                    // `allow OpenSSH`: an application's profile.
                    rule.app = true;
                    rule.other = true;
                } else {
                    // `allow 8000:8010/tcp` (a bare port without /proto means both).
                    let (port, proto) = short.split_once('/').unwrap_or((short, ""));
                    rule.port = Some(port.to_string());
                    rule.proto = (!proto.is_empty()).then(|| proto.to_string());
                }
                i += 1;
                continue;
            }
            _ => {
                rule.other = true;
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    rule.other |= !rule.to_any || rule.app || rule.out;
    rule
}

pub(super) fn read(status: &str, added: &str) -> Result<UfwState, PlanError> {
    let active = is_active(status).ok_or_else(|| {
        PlanError::single(
            "main",
            status.lines().next().unwrap_or_default(),
            "not `ufw status verbose` output: no `Status:` line",
        )
    })?;
    let allows_incoming = status
        .lines()
        .filter_map(|l| l.strip_prefix("Default: "))
        .any(|l| l.split(',').any(|p| p.trim() == "allow (incoming)"));
    let mut state = UfwState {
        active,
        drops: !(active && allows_incoming),
        ..UfwState::default()
    };
    // What the rules read so far may admit ([`super::ahead`]).
    let mut accepts = Vec::new();
    for (line_no, line) in added.lines().enumerate() {
        let at = format!("extra:{}", line_no + 1);
        read_line(&mut state, &mut accepts, &at, line)?;
    }
    Ok(state)
}

/// The transports of a rule's protocol (`None`, no protocol: both); `None`
/// for a protocol other than `tcp` or `udp`.
fn named_transports(proto: Option<&str>) -> Option<Vec<Transport>> {
    match proto {
        None => Some(vec![Transport::Tcp, Transport::Udp]),
        Some(name) => transport_named(name).map(|transport| vec![transport]),
    }
}

/// One line of `ufw show added`: portplan's rule, a foreign rule, or what
/// an allow opens.
fn read_line(
    state: &mut UfwState,
    accepts: &mut Vec<Admits>,
    at: &str,
    line: &str,
) -> Result<(), PlanError> {
    let Some(command) = line.trim().strip_prefix("ufw ") else {
        return Ok(());
    };
    let words = shlex::split(command)
        .ok_or_else(|| PlanError::single(at, line, "unbalanced quotes in a ufw rule"))?;
    let rule = parse(&words);
    // portplan writes `allow`: a tagged deny, reject, limit (a deny past a
    // rate) or route rule is someone else's.
    let denies = rule.action != "allow";
    let tag = owned_tag(rule.comment.as_deref(), denies);
    let portless = rule.port.is_none();
    let local = words.windows(2).any(|w| w[0] == "on" && w[1] == "lo");
    // What it may admit, for the rules after it (ufw takes the first rule
    // that matches), read wide: an allow or a rate-limited one (`limit`,
    // an allow under the rate), inbound and not on `lo`, each range of its
    // port list, on every port where its ports do not read (an
    // application's profile).
    if matches!(rule.action.as_str(), "allow" | "limit") && !rule.out && !local {
        let ranges = (rule.port.as_deref().filter(|_| !rule.app))
            .and_then(super::port_list)
            .unwrap_or_else(|| vec![super::EVERY_PORT]);
        // A protocol not read: either, read wide.
        let transports = named_transports(rule.proto.as_deref())
            .unwrap_or_else(|| vec![Transport::Tcp, Transport::Udp]);
        let from = rule.from.as_deref().filter(|f| *f != "any");
        for transport in transports {
            for &ports in &ranges {
                accepts.push(Admits::from_words(transport, ports, from));
            }
        }
    }
    // No port is every port: `deny from 198.18.0.0/16`, a foreign rule that
    // can shadow portplan's allows; `allow from 10.0.0.0/8`, which admits
    // every port (read wide, backends/admitted.rs); a tagged rule edited to
    // have none, still portplan's (not intact: replaced or removed).
    let every_port = portless
        && (tag.is_some()
            || (!rule.app && rule.action == "allow")
            || (rule.from.is_some() && !rule.other && rule.action != "allow"));
    // A port list (`allow 2883,2884/tcp`, ufw's multiport) is each of its
    // ranges: read as none, it opened nothing for the audit, and a tagged
    // one went unseen (an adversarial review).
    let (Some(ranges), transports) = (
        if every_port {
            Some(vec![super::EVERY_PORT])
        } else {
            rule.port.as_deref().and_then(super::port_list)
        },
        // A protocol not read opens no TCP or UDP port.
        named_transports(rule.proto.as_deref()).unwrap_or_default(),
    ) else {
        return Ok(());
    };
    let listed = ranges.len() > 1;
    let source = match rule.from.as_deref() {
        None | Some("any") => None,
        Some(from) => Some(normalize_source(from).ok_or_else(|| {
            PlanError::single(at, from, "not an IP address or CIDR in a ufw rule")
        })?),
    };
    // What it admits, read wide: an interface or a `to` address portplan
    // does not judge is taken not to narrow it; the loopback one does. An
    // application rule's ports are in its profile, which this listing does
    // not show: it opens nothing the audit can judge (`allow OpenSSH` would
    // otherwise read as every port open).
    let admits = rule.action == "allow" && !rule.app && !local && !rule.out;
    let tagged = tag.as_ref().map(|tag| (tag, listed));
    for range in ranges {
        let read = (&rule, &transports[..], range, source.as_deref());
        read_range(state, accepts, read, (line.trim(), &words), tagged, admits);
    }
    Ok(())
}

/// A rule of `ufw show added` as read: its words, ports, source.
type Read<'a> = (&'a Rule, &'a [Transport], PortRange, Option<&'a str>);

/// One port range of a rule of `ufw show added` (a port list is several):
/// what it opens, and as foreign rules or portplan's (`tagged`, and whether
/// it is one of a list, which portplan never writes: edited).
fn read_range(
    state: &mut UfwState,
    accepts: &[Admits],
    (rule, transports, range, source): Read<'_>,
    (line, words): (&str, &[String]),
    tagged: Option<(&String, bool)>,
    admits: bool,
) {
    if tagged.is_none() {
        let mut read = foreign(rule, transports, range, source, line);
        // ufw appends portplan's rules after every rule it holds; an
        // interface, a direction, a `to` address or logging is a match not
        // judged (read narrow), and an inactive ufw filters nothing.
        if state.active && !rule.other {
            for entry in &mut read {
                entry.ahead = vec![entry.ports];
            }
        }
        // The rules read so far come before it: ufw takes the first match.
        state
            .foreign
            .extend(super::behind_accepts(read, accepts.iter()));
    }
    for &transport in transports {
        // What ufw admits once active: an inactive ufw keeps its rules.
        if admits {
            state.open.push(OpenPort {
                transport,
                ports: range,
                sources: source.map(str::to_string).into_iter().list(),
                tag: tagged.map(|(tag, _)| tag.clone()),
            });
        }
        let Some((tag, listed)) = tagged else {
            continue;
        };
        // portplan writes `allow from SOURCE`, one port or range, with a
        // protocol; anything else was edited by hand.
        let source = source.map_or_else(|| IpFamily::Ipv4.any().to_string(), str::to_string);
        state.found.push(UfwRule {
            rule: TaggedRule {
                tag: tag.clone(),
                family: family_of(&source),
                transport,
                ports: range,
                source,
            },
            words: words.to_vec(),
            // Without `proto` the rule is read once per transport: were one
            // of the two intact, deleting the other would take it along.
            intact: rule.action == "allow"
                && !rule.other
                && !listed
                && rule.port.is_some()
                && rule.proto.is_some()
                && rule.from.as_deref().is_some_and(|f| f != "any"),
        });
    }
}

/// A rule without portplan's tag as foreign rules, one per transport and
/// family it covers (`from any` covers both families): ufw keeps one rule per
/// source, port and protocol, whatever its action.
fn foreign(
    rule: &Rule,
    transports: &[Transport],
    ports: PortRange,
    source: Option<&str>,
    text: &str,
) -> Vec<ForeignRule> {
    let sources: Vec<(IpFamily, String)> = match source {
        Some(source) => vec![(family_of(source), source.to_string())],
        None => [IpFamily::Ipv4, IpFamily::Ipv6]
            .map(|family| (family, family.any().to_string()))
            .to_vec(),
    };
    let mut foreign = Vec::new();
    for transport in transports {
        for (family, source) in &sources {
            foreign.push(ForeignRule {
                action: rule.action.clone(),
                family: *family,
                transport: *transport,
                ports,
                source: source.clone(),
                text: text.to_string(),
                // Set by `read_line`.
                ahead: Vec::new(),
            });
        }
    }
    foreign
}

/// `ufw delete` with each removed rule's own words, then one `ufw allow` per
/// added source; ufw appends, after every existing user rule.
pub(super) fn commands(state: &UfwState, desired: &Sorted<Placed>, add: &[Placed]) -> Vec<Command> {
    let mut commands: Vec<Command> = Vec::new();
    // Hand-edited rules, and intact ones no longer desired, by their own words.
    for found in state
        .found
        .iter()
        .filter(|f| !f.intact || !desired.contains(&(ChainId(0), f.rule.clone())))
    {
        let mut argv = vec!["ufw".to_string(), "delete".to_string()];
        argv.extend(found.words.iter().cloned());
        if !commands.iter().any(|c| c.argv == argv) {
            commands.push(Command { argv, stdin: None });
        }
    }
    for (_, rule) in add {
        let ports = colon_ports(rule.ports);
        let source = bare(&rule.source);
        commands.push(Command {
            argv: [
                "ufw",
                "allow",
                "from",
                source,
                "to",
                "any",
                "port",
                &ports,
                "proto",
                rule.transport.as_str(),
                "comment",
                &rule.tag,
            ]
            .map(String::from)
            .to_vec(),
            stdin: None,
        });
    }
    commands
}
