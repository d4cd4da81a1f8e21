//! Facts about the host, read from `/proc` in Rust with no external command:
//! listening TCP and bound UDP sockets with their owning process, the port
//! sysctls, the effective uid, and whether firewalld or ufw is active.
//!
//! The parsers are pure functions of the files' text (tested below); `gather`
//! is the only part that reads. The sockets and sysctls are those of the
//! network namespace the module runs in, which is what a host's firewall sees.

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use portplan_core::{Listener, Observation, PortRange, Transport};

/// What `/proc` says about the host, before the firewall is read.
#[derive(Debug, Default)]
pub struct Facts {
    pub observation: Observation,
    /// A firewalld daemon runs in this network namespace (its pid).
    pub firewalld_pid: Option<u32>,
    /// `/etc/ufw/ufw.conf` says `ENABLED=yes`.
    pub ufw_enabled: bool,
}

/// Read every fact. A file that cannot be read leaves its fact unknown, which
/// core reports as such; only the socket tables are required.
pub fn gather(proc_root: &Path, etc_root: &Path) -> Result<Facts, String> {
    let mut sockets = Vec::new();
    for (file, transport, v6) in [
        ("tcp", Transport::Tcp, false),
        ("tcp6", Transport::Tcp, true),
        ("udp", Transport::Udp, false),
        ("udp6", Transport::Udp, true),
    ] {
        let path = proc_root.join("net").join(file);
        match fs::read_to_string(&path) {
            Ok(text) => sockets.extend(parse_sockets(&text, transport, v6)),
            // A kernel without IPv6 has no tcp6/udp6.
            Err(_) if v6 => {}
            Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
        }
    }
    let processes = processes(proc_root);
    let owners = socket_owners(proc_root, &processes);
    let mut listeners: Vec<Listener> = sockets
        .into_iter()
        .map(|socket| {
            let owner = owners.get(&socket.inode);
            Listener {
                transport: socket.transport,
                address: socket.address,
                port: socket.port,
                v6only: false,
                pid: owner.map(|(pid, _)| *pid),
                command: owner.map(|(_, command)| command.clone()),
            }
        })
        .collect();
    listeners.sort_by(|a, b| {
        (a.transport, a.port, &a.address, a.pid).cmp(&(b.transport, b.port, &b.address, b.pid))
    });
    listeners.dedup();

    let sysctl = |name: &str| fs::read_to_string(proc_root.join("sys/net/ipv4").join(name)).ok();
    let observation = Observation {
        listeners,
        ip_local_port_range: sysctl("ip_local_port_range").and_then(|t| parse_port_range(&t)),
        ip_local_reserved_ports: sysctl("ip_local_reserved_ports")
            .map(|t| parse_reserved_ports(&t))
            .unwrap_or_default(),
        ip_unprivileged_port_start: sysctl("ip_unprivileged_port_start")
            .and_then(|t| t.trim().parse().ok()),
        effective_uid: fs::read_to_string(proc_root.join("self/status"))
            .ok()
            .and_then(|t| parse_effective_uid(&t)),
        firewall: None,
    };
    let own_netns = fs::read_link(proc_root.join("self/ns/net")).ok();
    let firewalld_pid = processes
        .iter()
        .find(|p| p.is_firewalld && own_netns.is_some() && p.netns == own_netns)
        .map(|p| p.pid);
    let ufw_enabled = fs::read_to_string(etc_root.join("ufw/ufw.conf"))
        .map(|t| parse_ufw_enabled(&t))
        .unwrap_or(false);
    Ok(Facts {
        observation,
        firewalld_pid,
        ufw_enabled,
    })
}

/// One row of `/proc/net/{tcp,udp}[6]`.
#[derive(Debug, PartialEq, Eq)]
struct Socket {
    transport: Transport,
    address: String,
    port: u16,
    inode: u64,
}

/// TCP state `0A` is LISTEN. Every UDP socket with a local port is bound,
/// and a bound port is taken whether or not the socket is connected.
const TCP_LISTEN: &str = "0A";

fn parse_sockets(text: &str, transport: Transport, v6: bool) -> Vec<Socket> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            if transport == Transport::Tcp && *state != TCP_LISTEN {
                return None;
            }
            let (address, port) = local.split_once(':')?;
            let port = u16::from_str_radix(port, 16).ok().filter(|&p| p != 0)?;
            let address = if v6 {
                parse_ipv6(address)?.to_string()
            } else {
                parse_ipv4(address)?.to_string()
            };
            Some(Socket {
                transport,
                address,
                port,
                inode: inode.parse().ok()?,
            })
        })
        .collect()
}

/// The kernel prints the address (network byte order in memory) as one `u32`
/// read in the machine's byte order, so the native bytes of that word are the
/// address's octets on any architecture.
fn parse_ipv4(hex: &str) -> Option<Ipv4Addr> {
    let word = u32::from_str_radix(hex, 16).ok()?;
    Some(Ipv4Addr::from(word.to_ne_bytes()))
}

/// Four such `u32` words.
fn parse_ipv6(hex: &str) -> Option<Ipv6Addr> {
    if hex.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(4).enumerate() {
        let word = u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).ok()?;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    Some(Ipv6Addr::from(bytes))
}

/// The interface that carries `address`: for IPv6 the one holding it
/// (`/proc/net/if_inet6`), for IPv4 the one of the most specific route that
/// reaches it (`/proc/net/route`, where the local subnet's route names the
/// interface holding the address). firewalld picks the zone by it.
pub fn device_of(proc_root: &Path, address: IpAddr) -> Option<String> {
    match address {
        IpAddr::V4(address) => device_of_route(
            &fs::read_to_string(proc_root.join("net/route")).ok()?,
            address,
        ),
        IpAddr::V6(address) => device_of_inet6(
            &fs::read_to_string(proc_root.join("net/if_inet6")).ok()?,
            address,
        ),
    }
}

fn device_of_route(table: &str, address: Ipv4Addr) -> Option<String> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (device, destination, mask) = (fields.first()?, fields.get(1)?, fields.get(7)?);
            let destination = u32::from(parse_ipv4(destination)?);
            let mask = u32::from(parse_ipv4(mask)?);
            (u32::from(address) & mask == destination).then(|| (mask.count_ones(), *device))
        })
        .max_by_key(|(prefix, _)| *prefix)
        .map(|(_, device)| device.to_string())
}

fn device_of_inet6(table: &str, address: Ipv6Addr) -> Option<String> {
    table.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let held = u128::from_str_radix(fields.first()?, 16).ok()?;
        (Ipv6Addr::from(held) == address).then(|| fields.last().map(ToString::to_string))?
    })
}

/// `32768\t60999`.
fn parse_port_range(text: &str) -> Option<PortRange> {
    let mut parts = text.split_whitespace().map(|p| p.parse::<u16>().ok());
    let (first, last) = (parts.next()??, parts.next()??);
    (first >= 1 && first <= last).then_some(PortRange { first, last })
}

/// `8080,9000-9010`, or empty.
fn parse_reserved_ports(text: &str) -> Vec<PortRange> {
    text.trim()
        .split(',')
        .filter(|part| !part.is_empty())
        .filter_map(|part| {
            let (first, last) = part.split_once('-').unwrap_or((part, part));
            let (first, last) = (first.parse().ok()?, last.parse().ok()?);
            (first >= 1 && first <= last).then_some(PortRange { first, last })
        })
        .collect()
}

/// `Uid:\treal\teffective\tsaved\tfs` in `/proc/self/status`.
fn parse_effective_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|uid| uid.parse().ok())
}

fn parse_ufw_enabled(conf: &str) -> bool {
    conf.lines().any(|line| {
        line.trim()
            .strip_prefix("ENABLED=")
            .is_some_and(|v| v.trim_matches(['"', '\'']).eq_ignore_ascii_case("yes"))
    })
}

struct Process {
    pid: u32,
    command: String,
    netns: Option<std::path::PathBuf>,
    is_firewalld: bool,
}

fn processes(proc_root: &Path) -> Vec<Process> {
    let Ok(entries) = fs::read_dir(proc_root) else {
        return Vec::new();
    };
    let mut out: Vec<Process> = entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let dir = entry.path();
            // A process may exit between listing and reading: skip it.
            let command = fs::read_to_string(dir.join("comm"))
                .ok()?
                .trim()
                .to_string();
            let cmdline = fs::read(dir.join("cmdline")).unwrap_or_default();
            Some(Process {
                pid,
                is_firewalld: is_firewalld(&cmdline),
                command,
                netns: fs::read_link(dir.join("ns/net")).ok(),
            })
        })
        .collect();
    out.sort_by_key(|p| p.pid);
    out
}

/// firewalld is a Python program: `/usr/bin/python3 /usr/sbin/firewalld ...`.
fn is_firewalld(cmdline: &[u8]) -> bool {
    cmdline
        .split(|&b| b == 0)
        .take(2)
        .any(|arg| arg.rsplit(|&b| b == b'/').next() == Some(b"firewalld".as_slice()))
}

/// Socket inode to the lowest pid holding it and that process's command.
fn socket_owners(proc_root: &Path, processes: &[Process]) -> BTreeMap<u64, (u32, String)> {
    let mut owners = BTreeMap::new();
    for process in processes {
        let Ok(fds) = fs::read_dir(proc_root.join(process.pid.to_string()).join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            let inode = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok());
            if let Some(inode) = inode {
                owners
                    .entry(inode)
                    .or_insert_with(|| (process.pid, process.command.clone()));
            }
        }
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_by_route_and_by_ipv6_address() {
        let route = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
            eth0\t00000000\t010012C6\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
            eth1\t000012C6\t00000000\t0001\t0\t0\t0\t0000FEFF\t0\t0\t0\n";
        assert_eq!(
            device_of_route(route, "198.18.2.11".parse().expect("address")).as_deref(),
            Some("eth1")
        );
        assert_eq!(
            device_of_route(route, "192.0.2.1".parse().expect("address")).as_deref(),
            Some("eth0")
        );
        let inet6 = "20010db8000000000000000000000011 03 40 00 80     eth1\n\
            00000000000000000000000000000001 01 80 10 80       lo\n";
        assert_eq!(
            device_of_inet6(inet6, "2001:db8::11".parse().expect("address")).as_deref(),
            Some("eth1")
        );
        assert_eq!(
            device_of_inet6(inet6, "2001:db8::12".parse().expect("address")),
            None
        );
    }

    #[test]
    fn tcp_listeners_only_and_addresses_decoded() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0\n\
   1: 0A0012C6:0050 0B0012C6:D431 01 00000000:00000000 00:00000000 00000000     0        0 4243 1 0 100 0 0 10 0\n";
        assert_eq!(
            parse_sockets(text, Transport::Tcp, false),
            [Socket {
                transport: Transport::Tcp,
                address: "127.0.0.1".into(),
                port: 8080,
                inode: 4242
            }]
        );
    }

    #[test]
    fn ipv6_words_are_little_endian() {
        assert_eq!(
            parse_ipv6("00000000000000000000000001000000").map(|a| a.to_string()),
            Some("::1".into())
        );
        assert_eq!(
            parse_ipv6("B80D012000000000000000000A000000").map(|a| a.to_string()),
            Some("2001:db8::a".into())
        );
    }

    #[test]
    fn udp_sockets_count_in_any_state() {
        let text = "header\n   5: 00000000:0202 00000000:0000 07 0 0 0 0 0 99 2 0\n";
        assert_eq!(parse_sockets(text, Transport::Udp, false)[0].port, 514);
    }

    #[test]
    fn sysctls_and_status() {
        assert_eq!(
            parse_port_range("32768\t60999\n"),
            Some(PortRange {
                first: 32768,
                last: 60999
            })
        );
        assert_eq!(
            parse_reserved_ports("8080,9000-9010\n"),
            [
                PortRange::single(8080),
                PortRange {
                    first: 9000,
                    last: 9010
                }
            ]
        );
        assert!(parse_reserved_ports("\n").is_empty());
        assert_eq!(
            parse_effective_uid("Name:\tx\nUid:\t1000\t0\t0\t0\n"),
            Some(0)
        );
        assert!(parse_ufw_enabled("# c\nENABLED=yes\n"));
        assert!(!parse_ufw_enabled("ENABLED=no\n"));
        assert!(is_firewalld(
            b"/usr/bin/python3\0/usr/sbin/firewalld\0--nofork\0"
        ));
        assert!(!is_firewalld(b"vim\0/etc/firewalld/zones/public.xml\0"));
    }
}
