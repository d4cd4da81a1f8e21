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

use portplan_core::shell::TAG_PREFIX;
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

impl UfwLists {
    /// The first rule that is not where it was among the others: of the
    /// rules in both `self` (before a run) and `now`, each family's list
    /// must hold every rule but portplan's allows in the same order, and
    /// each of portplan's allows between the same two of those. ufw takes
    /// the first rule that matches, so a rule put back after a deny it
    /// used to precede stays cut off, though every rule is there; two of
    /// portplan's allows swapped admit what they did. A rule only one side
    /// has (added or deleted by someone else meanwhile) is left out of the
    /// comparison. Lines are compared as ufw writes them ([`as_ufw_writes`]):
    /// its first command of a run rewrites every line. `None`: all in place.
    pub fn out_of_place(&self, now: &UfwLists) -> Option<String> {
        [
            (&self.ipv4, &now.ipv4, "user.rules"),
            (&self.ipv6, &now.ipv6, "user6.rules"),
        ]
        .into_iter()
        .find_map(|(before, now, file)| {
            let [before, now] = [before, now].map(|list| list.iter().map(|l| as_ufw_writes(l)));
            let (before, now): (Vec<String>, Vec<String>) = (before.collect(), now.collect());
            let moved = Placed::of(&shared(&before, &now)).out_of_place(&now)?;
            Some(format!(
                "in {file}, {moved}, which it followed before the run"
            ))
        })
    }
}

/// A list's rules before a run as the comparison sees them: the fixed ones
/// (all but portplan's allows) in order, and each of portplan's allows
/// with how many fixed ones come before it.
struct Placed<'a> {
    fixed: Vec<&'a str>,
    allows: Vec<(&'a str, usize)>,
}

impl<'a> Placed<'a> {
    fn of(lines: &[&'a str]) -> Placed<'a> {
        let (mut fixed, mut allows) = (Vec::new(), Vec::new());
        for line in lines {
            if is_portplan_allow(line) {
                allows.push((*line, fixed.len()));
            } else {
                fixed.push(*line);
            }
        }
        allows.sort_unstable();
        Placed { fixed, allows }
    }

    /// `X now comes before Y` (Y came first before), for the first rule out
    /// of its place in `now`, which holds every rule `self` does; `None`
    /// where there is none. The fixed rules are found in order, each the
    /// first after the one before it; a line `now` has more often than
    /// before is someone else's addition, left out like any other.
    fn out_of_place(&self, now: &'a [String]) -> Option<String> {
        let said = |first: &str, then: &str| format!("`{first}` now comes before `{then}`");
        let mut wanted: Vec<&str> = self.allows.iter().map(|(line, _)| *line).collect();
        let (mut found, mut allows) = (0, Vec::new());
        for line in now.iter().map(String::as_str) {
            if let Ok(i) = wanted.binary_search(&line) {
                wanted.remove(i);
                allows.push((line, found));
            } else if self.fixed.get(found) == Some(&line) {
                found += 1;
            }
        }
        if let Some(missed) = self.fixed.get(found) {
            let followed = found
                .checked_sub(1)
                .map_or("the list's start", |p| self.fixed[p]);
            return Some(said(missed, followed));
        }
        allows.sort_unstable();
        let ((line, was), (_, is)) = self.allows.iter().zip(&allows).find(|(a, b)| a != b)?;
        Some(if is > was {
            said(self.fixed[*was], line)
        } else {
            said(line, self.fixed[*is])
        })
    }
}

/// Whether a tuple line is one of portplan's allows: its tag, hex-coded
/// in the comment as ufw writes it, and ufw's plain `allow` (not one
/// edited by hand into another action).
fn is_portplan_allow(tuple: &str) -> bool {
    let tag = crate::ufw::hex(TAG_PREFIX);
    tuple.starts_with("allow ") && tuple.contains(&format!(" comment={tag}"))
}

/// A tuple line as ufw writes it back when any command rewrites its rules
/// file (`_write_rules`, from what `_read_rules` made of it): words one
/// space apart, the direction an old line leaves out (`in`), no `- -`
/// where neither side has an application, and each address normalised as
/// ufw's `normalize_address` does (a host without its `/32` or `/128`, a
/// network at its first address). A line compared in another form would
/// match no line after the run, and drop out of the comparison.
fn as_ufw_writes(tuple: &str) -> String {
    let (rule, comment) = match tuple.split_once(" comment=") {
        Some((rule, comment)) => (rule, Some(comment.trim())),
        None => (tuple, None),
    };
    let mut words: Vec<String> = rule.split_whitespace().map(str::to_string).collect();
    if matches!(words.len(), 6 | 8) {
        words.push("in".to_string());
    }
    if words.len() == 9 && words[6] == "-" && words[7] == "-" {
        words.drain(6..8);
    }
    for i in [3, 5] {
        if let Some(net) = words.get(i).and_then(|w| w.parse::<ipnet::IpNet>().ok()) {
            words[i] = if net.prefix_len() == net.max_prefix_len() {
                net.addr().to_string()
            } else {
                net.trunc().to_string()
            };
        }
    }
    let mut line = words.join(" ");
    if let Some(comment) = comment {
        line.push_str(" comment=");
        line.push_str(comment);
    }
    line
}

/// The lines of `list` that `other` holds too, in `list`'s order; a line
/// `list` repeats counts at most as many times as `other` has it.
fn shared<'a>(list: &'a [String], other: &[String]) -> Vec<&'a str> {
    let mut left = std::collections::BTreeMap::<&str, usize>::new();
    for line in other {
        *left.entry(line).or_default() += 1;
    }
    list.iter()
        .map(String::as_str)
        .filter(|line| match left.get_mut(line) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        })
        .collect()
}

fn command(argv: Vec<String>) -> Command {
    Command { argv, stdin: None }
}

fn iptables(state: &FirewallState, commands: &[Command]) -> Option<Vec<Command>> {
    let FirewallState::Iptables(state) = state else {
        return None;
    };
    let mut deleted: Vec<(String, &[String], u32)> = Vec::new();
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
                    // run deleted before it. `-D` takes the first copy of a
                    // spec left: the k-th delete of one spec, its k-th copy.
                    let copy = deleted
                        .iter()
                        .filter(|(p, s, _)| *p == program && *s == spec)
                        .count();
                    let found = (state.found.iter())
                        .filter(|f| {
                            f.saved == spec
                                && state.chains.get(f.chain.0 as usize).map(|c| c.family)
                                    == Some(family)
                        })
                        .nth(copy)?;
                    let above = deleted
                        .iter()
                        .filter(|(p, _, n)| *p == program && *n < found.number)
                        .count();
                    deleted.push((program.clone(), spec, found.number));
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
/// back at its place (`None`: append it, it was last of its list or no
/// number reaches its place; or not a delete), from ufw's rules files
/// ([`ufw_insert_number`]). `None` when a delete is not of portplan's
/// shape or its rule is not in the files.
fn numbers_in_files(lists: &UfwLists, commands: &[Command]) -> Option<Vec<Option<usize>>> {
    // Each list's lines as ufw reads them (it skips one of the wrong length;
    // it also skips one whose interface or fields its parser rejects, which
    // is counted here: a number one too far, which ufw refuses or which
    // puts the rule later, never earlier).
    let read = [&lists.ipv4, &lists.ipv6].map(|list| {
        list.iter()
            .filter_map(|line| Some((line.as_str(), UfwTuple::read(line)?)))
            .collect::<Vec<_>>()
    });
    let mut present = read.each_ref().map(|list| vec![true; list.len()]);
    commands
        .iter()
        .map(|c| {
            if c.argv.get(1).map(String::as_str) != Some("delete") {
                return Some(None);
            }
            let edit = crate::ufw::translate(std::slice::from_ref(c)).ok()?.pop()?;
            let list = edit.family.index();
            let index = (0..read[list].len())
                .find(|&i| present[list][i] && read[list][i].0 == edit.tuple)?;
            present[list][index] = false;
            let live = |l: usize| -> Vec<&UfwTuple> {
                read[l]
                    .iter()
                    .zip(&present[l])
                    .filter(|(_, present)| **present)
                    .map(|((_, tuple), _)| tuple)
                    .collect()
            };
            let at = present[list][..index].iter().filter(|p| **p).count();
            // The IPv6 list is numbered after the IPv4 rules still there.
            let offset = if list == 0 { 0 } else { ufw_count(&live(0)) };
            Some(ufw_insert_number(&live(list), at).map(|number| offset + number))
        })
        .collect()
}

/// The number, within its list, that makes `ufw insert` put a rule before
/// `lines[at]`, as ufw works it out (its frontend.py and `set_rule` in
/// backend_iptables.py); `None`: append it. ufw counts two ways: the number
/// must be within the rules as ufw counts them ([`ufw_count`]: an
/// application rule once, though it writes a tuple line per port entry of
/// its profile, CIFS two), but it then walks the lines, one number each,
/// and puts the rule before the line of its number, or, where that would
/// split an application rule's lines, before the next line that does not.
/// So number `n` lands on the first line from `n - 1` on that opens a rule,
/// and the smallest number that lands at `at` or later is one past the
/// last line before `at` that opens one.
///
/// Where application rules before the place take more lines than ufw
/// counts them, that number may be past ufw's count ("Invalid position"):
/// no number reaches the place. The rule is then appended, later in the
/// list, never earlier, so an operator's deny it followed still comes
/// first (ufw takes the first rule that matches). Past only portplan's
/// other allows, it admits what it did; past anything else, the rollback's
/// read-back of the files says it is out of its place (execute.rs,
/// `in_their_places`).
fn ufw_insert_number(lines: &[&UfwTuple], at: usize) -> Option<usize> {
    if at >= lines.len() {
        return None;
    }
    let opens = |i: usize| {
        i == 0
            || !matches!((&lines[i - 1].app, &lines[i].app), (Some(a), Some(b)) if a.same_rule(b))
    };
    let number = (0..at).rev().find(|&i| opens(i)).map_or(1, |i| i + 2);
    (number <= ufw_count(lines)).then_some(number)
}

/// How many rules ufw counts in a list (`get_rules_count` in its
/// backend.py): its lines, an application rule's once.
fn ufw_count(lines: &[&UfwTuple]) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    lines
        .iter()
        .filter(|line| line.app.as_ref().is_none_or(|app| seen.insert(app.key)))
        .count()
}

/// A tuple line as ufw reads it (`_read_rules` in backend_iptables.py):
/// before the comment, `action protocol dport dst sport src`, then for an
/// application rule the destination and source applications (`-` for
/// none), then the direction (`in`, `out`, `in_eth0`, `in_eth0!out_eth1`;
/// `in` where an old file leaves it out).
struct UfwTuple<'a> {
    /// `None`: a plain rule (no application on either side).
    app: Option<AppRule<'a>>,
}

/// What ufw tells an application rule's lines by.
struct AppRule<'a> {
    /// set_rule's `(dst, src, dapp, sapp)`.
    rule: [&'a str; 4],
    /// get_app_tuple: the destination application (or port), destination,
    /// source application (or port), source and direction.
    key: [&'a str; 5],
}

impl<'a> UfwTuple<'a> {
    /// The line as ufw reads it; `None` for one it skips as malformed
    /// (fewer than 6 words or more than 9).
    fn read(line: &'a str) -> Option<UfwTuple<'a>> {
        let rule = line.split(" comment=").next().unwrap_or(line);
        let words: Vec<&str> = rule.split_whitespace().collect();
        if !(6..=9).contains(&words.len()) {
            return None;
        }
        let app = match words[..] {
            [_, _, dport, dst, sport, src, dapp, sapp, ref direction @ ..]
                if dapp != "-" || sapp != "-" =>
            {
                let or_port = |app: &'a str, port: &'a str| if app == "-" { port } else { app };
                let direction = direction.first().copied().unwrap_or("in");
                Some(AppRule {
                    rule: [dst, src, dapp, sapp],
                    key: [
                        or_port(dapp, dport),
                        dst,
                        or_port(sapp, sport),
                        src,
                        direction,
                    ],
                })
            }
            _ => None,
        };
        Some(UfwTuple { app })
    }
}

impl AppRule<'_> {
    /// Whether two lines are of one rule, as set_rule tells.
    fn same_rule(&self, other: &AppRule) -> bool {
        self.rule == other.rule
    }
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
