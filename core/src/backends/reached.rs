//! What the chains an input chain hands packets to accept.
//!
//! An input chain that jumps or goes to another (nftables' `jump tcp_in`,
//! `meta l4proto vmap { tcp : jump tcp_in }`, iptables' `-j TRUSTED`)
//! admits whatever that chain accepts, narrowed by what the handing rule
//! matched. Read only from the input chains, such accepts went unseen by
//! the audit (a review: `tcp dport 5432 accept` inside `tcp_in` opened a
//! port to everyone, and neither `loopback-exposed` nor `overexposed`
//! said so). Each backend reads its rules into [`Step`]s; the walk is here.
//! It is read wide, as [`Admitted`] is: what may be open is open.

use crate::model::OpenPort;
use crate::table::Map;

use super::admitted::Admitted;

/// A rule that hands packets to the chain `to`, and what it matched.
#[derive(PartialEq)]
pub(super) struct Hand {
    pub(super) to: String,
    pub(super) admitted: Admitted,
    /// Empty: from anywhere.
    pub(super) sources: Vec<String>,
    /// A return in the chain handed to, or its end, ends the base chain
    /// the packet came in by, whose policy accepts: a goto from such a
    /// chain (iptables' `-g` from `INPUT`, nft's `goto` from a base chain;
    /// a chain gone to has no caller to return to), or a goto from a chain
    /// so handed. So each is an accept.
    pub(super) returns: bool,
}

/// One rule of a chain that may be handed packets.
#[derive(Default)]
pub(super) struct Step {
    /// What it accepts, and from where (empty: anywhere): its verdict's,
    /// or its verdict map's accepting elements.
    pub(super) accepts: Vec<(Admitted, Vec<String>)>,
    /// What it returns, and from where: its verdict's, or its verdict
    /// map's returning elements (an accept where the hand [`Hand::returns`]).
    pub(super) returns: Vec<(Admitted, Vec<String>)>,
    /// The chains it jumps or goes to (`returns` set on a goto).
    pub(super) hands: Vec<Hand>,
    /// It decides every packet it is asked of (a bare drop, accept, return
    /// or goto): no rule after it is asked.
    pub(super) ends: bool,
}

/// At most this much is read for one firewall: a unit per rule walked,
/// and per entry made (an open port or a hand), its port ranges times its
/// sources, charged before it is made. The kernels refuse loops and
/// nftables jumps deeper than 16, but the text read need not come from a
/// kernel (a plugin's caller may be hostile). Past it, the firewall reads
/// as admitting every port from anywhere, in two entries (wide: bounded,
/// and never closed over an open port).
const BUDGET: usize = 1 << 20;

/// The distinct hands a chain is walked for: past them, it reads as
/// accepting all it is handed (wide), so that chains jumping to one chain
/// twice, level after level (hands narrowed a different way each time),
/// are walked a bounded number of times, not an exponential one.
const WALKED: usize = 256;

/// One chain as the walk knows it.
#[derive(Default)]
struct Walks {
    /// Its rules' positions in the listing.
    rules: Vec<usize>,
    /// Its rules, once read.
    steps: Option<Vec<Step>>,
    /// The hands it was walked for.
    walked: Vec<Hand>,
}

/// What the chains `hands` lead to open to the packets they hand them, in
/// the order walked. `chains` names each rule's chain, in listed order;
/// `read` reads the rule at a position, asked only for the chains reached,
/// once each (nftables unfolds a rule's named sets).
pub(super) fn opened(
    mut hands: Vec<Hand>,
    chains: &[String],
    read: &mut dyn FnMut(usize) -> Step,
) -> Vec<OpenPort> {
    let mut named: Map<&str, usize> = Map::new();
    let mut walks: Vec<Walks> = Vec::new();
    for (at, name) in chains.iter().enumerate() {
        let chain = *named.get_or_insert_with(name, || walks.len());
        match walks.get_mut(chain) {
            Some(walk) => walk.rules.push(at),
            None => walks.push(Walks {
                rules: vec![at],
                ..Walks::default()
            }),
        }
    }
    let (mut open, mut left) = (Vec::new(), BUDGET);
    // What accepts all it is handed: a chain past the walks' bound, and
    // the end of one handed with `returns`, past its last rule (read wide,
    // whatever the rules before took: a conditional drop narrows nothing).
    let accept_all = [Step {
        accepts: vec![(Admitted::default(), Vec::new())],
        ends: true,
        ..Step::default()
    }];
    // Depth first, the last hand of a chain first.
    'walk: while let Some(hand) = hands.pop() {
        let Some(Walks {
            rules,
            steps,
            walked,
        }) = (named.get(hand.to.as_str())).and_then(|&chain| walks.get_mut(chain))
        else {
            // A chain of no rules (`iptables -N X`, then `-g X`): the packet
            // is at its end at once.
            if hand.returns {
                left = left.saturating_sub(hand.admitted.weight(hand.sources.len()));
                if left == 0 {
                    break 'walk;
                }
                open.extend(hand.admitted.open(&hand.sources, None));
            }
            continue;
        };
        // A hand within one walked already opens nothing more: `and` only
        // narrows, and an accept's sources are its own or the hand's.
        if hand.admitted.admits_nothing() || walked.iter().any(|w| w.covers(&hand)) {
            continue;
        }
        // Past the first few, the chain reads as accepting all it is handed.
        let wide = walked.len() >= WALKED;
        let steps = match wide {
            true => &accept_all[..],
            false => steps.get_or_insert_with(|| {
                let mut steps = Vec::with_capacity(rules.len());
                for &at in rules.iter() {
                    steps.push(read(at));
                }
                steps
            }),
        };
        let end = &accept_all[..usize::from(hand.returns)];
        for step in steps.iter().chain(end) {
            left = left.saturating_sub(1);
            if left == 0 {
                break 'walk;
            }
            let returned = step.returns.iter().filter(|_| hand.returns);
            for (admitted, sources) in step.accepts.iter().chain(returned) {
                let sources = own_or_hands(&hand.sources, sources);
                let admitted = hand.admitted.and(admitted);
                left = left.saturating_sub(admitted.weight(sources.len()));
                if left == 0 {
                    break 'walk;
                }
                open.extend(admitted.open(&sources, None));
            }
            for handed in &step.hands {
                let sources = own_or_hands(&hand.sources, &handed.sources);
                let admitted = hand.admitted.and(&handed.admitted);
                left = left.saturating_sub(admitted.weight(sources.len()));
                if left == 0 {
                    break 'walk;
                }
                let to = handed.to.clone();
                hands.push(Hand {
                    to,
                    admitted,
                    sources,
                    returns: hand.returns && handed.returns,
                });
            }
            if step.ends {
                break;
            }
        }
        if !wide {
            walked.push(hand);
        }
    }
    if left == 0 {
        open = Admitted::default().open(&[], None);
    }
    open
}

impl Hand {
    /// Whether every packet `other` hands on, this hands on too (to the
    /// same chain).
    fn covers(&self, other: &Hand) -> bool {
        (self.sources.is_empty() || self.sources == other.sources)
            && self.admitted.covers(&other.admitted)
            && (self.returns || !other.returns)
    }
}

/// The sources an accept (or a jump) of a chain reached from `outer` is
/// read to admit: its own where it names any (`inner`), else the hand's.
/// Read wide: where both name sources, the rule's own are taken whole, even
/// where the hand's are narrower or apart (`ip saddr 10.0.0.0/8 jump c`,
/// then `ip saddr 192.0.2.0/24 accept` in `c`, which admits nothing); such
/// a ruleset reads as open from the rule's sources, never as closed.
fn own_or_hands(outer: &[String], inner: &[String]) -> Vec<String> {
    if inner.is_empty() { outer } else { inner }.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_rules_own_sources_are_read_whole_else_the_hands() {
        let outer = s(&["10.0.0.0/8"]);
        assert_eq!(
            own_or_hands(&outer, &s(&["192.0.2.0/24"])),
            s(&["192.0.2.0/24"])
        );
        assert_eq!(own_or_hands(&outer, &[]), outer);
        assert_eq!(own_or_hands(&[], &[]), Vec::<String>::new());
    }
}
