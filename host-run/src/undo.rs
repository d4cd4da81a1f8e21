//! Precise rollback: the inverse of each command a run applies, so a failed
//! run undoes exactly what it did, in reverse, and every other rule
//! (someone else's, added meanwhile) stays where it is.
//!
//! Rule-based backends have exact inverses: iptables `-D INPUT spec` is
//! undone by `-I INPUT n spec` at the rule's old number, `-I`/`-A` by `-D`;
//! ufw `delete WORDS` by `insert N WORDS` at the rule's old number in
//! ufw's numbering (or appending it when it was last of its family's list),
//! `allow ...` by `delete allow ...`, and
//! `--force enable` by `--force disable`. The set-based backends (one nft
//! transaction, firewalld's batches) have none here: for them the shell
//! falls back to core's `plan-restore`, which puts portplan's rules back as
//! they were and touches no other rule.

use portplan_core::{Command, FirewallState};

/// The inverse of each command, in the same order, when every one has one.
/// ufw: `before_text` is `ufw show added`, and `lists` ufw's two rule lists
/// where its rules files could be read ([`UfwLists`]).
pub fn undo(
    state: &FirewallState,
    before_text: &str,
    lists: Option<&UfwLists>,
    commands: &[Command],
) -> Option<Vec<Command>> {
    match state {
        FirewallState::Iptables(_) => iptables(state, commands),
        FirewallState::Ufw(_) => ufw(before_text, lists, commands),
        _ => None,
    }
}

/// ufw's two rule lists in the order `ufw insert` numbers them: each
/// rule's tuple line (`user.rules`, then `user6.rules`;
/// [`tuple_lines`](crate::ufw::tuple_lines)).
#[derive(Debug, Clone, Default)]
pub struct UfwLists {
    /// `user.rules`: numbers 1 to its length.
    pub ipv4: Vec<String>,
    /// `user6.rules`: numbered after the whole IPv4 list.
    pub ipv6: Vec<String>,
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

fn ufw(added: &str, lists: Option<&UfwLists>, commands: &[Command]) -> Option<Vec<Command>> {
    // Exact where every delete is of the shape portplan writes and its rule
    // is found in the files: their tuple lines are ufw's two lists.
    let numbers = lists.and_then(|lists| numbers_in_files(lists, commands));
    let numbers = numbers.or_else(|| numbers_in_listing(added, commands))?;
    commands
        .iter()
        .zip(numbers)
        .map(|(c, number)| {
            let words: Vec<&str> = c.argv.iter().map(String::as_str).collect();
            match words.as_slice() {
                ["ufw", "delete", rest @ ..] => {
                    let mut argv = vec!["ufw".to_string()];
                    if let Some(number) = number {
                        argv.extend(["insert".to_string(), number.to_string()]);
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

/// For each command, the number `ufw insert` takes to put a deleted rule
/// back at its place (`None`: append it, it was last of its list; or not a
/// delete), from ufw's rules files: a rule of the IPv6 list is numbered
/// after the whole IPv4 list. `None` when a delete is not of portplan's
/// shape or its rule is not in the files, and where a list holds an
/// application rule (`allow CIFS`): ufw writes a tuple line per port
/// entry of its profile but numbers the rule once, so the files' lines
/// are not ufw's numbers there, and `ufw show added`'s are.
fn numbers_in_files(lists: &UfwLists, commands: &[Command]) -> Option<Vec<Option<usize>>> {
    if lists
        .ipv4
        .iter()
        .chain(&lists.ipv6)
        .any(|tuple| is_application(tuple))
    {
        return None;
    }
    let tuples = [&lists.ipv4, &lists.ipv6];
    let mut present = tuples.map(|list| vec![true; list.len()]);
    let live = |present: &[bool]| present.iter().filter(|p| **p).count();
    commands
        .iter()
        .map(|c| {
            if c.argv.get(1).map(String::as_str) != Some("delete") {
                return Some(None);
            }
            let edit = crate::ufw::translate(std::slice::from_ref(c)).ok()?.pop()?;
            let list = edit.family.index();
            // The IPv6 list is numbered after the IPv4 rules still there.
            let offset: usize = present[..list].iter().map(|p| live(p)).sum();
            let index = (0..tuples[list].len())
                .find(|&i| present[list][i] && tuples[list][i] == edit.tuple)?;
            present[list][index] = false;
            let at = live(&present[list][..index]);
            Some((at < live(&present[list])).then_some(offset + at + 1))
        })
        .collect()
}

/// Whether a tuple line is an application rule's: ufw writes `action
/// protocol dport dst sport src` and the direction (one or two words, `in`
/// or `in_eth0 out_eth1`), with the destination and source applications
/// (two more words) before the direction for an application rule; then
/// the comment, if any.
fn is_application(tuple: &str) -> bool {
    let rule = tuple.split(" comment=").next().unwrap_or(tuple);
    rule.split_whitespace().count() >= 9
}

/// [`numbers_in_files`] from `ufw show added` alone, where the files are
/// not to be had: exact for the IPv4 list, which it lists in order;
/// `show added` leaves out the IPv6 twins of both-family rules (`allow
/// 22/tcp`), so a rule of the IPv6 list is numbered as if those twins came
/// first, as they do where they were added first.
fn numbers_in_listing(added: &str, commands: &[Command]) -> Option<Vec<Option<usize>>> {
    // The user rules in ufw's order (`ufw show added`), as their words.
    let rules: Vec<UfwRule> = added
        .lines()
        .filter_map(|line| line.trim().strip_prefix("ufw "))
        .filter_map(shlex::split)
        .map(|words| UfwRule {
            family: UfwFamily::of(&words),
            words,
        })
        .collect();
    let mut present = vec![true; rules.len()];
    commands
        .iter()
        .map(|c| match c.argv.as_slice() {
            [ufw, delete, rest @ ..] if ufw == "ufw" && delete == "delete" => {
                let index = rules
                    .iter()
                    .zip(&present)
                    .position(|(rule, &present)| present && rule.words == rest)?;
                present[index] = false;
                Some(ufw_number(&rules, &present, index))
            }
            _ => Some(None),
        })
        .collect()
}

/// One user rule of `ufw show added`.
struct UfwRule {
    words: Vec<String>,
    family: UfwFamily,
}

/// Which of ufw's two rule lists a rule is in: an IPv4 address puts it in
/// the IPv4 list, an IPv6 one in the IPv6 list, none (`allow 22/tcp`) in
/// both, as twins (ufw's parser decides the same way).
#[derive(Clone, Copy, PartialEq, Eq)]
enum UfwFamily {
    V4,
    V6,
    Both,
}

impl UfwFamily {
    fn of(words: &[String]) -> UfwFamily {
        // A comment's text is not an address, whatever it reads.
        let mut family = UfwFamily::Both;
        let mut words = words.iter();
        while let Some(word) = words.next() {
            if word == "comment" {
                words.next();
                continue;
            }
            let address = word
                .parse::<ipnet::IpNet>()
                .map(|net| net.addr())
                .or_else(|_| word.parse::<std::net::IpAddr>());
            match address {
                Ok(std::net::IpAddr::V6(_)) => return UfwFamily::V6,
                Ok(std::net::IpAddr::V4(_)) => family = UfwFamily::V4,
                Err(_) => {}
            }
        }
        family
    }
}

/// The number `ufw insert` takes to put the rule at `index` (just deleted:
/// `present` is false there) back at its place, or `None` where it was
/// last of its list and `ufw allow ...` appends it there. ufw numbers its
/// IPv4 list first (the rules of both families included), then its IPv6
/// list, and inserts a rule only before one of its own list, so a number
/// past its list is refused ("Invalid position"). `ufw show added` lists
/// the IPv4 list in order, then the IPv6-only rules, leaving out the IPv6
/// twins of both-family rules: the IPv6 list is taken as those twins
/// first, then the IPv6-only rules in order, which is right only where the
/// twins' rules were added first ([`numbers_in_files`] knows the order).
fn ufw_number(rules: &[UfwRule], present: &[bool], index: usize) -> Option<usize> {
    let count = |list: fn(UfwFamily) -> bool, upto: usize| {
        rules[..upto]
            .iter()
            .zip(present)
            .filter(|(rule, present)| **present && list(rule.family))
            .count()
    };
    let v4_list: fn(UfwFamily) -> bool = |family| family != UfwFamily::V6;
    let v6_only: fn(UfwFamily) -> bool = |family| family == UfwFamily::V6;
    let v4_len = count(v4_list, rules.len());
    // (the list's first number less one, the rule's place in it, its length)
    let (offset, at, len) = if v4_list(rules[index].family) {
        (0, count(v4_list, index), v4_len)
    } else {
        let twins = count(|family| family == UfwFamily::Both, rules.len());
        (
            v4_len,
            twins + count(v6_only, index),
            twins + count(v6_only, rules.len()),
        )
    };
    (at < len).then_some(offset + at + 1)
}
