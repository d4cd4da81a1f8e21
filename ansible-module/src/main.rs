//! `portplan`: print the catalog and validate plans from the command line, and
//! serve as the Ansible module.
//!
//! A thin shell over portplan-core: it reads the plan file, calls the core and
//! prints what the core renders. Exit status: 0 when the report has no error
//! finding, 1 when it has, 2 when the input is rejected (bad plan, unreadable
//! file, bad arguments).
//!
//! Run with one argument that is not a subcommand or flag, as Ansible runs a
//! binary module (`portplan /path/to/args`), it speaks the module protocol
//! instead (see [`module`]).

#![forbid(unsafe_code)]

mod module;
mod plan_input;
mod reach;

/// The static binaries' allocator. musl's own malloc (mallocng) costs several
/// times glibc's on the many small allocations of reading and checking a
/// large plan: the module's run with a 5,000-host plan took 47 ms against
/// 34 ms with glibc (BENCHMARKS.md). dlmalloc (the Rust port std itself uses
/// on WebAssembly) is glibc's malloc's ancestor, in Rust, so the static
/// aarch64 build still needs no C cross toolchain. It takes one lock per
/// call: the module is all but single-threaded, and std's fork-exec path
/// allocates nothing between fork and exec.
#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use portplan_core::shell;
use portplan_core::{Phase, PlanError, ReportFormat};
use portplan_run::{FirewallChoice, Task};

#[derive(Parser)]
#[command(
    name = "portplan",
    version,
    about = "Plan, check and open the network ports of multi-component products"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the built-in catalog, or one profile of it.
    Catalog {
        /// Profile name, e.g. `ocp`; all profiles when omitted.
        profile: Option<String>,
        #[arg(long, value_enum, default_value_t = CatalogFormat::Table)]
        format: CatalogFormat,
    },
    /// Validate a plan: port tables, findings and desired firewall rules.
    Validate {
        /// Plan file (JSON or YAML); `-` reads standard input.
        plan: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Check this host against the plan: ports, users, and whether the
    /// firewall is as planned (drift). Changes nothing. Exit 0 pass, 1 error
    /// findings or drift, 2 bad input.
    Check {
        #[command(flatten)]
        host: HostOptions,
        /// Before install (ports must be free) or after (they must listen).
        #[arg(long, value_enum, default_value_t = PhaseArg::Preinstall)]
        phase: PhaseArg,
        /// After install: retry for up to SECONDS until every planned port
        /// listens (the services may still be starting).
        #[arg(long, value_name = "SECONDS", default_value_t = 0)]
        wait: u64,
    },
    /// Open this host's planned ports to exactly the hosts that need them
    /// (the Ansible module's `state: present`).
    Open {
        #[command(flatten)]
        host: HostOptions,
        #[command(flatten)]
        change: ChangeOptions,
    },
    /// Remove every rule portplan added on this host (`state: absent`).
    Close {
        #[command(flatten)]
        host: HostOptions,
        #[command(flatten)]
        change: ChangeOptions,
    },
    /// Measure who can reach whom: answer, probe, and compare with the plan.
    Reach {
        #[command(subcommand)]
        action: ReachCommand,
    },
}

#[derive(Subcommand)]
enum ReachCommand {
    /// Answer on each of this host's planned ports that is free (a token
    /// naming plan, host and port), skip held ones, print one JSON line when
    /// ready, and exit after SECONDS or on SIGTERM. Never touches the firewall.
    Serve {
        /// Plan file (JSON or YAML).
        plan: PathBuf,
        /// The plan host this machine is.
        #[arg(long)]
        host: String,
        /// How long to answer.
        #[arg(long = "for", value_name = "SECONDS", default_value_t = 120)]
        seconds: u64,
    },
    /// Try every connection this source must (allow) or must not (deny)
    /// make, concurrently, and print the results as JSON.
    Probe {
        /// Plan file (JSON or YAML).
        plan: PathBuf,
        /// Probe as this plan host (bound to its plan address).
        #[arg(long, conflicts_with_all = ["network", "outsider"], required_unless_present_any = ["network", "outsider"])]
        host: Option<String>,
        /// Probe as a machine of this client network of the plan.
        #[arg(long, conflicts_with = "outsider")]
        network: Option<String>,
        /// Probe as a stranger that no rule admits.
        #[arg(long)]
        outsider: bool,
        /// Before install (responders answer, tokens checked) or after (the
        /// real services answer).
        #[arg(long, value_enum, default_value_t = PhaseArg::Preinstall)]
        phase: PhaseArg,
        /// Give up on one attempt after MS milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 1000)]
        timeout: u64,
        /// Print what would be tried (core's probe plan: targets, expected
        /// allow or deny, the pool samples) and connect to nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// The truth table: expected against measured, from the JSON that
    /// `serve` and `probe` printed. Exit 0 as expected, 1 a mismatch, 2 bad input.
    Report {
        /// Plan file (JSON or YAML).
        plan: PathBuf,
        /// Files holding `serve` and `probe` output.
        #[arg(required = true)]
        results: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(clap::Args)]
struct HostOptions {
    /// Plan file (JSON or YAML).
    plan: PathBuf,
    /// The plan host this machine is; found by its addresses when omitted.
    #[arg(long)]
    host: Option<String>,
    #[arg(long, value_enum, default_value_t = FirewallArg::Auto)]
    firewall: FirewallArg,
    /// firewalld: put portplan's rules in this zone instead of the zone
    /// serving the host's interface (an unknown zone is refused).
    #[arg(long)]
    zone: Option<String>,
    #[arg(long, value_enum, default_value_t = CatalogFormat::Table)]
    format: CatalogFormat,
    /// Fail on warning findings too.
    #[arg(long)]
    strict: bool,
}

#[derive(clap::Args)]
struct ChangeOptions {
    /// Print the exact commands and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Save the firewall where the distribution loads it at boot.
    #[arg(long)]
    persist: bool,
    /// With --persist: keep a copy of every file it replaces.
    #[arg(long)]
    backup: bool,
    /// Reserve the planned fixed ports inside the ephemeral port range, at
    /// runtime and in /etc/sysctl.d/99-portplan.conf (close removes the file).
    #[arg(long)]
    reserve_ports: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum PhaseArg {
    Preinstall,
    Postinstall,
}

#[derive(Clone, Copy, ValueEnum)]
enum FirewallArg {
    Auto,
    Firewalld,
    Ufw,
    Nftables,
    Iptables,
    None,
}

#[derive(Clone, Copy, ValueEnum)]
enum CatalogFormat {
    Table,
    Json,
}

/// `markdown` and `csv` give the network team's request sheet.
#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Markdown,
    Csv,
}

impl From<Format> for ReportFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Table => ReportFormat::Table,
            Format::Json => ReportFormat::Json,
            Format::Markdown => ReportFormat::Markdown,
            Format::Csv => ReportFormat::Csv,
        }
    }
}

const EXIT_FINDINGS: u8 = 1;
const EXIT_BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // Ansible runs a binary module with one argument, its args file; anything
    // else is a command line (clap answers a typo with usage and exit 2).
    if let [_, only] = args.as_slice()
        && let Some(args) = module::args_file(&PathBuf::from(only))
    {
        return module::main(args);
    }
    match Cli::parse().command {
        Command::Catalog { profile, format } => catalog(profile.as_deref(), format),
        Command::Validate { plan, format } => validate(&plan, format),
        Command::Check { host, phase, wait } => {
            host_command(Task::Checked, host, phase, wait, None)
        }
        Command::Open { host, change } => {
            host_command(Task::Present, host, PhaseArg::Preinstall, 0, Some(change))
        }
        Command::Close { host, change } => {
            host_command(Task::Absent, host, PhaseArg::Preinstall, 0, Some(change))
        }
        Command::Reach { action } => reach_command(action),
    }
}

fn reach_command(action: ReachCommand) -> ExitCode {
    match action {
        ReachCommand::Serve {
            plan,
            host,
            seconds,
        } => reach::serve(&plan, &host, seconds),
        ReachCommand::Probe {
            plan,
            host,
            network,
            outsider: _,
            phase,
            timeout,
            dry_run,
        } => {
            let source = match (host, network) {
                (Some(host), _) => portplan_core::ProbeSource::Host(host),
                (None, Some(network)) => portplan_core::ProbeSource::Network(network),
                (None, None) => portplan_core::ProbeSource::Outsider,
            };
            reach::probe(
                &plan,
                source,
                phase.into(),
                std::time::Duration::from_millis(timeout),
                dry_run,
            )
        }
        ReachCommand::Report {
            plan,
            results,
            format,
        } => reach::report(&plan, &results, format.into()),
    }
}

impl From<PhaseArg> for Phase {
    fn from(phase: PhaseArg) -> Self {
        match phase {
            PhaseArg::Preinstall => Phase::Preinstall,
            PhaseArg::Postinstall => Phase::Postinstall,
        }
    }
}

fn host_command(
    task: Task,
    host: HostOptions,
    phase: PhaseArg,
    wait: u64,
    change: Option<ChangeOptions>,
) -> ExitCode {
    let change = change.unwrap_or(ChangeOptions {
        dry_run: false,
        persist: false,
        backup: false,
        reserve_ports: false,
    });
    module::cli::run(
        task,
        &module::cli::HostArgs {
            plan: host.plan,
            host: host.host,
            phase: phase.into(),
            firewall: match host.firewall {
                FirewallArg::Auto => FirewallChoice::Auto,
                FirewallArg::Firewalld => FirewallChoice::Firewalld,
                FirewallArg::Ufw => FirewallChoice::Ufw,
                FirewallArg::Nftables => FirewallChoice::Nftables,
                FirewallArg::Iptables => FirewallChoice::Iptables,
                FirewallArg::None => FirewallChoice::None,
            },
            json: matches!(host.format, CatalogFormat::Json),
            dry_run: change.dry_run,
            persist: change.persist,
            backup: change.backup,
            strict: host.strict,
            wait,
            zone: host.zone,
            reserve_ports: change.reserve_ports,
        },
    )
}

fn catalog(name: Option<&str>, format: CatalogFormat) -> ExitCode {
    let profiles = match name {
        None => portplan_core::catalog(),
        Some(name) => match portplan_core::get_profile(name) {
            Ok(profile) => vec![profile],
            Err(error) => return rejected(&error),
        },
    };
    let text = match (format, name) {
        (CatalogFormat::Json, None) => shell::render_json(&profiles),
        (CatalogFormat::Json, Some(_)) => shell::render_json(&profiles[0]),
        (CatalogFormat::Table, None) => shell::render_catalog(&profiles),
        (CatalogFormat::Table, Some(_)) => shell::render_profile(&profiles[0]),
    };
    print!("{text}");
    ExitCode::SUCCESS
}

fn validate(path: &PathBuf, format: Format) -> ExitCode {
    let text = match read(path) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("portplan: cannot read {}: {error}", path.display());
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let label = path.display().to_string();
    let report = match plan_input::read_plan_text(&label, &text).and_then(|plan| {
        portplan_core::validate_plan(&plan).map_err(|e| plan_input::with_lines(&label, &text, e))
    }) {
        Ok(report) => report,
        Err(error) => {
            if matches!(format, Format::Json) {
                print!(
                    "{}",
                    portplan_core::render_plan_error(&error, ReportFormat::Json)
                );
            }
            return rejected(&error);
        }
    };
    print!("{}", portplan_core::render_report(&report, format.into()));
    if report.summary.errors > 0 {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    }
}

fn read(path: &PathBuf) -> std::io::Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
    }
}

fn rejected(error: &PlanError) -> ExitCode {
    for line in error.to_string().lines() {
        eprintln!("portplan: {line}");
    }
    ExitCode::from(EXIT_BAD_INPUT)
}
