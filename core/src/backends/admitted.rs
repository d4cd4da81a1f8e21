//! What a rule that accepts admits, as the audit must read it: wide.
//!
//! The audit (`loopback-exposed`) asks which ports the firewall admits from
//! other hosts. Reading only the rules portplan writes itself (one
//! transport, `dport ==`, one source) said "closed" over `accept`,
//! `meta l4proto tcp accept`, `ct state new tcp dport 2911 accept`,
//! `tcp dport != 2881 accept` or `-m multiport --dports 2911,2912`, all of
//! which admit a local-only port to the world. So every accepting rule is
//! read here for what it may admit: a match portplan does not know (an
//! interface other than `lo`, a mark, a rate limit, a named port set)
//! narrows the rule in a way the audit cannot judge, and is read as no
//! narrowing at all. Only what surely admits no new connection from another
//! host closes a rule: a conntrack state without `new` or `untracked`, the
//! loopback interface, a protocol other than TCP and UDP.

use crate::list::List;
use crate::model::{OpenPort, PortRange, Transport};
use crate::order;

use super::EVERY_PORT as ALL;

/// The ports, transports and state an accepting rule's matches leave open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Admitted {
    tcp: bool,
    udp: bool,
    /// Sorted, disjoint, not adjacent.
    ports: Vec<PortRange>,
    /// Admits no new connection from another host.
    closed: bool,
    /// Its ports are those a nat rule sends to ([`Admitted::sent`]).
    sent: bool,
}

impl Default for Admitted {
    fn default() -> Self {
        Admitted {
            tcp: true,
            udp: true,
            ports: vec![ALL],
            closed: false,
            sent: false,
        }
    }
}

impl Admitted {
    /// A protocol match: `only` the named ones, or (negated) all but them.
    /// Names other than tcp and udp (icmp, `all`) matter only as what they
    /// leave out.
    pub(super) fn protocols<'a>(
        &mut self,
        names: impl IntoIterator<Item = &'a str>,
        negated: bool,
    ) {
        let names: Vec<&str> = names.into_iter().list();
        if !negated && names.iter().any(|n| matches!(*n, "all" | "0")) {
            return;
        }
        // By name or by number (`-p 6`).
        let named = |transport: &str, number: &str| {
            (names.iter()).any(|n| n.eq_ignore_ascii_case(transport) || *n == number)
        };
        let (tcp, udp) = (named("tcp", "6"), named("udp", "17"));
        if negated {
            self.tcp &= !tcp;
            self.udp &= !udp;
        } else {
            self.tcp &= tcp;
            self.udp &= udp;
        }
    }

    /// A destination port match on one transport (`tcp dport`) or either
    /// (`th dport`, `--dport` after `-p`); `None` where the ports could not
    /// be read (a named set): no narrowing.
    pub(super) fn ports(
        &mut self,
        transport: Option<Transport>,
        ranges: Option<Vec<PortRange>>,
        negated: bool,
    ) {
        match transport {
            Some(Transport::Tcp) => self.udp = false,
            Some(Transport::Udp) => self.tcp = false,
            None => {}
        }
        let Some(ranges) = ranges else {
            return;
        };
        let ranges = merged(ranges);
        let keep = if negated { complement(&ranges) } else { ranges };
        self.ports = intersection(&self.ports, &keep);
    }

    /// Where a nat rule sends what it matched (`--to-ports 2881`): to
    /// those ports, whatever it matched on (where it matched none, none).
    /// `None` where they do not read: the ports it matched.
    pub(super) fn sent(&mut self, ranges: Option<PortRange>) {
        if let Some(ranges) = ranges.filter(|_| !self.ports.is_empty()) {
            self.ports = vec![ranges];
            self.sent = true;
        }
    }

    /// What both admit: an accept in a chain handed packets by a jump
    /// admits what the jump matched and what it matches itself; where it
    /// sends them on (nat), the ports it sends to, read wide (the jump's
    /// were those before).
    pub(super) fn and(&self, other: &Admitted) -> Admitted {
        Admitted {
            tcp: self.tcp && other.tcp,
            udp: self.udp && other.udp,
            ports: match other.sent {
                true => other.ports.clone(),
                false => intersection(&self.ports, &other.ports),
            },
            closed: self.closed || other.closed,
            sent: other.sent,
        }
    }

    /// Whether it admits no new connection of TCP or UDP at all.
    pub(super) fn admits_nothing(&self) -> bool {
        self.closed || !(self.tcp || self.udp) || self.ports.is_empty()
    }

    /// Whether it admits everything `other` does.
    pub(super) fn covers(&self, other: &Admitted) -> bool {
        other.admits_nothing()
            || !self.closed
                && (self.tcp || !other.tcp)
                && (self.udp || !other.udp)
                && intersection(&self.ports, &other.ports) == other.ports
    }

    /// What reading it costs, from `sources` sources: its port ranges
    /// times its sources, at least 1.
    pub(super) fn weight(&self, sources: usize) -> usize {
        (1 + self.ports.len()).saturating_mul(1 + sources)
    }

    /// A match that lets no new connection from another host through.
    pub(super) fn close(&mut self) {
        self.closed = true;
    }

    /// A conntrack state match (`ct state`, `--ctstate`, `--state`): closed
    /// unless it lets a new connection through (iptables' `DNAT` and `SNAT`
    /// are states of new connections too).
    pub(super) fn states<'a>(&mut self, states: impl IntoIterator<Item = &'a str>, negated: bool) {
        let new = states.into_iter().any(|s| {
            ["new", "untracked", "dnat", "snat"]
                .iter()
                .any(|n| s.eq_ignore_ascii_case(n))
        });
        if new == negated {
            self.close();
        }
    }

    /// An input interface match: the loopback interface only is local.
    pub(super) fn interface(&mut self, name: &str, negated: bool) {
        if !negated && name == "lo" {
            self.close();
        }
    }

    /// What the rule opens: one entry per transport and range, from
    /// `sources` (empty: from anywhere).
    pub(super) fn open(&self, sources: &[String], tag: Option<&str>) -> Vec<OpenPort> {
        if self.closed {
            return Vec::new();
        }
        // Loops, not iterator adapters: a `flat_map` is a few hundred bytes
        // of the plugins.
        let mut open = Vec::new();
        for (on, transport) in [(self.tcp, Transport::Tcp), (self.udp, Transport::Udp)] {
            for ports in self.ports.iter().filter(|_| on) {
                open.push(OpenPort {
                    transport,
                    ports: *ports,
                    sources: sources.to_vec(),
                    tag: tag.map(str::to_string),
                });
            }
        }
        open
    }
}

/// `ranges` sorted, overlapping and adjacent ones joined.
pub(super) fn merged(mut ranges: Vec<PortRange>) -> Vec<PortRange> {
    order::sort_by_key(&mut ranges, |r| r.first);
    let mut out: Vec<PortRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match out.last_mut() {
            Some(last) if u32::from(range.first) <= u32::from(last.last) + 1 => {
                last.last = last.last.max(range.last);
            }
            _ => out.push(range),
        }
    }
    out
}

/// The ports 1-65535 that merged `ranges` leave out.
pub(super) fn complement(ranges: &[PortRange]) -> Vec<PortRange> {
    let mut out = Vec::new();
    let mut next = 1u32;
    for range in ranges {
        if u32::from(range.first) > next {
            out.push(PortRange {
                first: next as u16,
                last: range.first - 1,
            });
        }
        next = u32::from(range.last) + 1;
    }
    if next <= 65535 {
        out.push(PortRange {
            first: next as u16,
            last: 65535,
        });
    }
    out
}

/// The ports both merged lists hold.
pub(super) fn intersection(a: &[PortRange], b: &[PortRange]) -> Vec<PortRange> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        out.extend(a[i].intersection(b[j]));
        if a[i].last < b[j].last {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(first: u16, last: u16) -> PortRange {
        PortRange { first, last }
    }

    fn opened(admitted: &Admitted) -> Vec<(Transport, PortRange)> {
        admitted
            .open(&[], None)
            .into_iter()
            .map(|o| (o.transport, o.ports))
            .collect()
    }

    #[test]
    fn an_unqualified_accept_admits_every_port_of_both_transports() {
        let all = Admitted::default();
        assert_eq!(
            opened(&all),
            vec![(Transport::Tcp, ALL), (Transport::Udp, ALL)]
        );
    }

    #[test]
    fn negated_ports_admit_the_rest() {
        let mut a = Admitted::default();
        a.ports(Some(Transport::Tcp), Some(vec![r(80, 80), r(22, 22)]), true);
        assert_eq!(
            opened(&a),
            vec![
                (Transport::Tcp, r(1, 21)),
                (Transport::Tcp, r(23, 79)),
                (Transport::Tcp, r(81, 65535))
            ]
        );
    }

    #[test]
    fn protocols_states_and_loopback() {
        let mut icmp = Admitted::default();
        icmp.protocols(["icmp"], false);
        assert!(opened(&icmp).is_empty());
        let mut not_tcp = Admitted::default();
        not_tcp.protocols(["tcp"], true);
        assert_eq!(opened(&not_tcp), vec![(Transport::Udp, ALL)]);
        let mut established = Admitted::default();
        established.states(["established", "related"], false);
        assert!(opened(&established).is_empty());
        let mut new = Admitted::default();
        new.states(["NEW", "ESTABLISHED"], false);
        assert_eq!(opened(&new).len(), 2);
        let mut not_new = Admitted::default();
        not_new.states(["new"], true);
        assert!(opened(&not_new).is_empty());
        let mut lo = Admitted::default();
        lo.interface("lo", false);
        assert!(opened(&lo).is_empty());
        let mut eth = Admitted::default();
        eth.interface("eth1", false);
        assert_eq!(opened(&eth).len(), 2);
    }

    #[test]
    fn unread_ports_do_not_narrow_and_matches_intersect() {
        let mut set = Admitted::default();
        set.ports(Some(Transport::Udp), None, false);
        assert_eq!(opened(&set), vec![(Transport::Udp, ALL)]);
        let mut both = Admitted::default();
        both.ports(None, Some(vec![r(2000, 3000)]), false);
        both.ports(None, Some(vec![r(2881, 2881)]), true);
        assert_eq!(
            opened(&both),
            vec![
                (Transport::Tcp, r(2000, 2880)),
                (Transport::Tcp, r(2882, 3000)),
                (Transport::Udp, r(2000, 2880)),
                (Transport::Udp, r(2882, 3000))
            ]
        );
        let mut all_but_all = Admitted::default();
        all_but_all.ports(None, Some(vec![ALL]), true);
        assert!(opened(&all_but_all).is_empty());
    }
}
