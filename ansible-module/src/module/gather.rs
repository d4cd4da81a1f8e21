//! Gathering: every read of a run, done once. Host facts from `/proc`, what
//! the firewall tools say for the backend choice, and the chosen backend's
//! output, reusing what detection already read (`auto` never reads the same
//! ruleset twice). The choice itself is `portplan_run::choose`, pure.

use std::path::Path;

use portplan_core::{FirewallBackend, FirewallOutput, FirewallState, PlanHost, shell};
use portplan_run::{Choice, Detected, FirewallChoice, RunError};

use super::args::Params;
use super::execute::{find_program, run_argv};
use super::facts::{self, Facts};
use super::firewalld;
use super::ufw;

/// What a run read on the host before deciding anything.
pub struct Gathered {
    /// `/proc` facts; its observation gets the firewall's open ports.
    pub facts: Facts,
    /// What detection read.
    pub detected: Detected,
    /// The backend, and why.
    pub choice: Choice,
    /// Why the firewall is not used, when `checked` goes on without it.
    pub warning: Option<String>,
    /// firewalld: the zone serving the host.
    pub zone: Option<String>,
    /// The backend's output and the state core read from it (none: `none`).
    pub firewall: Option<(FirewallOutput, FirewallState)>,
    /// ufw: where its files are, for the batch, or why it runs per rule.
    pub ufw: Option<Result<ufw::Layout, String>>,
    /// What the run did before reading (a killed batch's chains reloaded).
    pub notes: Vec<String>,
}

/// Read everything a run needs, in order: facts, detection, then the chosen
/// backend's state.
pub fn gather(params: &Params) -> Result<Gathered, RunError> {
    let facts = facts::gather(Path::new("/proc"), Path::new("/etc"))?;
    let detected = detect(params.firewall, &facts);
    let (mut choice, warning) =
        portplan_run::choose(params.firewall, &detected, params.ufw_enable, params.state)?;
    let zone = if let Some(asked) = &params.zone {
        // Asked only of firewalld: another backend is refused without it.
        let zones = match choice.backend {
            FirewallBackend::Firewalld => Some(firewalld_ask(
                |bus| bus.zones(),
                &["firewall-cmd", "--get-zones"],
            )?),
            _ => None,
        };
        let why =
            portplan_run::asked_zone(asked, choice.backend, &choice.reason, zones.as_deref())?;
        choice.reason = format!("{}; {why}", choice.reason);
        Some(asked.clone())
    } else if choice.backend == FirewallBackend::Firewalld {
        let host = params.plan.hosts.iter().find(|h| h.name == params.host);
        let (zone, why) = firewalld_zone(host)?;
        choice.reason = format!("{}; {why}", choice.reason);
        Some(zone)
    } else {
        None
    };
    if choice.backend == FirewallBackend::Firewalld {
        choice.reason = match (firewalld::bus()?, firewalld::cli_reason()) {
            (Some(bus), _) => format!(
                "{}; driven over D-Bus (firewalld {})",
                choice.reason, bus.version
            ),
            (None, why) => format!(
                "{}; driven through firewall-cmd ({})",
                choice.reason,
                why.unwrap_or("D-Bus not used")
            ),
        };
    }
    let mut notes = Vec::new();
    let ufw = (choice.backend == FirewallBackend::Ufw).then(|| {
        let layout = ufw::layout();
        choice.reason = match &layout {
            Ok(found) => format!(
                "{}; changes written to ufw's rules files and loaded with iptables-restore -n (ufw {})",
                choice.reason, found.version
            ),
            Err(why) => format!("{}; changes made by running ufw per rule ({why})", choice.reason),
        };
        layout
    });
    // A run that may change the firewall first finishes what a killed one
    // left: chains reloaded from the files. A check changes nothing.
    if let Some(Ok(layout)) = &ufw
        && params.state != portplan_run::Task::Checked
        && !params.check_mode
    {
        notes.extend(ufw::recover(layout).map_err(RunError::Host)?);
    }
    let firewall = match choice.backend {
        FirewallBackend::None => None,
        backend => {
            let output = output(backend, zone.as_deref(), &detected)?;
            let state = read(backend, &output)?;
            Some((output, state))
        }
    };
    Ok(Gathered {
        facts,
        detected,
        choice,
        warning,
        zone,
        firewall,
        ufw,
        notes,
    })
}

/// What the choice needs: for `auto` everything, else only the asked tool.
fn detect(choice: FirewallChoice, facts: &Facts) -> Detected {
    let auto = choice == FirewallChoice::Auto;
    let read_if = |wanted: bool, program: &str, argv: &[&str]| {
        (wanted && find_program(program).is_some()).then(|| run_argv(argv))
    };
    let ask_firewalld =
        choice == FirewallChoice::Firewalld || (auto && facts.firewalld_pid.is_some());
    Detected {
        firewalld_pid: facts.firewalld_pid,
        // The bus is asked only when firewalld is: other backends' runs
        // never connect to it.
        firewalld_state: if !ask_firewalld {
            None
        } else {
            match firewalld::bus() {
                Ok(Some(bus)) => Some(bus.state()),
                Ok(None) => read_if(true, "firewall-cmd", &["firewall-cmd", "--state"])
                    .map(|answer| answer.map(|state| state.trim().to_string())),
                Err(e) => Some(Err(e)),
            }
        },
        ufw_installed: find_program("ufw").is_some(),
        ufw_enabled: facts.ufw_enabled,
        nft: read_if(
            auto || choice == FirewallChoice::Nftables,
            "nft",
            &["nft", "-j", "list", "ruleset"],
        ),
        iptables_save: read_if(
            auto || choice == FirewallChoice::Iptables,
            "iptables-save",
            &["iptables-save"],
        ),
        iptables_installed: find_program("iptables").is_some(),
    }
}

/// Whether a failed `firewall-cmd --get-zone-of-interface` said the
/// interface is bound to no zone: exit status 2 and `no zone` alone
/// (firewall-cmd's `cmd.fail("no zone")`), as [`run_argv`] words it.
fn says_no_zone(error: &str) -> bool {
    error.ends_with("exited with exit status: 2: no zone")
}

/// The zone firewalld filters the host's traffic in, and why: the zone bound
/// to the interface that carries the host's address, else the default zone.
fn firewalld_zone(host: Option<&PlanHost>) -> Result<(String, String), RunError> {
    let device = host
        .and_then(|h| h.address.parse().ok())
        .and_then(|address| facts::device_of(Path::new("/proc"), address));
    if let Some(device) = &device {
        // Exit status 2 and `no zone` when the interface is bound to none.
        let asked = format!("--get-zone-of-interface={device}");
        // Over D-Bus the answer for an interface bound to no zone is empty;
        // firewall-cmd says `no zone` and exits 2. Any other failure (the
        // daemon reloading, a timeout) is one: taken for "no zone" it would
        // put the rules in the default zone while the interface's zone
        // still blocks the ports.
        let bound = match firewalld::bus()? {
            Some(bus) => bus.zone_of_interface(device)?,
            None => match run_argv(&["firewall-cmd", &asked]) {
                Ok(zone) => Some(zone),
                Err(e) if says_no_zone(&e) => None,
                Err(e) => return Err(e.into()),
            },
        };
        if let Some(zone) = bound {
            let zone = zone.trim().to_string();
            let why = format!("zone {zone} is bound to {device}, which carries the host's address");
            return Ok((zone, why));
        }
    }
    let zone = firewalld_ask(
        |bus| bus.default_zone(),
        &["firewall-cmd", "--get-default-zone"],
    )?
    .trim()
    .to_string();
    let why = match device {
        Some(device) => format!(
            "{device} carries the host's address and is bound to no zone, so the default zone {zone} serves it"
        ),
        None => format!(
            "no interface here carries the host's address, so the default zone {zone} is used"
        ),
    };
    Ok((zone, why))
}

/// The backend's output as `read-firewall` parses it; nftables and iptables
/// reuse what detection read.
fn output(
    backend: FirewallBackend,
    zone: Option<&str>,
    detected: &Detected,
) -> Result<FirewallOutput, RunError> {
    let reuse = |read: &Option<Result<String, String>>, argv: &[&str]| match read {
        Some(result) => result.clone().map_err(RunError::Host),
        None => run_argv(argv).map_err(RunError::Host),
    };
    Ok(match backend {
        FirewallBackend::Nftables => {
            FirewallOutput::new(reuse(&detected.nft, &["nft", "-j", "list", "ruleset"])?, "")
        }
        FirewallBackend::Iptables => FirewallOutput::new(
            reuse(&detected.iptables_save, &["iptables-save"])?,
            ip6tables_save()?,
        ),
        _ => snapshot(backend, zone)?,
    })
}

/// A fresh read of the backend's output, e.g. to read back after a change.
pub fn snapshot(backend: FirewallBackend, zone: Option<&str>) -> Result<FirewallOutput, String> {
    match backend {
        FirewallBackend::Nftables => Ok(FirewallOutput::new(
            run_argv(&["nft", "-j", "list", "ruleset"])?,
            "",
        )),
        FirewallBackend::Iptables => Ok(FirewallOutput::new(
            run_argv(&["iptables-save"])?,
            ip6tables_save()?,
        )),
        FirewallBackend::Firewalld => {
            let (main, extra) = match firewalld::bus()? {
                Some(bus) => bus.dumps(zone)?,
                None => (
                    firewalld_dump(&[], Some(zone))?,
                    firewalld_dump(&["--permanent"], None)?,
                ),
            };
            Ok(FirewallOutput {
                main,
                extra,
                zone: zone.map(str::to_string),
            })
        }
        FirewallBackend::Ufw => Ok(FirewallOutput::new(
            run_argv(&["ufw", "status", "verbose"])?,
            run_argv(&["ufw", "show", "added"])?,
        )),
        FirewallBackend::None => Ok(FirewallOutput::default()),
    }
}

/// A host with IPv6 disabled has no ip6tables state to read.
fn ip6tables_save() -> Result<String, String> {
    if find_program("ip6tables-save").is_some() {
        run_argv(&["ip6tables-save"])
    } else {
        Ok(String::new())
    }
}

/// Ask firewalld over D-Bus when the run drives it so, else run `argv`.
fn firewalld_ask(
    over_dbus: impl FnOnce(&firewalld::Bus) -> Result<String, String>,
    argv: &[&str],
) -> Result<String, String> {
    match firewalld::bus()? {
        Some(bus) => over_dbus(bus),
        None => run_argv(argv),
    }
}

/// Every zone, then portplan's ipsets, of the runtime or (with
/// `--permanent`) the permanent configuration; then, as the D-Bus dump
/// carries them, the side's policies (firewalld 0.9 and later) and its
/// direct rules and passthroughs, after core's `FIREWALLD_DIRECT_RULES`
/// line. Without those core would not know what a policy denies after the
/// zones, nor which ipsets a direct rule names, and so could not delete
/// one a killed run left behind (RHEL 7's firewalld 0.6 runs this path).
/// `services`: the runtime's, with the zone serving the host (`None` for
/// the default one), whose services' definitions it lists too.
fn firewalld_dump(side: &[&str], services: Option<Option<&str>>) -> Result<String, String> {
    let ask = |args: &[&str]| {
        let mut argv = vec!["firewall-cmd"];
        argv.extend(side);
        argv.extend(args);
        run_argv(&argv)
    };
    let zones = ask(&["--list-all-zones"])?;
    let mut text = zones.clone();
    for name in ask(&["--get-ipsets"])?
        .split_whitespace()
        .filter(|name| name.starts_with(shell::FIREWALLD_IPSET_PREFIX))
    {
        text.push('\n');
        text.push_str(&ask(&[&format!("--info-ipset={name}")])?);
    }
    let policies = match cli_has_policies()? {
        true => cli_policies(side.is_empty(), ask)?,
        false => String::new(),
    };
    text.push('\n');
    text.push_str(&policies);
    if let Some(serving) = services {
        let serving = match serving {
            Some(zone) => zone.to_string(),
            None => ask(&["--get-default-zone"])?.trim().to_string(),
        };
        let named = shell::firewalld_services_named(&format!("{zones}\n{policies}"), &serving);
        text.push('\n');
        text.push_str(&cli_services(&named, ask)?);
    }
    let rules = ask(&["--direct", "--get-all-rules"])?;
    // firewall-cmd prints a passthrough as `ipv4 -I INPUT ...`; the dump
    // (and core) name it `ipv4 passthrough -I INPUT ...`.
    let passthroughs = ask(&["--direct", "--get-all-passthroughs"])?;
    let passthroughs = (passthroughs.lines()).filter_map(|line| {
        let (ipv, args) = line.trim().split_once(' ')?;
        Some(format!("{ipv} passthrough {args}"))
    });
    text.push_str(&format!("\n{}\n", shell::FIREWALLD_DIRECT_RULES));
    let mut direct: Vec<String> = rules.lines().map(str::to_string).collect();
    direct.extend(passthroughs);
    // The runtime's, with the backend firewalld runs (`firewall-cmd` does
    // not say it; D-Bus reads the config's property), then iptables'
    // tables.
    let mut saved = Vec::new();
    if side.is_empty() {
        let conf = std::fs::read_to_string(FIREWALLD_CONF).unwrap_or_default();
        direct.extend(firewalld::backend_lines(Some(firewall_backend(&conf))));
        saved = firewalld::saved_tables();
    }
    for rule in &direct {
        text.push_str(&format!("\t{}\n", rule.trim()));
    }
    for (marker, table) in shell::FIREWALLD_FILTER_TABLES.iter().zip(&saved) {
        text.push_str(&format!("{marker}\n{table}\n"));
    }
    Ok(text)
}

/// Where firewalld reads its `FirewallBackend` setting.
const FIREWALLD_CONF: &str = "/etc/firewalld/firewalld.conf";

/// firewalld.conf's `FirewallBackend` as firewalld takes it (`read` in
/// firewalld's io/firewalld_conf.py): the first definition, of exactly one
/// `=`, with blanks around either side stripped; where there is none, or
/// its value is none firewalld knows, its built-in default, `nftables`
/// since 0.6 (as the D-Bus property says; `backend_lines` trusts it only
/// where firewalld's nftables table exists, which no firewalld before 0.6
/// makes).
fn firewall_backend(conf: &str) -> &str {
    let value = conf.lines().find_map(|line| {
        let line = line.trim();
        let mut pair = line.split('=').map(str::trim);
        let (key, value) = (pair.next()?, pair.next()?);
        let valid = !line.starts_with(['#', ';']) && pair.next().is_none() && !value.is_empty();
        (valid && key == "FirewallBackend").then_some(value)
    });
    let valid = |value: &&str| matches!(value.to_lowercase().as_str(), "nftables" | "iptables");
    value.filter(valid).unwrap_or("nftables")
}

/// `--info-service` of each service `named` and of each one those include
/// ([`firewalld::service_definitions`]): what the serving zone and the
/// policies to the host from it open besides their ports.
fn cli_services(
    named: &[String],
    ask: impl Fn(&[&str]) -> Result<String, String>,
) -> Result<String, String> {
    firewalld::service_definitions(named, |name| {
        let info = ask(&[&format!("--info-service={name}")])?;
        let includes = (info.lines().map(str::trim))
            .find_map(|line| line.strip_prefix("includes:"))
            .unwrap_or_default();
        let includes = includes.split_whitespace().map(str::to_string).collect();
        Ok((info, includes))
    })
}

/// The side's policies as `firewall-cmd` lists them: every configured one
/// of the permanent side; the runtime's active ones (`--get-active-policies`,
/// then `--info-policy` of each), as the D-Bus dump lists them. Not the
/// runtime's `--list-all-policies`: before firewalld 2.1 it marks every
/// policy with ingress and egress zones `(active)`, so core would count
/// an idle one's accepts as asked before the zone (a review).
fn cli_policies(
    runtime: bool,
    ask: impl Fn(&[&str]) -> Result<String, String>,
) -> Result<String, String> {
    if !runtime {
        return ask(&["--list-all-policies"]);
    }
    let active = ask(&["--get-active-policies"])?;
    let names = (active.lines()).filter(|line| !line.starts_with(char::is_whitespace));
    let mut text = String::new();
    for name in names.map(str::trim).filter(|name| !name.is_empty()) {
        text.push_str(&ask(&[&format!("--info-policy={name}")])?);
        text.push('\n');
    }
    Ok(text)
}

/// Whether the firewalld that `firewall-cmd` drives has policies (0.9 and
/// later): asked once a run.
fn cli_has_policies() -> Result<bool, String> {
    static ASKED: std::sync::OnceLock<Result<bool, String>> = std::sync::OnceLock::new();
    ASKED
        .get_or_init(|| {
            let version = run_argv(&["firewall-cmd", "--version"])?;
            Ok(firewalld::has_settings_dicts(version.trim()))
        })
        .clone()
}

fn read(backend: FirewallBackend, output: &FirewallOutput) -> Result<FirewallState, RunError> {
    portplan_core::read_firewall(backend, output)
        .map_err(|e| RunError::Host(format!("cannot read the {} state: {e}", backend.as_str())))
}

/// Read the backend's state again: after a change, to verify it.
pub fn read_state(
    backend: FirewallBackend,
    zone: Option<&str>,
) -> Result<(FirewallOutput, FirewallState), RunError> {
    let output = snapshot(backend, zone)?;
    let state = read(backend, &output)?;
    Ok((output, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_firewall_cmds_own_no_zone_answer_means_no_zone() {
        let fails = |status: u8, said: &str| {
            run_argv(&["sh", "-c", &format!("echo '{said}' >&2; exit {status}")])
                .expect_err("failed")
        };
        assert!(says_no_zone(&fails(2, "no zone")));
        assert!(!says_no_zone(&fails(2, "Error: INVALID_INTERFACE")));
        assert!(!says_no_zone(&fails(252, "FirewallD is not running")));
        assert!(!says_no_zone(&fails(1, "no zone")));
    }

    /// firewalld.conf's `FirewallBackend` as firewalld takes it: the first
    /// definition that reads, as written; else its built-in default.
    #[test]
    fn the_firewall_backend_is_read_as_firewalld_reads_its_conf() {
        let cases = [
            ("FirewallBackend=iptables\n", "iptables"),
            (
                "# FirewallBackend=nftables\n FirewallBackend = iptables \n",
                "iptables",
            ),
            ("FirewallBackend=\nFirewallBackend=iptables\n", "iptables"),
            (
                "FirewallBackend=a=b\nFirewallBackend=IPTables\n",
                "IPTables",
            ),
            (
                "FirewallBackend=bogus\nFirewallBackend=iptables\n",
                "nftables",
            ),
            (
                "DefaultZone=public\n;FirewallBackend=iptables\n",
                "nftables",
            ),
            ("", "nftables"),
        ];
        for (conf, backend) in cases {
            assert_eq!(firewall_backend(conf), backend, "{conf:?}");
        }
    }

    /// Every service the serving zone and its policies to the host apply
    /// is listed once, in name order: those they name and those these
    /// include, through a loop of includes, as firewalld's own `_service`
    /// applies them.
    #[test]
    fn the_services_a_zone_applies_are_each_listed_once() {
        let listed = "public (default, active)\n  services: ssh pg\n\
            \trule service name=\"tftp\" accept\n\
            \trule family=\"ipv4\" service name=\"smb\" reject\n\nwork\n  services: tftp\n\n\
            to-host (active)\n  ingress-zones: ANY\n  egress-zones: HOST\n  services: dns ssh\n\n\
            elsewhere (active)\n  ingress-zones: work\n  egress-zones: HOST\n  services: smb\n";
        let named = shell::firewalld_services_named(listed, "public");
        assert_eq!(named, ["ssh", "pg", "tftp", "dns", "ssh"]);
        let asked = std::cell::RefCell::new(Vec::new());
        let ask = |args: &[&str]| -> Result<String, String> {
            let args = args.join(" ");
            asked.borrow_mut().push(args.clone());
            let info = |name: &str, includes: &str| {
                format!("{name}\n  ports: 1/tcp\n  modules: \n  includes: {includes}\n")
            };
            Ok(match args.as_str() {
                "--info-service=ssh" => info("ssh", ""),
                "--info-service=dns" => info("dns", ""),
                "--info-service=tftp" => info("tftp", ""),
                "--info-service=pg" => info("pg", "pg-extra"),
                "--info-service=pg-extra" => info("pg-extra", "pg ssh"),
                other => return Err(format!("not asked for: {other}")),
            })
        };
        let text = cli_services(&named, ask).expect("listed");
        let names: Vec<&str> = (text.lines())
            .filter(|line| !line.starts_with(' ') && !line.is_empty())
            .collect();
        assert_eq!(names, ["dns", "pg", "pg-extra", "ssh", "tftp"]);
        assert_eq!(asked.borrow().len(), 5, "{:?}", asked.borrow());
    }
}
