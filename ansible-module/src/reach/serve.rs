//! `portplan reach serve`: answer on each of a host's planned ports that is
//! free, for a while.
//!
//! It binds only the ports core's probe plan lists, on the host's plan
//! address, and never touches the firewall. A TCP connection gets the token
//! and is closed without reading; a UDP datagram (read up to 64 bytes) gets
//! the token back. A port another process holds is skipped and reported.
//! Everything it opened is closed when it returns: on the deadline or on
//! SIGTERM/SIGINT.

use std::io::{ErrorKind, Write as _};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use portplan_core::{ListenPort, Phase, ProbeSource, ServeStatus, Transport};

use super::{EXIT_BAD_INPUT, load_plan, rejected, token};

/// How often the accept loop looks at its sockets. A few milliseconds of
/// latency for a probe; no busy loop.
const TICK: Duration = Duration::from_millis(5);

/// The biggest UDP datagram read: a probe sends a few bytes.
const DATAGRAM: usize = 64;

enum Socket {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

struct Responder {
    socket: Socket,
    token: String,
}

/// Serve `host`'s planned ports for `seconds`.
pub fn serve(plan_path: &Path, host: &str, seconds: u64) -> ExitCode {
    let plan = match load_plan(plan_path) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    let source = ProbeSource::Host(host.to_string());
    let probes = match portplan_core::probe_plan(&plan, &source, Phase::Preinstall) {
        Ok(probes) => probes,
        Err(error) => return rejected(&error),
    };
    let Some(address) = host_address(&plan, host) else {
        return rejected_address(host, "");
    };
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(error) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
            eprintln!("portplan: cannot handle signal {signal}: {error}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    }
    let mut status = ServeStatus {
        plan: plan.name.clone(),
        host: host.to_string(),
        listening: Vec::new(),
        held: Vec::new(),
    };
    let mut responders = Vec::new();
    for port in probes.listen {
        match bind(address, &port) {
            Ok(socket) => {
                responders.push(Responder {
                    socket,
                    token: token(&plan.name, host, port.port, port.transport),
                });
                status.listening.push(port);
            }
            Err(error) if error.kind() == ErrorKind::AddrInUse => status.held.push(port),
            Err(error) if error.kind() == ErrorKind::AddrNotAvailable => {
                return rejected_address(host, &address.to_string());
            }
            Err(error) => {
                eprintln!(
                    "portplan: cannot bind {}/{} on {address}: {error}",
                    port.port,
                    port.transport.as_str()
                );
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        }
    }
    println!("{}", compact(&status));
    let _ = std::io::stdout().flush();
    answer(
        &responders,
        Instant::now() + Duration::from_secs(seconds),
        &stop,
    );
    ExitCode::SUCCESS
}

fn compact<T: serde::Serialize>(value: &T) -> String {
    // Plain data: serialising cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

fn host_address(plan: &portplan_core::Plan, host: &str) -> Option<IpAddr> {
    let text = &plan.hosts.iter().find(|h| h.name == host)?.address;
    text.parse().ok()
}

fn rejected_address(host: &str, address: &str) -> ExitCode {
    eprintln!(
        "portplan: host {host}: its plan address {address} is not an address of this machine; run serve on the host itself"
    );
    ExitCode::from(EXIT_BAD_INPUT)
}

fn bind(address: IpAddr, port: &ListenPort) -> std::io::Result<Socket> {
    let at = SocketAddr::new(address, port.port);
    Ok(match port.transport {
        Transport::Tcp => {
            let listener = TcpListener::bind(at)?;
            listener.set_nonblocking(true)?;
            Socket::Tcp(listener)
        }
        Transport::Udp => {
            let socket = UdpSocket::bind(at)?;
            socket.set_nonblocking(true)?;
            Socket::Udp(socket)
        }
    })
}

/// Answer until `deadline` or a signal.
fn answer(responders: &[Responder], deadline: Instant, stop: &AtomicBool) {
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        for responder in responders {
            match &responder.socket {
                Socket::Tcp(listener) => {
                    while let Ok((stream, _)) = listener.accept() {
                        reply_tcp(stream, &responder.token);
                    }
                }
                Socket::Udp(socket) => {
                    let mut buf = [0u8; DATAGRAM];
                    while let Ok((_, from)) = socket.recv_from(&mut buf) {
                        let _ = socket.send_to(responder.token.as_bytes(), from);
                    }
                }
            }
        }
        std::thread::sleep(TICK);
    }
}

/// Write the token and close; a peer that never reads cannot hold us up.
fn reply_tcp(stream: TcpStream, token: &str) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_millis(200)));
    let mut stream = stream;
    let _ = stream.write_all(token.as_bytes());
    let _ = stream.shutdown(std::net::Shutdown::Both);
}
