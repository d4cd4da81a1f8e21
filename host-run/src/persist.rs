//! What persisting means, decided without touching a file: whether
//! portplan may replace an nftables conf, the text it writes, and whether a
//! saved configuration already says what the running firewall does.

/// The first lines of every nftables conf portplan writes.
const NFT_HEADER: &str = "#!/usr/sbin/nft -f\n# Saved by portplan from the running ruleset.\n";

/// The nftables conf portplan writes: its header, a flush, and the running
/// ruleset as `nft -s list ruleset` prints it (stateless: no counter
/// values, so an unchanged firewall saves the same bytes).
pub fn nft_conf(ruleset: &str) -> String {
    format!("{NFT_HEADER}flush ruleset\n\n{ruleset}")
}

/// Whether portplan may replace this nftables conf with the running ruleset:
/// one that holds nothing a saved ruleset would lose (portplan's own, or a
/// distribution's stock conf, which is only tables). A conf with comments,
/// `define`s, `include`s or `$variables` anywhere (after a `;`, a tab or a
/// `}` too, and after portplan's own header: an operator may add an include
/// to the file portplan wrote) is refused, naming the lines, so the
/// operator's file is never flattened. Quoted strings (a rule's comment) are
/// not read: nft's own output may hold any of these there.
pub fn nft_conf_replaceable(text: &str) -> Result<(), String> {
    let header = if text.starts_with(NFT_HEADER) {
        NFT_HEADER.lines().count()
    } else {
        0
    };
    let kept: Vec<String> = text
        .lines()
        .enumerate()
        .filter(|&(i, line)| i >= header && by_hand(i, line))
        .map(|(i, line)| format!("line {}: {}", i + 1, line.trim()))
        .take(3)
        .collect();
    if kept.is_empty() {
        return Ok(());
    }
    Err(format!(
        "it is written by hand ({}), and saving the running ruleset over it would lose its \
         comments, defines, includes and variables; portplan leaves it as it is",
        kept.join("; ")
    ))
}

/// Whether line `i` of a conf holds what only a hand writes: a comment (but
/// a first line's `#!`), `define`, `include` or a `$variable`, outside
/// quoted strings.
fn by_hand(i: usize, line: &str) -> bool {
    let unquoted: String = line.split('"').step_by(2).collect::<Vec<_>>().join(" ");
    let shebang = i == 0 && unquoted.trim_start().starts_with("#!");
    let mut words = unquoted
        .split(|c: char| c.is_whitespace() || matches!(c, ';' | '{' | '}' | ','))
        .filter(|w| !w.is_empty());
    (unquoted.contains('#') && !shebang)
        || words.any(|w| w == "define" || w == "include" || w.starts_with('$'))
}

/// A saved configuration as compared: comment lines (iptables-save's dated
/// header and footer) left out, and packet counters zeroed.
pub fn normalized(text: &str) -> String {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(zero_counters)
        .collect::<Vec<_>>()
        .join("\n")
}

/// `:INPUT DROP [12:3400]` as `:INPUT DROP [0:0]`.
fn zero_counters(line: &str) -> String {
    match (line.starts_with(':'), line.rfind(" [")) {
        (true, Some(at)) if line.ends_with(']') => format!("{} [0:0]", &line[..at]),
        _ => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stock_and_own_confs_are_replaceable_hand_written_ones_are_not() {
        let stock = "#!/usr/sbin/nft -f\n\nflush ruleset\n\ntable inet filter {\n}\n";
        assert!(nft_conf_replaceable(stock).is_ok());
        assert!(nft_conf_replaceable(&nft_conf("table inet filter {\n}\n")).is_ok());
        let hand = "#!/usr/sbin/nft -f\n# our firewall\ndefine ssh = 22\ninclude \"/etc/nftables.d/*.nft\"\n";
        let error = nft_conf_replaceable(hand).expect_err("hand-written");
        assert!(error.contains("line 2: # our firewall"), "{error}");
        assert!(error.contains("line 3: define ssh = 22"), "{error}");
    }

    /// Ways past a check of each line's start (an adversarial review).
    #[test]
    fn defines_includes_and_variables_are_found_anywhere_on_a_line() {
        for line in [
            "define\tSSH = 22",
            "flush ruleset; define SSH = 22",
            "}; include \"/etc/nftables.d/*.nft\"",
            "include\t\"/etc/nftables.d/*.nft\"",
            "  tcp dport $SSH accept",
        ] {
            let conf = format!("#!/usr/sbin/nft -f\nflush ruleset\n{line}\n");
            assert!(nft_conf_replaceable(&conf).is_err(), "{line}");
            // portplan's own header does not make an operator's line its own.
            let own = format!("{}{line}\n", nft_conf("table inet filter {\n}\n"));
            assert!(nft_conf_replaceable(&own).is_err(), "{line}");
        }
        // What nft itself prints inside a rule's comment is not read.
        let quoted = nft_conf(
            "table inet filter {\n\tchain input {\n\t\ttcp dport 22 accept comment \"ticket #12: include $x\"\n\t}\n}\n",
        );
        assert!(nft_conf_replaceable(&quoted).is_ok());
    }

    #[test]
    fn saved_iptables_compare_without_dates_and_counters() {
        let a = "# Generated by iptables-save v1.8.9 on Mon\n*filter\n:INPUT DROP [12:3400]\n-A INPUT -j ACCEPT\nCOMMIT\n# Completed on Mon\n";
        let b = "# Generated by iptables-save v1.8.9 on Tue\n*filter\n:INPUT DROP [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n# Completed on Tue\n";
        assert_eq!(normalized(a), normalized(b));
        assert_ne!(normalized(a), normalized(&b.replace("ACCEPT", "DROP")));
    }
}
