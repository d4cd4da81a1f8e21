//! Facts about the host, read from `/proc` in Rust with no external command:
//! listening TCP and bound UDP sockets with their owning process, the port
//! sysctls, the effective uid, and whether firewalld or ufw is active.
//!
//! The parsers are pure functions of the files' text (tested below); `gather`
//! is the only part that reads. The sockets and sysctls are those of the
//! network namespace the module runs in, which is what a host's firewall sees.
//!
//! One fact is not in `/proc`: whether an IPv6 socket is v6only
//! (`IPV6_V6ONLY`, so a `[::]` listener that refuses IPv4). The kernel tells
//! it over `NETLINK_SOCK_DIAG` (`INET_DIAG_SKV6ONLY`); [`sock_diag_v6only`] is
//! the only function that talks to it, and the messages are read by pure
//! functions tested below.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET6, IPPROTO_TCP, IPPROTO_UDP};
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, SocketId, StateFlags, nlas::Nla,
};
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use portplan_core::{Listener, Observation, PortRange, Transport};

/// What `/proc` says about the host, before the firewall is read.
#[derive(Debug, Default)]
pub struct Facts {
    pub observation: Observation,
    /// A firewalld daemon runs in this network namespace (its pid).
    pub firewalld_pid: Option<u32>,
    /// `/etc/ufw/ufw.conf` says `ENABLED=yes`.
    pub ufw_enabled: bool,
    /// What could not be learned and was assumed instead, one sentence each,
    /// for the caller to show as warnings. Today: IPv6 wildcard sockets whose
    /// v6only flag the kernel did not tell (taken as not v6only).
    pub notes: Vec<String>,
}

/// Read every fact. A file that cannot be read leaves its fact unknown, which
/// core reports as such; only the socket tables are required.
///
/// The v6only flags come from the kernel over netlink, for the network
/// namespace this process runs in (which is `/proc/net` when `proc_root` is
/// `/proc`), and are asked only when there is an IPv6 wildcard socket, the one
/// case where the flag changes what is reachable.
pub fn gather(proc_root: &Path, etc_root: &Path) -> Result<Facts, String> {
    let mut sockets = Vec::new();
    for (file, transport, v6) in [
        ("tcp", Transport::Tcp, false),
        ("tcp6", Transport::Tcp, true),
        ("udp", Transport::Udp, false),
        ("udp6", Transport::Udp, true),
    ] {
        let path = proc_root.join("net").join(file);
        match read_table(&path) {
            Ok(text) => sockets.extend(parse_sockets(&text, transport, v6)),
            // A kernel without IPv6 has no tcp6/udp6.
            Err(_) if v6 => {}
            Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
        }
    }
    let answers: Vec<_> = [Transport::Tcp, Transport::Udp]
        .into_iter()
        .filter(|&transport| {
            sockets
                .iter()
                .any(|s| s.transport == transport && s.is_v6_wildcard())
        })
        .map(|transport| (transport, sock_diag_v6only(transport)))
        .collect();
    let (v6only, notes) = resolve_v6only(&sockets, &answers);
    let processes = processes(proc_root);
    let wanted: BTreeSet<u64> = sockets
        .iter()
        .map(|s| s.inode)
        .filter(|&i| i != 0)
        .collect();
    let owners = socket_owners(proc_root, &processes, &wanted);
    let mut listeners: Vec<Listener> = sockets
        .into_iter()
        .map(|socket| {
            let owner = owners.get(&socket.inode);
            Listener {
                transport: socket.transport,
                address: socket.address,
                port: socket.port,
                v6only: v6only.contains(&socket.inode),
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
        .filter(|p| p.is_firewalld && own_netns.is_some())
        .find(|p| fs::read_link(proc_root.join(p.pid.to_string()).join("ns/net")).ok() == own_netns)
        .map(|p| p.pid);
    let ufw_enabled = fs::read_to_string(etc_root.join("ufw/ufw.conf"))
        .map(|t| parse_ufw_enabled(&t))
        .unwrap_or(false);
    Ok(Facts {
        observation,
        firewalld_pid,
        ufw_enabled,
        notes,
    })
}

/// One row of `/proc/net/{tcp,udp}[6]`.
#[derive(Debug, PartialEq, Eq)]
struct Socket {
    transport: Transport,
    address: String,
    port: u16,
    inode: u64,
    /// From `tcp6`/`udp6`.
    v6: bool,
}

impl Socket {
    /// `[::]`: the one address where v6only decides whether IPv4 reaches it.
    fn is_v6_wildcard(&self) -> bool {
        self.v6 && self.address == Ipv6Addr::UNSPECIFIED.to_string()
    }
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
                v6,
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

/// What sock_diag said about one transport's IPv6 sockets: inode → v6only,
/// or why it could not be asked.
type KernelAnswer = Result<BTreeMap<u64, bool>, String>;

/// Pure: the inodes of the sockets the kernel says are v6only, and a note for
/// each IPv6 wildcard socket whose flag is unknown. `answers` holds, per
/// transport asked, the kernel's inode → v6only map or why it could not be
/// asked. An unknown flag is taken as false, as before the kernel was asked:
/// the socket is counted as reachable over IPv4 too.
fn resolve_v6only(
    sockets: &[Socket],
    answers: &[(Transport, KernelAnswer)],
) -> (BTreeSet<u64>, Vec<String>) {
    let mut v6only = BTreeSet::new();
    let mut notes = Vec::new();
    for (transport, answer) in answers {
        let wildcards = || {
            sockets
                .iter()
                .filter(move |s| s.transport == *transport && s.is_v6_wildcard())
        };
        match answer {
            Ok(flags) => {
                v6only.extend(
                    sockets
                        .iter()
                        .filter(|s| s.transport == *transport && s.v6)
                        .filter(|s| flags.get(&s.inode) == Some(&true))
                        .map(|s| s.inode),
                );
                notes.extend(
                    wildcards()
                        .filter(|s| !flags.contains_key(&s.inode))
                        .map(|s| unknown_v6only(s.port, *transport)),
                );
            }
            Err(why) if wildcards().next().is_some() => notes.push(format!(
                "cannot ask the kernel which IPv6 {} sockets are v6only ({why}); [::] {} \
                 sockets are taken as reachable over IPv4 too",
                transport.as_str(),
                transport.as_str()
            )),
            Err(_) => {}
        }
    }
    (v6only, notes)
}

/// The note for a `[::]` socket the kernel said nothing of.
fn unknown_v6only(port: u16, transport: Transport) -> String {
    format!(
        "the kernel did not say whether [::]:{port}/{} is v6only; taken as reachable over IPv4 too",
        transport.as_str()
    )
}

/// The only IO on netlink: dump the IPv6 sockets of `transport` (TCP
/// listeners, UDP sockets in any state) over `NETLINK_SOCK_DIAG` and return
/// each one's inode and v6only flag.
///
/// Fallback: on a kernel or sandbox without sock_diag (no `inet_diag` /
/// `udp_diag`, a seccomp filter refusing netlink sockets, an error reply) this
/// returns the error, and the caller keeps the old behaviour of taking every
/// socket as not v6only, adding a note that says so.
fn sock_diag_v6only(transport: Transport) -> KernelAnswer {
    let netlink = |e: io::Error| format!("sock_diag netlink: {e}");
    let socket = netlink_sys::Socket::new(NETLINK_SOCK_DIAG).map_err(netlink)?;
    socket
        .connect(&netlink_sys::SocketAddr::new(0, 0))
        .map_err(netlink)?;
    socket.send(&diag_request(transport), 0).map_err(netlink)?;
    // The kernel fills dump datagrams up to 32 KiB; twice that leaves room,
    // and MSG_TRUNC makes a longer one visible rather than cut silently.
    let mut buffer = vec![0u8; 64 * 1024];
    let mut flags = BTreeMap::new();
    loop {
        let size = match socket.recv(&mut &mut buffer[..], MSG_TRUNC) {
            Ok(size) => size,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(netlink(e)),
        };
        let datagram = buffer
            .get(..size)
            .ok_or_else(|| format!("sock_diag netlink: a {size}-byte reply was truncated"))?;
        if read_diag_datagram(datagram, &mut flags)? {
            return Ok(flags);
        }
    }
}

/// `MSG_TRUNC` (`linux/socket.h`, the same on every Linux architecture): `recv`
/// returns a datagram's real length even when the buffer was shorter.
const MSG_TRUNC: i32 = 0x20;

/// Pure: the `SOCK_DIAG_BY_FAMILY` dump request (`inet_diag_req_v2`) for the
/// IPv6 sockets of `transport`. No extension is asked: the kernel adds
/// `INET_DIAG_SKV6ONLY` unasked to every `AF_INET6` socket in state LISTEN or
/// CLOSE (`inet_diag_msg_attrs_fill`), which covers TCP listeners and
/// unconnected UDP sockets; a connected UDP socket has a specific local
/// address, where v6only does not matter.
fn diag_request(transport: Transport) -> Vec<u8> {
    let (protocol, states) = match transport {
        Transport::Tcp => (IPPROTO_TCP, StateFlags::LISTEN),
        Transport::Udp => (IPPROTO_UDP, StateFlags::all()),
    };
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = 1;
    let mut message = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family: AF_INET6,
            protocol,
            extensions: ExtensionFlags::empty(),
            states,
            socket_id: SocketId::new_v6(),
        })
        .into(),
    );
    message.finalize();
    let mut bytes = vec![0u8; message.buffer_len()];
    message.serialize(&mut bytes);
    bytes
}

/// Pure: read one datagram of a sock_diag dump (any number of netlink
/// messages) into `flags`, inode → v6only. `Ok(true)` once the dump is done;
/// an error reply is an error. A socket message that does not parse is
/// skipped (that socket's flag stays unknown); a message whose length is
/// wrong ends the read, as nothing after it can be trusted.
fn read_diag_datagram(datagram: &[u8], flags: &mut BTreeMap<u64, bool>) -> Result<bool, String> {
    let mut rest = datagram;
    while !rest.is_empty() {
        let length = NetlinkBuffer::new_checked(rest)
            .map_err(|e| format!("sock_diag netlink: malformed reply: {e}"))?
            .length() as usize;
        let Ok(message) = NetlinkMessage::<SockDiagMessage>::deserialize(&rest[..length]) else {
            rest = rest.get(align4(length)..).unwrap_or_default();
            continue;
        };
        match message.payload {
            NetlinkPayload::Done(done) if done.code != 0 => {
                return Err(format!(
                    "sock_diag netlink: {}",
                    io::Error::from_raw_os_error(done.code.abs())
                ));
            }
            NetlinkPayload::Done(_) => return Ok(true),
            NetlinkPayload::Error(error) if error.code.is_some() => {
                return Err(format!("sock_diag netlink: {error}"));
            }
            NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response))
                if response.header.family == AF_INET6 =>
            {
                let v6only = response.nlas.iter().find_map(|nla| match nla {
                    Nla::SkV6Only(v6only) => Some(*v6only),
                    _ => None,
                });
                if let Some(v6only) = v6only {
                    flags.insert(u64::from(response.header.inode), v6only);
                }
            }
            _ => {}
        }
        rest = rest.get(align4(length)..).unwrap_or_default();
    }
    Ok(false)
}

/// Netlink messages start on 4-byte boundaries (`NLMSG_ALIGN`).
fn align4(length: usize) -> usize {
    length.div_ceil(4) * 4
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

/// A socket table's text (`/proc/net/tcp` and the like) in reads of 64 KiB.
/// The kernel writes the table as it is read, and each read after the first
/// walks its connection hash table again to find its place: with
/// `read_to_string`'s small first reads that walk (milliseconds on a host
/// with a large table) was most of gathering the facts.
fn read_table(path: &Path) -> io::Result<String> {
    use std::io::Read;
    let mut file = fs::File::open(path)?;
    let mut chunk = vec![0u8; 64 * 1024];
    let mut text = Vec::new();
    loop {
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => text.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    String::from_utf8(text).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// A running process as listed: its command and network namespace are read
/// only when needed (an owner of a planned-port socket, a firewalld).
struct Process {
    pid: u32,
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
            // A process may exit between listing and reading: skip it.
            let cmdline = fs::read(entry.path().join("cmdline")).ok()?;
            Some(Process {
                pid,
                is_firewalld: is_firewalld(&cmdline),
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

/// Socket inode to the lowest pid holding it and that process's command,
/// for the `wanted` inodes (the listeners') only. Processes are read in pid
/// order, so the first holder found is the lowest, and the reading stops
/// once every wanted socket has its owner.
fn socket_owners(
    proc_root: &Path,
    processes: &[Process],
    wanted: &BTreeSet<u64>,
) -> BTreeMap<u64, (u32, String)> {
    let mut owners = BTreeMap::new();
    for process in processes {
        if owners.len() == wanted.len() {
            break;
        }
        let dir = proc_root.join(process.pid.to_string());
        let Ok(fds) = fs::read_dir(dir.join("fd")) else {
            continue;
        };
        let mut held = Vec::new();
        for fd in fds.flatten() {
            let Ok(target) = fs::read_link(fd.path()) else {
                continue;
            };
            let inode = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok());
            if let Some(inode) = inode.filter(|i| wanted.contains(i) && !owners.contains_key(i)) {
                held.push(inode);
            }
        }
        if held.is_empty() {
            continue;
        }
        // A process that exited meanwhile owns nothing.
        let Ok(command) = fs::read_to_string(dir.join("comm")) else {
            continue;
        };
        let command = command.trim().to_string();
        for inode in held {
            owners.insert(inode, (process.pid, command.clone()));
        }
    }
    owners
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One datagram of a real `SOCK_DIAG_BY_FAMILY` dump (AF_INET6, TCP
    /// LISTEN), captured on x86_64 Linux 6.18 and cut to two messages and
    /// the end: `[::]:54521` with IPV6_V6ONLY (inode 82050), `[::]:50709`
    /// without (inode 82051), then NLMSG_DONE. Besides SKV6ONLY (type 11) the
    /// kernel sent SHUTDOWN (8), MARK (15), CGROUP_ID (21) and SOCKOPT (22).
    #[rustfmt::skip]
    const CAPTURED_DUMP: [u8; 284] = [
        // nlmsghdr: length 132, type SOCK_DIAG_BY_FAMILY (20), NLM_F_MULTI, seq 1, port id
        0x84, 0x00, 0x00, 0x00, 0x14, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x4e, 0x4e, 0x00, 0x00,
        // inet_diag_msg: AF_INET6, TCP_LISTEN, timer, retransmits; sport 54521, dport 0
        0x0a, 0x0a, 0x00, 0x00, 0xd4, 0xf9, 0x00, 0x00,
        // source ::, destination ::
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        // interface 0, cookie
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        // expires, rqueue, wqueue 8 (backlog), uid 0, inode 82050
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x82, 0x40, 0x01, 0x00,
        // SHUTDOWN (8) 0, SKV6ONLY (11) 1, MARK (15) 0
        0x05, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x0b, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x08, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00,
        // CGROUP_ID (21), SOCKOPT (22)
        0x0c, 0x00, 0x15, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x16, 0x00,
        0x12, 0x00, 0x00, 0x00,
        // the second message: [::]:50709, inode 82051
        0x84, 0x00, 0x00, 0x00, 0x14, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x4e, 0x4e, 0x00, 0x00,
        0x0a, 0x0a, 0x00, 0x00, 0xc6, 0x15, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x83, 0x40, 0x01, 0x00,
        // SHUTDOWN 0, SKV6ONLY 0, MARK 0
        0x05, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x08, 0x00, 0x0f, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x0c, 0x00, 0x15, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00, 0x16, 0x00,
        0x12, 0x00, 0x00, 0x00,
        // NLMSG_DONE, code 0
        0x14, 0x00, 0x00, 0x00, 0x03, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x4e, 0x4e, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00,
    ];

    /// The first message of [`CAPTURED_DUMP`] (132 bytes) and its end.
    const FIRST_MESSAGE: std::ops::Range<usize> = 0..132;
    const DONE_MESSAGE: std::ops::Range<usize> = 264..284;

    #[test]
    fn a_captured_dump_gives_each_inode_its_flag() {
        let mut flags = BTreeMap::new();
        assert_eq!(read_diag_datagram(&CAPTURED_DUMP, &mut flags), Ok(true));
        assert_eq!(flags, BTreeMap::from([(82050, true), (82051, false)]));

        // A dump split over datagrams: not done until NLMSG_DONE arrives.
        let mut flags = BTreeMap::new();
        assert_eq!(
            read_diag_datagram(&CAPTURED_DUMP[FIRST_MESSAGE], &mut flags),
            Ok(false)
        );
        assert_eq!(
            read_diag_datagram(&CAPTURED_DUMP[DONE_MESSAGE], &mut flags),
            Ok(true)
        );
        assert_eq!(flags, BTreeMap::from([(82050, true)]));
    }

    #[test]
    fn a_socket_message_that_does_not_parse_leaves_only_that_socket_unknown() {
        let mut datagram = CAPTURED_DUMP;
        // The first message's SKV6ONLY attribute, 5 bytes long, made 4: an
        // empty value, which is no u8.
        datagram[96] = 0x04;
        let mut flags = BTreeMap::new();
        assert_eq!(read_diag_datagram(&datagram, &mut flags), Ok(true));
        assert_eq!(flags, BTreeMap::from([(82051, false)]));
    }

    #[test]
    fn error_replies_and_bad_lengths_are_errors() {
        // NLMSG_ERROR -ENOENT (no udp_diag), echoing the request's header.
        let mut error = vec![0x24, 0, 0, 0, 0x02, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        error.extend((-2i32).to_ne_bytes());
        error.extend(&diag_request(Transport::Udp)[..16]);
        let mut flags = BTreeMap::new();
        let refused = read_diag_datagram(&error, &mut flags);
        assert!(
            refused.as_ref().is_err_and(|e| e.contains("No such file")),
            "{refused:?}"
        );

        // NLMSG_DONE carrying an error (a dump that failed part way).
        let mut done = CAPTURED_DUMP[DONE_MESSAGE].to_vec();
        done[16..20].copy_from_slice(&(-12i32).to_ne_bytes());
        assert!(read_diag_datagram(&done, &mut flags).is_err());

        // A length field past the datagram's end.
        let mut cut = CAPTURED_DUMP[FIRST_MESSAGE].to_vec();
        cut.truncate(100);
        assert!(read_diag_datagram(&cut, &mut flags).is_err());
        assert!(flags.is_empty());
    }

    #[test]
    fn the_request_dumps_ipv6_tcp_listeners_and_all_udp_sockets() {
        let tcp = diag_request(Transport::Tcp);
        // nlmsghdr + inet_diag_req_v2.
        assert_eq!(tcp.len(), 16 + 56);
        assert_eq!(u32::from_ne_bytes([tcp[0], tcp[1], tcp[2], tcp[3]]), 72);
        // SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP.
        assert_eq!(u16::from_ne_bytes([tcp[4], tcp[5]]), 20);
        assert_eq!(u16::from_ne_bytes([tcp[6], tcp[7]]), 0x301);
        // AF_INET6, IPPROTO_TCP, no extension, states = 1 << TCP_LISTEN.
        assert_eq!(tcp[16..20], [10, 6, 0, 0]);
        assert_eq!(
            u32::from_ne_bytes([tcp[20], tcp[21], tcp[22], tcp[23]]),
            1 << 10
        );
        let udp = diag_request(Transport::Udp);
        assert_eq!(udp[16..20], [10, 17, 0, 0]);
        // Every state: unconnected (CLOSE) and connected (ESTABLISHED) alike.
        assert_eq!(
            u32::from_ne_bytes([udp[20], udp[21], udp[22], udp[23]]),
            0xffe
        );
    }

    fn socket(transport: Transport, address: &str, port: u16, inode: u64) -> Socket {
        Socket {
            transport,
            address: address.into(),
            port,
            inode,
            v6: address.contains(':'),
        }
    }

    #[test]
    fn kernel_answers_set_v6only_and_unknowns_are_noted() {
        let sockets = [
            socket(Transport::Tcp, "::", 2881, 1),
            socket(Transport::Tcp, "::", 2882, 2),
            socket(Transport::Tcp, "::", 2883, 3),
            socket(Transport::Tcp, "2001:db8::1", 2884, 4),
            socket(Transport::Tcp, "0.0.0.0", 2885, 5),
            socket(Transport::Udp, "::", 514, 6),
        ];
        let answers = [
            (
                Transport::Tcp,
                // 5 is an IPv4 socket: whatever is said of its inode, ignored.
                Ok(BTreeMap::from([
                    (1, true),
                    (2, false),
                    (4, true),
                    (5, true),
                ])),
            ),
            (
                Transport::Udp,
                Err("sock_diag netlink: Permission denied".into()),
            ),
        ];
        let (v6only, notes) = resolve_v6only(&sockets, &answers);
        assert_eq!(v6only, BTreeSet::from([1, 4]));
        assert_eq!(
            notes,
            [
                "the kernel did not say whether [::]:2883/tcp is v6only; taken as reachable \
                 over IPv4 too",
                "cannot ask the kernel which IPv6 udp sockets are v6only (sock_diag netlink: \
                 Permission denied); [::] udp sockets are taken as reachable over IPv4 too",
            ]
        );

        // Without netlink and without a [::] socket nothing is lost: no note.
        let (v6only, notes) = resolve_v6only(
            &sockets[3..5],
            &[(
                Transport::Tcp,
                Err("sock_diag netlink: Permission denied".into()),
            )],
        );
        assert!(v6only.is_empty() && notes.is_empty());
    }

    /// Real sockets on this host: `[::]` TCP listeners and UDP sockets with
    /// and without IPV6_V6ONLY, read back through `gather` (so through
    /// `/proc/net` and sock_diag).
    #[test]
    fn real_v6only_sockets_are_reported_v6only() {
        use socket2::{Domain, Protocol, Type};

        let bind = |transport: Transport, v6only: bool| {
            let (kind, protocol) = match transport {
                Transport::Tcp => (Type::STREAM, Protocol::TCP),
                Transport::Udp => (Type::DGRAM, Protocol::UDP),
            };
            let socket =
                socket2::Socket::new(Domain::IPV6, kind, Some(protocol)).expect("an IPv6 socket");
            socket.set_only_v6(v6only).expect("IPV6_V6ONLY");
            socket
                .bind(&std::net::SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)).into())
                .expect("bind [::]:0");
            if transport == Transport::Tcp {
                socket.listen(8).expect("listen");
            }
            let port = socket
                .local_addr()
                .ok()
                .and_then(|a| a.as_socket())
                .map(|a| a.port())
                .expect("a bound port");
            (socket, transport, port, v6only)
        };
        let sockets = [
            bind(Transport::Tcp, true),
            bind(Transport::Tcp, false),
            bind(Transport::Udp, true),
            bind(Transport::Udp, false),
        ];

        let facts = gather(Path::new("/proc"), Path::new("/etc")).expect("facts");
        for (_socket, transport, port, v6only) in &sockets {
            let listener = facts
                .observation
                .listeners
                .iter()
                .find(|l| l.transport == *transport && l.port == *port)
                .unwrap_or_else(|| panic!("[::]:{port}/{} not gathered", transport.as_str()));
            assert_eq!(listener.address, "::");
            assert_eq!(
                listener.v6only,
                *v6only,
                "[::]:{port}/{}",
                transport.as_str()
            );
            assert_eq!(listener.pid, Some(std::process::id()));
            let port = format!(":{port}/");
            assert!(
                !facts.notes.iter().any(|note| note.contains(&port)),
                "{:?}",
                facts.notes
            );
        }
        assert!(
            !facts.notes.iter().any(|note| note.contains("cannot ask")),
            "{:?}",
            facts.notes
        );
    }

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
                inode: 4242,
                v6: false,
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

/// The addresses of this machine (its network namespace): IPv4 from the
/// `/32 host LOCAL` entries of `/proc/net/fib_trie`, IPv6 from
/// `/proc/net/if_inet6`. The CLI finds the plan host it runs on by them.
pub fn local_addresses(proc_root: &Path) -> BTreeSet<IpAddr> {
    let mut out = BTreeSet::new();
    if let Ok(text) = fs::read_to_string(proc_root.join("net/fib_trie")) {
        out.extend(parse_fib_trie_local(&text));
    }
    if let Ok(text) = fs::read_to_string(proc_root.join("net/if_inet6")) {
        out.extend(
            text.lines()
                .filter_map(|line| line.split_whitespace().next())
                // Unlike /proc/net/tcp6, if_inet6 prints the address in network order.
                .filter_map(|hex| u128::from_str_radix(hex, 16).ok())
                .map(|bits| IpAddr::V6(Ipv6Addr::from(bits))),
        );
    }
    out
}

/// `|-- 198.18.2.11` followed by `/32 host LOCAL`: an address of this host.
fn parse_fib_trie_local(text: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(address) = line.strip_prefix("|-- ") {
            last = address.parse().ok();
        } else if line.starts_with("/32 host LOCAL")
            && let Some(address) = last
        {
            out.push(IpAddr::V4(address));
        }
    }
    out
}

#[cfg(test)]
mod local_tests {
    use super::*;

    #[test]
    fn local_ipv4_addresses_come_from_the_fib_trie() {
        let trie = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n           |-- 198.18.2.11\n              /32 host LOCAL\n        |-- 198.18.2.255\n           /32 link BROADCAST\n";
        assert_eq!(
            parse_fib_trie_local(trie),
            [IpAddr::V4(Ipv4Addr::new(198, 18, 2, 11))]
        );
    }
}
