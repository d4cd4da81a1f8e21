//! The records of the reachability probe: the Rust side of the WIT's
//! `probe-*`, `serve-status` and `truth-*` types.

use crate::list::List;
use crate::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::model::{Finding, Phase, Transport};

/// Who probes: a plan host, a machine standing for a client network, or a
/// stranger that no rule admits.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Decode, Encode,
)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeSource {
    /// A plan host, by name.
    Host(String),
    /// A client network of the plan, by name.
    Network(String),
    /// An address no plan host and no client network covers.
    Outsider,
}

/// What the plan says should happen when a source tries a port.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Decode, Encode,
)]
#[serde(rename_all = "kebab-case")]
pub enum Expectation {
    /// The plan admits the source: a connection must get through.
    Allow,
    /// The plan does not admit the source: a connection must not.
    Deny,
}

/// One port a host answers on while it is probed.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Decode, Encode,
)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ListenPort {
    /// Spec id.
    pub spec: String,
    /// The port (one port of a pool: pools are sampled).
    pub port: u16,
    /// tcp or udp.
    pub transport: Transport,
}

/// One connection a source must try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ProbeTarget {
    /// The destination plan host.
    pub destination: String,
    /// Its address, as the plan writes it.
    pub address: String,
    /// Spec id.
    pub spec: String,
    /// The port.
    pub port: u16,
    /// tcp or udp.
    pub transport: Transport,
    /// Allow or deny.
    pub expect: Expectation,
    /// Why: which accessor or network admits the source, or that none does.
    pub why: String,
}

/// What one source must do: answer on its own ports and try its targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ProbePlan {
    /// Plan name.
    pub plan: String,
    /// Who probes.
    pub source: ProbeSource,
    /// Before install (responders answer) or after (the real services do).
    pub phase: Phase,
    /// The ports a host source answers on before install (empty otherwise).
    pub listen: Vec<ListenPort>,
    /// Every connection to try, allow first, by destination then port.
    pub targets: Vec<ProbeTarget>,
    /// How pools and ranges were sampled, one sentence each.
    pub sampling: Vec<String>,
}

/// How one attempt ended, as the probing socket saw it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Decode, Encode,
)]
#[serde(rename_all = "kebab-case")]
pub enum ProbeOutcome {
    /// Connected (TCP) or answered (UDP); before install, with the right token.
    Connected,
    /// Something answered, but not portplan's responder for this plan, host
    /// and port: another service holds the port, or another host answered.
    WrongResponder,
    /// No answer within the timeout: dropped on the path or by the
    /// destination's firewall.
    Timeout,
    /// Refused (TCP RST, ICMP port unreachable): nothing answering, or a REJECT.
    Refused,
    /// ICMP host/network unreachable or administratively prohibited: routing,
    /// or a REJECT with an ICMP host error.
    Unreachable,
    /// The attempt failed locally (no route, no address of the family, ...).
    Error,
}

/// The result of one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ProbeResult {
    /// The destination plan host.
    pub destination: String,
    /// Spec id.
    pub spec: String,
    /// The port.
    pub port: u16,
    /// tcp or udp.
    pub transport: Transport,
    /// How it ended.
    pub outcome: ProbeOutcome,
    /// The socket's own words (error text, the token read).
    pub detail: String,
    /// How long the attempt took.
    pub elapsed_ms: u32,
}

/// Everything one source measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ProbeResults {
    /// Plan name.
    pub plan: String,
    /// Who probed.
    pub source: ProbeSource,
    /// The phase probed in.
    pub phase: Phase,
    /// One per target tried.
    pub results: Vec<ProbeResult>,
}

/// What a host's responder did: the ports it answered on and the ones it
/// found held by another process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ServeStatus {
    /// Plan name.
    pub plan: String,
    /// The plan host that served.
    pub host: String,
    /// Bound and answering.
    pub listening: Vec<ListenPort>,
    /// Already held by another process: not bound.
    pub held: Vec<ListenPort>,
}

/// Expected against measured, for one row.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Decode, Encode,
)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Measured as the plan expects.
    AsExpected,
    /// Measured otherwise: a finding says what it means.
    Mismatch,
    /// Not measurable: never probed, or the port was held before install.
    Unknown,
}

/// One (source, destination, port) of the truth table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TruthRow {
    /// Who probed.
    pub source: ProbeSource,
    /// The destination plan host.
    pub destination: String,
    /// Spec id.
    pub spec: String,
    /// The port.
    pub port: u16,
    /// tcp or udp.
    pub transport: Transport,
    /// What the plan says.
    pub expect: Expectation,
    /// What was measured; none when the target was never probed.
    pub outcome: Option<ProbeOutcome>,
    /// The two compared.
    pub verdict: Verdict,
    /// The probe's detail, or why the row is unknown.
    pub detail: String,
}

/// Counts of a truth table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TruthSummary {
    /// Rows.
    pub rows: u32,
    /// Rows as expected.
    pub as_expected: u32,
    /// Rows that differ.
    pub mismatches: u32,
    /// Rows not measured.
    pub unknown: u32,
}

/// The plan's access matrix, expected against measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Decode, Encode)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TruthTable {
    /// Plan name.
    pub plan: String,
    /// The phase probed in.
    pub phase: Phase,
    /// Counts.
    pub summary: TruthSummary,
    /// Every row, by source, destination, port, transport.
    pub rows: Vec<TruthRow>,
    /// `unreachable` and `overexposed`, one per mismatching row.
    pub findings: Vec<Finding>,
}

impl ProbeSource {
    /// The source as the truth table and its messages name it: `host obs1`,
    /// `network application`, `an outsider`.
    pub fn label(&self) -> String {
        match self {
            ProbeSource::Host(name) => format!("host {name}"),
            ProbeSource::Network(name) => format!("network {name}"),
            ProbeSource::Outsider => "an outsider".into(),
        }
    }
}

impl TruthTable {
    /// Rows of a source that sent results, measured nothing: no result for
    /// the target, or the attempt failed on the source itself. A port held
    /// by another process before install is unknown too, but explained
    /// (probing again after install measures it); so are the rows of a
    /// source that sent nothing ([`TruthTable::unprobed_sources`]).
    pub fn unmeasured(&self) -> u32 {
        let unmeasured = |r: &&TruthRow| {
            r.verdict == Verdict::Unknown
                && r.outcome.is_none_or(|o| o == ProbeOutcome::Error)
                && r.detail != NO_RESULTS
        };
        self.rows.iter().filter(unmeasured).count() as u32
    }

    /// The plan's sources that sent no results at all: what they may reach
    /// is not measured (their rows say so), which a round may leave out (no
    /// machine of a client network, no outsider at hand), but never silently.
    pub fn unprobed_sources(&self) -> Vec<&ProbeSource> {
        let mut sources: Vec<&ProbeSource> = self
            .rows
            .iter()
            .filter(|r| r.detail == NO_RESULTS)
            .map(|r| &r.source)
            .list();
        sources.dedup();
        sources
    }

    /// Whether the table proves the plan's matrix for the sources probed:
    /// no mismatch, and every row of theirs measured (a held port aside).
    /// What the CLI's exit status and the Ansible step's `failed` say.
    pub fn proven(&self) -> bool {
        self.summary.mismatches == 0 && self.unmeasured() == 0
    }
}

/// The detail of a row whose source sent no results.
pub(crate) const NO_RESULTS: &str = "not probed: no results from this source";
