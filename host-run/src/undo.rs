//! Precise rollback: the inverse of each command a run applies, so a failed
//! run undoes exactly what it did, in reverse, and every other rule
//! (someone else's, added meanwhile) stays where it is.
//!
//! Rule-based backends have exact inverses: iptables `-D INPUT spec` is
//! undone by `-I INPUT n spec` at the rule's old number, `-I`/`-A` by `-D`;
//! ufw `delete WORDS` by `insert N WORDS` at the rule's old place (or
//! appending it when it was last), `allow ...` by `delete allow ...`, and
//! `--force enable` by `--force disable`. The set-based backends (one nft
//! transaction, firewalld's batches) have none here: for them the shell
//! falls back to core's `plan-restore`, which puts portplan's rules back as
//! they were and touches no other rule.

use portplan_core::{Command, FirewallState};

/// The inverse of each command, in the same order, when every one has one.
pub fn undo(
    state: &FirewallState,
    before_text: &str,
    commands: &[Command],
) -> Option<Vec<Command>> {
    match state {
        FirewallState::Iptables(_) => iptables(state, commands),
        FirewallState::Ufw(_) => ufw(before_text, commands),
        _ => None,
    }
}

fn command(argv: Vec<String>) -> Command {
    Command { argv, stdin: None }
}

fn iptables(state: &FirewallState, commands: &[Command]) -> Option<Vec<Command>> {
    let FirewallState::Iptables(state) = state else {
        return None;
    };
    let mut deleted: Vec<(String, u32)> = Vec::new();
    commands
        .iter()
        .map(|c| {
            let (program, rest) = match c.argv.as_slice() {
                [program, w, rest @ ..] if w == "-w" => (program.clone(), rest),
                _ => return None,
            };
            let head = |args: &[&str]| {
                let mut argv = vec![program.clone(), "-w".to_string()];
                argv.extend(args.iter().map(|a| a.to_string()));
                argv
            };
            match rest {
                [op, chain, spec @ ..] if op == "-D" && chain == "INPUT" => {
                    let family = if program == "ip6tables" {
                        portplan_core::IpFamily::Ipv6
                    } else {
                        portplan_core::IpFamily::Ipv4
                    };
                    // The deleted rule's number, less the rules above it this
                    // run deleted before it.
                    let found = state.found.iter().find(|f| {
                        f.saved == spec
                            && state.chains.get(f.chain.0 as usize).map(|c| c.family)
                                == Some(family)
                    })?;
                    let above = deleted
                        .iter()
                        .filter(|(p, n)| *p == program && *n < found.number)
                        .count();
                    deleted.push((program.clone(), found.number));
                    let at = found.number.saturating_sub(u32::try_from(above).ok()?);
                    let mut argv = head(&["-I", "INPUT", &at.to_string()]);
                    argv.extend(spec.iter().cloned());
                    Some(command(argv))
                }
                [op, chain, _position, spec @ ..] if op == "-I" && chain == "INPUT" => {
                    let mut argv = head(&["-D", "INPUT"]);
                    argv.extend(spec.iter().cloned());
                    Some(command(argv))
                }
                [op, chain, spec @ ..] if op == "-A" && chain == "INPUT" => {
                    let mut argv = head(&["-D", "INPUT"]);
                    argv.extend(spec.iter().cloned());
                    Some(command(argv))
                }
                _ => None,
            }
        })
        .collect()
}

fn ufw(added: &str, commands: &[Command]) -> Option<Vec<Command>> {
    // The user rules in ufw's order (`ufw show added`), as their words.
    let rules: Vec<Vec<String>> = added
        .lines()
        .filter_map(|line| line.trim().strip_prefix("ufw "))
        .filter_map(shlex::split)
        .collect();
    let mut deleted: Vec<usize> = Vec::new();
    commands
        .iter()
        .map(|c| {
            let words: Vec<&str> = c.argv.iter().map(String::as_str).collect();
            match words.as_slice() {
                ["ufw", "delete", rest @ ..] => {
                    let index = rules.iter().position(|r| r == rest)?;
                    let above = deleted.iter().filter(|&&d| d < index).count();
                    deleted.push(index);
                    let remaining = rules.len() - deleted.len();
                    let place = index - above;
                    let mut argv = vec!["ufw".to_string()];
                    // ufw inserts before an existing rule; the last one is appended.
                    if place < remaining {
                        argv.extend(["insert".to_string(), (place + 1).to_string()]);
                    }
                    argv.extend(rest.iter().map(|w| w.to_string()));
                    Some(command(argv))
                }
                ["ufw", "--force", "enable"] => Some(command(
                    ["ufw", "--force", "disable"].map(String::from).to_vec(),
                )),
                ["ufw", action, rest @ ..] if !action.starts_with('-') => {
                    let mut argv =
                        vec!["ufw".to_string(), "delete".to_string(), action.to_string()];
                    argv.extend(rest.iter().map(|w| w.to_string()));
                    Some(command(argv))
                }
                _ => None,
            }
        })
        .collect()
}
