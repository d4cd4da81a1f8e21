//! `portplan reach probe`: try every target of one source, concurrently, and
//! say how each attempt ended.
//!
//! A host source binds each socket to its plan address first, so the
//! destination sees the address the plan (and the firewall rules) name. The
//! classification is the socket's: a timeout is a drop somewhere, a refusal
//! an RST (or ICMP port unreachable), an ICMP host error a route or a REJECT
//! with one; before install a connection counts only when the responder's
//! token names this plan, host and port.

use std::io::{ErrorKind, Read as _};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use portplan_core::{
    Phase, Plan, PlanError, ProbeOutcome, ProbeResult, ProbeResults, ProbeSource, ProbeTarget,
    Transport,
};
use socket2::{Domain, SockAddr, Socket, Type};

use super::{EXIT_BAD_INPUT, TOKEN_LIMIT, load_plan, rejected, token};

/// At most this many attempts at once: enough that 30 targets of which 10
/// time out finish in about one timeout, few enough for any host.
const PARALLEL: usize = 64;

/// Probe from `source` and print the results as JSON (the probe plan with
/// `dry_run`).
pub fn probe(
    plan_path: &Path,
    source: ProbeSource,
    phase: Phase,
    timeout: Duration,
    dry_run: bool,
) -> ExitCode {
    let plan = match load_plan(plan_path) {
        Ok(plan) => plan,
        Err(code) => return code,
    };
    if dry_run {
        return match portplan_core::probe_plan(&plan, &source, phase) {
            Ok(probes) => {
                print!("{}", portplan_core::shell::render_json(&probes));
                ExitCode::SUCCESS
            }
            Err(error) => rejected(&error),
        };
    }
    match measure(&plan, source, phase, timeout) {
        Ok(results) => {
            print!("{}", portplan_core::shell::render_json(&results));
            ExitCode::SUCCESS
        }
        Err(Refused::Plan(error)) => rejected(&error),
        Err(Refused::NotHere(message)) => {
            eprintln!("portplan: {message}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

/// Why a probe did not run.
pub enum Refused {
    /// The plan or the source is not valid.
    Plan(PlanError),
    /// The source's plan address is not this machine's.
    NotHere(String),
}

/// Try every target of `source` and return what happened to each.
pub fn measure(
    plan: &Plan,
    source: ProbeSource,
    phase: Phase,
    timeout: Duration,
) -> Result<ProbeResults, Refused> {
    let probes = portplan_core::probe_plan(plan, &source, phase).map_err(Refused::Plan)?;
    let bind_to = match &source {
        ProbeSource::Host(name) => plan
            .hosts
            .iter()
            .find(|h| &h.name == name)
            .and_then(|h| h.address.parse::<IpAddr>().ok()),
        _ => None,
    };
    if let Some(address) = bind_to
        && let Err(error) = UdpSocket::bind((address, 0))
    {
        return Err(Refused::NotHere(format!(
            "the plan address {address} of this source is not an address of this machine ({error}); probe on the host itself"
        )));
    }
    let attempt = Attempt {
        plan: &plan.name,
        phase,
        timeout,
        bind_to,
    };
    Ok(ProbeResults {
        plan: plan.name.clone(),
        results: run_all(&probes.targets, &attempt),
        source,
        phase,
    })
}

struct Attempt<'a> {
    plan: &'a str,
    phase: Phase,
    timeout: Duration,
    bind_to: Option<IpAddr>,
}

/// Every target, [`PARALLEL`] at a time, results in target order.
fn run_all(targets: &[ProbeTarget], attempt: &Attempt) -> Vec<ProbeResult> {
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<ProbeResult>>> = targets.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL.min(targets.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(target) = targets.get(i) else { break };
                    let result = attempt.try_target(target);
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(result);
                    }
                }
            });
        }
    });
    slots
        .into_iter()
        .filter_map(|slot| slot.into_inner().ok().flatten())
        .collect()
}

impl Attempt<'_> {
    fn try_target(&self, target: &ProbeTarget) -> ProbeResult {
        let started = Instant::now();
        let (outcome, detail) = match target.address.parse::<IpAddr>() {
            Err(_) => (
                ProbeOutcome::Error,
                format!("not an address: {}", target.address),
            ),
            Ok(ip) => {
                let at = SocketAddr::new(ip, target.port);
                let expected = token(
                    self.plan,
                    &target.destination,
                    target.port,
                    target.transport,
                );
                match target.transport {
                    Transport::Tcp => self.tcp(at, &expected),
                    Transport::Udp => self.udp(at, &expected),
                }
            }
        };
        ProbeResult {
            destination: target.destination.clone(),
            spec: target.spec.clone(),
            port: target.port,
            transport: target.transport,
            outcome,
            detail,
            elapsed_ms: u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX),
        }
    }

    fn socket(&self, at: SocketAddr, kind: Type) -> std::io::Result<Socket> {
        let socket = Socket::new(Domain::for_address(at), kind, None)?;
        if let Some(local) = self.bind_to {
            socket.bind(&SockAddr::from(SocketAddr::new(local, 0)))?;
        }
        Ok(socket)
    }

    fn tcp(&self, at: SocketAddr, expected: &str) -> (ProbeOutcome, String) {
        let socket = match self.socket(at, Type::STREAM) {
            Ok(socket) => socket,
            Err(error) => return (ProbeOutcome::Error, error.to_string()),
        };
        let started = Instant::now();
        if let Err(error) = socket.connect_timeout(&SockAddr::from(at), self.timeout) {
            return classify(&error);
        }
        if self.phase == Phase::Postinstall {
            return (ProbeOutcome::Connected, "connected".into());
        }
        let mut stream: TcpStream = socket.into();
        let left = self
            .timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(100));
        let _ = stream.set_read_timeout(Some(left));
        let mut answer = Vec::new();
        let _ = (&mut stream)
            .take(TOKEN_LIMIT as u64)
            .read_to_end(&mut answer);
        judge_token(&answer, expected)
    }

    fn udp(&self, at: SocketAddr, expected: &str) -> (ProbeOutcome, String) {
        let socket = match self.socket(at, Type::DGRAM) {
            Ok(socket) => socket,
            Err(error) => return (ProbeOutcome::Error, error.to_string()),
        };
        let socket: UdpSocket = socket.into();
        if let Err(error) = socket
            .connect(at)
            .and_then(|()| socket.send(b"portplan-reach?\n"))
        {
            return classify(&error);
        }
        let _ = socket.set_read_timeout(Some(self.timeout));
        let mut answer = vec![0u8; TOKEN_LIMIT];
        match socket.recv(&mut answer) {
            Ok(n) if self.phase == Phase::Postinstall => {
                (ProbeOutcome::Connected, format!("{n} bytes answered"))
            }
            Ok(n) => judge_token(&answer[..n], expected),
            Err(error) => classify(&error),
        }
    }
}

fn judge_token(answer: &[u8], expected: &str) -> (ProbeOutcome, String) {
    let text = String::from_utf8_lossy(answer);
    if text == expected {
        (ProbeOutcome::Connected, expected.trim_end().to_string())
    } else if text.is_empty() {
        (
            ProbeOutcome::WrongResponder,
            "connected, but nothing answered with portplan's token".into(),
        )
    } else {
        (
            ProbeOutcome::WrongResponder,
            format!(
                "answered: {}",
                portplan_core::shell::escape(text.trim_end())
            ),
        )
    }
}

/// The kernel's verdict on a failed attempt.
fn classify(error: &std::io::Error) -> (ProbeOutcome, String) {
    let outcome = match error.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => ProbeOutcome::Timeout,
        ErrorKind::ConnectionRefused => ProbeOutcome::Refused,
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => ProbeOutcome::Unreachable,
        _ => ProbeOutcome::Error,
    };
    (outcome, error.to_string())
}
