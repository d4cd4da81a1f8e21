//! CIDR aggregation: the fewest CIDRs that cover exactly the addresses a
//! list of CIDRs, or a range of addresses, covers.
//!
//! Why not `ipnet`'s `IpNet::aggregate` and `Ipv4Subnets`/`Ipv6Subnets`,
//! whose results these are (the tests hold them equal on arbitrary input):
//! they sort with `sort_unstable` once per address family and walk each
//! family with its own subnet iterator, two copies of std's unstable sort
//! and of the walk, ~13 KB of each WebAssembly plugin (issue 16). Here both
//! families are one walk over `u128` and the sort is core's one stable sort
//! (`order`).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

use crate::list::List;
use crate::order;

/// The fewest CIDRs covering exactly what `nets` covers, disjoint, IPv4
/// before IPv6, each family by address: what `IpNet::aggregate` returns.
pub(crate) fn aggregate(nets: &[IpNet]) -> Vec<IpNet> {
    // (is IPv6, first address, last address) of each CIDR.
    let mut ranges: Vec<(bool, u128, u128)> = nets.iter().map(range).list();
    order::sort(&mut ranges);
    let mut merged: Vec<(bool, u128, u128)> = Vec::with_capacity(ranges.len());
    for (v6, first, last) in ranges {
        match merged.last_mut() {
            // Overlapping or adjacent, in the same family.
            Some((family, _, end)) if *family == v6 && first <= end.saturating_add(1) => {
                *end = (*end).max(last);
            }
            _ => merged.push((v6, first, last)),
        }
    }
    let mut out = Vec::new();
    for (v6, first, last) in merged {
        cover_bits(v6, first, last, &mut out);
    }
    out
}

/// The fewest CIDRs covering exactly `first..=last` (none when `last` is
/// before `first` or the two are of different families), by address: what
/// `Ipv4Subnets::new(first, last, 0)` and its IPv6 twin yield.
pub(crate) fn cover(first: IpAddr, last: IpAddr) -> Vec<IpNet> {
    let mut out = Vec::new();
    if first.is_ipv4() == last.is_ipv4() && first <= last {
        cover_bits(first.is_ipv6(), bits(first), bits(last), &mut out);
    }
    out
}

/// Every address of `net`'s family outside it, as the fewest CIDRs (at
/// most one per bit of its prefix), by address.
pub(crate) fn outside(net: &IpNet) -> Vec<IpNet> {
    let (v6, first, last) = range(net);
    let top = if v6 { u128::MAX } else { u32::MAX.into() };
    let mut out = Vec::new();
    if first > 0 {
        cover_bits(v6, 0, first - 1, &mut out);
    }
    if last < top {
        cover_bits(v6, last + 1, top, &mut out);
    }
    out
}

fn range(net: &IpNet) -> (bool, u128, u128) {
    let network = net.network();
    (network.is_ipv6(), bits(network), bits(net.broadcast()))
}

fn bits(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u32::from(v4).into(),
        IpAddr::V6(v6) => v6.into(),
    }
}

/// The CIDRs of `first..=last`, largest first where alignment allows: for
/// each start, the shortest prefix whose block starts there (its alignment)
/// and does not pass `last`.
fn cover_bits(v6: bool, mut first: u128, last: u128, out: &mut Vec<IpNet>) {
    let width: u32 = if v6 { 128 } else { 32 };
    loop {
        // The block's host bits: as many as the start's trailing zeros and
        // the span's length both allow.
        let aligned = first.trailing_zeros().min(width);
        let span = last - first;
        let fits = if span == u128::MAX {
            128
        } else {
            (span + 1).ilog2()
        };
        let host_bits = aligned.min(fits);
        // An IPv4 range's addresses fit in 32 bits, and a prefix in 8.
        let address = if v6 {
            Some(IpAddr::V6(Ipv6Addr::from(first)))
        } else {
            u32::try_from(first)
                .ok()
                .map(|v4| IpAddr::V4(Ipv4Addr::from(v4)))
        };
        let prefix = u8::try_from(width - host_bits).ok();
        if let Some(net) = address.zip(prefix).and_then(|(a, p)| IpNet::new(a, p).ok()) {
            out.push(net);
        }
        // The block's last address; the next block starts after it.
        let end = match 1u128.checked_shl(host_bits) {
            Some(size) => first + (size - 1),
            None => u128::MAX,
        };
        if end >= last {
            return;
        }
        first = end + 1;
    }
}

// ipnet's own functions are the oracle here.
#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn net(text: &str) -> IpNet {
        text.parse().expect("a CIDR")
    }

    fn same(nets: &[IpNet]) {
        assert_eq!(
            aggregate(nets),
            IpNet::aggregate(&nets.to_vec()),
            "{nets:?}"
        );
    }

    /// The edges: whole families, the last addresses, adjacent and nested
    /// blocks, host bits set, both families mixed, nothing.
    #[test]
    fn it_aggregates_as_ipnet_does_at_the_edges() {
        let cases: &[&[&str]] = &[
            &[],
            &["0.0.0.0/0"],
            &["::/0"],
            &["::/0", "0.0.0.0/0", "10.0.0.1/32"],
            &["255.255.255.255/32"],
            &["255.255.255.254/32"],
            &["255.255.255.254/32", "255.255.255.255/32"],
            &["ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"],
            &["ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", "::1/128"],
            &["10.0.0.5/24", "10.0.1.0/24"],
            &["10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32", "10.0.0.4/32"],
            &[
                "198.18.0.0/15",
                "198.18.4.0/24",
                "2001:db8::/33",
                "2001:db8:8000::/33",
            ],
            &["0.0.0.1/32", "255.255.255.254/32", "::2/127", "0.0.0.0/32"],
            &["128.0.0.0/1", "0.0.0.0/1"],
            &["10.0.0.0/8", "10.0.0.0/8"],
        ];
        for case in cases {
            same(&case.iter().copied().map(net).collect::<Vec<_>>());
        }
    }

    /// Addresses from a few narrow bands near the edges and in the middle,
    /// so that random CIDRs overlap, touch and nest often.
    fn arbitrary_net() -> impl Strategy<Value = IpNet> {
        let v4 = (
            prop_oneof![Just(0u32), Just(0x0a00_0000), Just(0xffff_ff00)],
            0u32..256,
            0u8..=32,
        )
            .prop_map(|(band, low, prefix)| {
                IpNet::new(IpAddr::V4(Ipv4Addr::from(band | low)), prefix).expect("a prefix")
            });
        let v6 = (
            prop_oneof![Just(0u128), Just(0x2001_0db8 << 96), Just(u128::MAX << 8)],
            0u128..256,
            prop_oneof![0u8..=8, 9u8..=99, 100u8..=128],
        )
            .prop_map(|(band, low, prefix)| {
                IpNet::new(IpAddr::V6(Ipv6Addr::from(band | low)), prefix).expect("a prefix")
            });
        prop_oneof![v4, v6]
    }

    fn subnets(first: IpAddr, last: IpAddr) -> Vec<IpNet> {
        match (first, last) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                ipnet::Ipv4Subnets::new(a, b, 0).map(IpNet::V4).collect()
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                ipnet::Ipv6Subnets::new(a, b, 0).map(IpNet::V6).collect()
            }
            _ => Vec::new(),
        }
    }

    proptest! {
        /// `outside` and the net itself are the whole family, disjoint,
        /// in at most one CIDR per prefix bit.
        #[test]
        fn outside_is_the_rest_of_the_family(net in arbitrary_net()) {
            let rest = outside(&net);
            prop_assert!(rest.len() <= usize::from(net.prefix_len()));
            prop_assert!(rest.iter().all(|r| !r.contains(&net.network()) && !net.contains(&r.network())));
            let mut whole = rest.clone();
            whole.push(net.trunc());
            let family = if net.network().is_ipv4() { "0.0.0.0/0" } else { "::/0" };
            prop_assert_eq!(aggregate(&whole), vec![self::net(family)]);
        }
    }

    /// Ranges at the edges of each family, reversed ones and mixed ones.
    #[test]
    fn it_covers_a_range_as_ipnet_does_at_the_edges() {
        let cases = [
            ("0.0.0.0", "255.255.255.255"),
            ("255.255.255.255", "255.255.255.255"),
            ("255.255.255.254", "255.255.255.255"),
            ("0.0.0.0", "0.0.0.0"),
            ("10.0.0.1", "10.0.0.0"),
            ("10.0.0.1", "10.0.1.254"),
            ("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"),
            (
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            ),
            ("10.0.0.1", "::1"),
            ("::1", "10.0.0.1"),
        ];
        for (first, last) in cases {
            let (first, last) = (
                first.parse().expect("an address"),
                last.parse().expect("an address"),
            );
            assert_eq!(cover(first, last), subnets(first, last), "{first}-{last}");
        }
    }

    proptest! {
        #[test]
        fn it_covers_a_range_as_ipnet_does(a in arbitrary_net(), b in arbitrary_net()) {
            let (first, last) = (a.addr(), b.addr());
            prop_assert_eq!(cover(first, last), subnets(first, last));
        }

        #[test]
        fn it_aggregates_as_ipnet_does(nets in proptest::collection::vec(arbitrary_net(), 0..24)) {
            prop_assert_eq!(aggregate(&nets), IpNet::aggregate(&nets));
        }
    }
}
