//! ufw's change set as edits of its user rules files, decided without
//! touching a file: the batch path of a ufw run (the shell writes the files
//! and loads the user chains with one `iptables-restore -n` per family, as
//! ufw's own `_reload_user_rules` does).
//!
//! Core renders ufw's change as `ufw allow ...`/`ufw delete ...` argvs, one
//! rule each, which is what the operator reads; [`translate`] turns each
//! into the edit ufw 0.36 makes to `user.rules` or `user6.rules` for it, and
//! refuses (the shell then runs `ufw` per rule) any argv whose effect it
//! does not know exactly. A rules file is read as head, one block per rule
//! (`\n### tuple ### ...\n` and its iptables lines) and tail; every byte of
//! it that no edit names is kept, so an unchanged file renders as it was
//! read.

use portplan_core::{Command, IpFamily};

/// ufw's rules file of a family: `user.rules` or `user6.rules`.
pub fn rules_file(family: IpFamily) -> &'static str {
    match family {
        IpFamily::Ipv4 => "user.rules",
        IpFamily::Ipv6 => "user6.rules",
    }
}

/// The tuple line of each rule of a rules file (after `### tuple ### `), in
/// order: ufw's list of the family's rules, as `ufw insert` numbers it
/// (ufw reads its rules from these lines). Any file, laid out as
/// [`RulesFile`] requires or not.
pub fn tuple_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix(TUPLE.trim_start_matches('\n')))
        .map(str::to_string)
        .collect()
}

/// One rule added or deleted, in one family's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// Which file: `user.rules` or `user6.rules`.
    pub family: IpFamily,
    /// The tuple line's text after `### tuple ### `.
    pub tuple: String,
    /// Added: the block ufw writes for the rule. Deleted: `None`.
    pub block: Option<String>,
}

/// Each argv as its edit, or why the batch cannot carry it out.
pub fn translate(commands: &[Command]) -> Result<Vec<Edit>, String> {
    commands.iter().map(edit).collect()
}

/// The one shape portplan renders, and its delete with any of ufw's plain
/// actions: `ufw [delete] ACTION from SOURCE to any port PORTS proto tcp|udp
/// comment TAG`. Everything else (`--force enable`, logging, interfaces,
/// `from any`, port lists) is ufw's to run.
fn edit(command: &Command) -> Result<Edit, String> {
    let words: Vec<&str> = command.argv.iter().map(String::as_str).collect();
    let not_known = || format!("`{}` has no batch form", command.argv.join(" "));
    let (delete, rest) = match words.as_slice() {
        ["ufw", "delete", rest @ ..] => (true, rest),
        ["ufw", rest @ ..] => (false, rest),
        _ => return Err(not_known()),
    };
    let [
        action,
        "from",
        source,
        "to",
        "any",
        "port",
        ports,
        "proto",
        proto,
        "comment",
        comment,
    ] = rest
    else {
        return Err(not_known());
    };
    let known_action = *action == "allow" || (delete && ["deny", "reject"].contains(action));
    if !known_action || !["tcp", "udp"].contains(proto) || comment.is_empty() {
        return Err(not_known());
    }
    let (family, source) = normalized(source).ok_or_else(not_known)?;
    let (ports, multi) = port_words(ports).ok_or_else(not_known)?;
    let any = match family {
        IpFamily::Ipv4 => "0.0.0.0/0",
        IpFamily::Ipv6 => "::/0",
    };
    let tuple = format!(
        "{action} {proto} {ports} {any} any {source} in comment={}",
        hex(comment)
    );
    let block = (!delete).then(|| {
        let chain = match family {
            IpFamily::Ipv4 => "ufw-user-input",
            IpFamily::Ipv6 => "ufw6-user-input",
        };
        let dport = if multi {
            format!("-m multiport --dports {ports}")
        } else {
            format!("--dport {ports}")
        };
        format!("\n### tuple ### {tuple}\n-A {chain} -p {proto} {dport} -s {source} -j ACCEPT\n")
    });
    Ok(Edit {
        family,
        tuple,
        block,
    })
}

/// A source as ufw normalizes it (no host mask, the address as `inet_ntop`
/// prints it); `None` when ufw would write it otherwise than given (an
/// IPv4 CIDR with host bits, which ufw moves to its network), so the
/// translation never guesses.
fn normalized(source: &str) -> Option<(IpFamily, String)> {
    let (address, mask) = match source.split_once('/') {
        Some((address, mask)) => (address, Some(mask.parse::<u8>().ok()?)),
        None => (source, None),
    };
    let ip: std::net::IpAddr = address.parse().ok()?;
    if ip.to_string() != address {
        return None;
    }
    let (family, host_mask) = match ip {
        std::net::IpAddr::V4(v4) => {
            if let Some(mask) = mask {
                let bits = u32::from(v4);
                let host = u32::MAX.checked_shr(u32::from(mask)).unwrap_or(0);
                if mask > 32 || bits & host != 0 {
                    return None;
                }
            }
            (IpFamily::Ipv4, 32)
        }
        std::net::IpAddr::V6(_) if mask.is_some_and(|m| m > 128) => return None,
        std::net::IpAddr::V6(_) => (IpFamily::Ipv6, 128),
    };
    Some(match mask {
        Some(mask) if mask != host_mask => (family, source.to_string()),
        _ => (family, address.to_string()),
    })
}

/// `2881` or `62881:63881` (ufw writes a range with `-m multiport`); the
/// port text and whether it is a range.
fn port_words(ports: &str) -> Option<(&str, bool)> {
    let number = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|&n| n > 0 && p == n.to_string())
    };
    match ports.split_once(':') {
        None => number(ports).map(|_| (ports, false)),
        Some((first, last)) => (number(first)? < number(last)?).then_some((ports, true)),
    }
}

/// ufw's `hex_encode`: the UTF-8 bytes in lowercase hex.
pub(crate) fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// A user rules file as ufw writes it: everything up to `### RULES ###`,
/// the rule blocks, and everything from `### END RULES ###` on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesFile {
    head: String,
    blocks: Vec<String>,
    tail: String,
}

const RULES: &str = "\n### RULES ###\n";
const END_RULES: &str = "\n### END RULES ###\n";
const TUPLE: &str = "\n### tuple ### ";

impl RulesFile {
    /// Read a file; an error for anything not laid out as ufw writes it,
    /// for which the shell runs `ufw` instead.
    pub fn parse(text: &str, family: IpFamily) -> Result<RulesFile, String> {
        let chain = match family {
            IpFamily::Ipv4 => ":ufw-user-input - [0:0]\n",
            IpFamily::Ipv6 => ":ufw6-user-input - [0:0]\n",
        };
        let layout = |what: &str| format!("{} is not as ufw writes it: {what}", rules_file(family));
        if !text.starts_with("*filter\n") || !text.ends_with("COMMIT\n") {
            return Err(layout("not one *filter table ending in COMMIT"));
        }
        if !text.contains(chain) {
            return Err(layout(&format!("no {}", chain.trim_end())));
        }
        if text.matches(RULES).count() != 1 || text.matches(END_RULES).count() != 1 {
            return Err(layout(
                "not one ### RULES ### ... ### END RULES ### section",
            ));
        }
        let (head, rest) = text.split_at(text.find(RULES).unwrap_or(0) + RULES.len());
        let (middle, tail) = rest
            .split_at_checked(
                rest.find(END_RULES)
                    .ok_or_else(|| layout("rules end first"))?,
            )
            .ok_or_else(|| layout("rules end first"))?;
        // Each rule is `\n### tuple ### ...\n` and its lines: split before
        // every tuple line; the section must start with one (or be empty).
        let starts: Vec<usize> = middle.match_indices(TUPLE).map(|(i, _)| i).collect();
        if !middle.is_empty() && starts.first() != Some(&0) {
            return Err(layout("text before the first rule"));
        }
        let blocks: Vec<String> = starts
            .iter()
            .zip(starts.iter().skip(1).chain([&middle.len()]))
            .map(|(&from, &to)| middle[from..to].to_string())
            .collect();
        if blocks
            .iter()
            .any(|b| !b.ends_with('\n') || b[1..].contains("\n\n"))
        {
            return Err(layout("a rule block with a blank line inside"));
        }
        Ok(RulesFile {
            head: head.to_string(),
            blocks,
            tail: tail.to_string(),
        })
    }

    /// The file's text: the bytes read, with the edits made.
    pub fn text(&self) -> String {
        let mut text = self.head.clone();
        self.blocks.iter().for_each(|b| text.push_str(b));
        text.push_str(&self.tail);
        text
    }

    /// The tuple line of each rule, in order.
    fn tuples(&self) -> impl Iterator<Item = &str> {
        self.blocks.iter().map(|b| {
            let line = &b[TUPLE.len()..];
            &line[..line.find('\n').unwrap_or(line.len())]
        })
    }

    /// Apply one edit as ufw would: a new rule appended after the last, a
    /// deleted one taken out. Where ufw would do something else (a rule of
    /// the same addresses, ports and protocol exists, so ufw would update
    /// it; the rule to delete is not there) the edit is refused. What was
    /// done, for [`RulesFile::undo`].
    pub fn apply(&mut self, edit: &Edit) -> Result<Done, String> {
        let shown = rules_file(edit.family);
        match &edit.block {
            Some(block) => {
                let key = tuple_key(&edit.tuple);
                if self.tuples().any(|t| tuple_key(t) == key) {
                    return Err(format!("{shown} already has a rule for `{}`", edit.tuple));
                }
                self.blocks.push(block.clone());
                Ok(Done::Added(block.clone()))
            }
            None => {
                let at = self
                    .tuples()
                    .position(|t| t == edit.tuple)
                    .ok_or_else(|| format!("{shown} has no rule `{}`", edit.tuple))?;
                Ok(Done::Deleted(at, self.blocks.remove(at)))
            }
        }
    }

    /// Undo what [`RulesFile::apply`] did, on the file as it is now: an
    /// added block taken out again, a deleted one put back at its place.
    /// Whatever else the file holds now (a rule someone added meanwhile)
    /// stays; a rule already gone or already back is left so.
    pub fn undo(&mut self, done: &[Done]) {
        for step in done.iter().rev() {
            match step {
                Done::Added(block) => {
                    if let Some(at) = self.blocks.iter().rposition(|b| b == block) {
                        self.blocks.remove(at);
                    }
                }
                Done::Deleted(at, block) => {
                    if !self.blocks.contains(block) {
                        self.blocks
                            .insert((*at).min(self.blocks.len()), block.clone());
                    }
                }
            }
        }
    }
}

/// One applied edit: the block added, or the block deleted and its index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// The block appended.
    Added(String),
    /// The index the block had, and the block.
    Deleted(usize, String),
}

/// What ufw matches a new rule against to find one to update: the tuple
/// without its action and comment.
fn tuple_key(tuple: &str) -> Vec<&str> {
    tuple
        .split_whitespace()
        .skip(1)
        .filter(|w| !w.starts_with("comment="))
        .collect()
}

/// The chains that hold ufw's user rules (portplan's among them), and so
/// the rules someone may add or delete with `iptables` directly. The other
/// chains `user.rules` declares hold only what ufw generates (rate limits,
/// logging), which ufw itself changes without reloading, or rewrites in the
/// file without loading: there a difference is ufw's own doing.
const USER_CHAINS: &[&str] = &[
    "ufw-user-input",
    "ufw-user-output",
    "ufw-user-forward",
    "ufw6-user-input",
    "ufw6-user-output",
    "ufw6-user-forward",
];

/// How one of ufw's user chains runs other than its rules file loads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfiled {
    /// Another number of rules: one added or deleted.
    Count {
        /// The user chain.
        chain: String,
        /// How many rules it runs.
        running: usize,
        /// How many the file loads into it.
        filed: usize,
    },
    /// As many rules, but one other than the file's (an `iptables -R`, or
    /// a delete and an add).
    Rule {
        /// The user chain.
        chain: String,
        /// The first rule that differs, from 1.
        position: usize,
        /// That rule as `iptables-save` prints it.
        running: String,
        /// The file's line for it.
        filed: String,
    },
}

impl Unfiled {
    /// The difference in words, the file named as `file`.
    pub fn describe(&self, file: &str) -> String {
        match self {
            Unfiled::Count {
                chain,
                running,
                filed,
            } => format!("{chain} runs {running} rule(s) where {file} holds {filed}"),
            Unfiled::Rule {
                chain,
                position,
                running,
                filed,
            } => format!(
                "{chain} runs `{running}` as its rule {position} where {file} loads `{filed}`"
            ),
        }
    }
}

/// Where ufw's user chains as they run (`saved`, `iptables-save -t filter`
/// or `ip6tables-save -t filter`) are not what a family's rules file
/// (`file`, as read) loads into them: for each of [`USER_CHAINS`] the file
/// declares, in the file's order, a count that differs, else the first rule
/// that does.
///
/// The batch's restore flushes every chain the file declares and fills it
/// from the file, as `ufw reload` and ufw's own delete do, so a rule added to
/// one of them with `iptables` directly would be dropped, one deleted that
/// way put back and one replaced undone: changes to rules portplan did not
/// write. And ufw's own listings read the files, so without this an audit
/// would not see them. Rules are compared as [`fingerprint`]s, since
/// `iptables-save` words a rule its own way; a chain the file fills with
/// `-I` (at the top, so in another order) is compared by count alone.
pub fn unfiled(file: &str, saved: &str) -> Vec<Unfiled> {
    file.lines()
        .filter_map(|line| line.strip_prefix(':')?.split_whitespace().next())
        .filter(|chain| USER_CHAINS.contains(chain))
        .filter_map(|chain| {
            let running = rules_of(saved, chain, &["-A"]);
            let filed = rules_of(file, chain, &["-A", "-I"]);
            if running.len() != filed.len() {
                return Some(Unfiled::Count {
                    chain: chain.to_string(),
                    running: running.len(),
                    filed: filed.len(),
                });
            }
            if filed.iter().any(|line| line.starts_with("-I")) {
                return None;
            }
            let (index, (running, filed)) = running
                .iter()
                .zip(&filed)
                .enumerate()
                .find(|(_, (running, filed))| fingerprint(running) != fingerprint(filed))?;
            Some(Unfiled::Rule {
                chain: chain.to_string(),
                position: index + 1,
                running: running.to_string(),
                filed: filed.to_string(),
            })
        })
        .collect()
}

/// The lines of `text` that add a rule to `chain` with one of `verbs`.
fn rules_of<'a>(text: &'a str, chain: &str, verbs: &[&str]) -> Vec<&'a str> {
    text.lines()
        .filter(|line| {
            let mut words = line.split_whitespace();
            words.next().is_some_and(|verb| verbs.contains(&verb)) && words.next() == Some(chain)
        })
        .collect()
}

/// A rule line (`-A chain ...`) as the sorted list of its options with
/// their arguments, so that the line a rules file holds and the one
/// `iptables-save` prints for the rule it loaded compare equal. Measured on
/// ufw 0.36 with iptables 1.8 (legacy and nft) for allow, deny, reject and
/// limit rules, ports, ranges and lists, sources, destinations, interfaces,
/// routes and logging: `iptables-save` puts the options in its own order,
/// writes addresses as networks (`/32`, `/128`), names the implicit
/// `-m tcp`/`-m udp` match and spells out the defaults of `recent` (`--name
/// DEFAULT --mask <all ones> --rsource`) and of `REJECT`
/// (`--reject-with icmp-port-unreachable`, `icmp6-...`). Anything else is
/// compared as written. Written here: no crate parses iptables rule
/// specifications.
fn fingerprint(line: &str) -> Vec<String> {
    let words = restore_words(line);
    let mut words = words.iter().skip(2).peekable();
    let mut options = Vec::new();
    let mut negated = false;
    while let Some(word) = words.next() {
        if word == "!" {
            negated = true;
            continue;
        }
        let mut option = vec![word.as_str()];
        while let Some(argument) = words.next_if(|w| !w.starts_with('-')) {
            option.push(argument);
        }
        if let Some(option) = canonical_option(&option) {
            options.push(format!("{}{option}", if negated { "! " } else { "" }));
        }
        negated = false;
    }
    options.sort();
    options
}

/// `line` split into words as `iptables-restore` splits it (xtables'
/// `add_param_to_argv`), not as a shell would: only double quotes quote,
/// and inside them a backslash takes the next character as it is; a single
/// quote is an ordinary character. So ufw's app-profile comment, written
/// `--comment 'dapp_OpenSSH'`, is the word `'dapp_OpenSSH'`, as
/// `iptables-save`'s `--comment "\'dapp_OpenSSH\'"` is.
fn restore_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut escaped, mut started) = (false, false, false);
    for c in line.chars() {
        match (quoted, escaped, c) {
            (true, true, _) => {
                word.push(c);
                escaped = false;
            }
            (true, false, '\\') => escaped = true,
            (true, false, '"') => quoted = false,
            (true, false, _) => word.push(c),
            (false, _, '"') => (quoted, started) = (true, true),
            (false, _, ' ' | '\t' | '\n') => {
                if started || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                started = false;
            }
            (false, _, _) => word.push(c),
        }
    }
    if started || !word.is_empty() {
        words.push(word);
    }
    words
}

/// One option as [`fingerprint`] compares it; `None` for what
/// `iptables-save` adds on its own.
fn canonical_option(option: &[&str]) -> Option<String> {
    let implied = matches!(
        option,
        ["-m", "tcp" | "udp"]
            | ["--name", "DEFAULT"]
            | ["--rsource"]
            | [
                "--reject-with",
                "icmp-port-unreachable" | "icmp6-port-unreachable"
            ]
    ) || matches!(option, ["--mask", mask] if is_all_ones(mask));
    if implied {
        return None;
    }
    Some(match option {
        ["-s" | "--source", address] => format!("-s {}", network(address)),
        ["-d" | "--destination", address] => format!("-d {}", network(address)),
        _ => option.join(" "),
    })
}

/// `255.255.255.255` or `ffff:...:ffff`: `recent`'s default mask.
fn is_all_ones(mask: &str) -> bool {
    match mask.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => v4.to_bits() == u32::MAX,
        Ok(std::net::IpAddr::V6(v6)) => v6.to_bits() == u128::MAX,
        Err(_) => false,
    }
}

/// An address or network as `iptables-save` prints it: a network with its
/// prefix, host bits cleared; anything else as written.
fn network(address: &str) -> String {
    let net = address
        .parse::<ipnet::IpNet>()
        .or_else(|_| address.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
    match net {
        Ok(net) => net.trunc().to_string(),
        Err(_) => address.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "*filter\n:ufw-user-input - [0:0]\n:ufw-user-output - [0:0]\n### RULES ###\n\n### END RULES ###\n\n### LOGGING ###\n-A ufw-logging-allow -j LOG --log-prefix \"[UFW ALLOW] \"\n### END LOGGING ###\nCOMMIT\n";

    fn argv(words: &str) -> Command {
        Command {
            argv: shlex::split(words).expect("words"),
            stdin: None,
        }
    }

    /// The blocks ufw 0.36.2 wrote for these rules (captured with `ufw allow`).
    #[test]
    fn adds_are_the_blocks_ufw_writes() {
        let edits = translate(&[
            argv("ufw allow from 198.18.2.10 to any port 2881 proto tcp comment 'portplan:observer.sql'"),
            argv("ufw allow from 198.18.2.0/24 to any port 62881:63881 proto tcp comment portplan:x.y"),
            argv("ufw allow from 2001:db8::1 to any port 2881 proto udp comment portplan:observer.sql"),
        ])
        .expect("translated");
        let blocks: Vec<&str> = edits.iter().filter_map(|e| e.block.as_deref()).collect();
        assert_eq!(
            blocks,
            [
                "\n### tuple ### allow tcp 2881 0.0.0.0/0 any 198.18.2.10 in comment=706f7274706c616e3a6f627365727665722e73716c\n-A ufw-user-input -p tcp --dport 2881 -s 198.18.2.10 -j ACCEPT\n",
                "\n### tuple ### allow tcp 62881:63881 0.0.0.0/0 any 198.18.2.0/24 in comment=706f7274706c616e3a782e79\n-A ufw-user-input -p tcp -m multiport --dports 62881:63881 -s 198.18.2.0/24 -j ACCEPT\n",
                "\n### tuple ### allow udp 2881 ::/0 any 2001:db8::1 in comment=706f7274706c616e3a6f627365727665722e73716c\n-A ufw6-user-input -p udp --dport 2881 -s 2001:db8::1 -j ACCEPT\n",
            ]
        );
        assert_eq!(edits[2].family, IpFamily::Ipv6);
    }

    #[test]
    fn what_it_does_not_know_is_refused() {
        for words in [
            "ufw --force enable",
            "ufw allow 22/tcp",
            "ufw allow from any to any port 22 proto tcp comment portplan:a",
            "ufw allow from 198.18.2.1/24 to any port 22 proto tcp comment portplan:a",
            "ufw allow from 198.18.02.1 to any port 22 proto tcp comment portplan:a",
            "ufw allow from 2001:db8:0::1 to any port 22 proto tcp comment portplan:a",
            "ufw allow from 198.18.2.1 to any port 22,23 proto tcp comment portplan:a",
            "ufw allow from 198.18.2.1 to any port 23:22 proto tcp comment portplan:a",
            "ufw allow from 198.18.2.1 to any port 22 proto any comment portplan:a",
            "ufw deny from 198.18.2.1 to any port 22 proto tcp comment portplan:a",
            "ufw delete limit from 198.18.2.1 to any port 22 proto tcp comment portplan:a",
            "ufw allow in on eth0 from 198.18.2.1 to any port 22 proto tcp comment portplan:a",
            "ufw allow from 198.18.2.1 to any port 22 proto tcp",
        ] {
            assert!(translate(&[argv(words)]).is_err(), "{words}");
        }
    }

    #[test]
    fn an_unchanged_file_renders_byte_for_byte() {
        let with_rule = EMPTY.replace(
            "### RULES ###\n",
            "### RULES ###\n\n### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n-A ufw-user-input -p tcp --dport 22 -j ACCEPT\n",
        );
        for text in [EMPTY, with_rule.as_str()] {
            let file = RulesFile::parse(text, IpFamily::Ipv4).expect("parsed");
            assert_eq!(file.text(), text);
        }
        for bad in [
            "",
            "*filter\nCOMMIT\n",
            &EMPTY.replace("### RULES ###\n", "### RULES ###\n# hand\n"),
        ] {
            assert!(RulesFile::parse(bad, IpFamily::Ipv4).is_err(), "{bad}");
        }
        assert!(RulesFile::parse(EMPTY, IpFamily::Ipv6).is_err());
    }

    #[test]
    fn apply_then_undo_gives_the_bytes_back_and_keeps_others_changes() {
        let mut file = RulesFile::parse(EMPTY, IpFamily::Ipv4).expect("parsed");
        let add = |words: &str| translate(&[argv(words)]).expect("translated").remove(0);
        let a = add("ufw allow from 198.18.2.10 to any port 2881 proto tcp comment portplan:a");
        let b = add("ufw allow from 198.18.2.11 to any port 2881 proto tcp comment portplan:a");
        let done = vec![file.apply(&a).expect("a"), file.apply(&b).expect("b")];
        let two = file.text();
        assert!(file.apply(&a).is_err(), "ufw would update, not add");
        let mut delete =
            add("ufw delete allow from 198.18.2.10 to any port 2881 proto tcp comment portplan:a");
        let deleted = file.apply(&delete).expect("deleted");
        assert_eq!(deleted, Done::Deleted(0, a.block.clone().expect("block")));
        delete.tuple.push('x');
        assert!(file.apply(&delete).is_err(), "not there");
        file.undo(&[deleted]);
        assert_eq!(file.text(), two);
        // Someone's rule added meanwhile survives the undo.
        let c = add("ufw allow from 198.18.2.12 to any port 22 proto tcp comment portplan:c");
        file.apply(&c).expect("c");
        file.undo(&done);
        let mut expected = RulesFile::parse(EMPTY, IpFamily::Ipv4).expect("parsed");
        expected.apply(&c).expect("c");
        assert_eq!(file, expected);
    }

    #[test]
    fn chains_are_compared_with_the_file() {
        let file = "*filter\n:ufw-user-input - [0:0]\n:ufw-before-logging-input - [0:0]\n\
                    :ufw-user-limit - [0:0]\n\
                    ### RULES ###\n\
                    -A ufw-user-input -p tcp --dport 22 -j ACCEPT\n\
                    -I ufw-before-logging-input -j LOG --log-prefix \"[UFW AUDIT] \"\n\
                    COMMIT\n";
        let saved = "*filter\n:INPUT DROP [0:0]\n:ufw-user-input - [0:0]\n\
                     -A INPUT -j ufw-user-input\n\
                     -A ufw-before-logging-input -j LOG --log-prefix \"[UFW AUDIT] \"\n\
                     -A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT\n\
                     -A ufw-user-input-x -j DROP\nCOMMIT\n";
        assert_eq!(unfiled(file, saved), vec![]);
        // ufw's own chains may differ (a rate limit rewritten in the file
        // and not reloaded); only the user chains count.
        let limit = saved.replace("COMMIT", "-A ufw-user-limit -j REJECT\nCOMMIT");
        assert_eq!(unfiled(file, &limit), vec![]);
        let logging = saved.replace("-A ufw-before-logging-input -j LOG", "-A x -j LOG");
        assert_eq!(unfiled(file, &logging), vec![]);
        let added = saved.replace(
            "COMMIT",
            "-A ufw-user-input -s 198.18.7.7/32 -j DROP\nCOMMIT",
        );
        let count = |running, filed| Unfiled::Count {
            chain: "ufw-user-input".into(),
            running,
            filed,
        };
        assert_eq!(unfiled(file, &added), vec![count(2, 1)]);
        let deleted = saved.replace("-A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT\n", "");
        assert_eq!(unfiled(file, &deleted), vec![count(0, 1)]);
        // The same count, another rule: `iptables -R`.
        let replaced = saved.replace("--dport 22 -j ACCEPT", "--dport 22 -j DROP");
        assert_eq!(
            unfiled(file, &replaced),
            vec![Unfiled::Rule {
                chain: "ufw-user-input".into(),
                position: 1,
                running: "-A ufw-user-input -p tcp -m tcp --dport 22 -j DROP".into(),
                filed: "-A ufw-user-input -p tcp --dport 22 -j ACCEPT".into(),
            }]
        );
    }

    /// Each pair: a line ufw 0.36 wrote into its rules files, and the line
    /// `iptables-save` (1.8.9, nft) printed for the rule it loaded (captured
    /// on a test host with `ufw allow`, `deny`, `reject`, `limit`, `route`).
    const AS_SAVED: &[(&str, &str)] = &[
        (
            "-A ufw-user-input -p tcp --dport 2881 -s 198.18.2.10 -j ACCEPT",
            "-A ufw-user-input -s 198.18.2.10/32 -p tcp -m tcp --dport 2881 -j ACCEPT",
        ),
        (
            "-A ufw-user-input -p tcp -m multiport --dports 62881:63881 -s 198.18.2.0/24 -j ACCEPT",
            "-A ufw-user-input -s 198.18.2.0/24 -p tcp -m multiport --dports 62881:63881 -j ACCEPT",
        ),
        (
            "-A ufw-user-input -p tcp --dport 2222 -m conntrack --ctstate NEW -m recent --set",
            "-A ufw-user-input -p tcp -m tcp --dport 2222 -m conntrack --ctstate NEW -m recent \
             --set --name DEFAULT --mask 255.255.255.255 --rsource",
        ),
        (
            "-A ufw6-user-input -p tcp --dport 2222 -m conntrack --ctstate NEW -m recent --update \
             --seconds 30 --hitcount 6 -j ufw6-user-limit",
            "-A ufw6-user-input -p tcp -m tcp --dport 2222 -m conntrack --ctstate NEW -m recent \
             --update --seconds 30 --hitcount 6 --name DEFAULT --mask \
             ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff --rsource -j ufw6-user-limit",
        ),
        (
            "-A ufw-user-input -p udp --dport 25 -j REJECT",
            "-A ufw-user-input -p udp -m udp --dport 25 -j REJECT --reject-with icmp-port-unreachable",
        ),
        (
            "-A ufw6-user-input -p udp --dport 26 -j REJECT",
            "-A ufw6-user-input -p udp -m udp --dport 26 -j REJECT --reject-with icmp6-port-unreachable",
        ),
        (
            "-A ufw-user-input -p tcp --dport 24 -j REJECT --reject-with tcp-reset",
            "-A ufw-user-input -p tcp -m tcp --dport 24 -j REJECT --reject-with tcp-reset",
        ),
        (
            "-A ufw-user-forward -i lo -o lo -p tcp -d 198.18.3.0/24 --dport 80 -j ACCEPT",
            "-A ufw-user-forward -d 198.18.3.0/24 -i lo -o lo -p tcp -m tcp --dport 80 -j ACCEPT",
        ),
        (
            "-A ufw-user-input -p esp -s 198.18.2.3 -j ACCEPT",
            "-A ufw-user-input -s 198.18.2.3/32 -p esp -j ACCEPT",
        ),
        (
            "-A ufw-user-input -p tcp --dport 2000 -s 198.18.2.4 --sport 1000 -j ACCEPT",
            "-A ufw-user-input -s 198.18.2.4/32 -p tcp -m tcp --sport 1000 --dport 2000 -j ACCEPT",
        ),
        (
            "-A ufw6-user-input -p tcp --dport 3306 -s 2001:db8::1 -j DROP",
            "-A ufw6-user-input -s 2001:db8::1/128 -p tcp -m tcp --dport 3306 -j DROP",
        ),
        (
            "-A ufw-user-input -p tcp --dport 8080 -j ufw-user-logging-input",
            "-A ufw-user-input -p tcp -m tcp --dport 8080 -j ufw-user-logging-input",
        ),
        // An app profile's rule (`ufw allow "WWW Full"`), with iptables 1.8.9
        // nft and legacy alike.
        (
            "-A ufw-user-input -p tcp -m multiport --dports 80,443 -j ACCEPT -m comment \
             --comment 'dapp_WWW%20Full'",
            "-A ufw-user-input -p tcp -m multiport --dports 80,443 -m comment --comment \
             \"\\'dapp_WWW%20Full\\'\" -j ACCEPT",
        ),
        (
            "-A ufw6-user-input -p tcp -d 2001:db8::/32 --dport 80 -j ACCEPT -m comment \
             --comment 'dapp_WWW'",
            "-A ufw6-user-input -d 2001:db8::/32 -p tcp -m tcp --dport 80 -m comment --comment \
             \"\\'dapp_WWW\\'\" -j ACCEPT",
        ),
    ];

    #[test]
    fn a_filed_rule_and_its_saved_form_compare_equal() {
        for (filed, saved) in AS_SAVED {
            assert_eq!(fingerprint(filed), fingerprint(saved), "{filed}\n{saved}");
        }
    }

    #[test]
    fn words_are_split_as_iptables_restore_splits_them() {
        assert_eq!(
            restore_words(r#"-A x --log-prefix "[UFW BLOCK] " --comment "\'a b\'" 'c' "" -j LOG"#),
            [
                "-A",
                "x",
                "--log-prefix",
                "[UFW BLOCK] ",
                "--comment",
                "'a b'",
                "'c'",
                "",
                "-j",
                "LOG"
            ]
        );
    }

    #[test]
    fn rules_that_differ_in_anything_but_wording_do_not() {
        let (filed, saved) = AS_SAVED[0];
        for edited in [
            saved.replace("-j ACCEPT", "-j DROP"),
            saved.replace("2881", "2882"),
            saved.replace("198.18.2.10/32", "198.18.2.11/32"),
            saved.replace("-s 198.18.2.10/32 ", ""),
            saved.replace("-p tcp -m tcp", "-p udp -m udp"),
            saved.replace("-s ", "! -s "),
            saved.replace("-j ACCEPT", "-i eth0 -j ACCEPT"),
        ] {
            assert_ne!(fingerprint(filed), fingerprint(&edited), "{edited}");
        }
        let (filed, saved) = AS_SAVED[4];
        let tcp_reset = saved.replace("icmp-port-unreachable", "tcp-reset");
        assert_ne!(fingerprint(filed), fingerprint(&tcp_reset));
    }
}
