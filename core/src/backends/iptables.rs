//! iptables and ip6tables: state from `iptables-save`/`ip6tables-save`, one
//! rule per source in the filter table's INPUT chain, inserted before the
//! first catch-all DROP/REJECT, removed by its saved spec (`-D INPUT ...`).

use std::collections::BTreeSet;

use super::{TAG_PREFIX, colon_ports, normalize_source, parse_ports};
use crate::model::{
    Command, FirewallBackend, FirewallState, FoundRule, InputChain, IpFamily, OpenPort, PlanError,
    TaggedRule, Transport,
};

/// The parts of one saved rule portplan cares about.
#[derive(Default)]
struct Saved {
    source: Option<String>,
    protocol: Option<String>,
    dport: Option<String>,
    comment: Option<String>,
    target: Option<String>,
    /// Anything else (interfaces, states, negations): the rule is conditional.
    other: bool,
}

fn parse_rule(tokens: &[String]) -> Saved {
    let mut saved = Saved::default();
    let mut i = 0;
    while i < tokens.len() {
        let value = tokens.get(i + 1).cloned();
        match tokens[i].as_str() {
            "-s" | "--source" => saved.source = value,
            "-p" | "--protocol" => saved.protocol = value,
            "--dport" | "--dports" | "--destination-port" => saved.dport = value,
            "--comment" => saved.comment = value,
            "-j" | "--jump" => saved.target = value,
            // Matches that only load a module, and the reject type, add no condition.
            "-m" if matches!(
                value.as_deref(),
                Some("tcp" | "udp" | "comment" | "multiport")
            ) => {}
            "--reject-with" => {}
            _ => {
                saved.other = true;
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    saved
}

fn transport(protocol: Option<&str>) -> Option<Transport> {
    match protocol {
        Some("tcp") => Some(Transport::Tcp),
        Some("udp") => Some(Transport::Udp),
        _ => None,
    }
}

pub(super) fn read(ipv4: &str, ipv6: &str) -> Result<FirewallState, PlanError> {
    let mut state = FirewallState {
        backend: FirewallBackend::Iptables,
        chains: Vec::new(),
        found: Vec::new(),
        open: Vec::new(),
    };
    for (input, text, family) in [
        ("main", ipv4, IpFamily::Ipv4),
        ("extra", ipv6, IpFamily::Ipv6),
    ] {
        read_family(&mut state, input, text, family)?;
    }
    Ok(state)
}

fn read_family(
    state: &mut FirewallState,
    input: &str,
    text: &str,
    family: IpFamily,
) -> Result<(), PlanError> {
    let mut table = String::new();
    let mut chain: Option<InputChain> = None;
    let chain_index = state.chains.len() as u32;
    let mut number = 0u64;
    for (line_no, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('*') {
            table = name.to_string();
        } else if table == "filter" && line.starts_with(":INPUT ") {
            chain = Some(InputChain {
                family: if family == IpFamily::Ipv4 {
                    "ip"
                } else {
                    "ip6"
                }
                .to_string(),
                table: "filter".to_string(),
                name: "INPUT".to_string(),
                drops: line.split_whitespace().nth(1) == Some("DROP"),
                insert_before: None,
            });
        } else if table == "filter" && line.starts_with("-A INPUT ") {
            let Some(chain) = chain.as_mut() else {
                continue;
            };
            number += 1;
            let tokens = shlex::split(line).ok_or_else(|| {
                PlanError::single(
                    format!("{input}:{}", line_no + 1),
                    line,
                    "unbalanced quotes in a saved rule",
                )
            })?;
            let spec = tokens[2..].to_vec();
            let saved = parse_rule(&spec);
            let catch_all = !saved.other
                && saved.source.is_none()
                && saved.protocol.is_none()
                && saved.dport.is_none()
                && matches!(saved.target.as_deref(), Some("DROP" | "REJECT"));
            if catch_all {
                chain.drops = true;
                chain.insert_before.get_or_insert(number);
            }
            let (Some(transport), Some(ports)) = (
                transport(saved.protocol.as_deref()),
                saved.dport.as_deref().and_then(|p| parse_ports(p, ':')),
            ) else {
                continue;
            };
            let source = match &saved.source {
                Some(source) => normalize_source(source).ok_or_else(|| {
                    PlanError::single(
                        format!("{input}:{}", line_no + 1),
                        source,
                        "not an IP address or CIDR",
                    )
                })?,
                None => if family == IpFamily::Ipv4 {
                    "0.0.0.0/0"
                } else {
                    "::/0"
                }
                .to_string(),
            };
            let tag = saved.comment.filter(|c| c.starts_with(TAG_PREFIX));
            if saved.target.as_deref() == Some("ACCEPT") && !saved.other {
                state.open.push(OpenPort {
                    transport,
                    ports,
                    sources: saved
                        .source
                        .as_ref()
                        .map(|_| vec![source.clone()])
                        .unwrap_or_default(),
                    tag: tag.clone(),
                });
            }
            if let Some(tag) = tag {
                state.found.push(FoundRule {
                    chain: chain_index,
                    rule: TaggedRule {
                        tag,
                        family,
                        transport,
                        ports,
                        source,
                    },
                    handle: Some(number),
                    set: None,
                    spec,
                });
            }
        }
    }
    state.chains.extend(chain);
    Ok(())
}

fn program(family: &str) -> &'static str {
    if family == "ip6" {
        "ip6tables"
    } else {
        "iptables"
    }
}

/// `-D` for each removed rule, then `-I` at the catch-all's (shifted)
/// position, or `-A` when the chain has none.
pub(super) fn commands(
    state: &FirewallState,
    add: &[(u32, TaggedRule)],
    remove: &[(u32, TaggedRule)],
) -> Vec<Command> {
    let mut commands = Vec::new();
    let removed: BTreeSet<(u32, &TaggedRule)> = remove.iter().map(|(c, r)| (*c, r)).collect();
    let mut deleted = Vec::new();
    for found in state
        .found
        .iter()
        .filter(|f| removed.contains(&(f.chain, &f.rule)))
    {
        let chain = &state.chains[found.chain as usize];
        let mut argv = vec![
            program(&chain.family).to_string(),
            "-w".into(),
            "-D".into(),
            chain.name.clone(),
        ];
        argv.extend(found.spec.iter().cloned());
        commands.push(Command { argv, stdin: None });
        deleted.push(found);
    }
    for (index, chain) in state.chains.iter().enumerate() {
        let adds: Vec<&TaggedRule> = add
            .iter()
            .filter(|(c, _)| *c as usize == index)
            .map(|(_, r)| r)
            .collect();
        // Deleting rules above the catch-all moves it up.
        let mut position = chain.insert_before.map(|before| {
            let above = deleted
                .iter()
                .filter(|f| f.chain as usize == index && f.handle.is_some_and(|h| h < before));
            before - above.count() as u64
        });
        for rule in adds {
            let mut argv = vec![program(&chain.family).to_string(), "-w".into()];
            match &mut position {
                Some(position) => {
                    argv.extend(["-I".into(), chain.name.clone(), position.to_string()]);
                    *position += 1;
                }
                None => argv.extend(["-A".into(), chain.name.clone()]),
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
