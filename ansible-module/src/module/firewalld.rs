//! firewalld over its D-Bus API: the binary's reads and writes of firewalld,
//! without a `firewall-cmd` (a Python process and a D-Bus round trip, about
//! 0.2 s) per step.
//!
//! Core still renders firewalld's change as `firewall-cmd` argvs: they are
//! what an operator reads in a diff and could run by hand. [`Bus::run`]
//! carries out each such argv as the D-Bus calls `firewall-cmd` itself makes
//! for it, call for call, so the two paths change the same things in the
//! same order; an argv it does not know (none today) still runs
//! `firewall-cmd`. Reads come back as a [`FirewalldDbusDump`] per side,
//! which core reads like `--list-all-zones`.
//!
//! The bus is the one `firewall-cmd` uses (`DBUS_SYSTEM_BUS_ADDRESS`, else
//! `/run/dbus/system_bus_socket`). Where it cannot be reached, firewalld is
//! not on it, or its API lacks the settings dictionaries (firewalld before
//! 0.9, e.g. RHEL 7's 0.6), the module drives `firewall-cmd` as before, as
//! it does when `PORTPLAN_FIREWALLD=firewall-cmd` is set; once a run has
//! chosen, it keeps to its choice.
//!
//! Rules go in and out one call each (`addRichRule`, `removeRichRule`, on
//! the runtime and on the permanent configuration), as `firewall-cmd`
//! sends them, never as a whole list read and written back
//! (`setZoneSettings2`, `update2`), which would drop a rule someone added in
//! between. A failure part way through a permanent batch therefore leaves
//! the rules put back by the rollback at the end of the zone's file: the
//! same rules, in another order, which firewalld does not heed (it orders
//! rich rules by priority and action). Unlike `firewall-cmd`, which warns
//! and goes on, a rule already there (`ALREADY_ENABLED`) or already gone
//! (`NOT_ENABLED`) fails the run, which rolls back from a fresh read: the
//! firewall changed under the run, and the next run starts from what is
//! there.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use portplan_core::Command;

use super::execute::run_argv;
use portplan_core::shell::{
    FIREWALLD_BACKEND, FIREWALLD_IPSET_PREFIX, FIREWALLD_LOCAL_ADDRESSES, FirewalldDbusDump,
    FirewalldDbusIpset, FirewalldDbusZone, firewalld_join_args, firewalld_nft_dnat_line,
};
use zbus::blocking::Connection;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

const NAME: &str = "org.fedoraproject.FirewallD1";
const PATH: &str = "/org/fedoraproject/FirewallD1";
const CONFIG_PATH: &str = "/org/fedoraproject/FirewallD1/config";
const ZONE: &str = "org.fedoraproject.FirewallD1.zone";
const IPSET: &str = "org.fedoraproject.FirewallD1.ipset";
const POLICY: &str = "org.fedoraproject.FirewallD1.policy";
const DIRECT: &str = "org.fedoraproject.FirewallD1.direct";
const CONFIG: &str = "org.fedoraproject.FirewallD1.config";
const CONFIG_ZONE: &str = "org.fedoraproject.FirewallD1.config.zone";
const CONFIG_IPSET: &str = "org.fedoraproject.FirewallD1.config.ipset";
const CONFIG_POLICY: &str = "org.fedoraproject.FirewallD1.config.policy";
const CONFIG_DIRECT: &str = "org.fedoraproject.FirewallD1.config.direct";

/// firewall-cmd's own timeout for a call is D-Bus's default (25 s); a
/// stopped daemon makes a call fail after it instead of hanging the run.
const CALL_TIMEOUT: Duration = Duration::from_secs(25);

/// An ipset's settings as firewalld passes them: version, short name,
/// description, type, options, entries.
type IpsetSettings = (
    String,
    String,
    String,
    String,
    HashMap<String, String>,
    Vec<String>,
);

/// A connection to firewalld's D-Bus API.
pub struct Bus {
    conn: Connection,
    /// firewalld's version, for the choice's reason.
    pub version: String,
}

/// Set to `firewall-cmd`, the run drives `firewall-cmd` even where D-Bus
/// would do: the way back should a daemon's D-Bus API misbehave, and how the
/// tests compare the two paths on one daemon. `dbus` (or unset) is the
/// default; anything else fails the run, naming it.
pub const TRANSPORT_ENV: &str = "PORTPLAN_FIREWALLD";

/// The run's connection to firewalld, opened on first use: `Ok(None)` when
/// the run drives `firewall-cmd` instead, with [`cli_reason`] saying why
/// (see the module docs); an error when firewalld's bus answered wrongly.
pub fn bus() -> Result<Option<&'static Bus>, String> {
    match opened() {
        Ok(Transport::Dbus(bus)) => Ok(Some(bus)),
        Ok(Transport::Cli(_)) => Ok(None),
        Err(e) => Err(e.clone()),
    }
}

/// Why the run drives `firewall-cmd`, when it does.
pub fn cli_reason() -> Option<&'static str> {
    match opened() {
        Ok(Transport::Cli(why)) => Some(why),
        _ => None,
    }
}

/// How a run drives firewalld.
enum Transport {
    /// Over D-Bus.
    Dbus(Bus),
    /// Through `firewall-cmd`, and why.
    Cli(String),
}

/// The run's transport, or why neither can be trusted.
type Opened = Result<Transport, String>;

fn opened() -> &'static Opened {
    static BUS: OnceLock<Opened> = OnceLock::new();
    BUS.get_or_init(|| match std::env::var(TRANSPORT_ENV).as_deref() {
        Ok("firewall-cmd") => Ok(Transport::Cli(format!("{TRANSPORT_ENV}=firewall-cmd"))),
        Ok("dbus") | Err(_) => open_in_time(),
        Ok(other) => Err(format!(
            "{TRANSPORT_ENV}={}: not `dbus` or `firewall-cmd`",
            portplan_core::shell::quote(other)
        )),
    })
}

/// [`Bus::open`] on a thread of its own: zbus bounds method calls
/// ([`CALL_TIMEOUT`]) but not connecting and authenticating to the bus, and
/// a bus that does not answer must not hold the run (and the host lock)
/// forever.
fn open_in_time() -> Opened {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(Bus::open()));
    receiver.recv_timeout(CALL_TIMEOUT).unwrap_or_else(|_| {
        Err(format!(
            "the system bus did not answer within {} s",
            CALL_TIMEOUT.as_secs()
        ))
    })
}

impl Bus {
    /// Connect, and check that firewalld is on the bus (asked of the bus
    /// itself, so a stopped firewalld is not started by the question) with
    /// an API that has the settings dictionaries (0.9 and later). No bus,
    /// no firewalld on it, or an older firewalld: [`Transport::Cli`], the
    /// run drives `firewall-cmd`; any other failure is the run's.
    fn open() -> Opened {
        let conn = match zbus::blocking::connection::Builder::system()
            .and_then(|b| b.method_timeout(CALL_TIMEOUT).build())
        {
            Ok(conn) => conn,
            Err(e) => return Ok(Transport::Cli(format!("no system bus: {e}"))),
        };
        let mut bus = Bus {
            conn,
            version: String::new(),
        };
        let on_bus: bool = bus.call_to(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "NameHasOwner",
            &(NAME,),
        )?;
        if !on_bus {
            return Ok(Transport::Cli(format!("{NAME} is not on the system bus")));
        }
        bus.version = bus.property("version")?;
        if !has_settings_dicts(&bus.version) {
            return Ok(Transport::Cli(format!(
                "firewalld {} has no settings dictionaries (0.9 and later)",
                bus.version
            )));
        }
        Ok(Transport::Dbus(bus))
    }

    /// One method call to firewalld; its reply's body, or the error as
    /// firewall-cmd would show it (firewalld's exception text, e.g.
    /// `INVALID_ZONE: nope`).
    fn call<B, R>(&self, path: &str, interface: &str, method: &str, body: &B) -> Result<R, String>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
        R: for<'d> serde::Deserialize<'d> + zbus::zvariant::Type,
    {
        self.call_to(NAME, path, interface, method, body)
    }

    fn call_to<B, R>(
        &self,
        destination: &str,
        path: &str,
        interface: &str,
        method: &str,
        body: &B,
    ) -> Result<R, String>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
        R: for<'d> serde::Deserialize<'d> + zbus::zvariant::Type,
    {
        let shown = || format!("D-Bus {interface}.{method} at {path}");
        let reply = self
            .conn
            .call_method(Some(destination), path, Some(interface), method, body)
            .map_err(|e| match e {
                zbus::Error::MethodError(name, detail, _) => format!(
                    "{}: {}{}",
                    shown(),
                    detail.unwrap_or_default(),
                    if name.as_str() == "org.fedoraproject.FirewallD1.Exception" {
                        String::new()
                    } else {
                        format!(" ({name})")
                    }
                ),
                other => format!("{}: {other}", shown()),
            })?;
        reply
            .body()
            .deserialize()
            .map_err(|e| format!("{}: unexpected reply: {e}", shown()))
    }

    /// A property of firewalld's main object (`state`, `version`).
    fn property(&self, name: &str) -> Result<String, String> {
        self.property_of(PATH, NAME, name)
    }

    /// A string property of one of firewalld's objects: the main one's, or
    /// the config's (`FirewallBackend`).
    fn property_of(&self, path: &str, interface: &str, name: &str) -> Result<String, String> {
        let value: OwnedValue = self.call(
            path,
            "org.freedesktop.DBus.Properties",
            "Get",
            &(interface, name),
        )?;
        String::try_from(value).map_err(|e| format!("firewalld's D-Bus property {name}: {e}"))
    }

    /// What `firewall-cmd --state` prints when it succeeds: `running`. A
    /// daemon still starting (`INIT`) or `FAILED` is an error, as
    /// `firewall-cmd --state` exits non-zero for both.
    pub fn state(&self) -> Result<String, String> {
        match self.property("state")?.as_str() {
            "RUNNING" => Ok("running".into()),
            other => Err(format!("firewalld's state is {other}, not RUNNING")),
        }
    }

    /// `--get-default-zone`.
    pub fn default_zone(&self) -> Result<String, String> {
        self.call(PATH, NAME, "getDefaultZone", &())
    }

    /// `--get-zones`: the runtime's zones, space-separated as firewall-cmd
    /// prints them.
    pub fn zones(&self) -> Result<String, String> {
        let zones: Vec<String> = self.call(PATH, ZONE, "getZones", &())?;
        Ok(zones.join(" "))
    }

    /// `--get-zone-of-interface`: `None` when the interface is bound to no
    /// zone (firewalld answers an empty name).
    pub fn zone_of_interface(&self, device: &str) -> Result<Option<String>, String> {
        let zone: String = self.call(PATH, ZONE, "getZoneOfInterface", &(device,))?;
        Ok((!zone.is_empty()).then_some(zone))
    }

    /// Both sides' zones and portplan's ipsets, as core reads them: the
    /// runtime (for `main`), then the permanent configuration (`extra`).
    /// One default zone for both: firewalld.conf's, which the runtime
    /// reports (the permanent API has no getter of its own). `serving`:
    /// the zone serving the host (else the default), whose services'
    /// definitions the runtime's dump lists.
    pub fn dumps(&self, serving: Option<&str>) -> Result<(String, String), String> {
        let default_zone = self.default_zone()?;
        let serving = serving.unwrap_or(&default_zone);
        Ok((
            self.dump(false, &default_zone, serving)?,
            self.dump(true, &default_zone, serving)?,
        ))
    }

    fn dump(&self, permanent: bool, default_zone: &str, serving: &str) -> Result<String, String> {
        let (zone_names, ipset_names): (Vec<String>, Vec<String>) = if permanent {
            (
                self.call(CONFIG_PATH, CONFIG, "getZoneNames", &())?,
                self.call(CONFIG_PATH, CONFIG, "getIPSetNames", &())?,
            )
        } else {
            (
                self.call(PATH, ZONE, "getZones", &())?,
                self.call(PATH, IPSET, "getIPSets", &())?,
            )
        };
        let zones = zone_names
            .into_iter()
            .map(|name| {
                let settings = self.zone_settings(&name, permanent)?;
                zone_of(name, &settings)
            })
            .collect::<Result<_, String>>()?;
        let ipsets = portplan_sets(ipset_names)
            .map(|name| {
                let settings = self.ipset_settings(&name, permanent)?;
                Ok(ipset_of(name, settings))
            })
            .collect::<Result<_, String>>()?;
        let mut dump = FirewalldDbusDump {
            default_zone: default_zone.to_string(),
            zones,
            ipsets,
            // The runtime's active policies (what decides before or after
            // the zones now), or every configured one (what a reload makes
            // so, and what may name one of portplan's ipsets).
            policies: Some(if permanent {
                self.configured_policies()?
            } else {
                self.policies()?
            }),
            // The runtime's, with the backend firewalld runs, on which
            // whether their accepts open a port depends (core's
            // `FIREWALLD_BACKEND`; the config property, 0.6 and later).
            direct: if permanent {
                Vec::new()
            } else {
                let mut direct = self.direct(PATH, DIRECT)?;
                // Not read (a daemon without the property): not known.
                let backend = self.property_of(CONFIG_PATH, CONFIG, "FirewallBackend");
                direct.extend(backend_lines(backend.ok().as_deref()));
                direct
            },
            saved: Vec::new(),
            // What a reload would load that may name one of portplan's
            // ipsets besides the zones: core never deletes one named here.
            references: if permanent {
                self.permanent_references()?
            } else {
                Vec::new()
            },
            services: String::new(),
        };
        // What the services of the serving zone and of the policies to the
        // host from it open now: the runtime's definitions (the permanent
        // side opens nothing now).
        if !permanent {
            dump.services = self.services(&dump.services_named(serving))?;
            dump.saved = saved_tables();
        }
        serde_json::to_string(&dump).map_err(|e| e.to_string())
    }

    /// The runtime's definitions of the services `named` and of those
    /// they include ([`service_definitions`]), from `getServiceSettings2`
    /// (firewalld 0.9 and later, which the D-Bus reads need anyway).
    fn services(&self, named: &[String]) -> Result<String, String> {
        service_definitions(named, |name| {
            let settings: HashMap<String, OwnedValue> = self
                .call(PATH, NAME, "getServiceSettings2", &(name,))
                .map_err(|e| format!("service {name}: {e}"))?;
            let owner = format!("service {name}");
            let words = |key: &str| -> Result<Vec<String>, String> {
                Ok(setting(&settings, &owner, key)?.unwrap_or_default())
            };
            let includes = words("includes")?;
            let text = format!(
                "{name}\n  ports: {}\n  protocols: {}\n  source-ports: {}\n  modules: {}\n  \
                 includes: {}\n",
                port_pairs(&settings, &owner, "ports")?.join(" "),
                words("protocols")?.join(" "),
                port_pairs(&settings, &owner, "source_ports")?.join(" "),
                words("modules")?.join(" "),
                includes.join(" "),
            );
            Ok((text, includes))
        })
    }

    /// The runtime's active policies and their settings (firewalld 0.9 and
    /// later, which the D-Bus reads need anyway: `has_settings_dicts`), as
    /// `firewall-cmd --list-all-policies` prints what core reads of them.
    fn policies(&self) -> Result<String, String> {
        let active: HashMap<String, HashMap<String, Vec<String>>> =
            self.call(PATH, POLICY, "getActivePolicies", &())?;
        let mut names: Vec<String> = active.into_keys().collect();
        // A hash map's order is not the daemon's: sorted, for the same
        // bytes from the same firewall.
        names.sort();
        let mut text = String::new();
        for name in names {
            let settings: HashMap<String, OwnedValue> = self
                .call(PATH, POLICY, "getPolicySettings", &(name.as_str(),))
                .map_err(|e| format!("policy {name}: {e}"))?;
            text.push_str(&policy_text(&name, &settings, true)?);
        }
        Ok(text)
    }

    /// Every policy of the permanent configuration (active or not: a
    /// reload loads them all), as [`Bus::policies`] gives the runtime's.
    fn configured_policies(&self) -> Result<String, String> {
        let names: Vec<String> = self.call(CONFIG_PATH, CONFIG, "getPolicyNames", &())?;
        let mut text = String::new();
        for name in names {
            let path = self.config_object("getPolicyByName", &name)?;
            let settings: HashMap<String, OwnedValue> = self
                .call(&path, CONFIG_POLICY, "getSettings", &())
                .map_err(|e| format!("policy {name}: {e}"))?;
            text.push_str(&policy_text(&name, &settings, false)?);
        }
        Ok(text)
    }

    /// The permanent configuration's texts besides its zones and policies
    /// (whose rich rules core reads from `policies`) that may name an
    /// ipset: the permanent direct rules and passthroughs.
    fn permanent_references(&self) -> Result<Vec<String>, String> {
        self.direct(CONFIG_PATH, CONFIG_DIRECT)
    }

    /// The direct rules and passthroughs of the runtime (`PATH`, `DIRECT`)
    /// or the permanent configuration (`CONFIG_PATH`, `CONFIG_DIRECT`), as
    /// core lists them (`ipv4 filter INPUT 0 -j ACCEPT`, `ipv4 passthrough
    /// -I INPUT ...`).
    fn direct(&self, path: &str, interface: &str) -> Result<Vec<String>, String> {
        let rules: Vec<(String, String, String, i32, Vec<String>)> =
            self.call(path, interface, "getAllRules", &())?;
        let passthroughs: Vec<(String, Vec<String>)> =
            self.call(path, interface, "getAllPassthroughs", &())?;
        // As `firewall-cmd` prints them.
        let join = |args: &[String]| firewalld_join_args(args.iter().map(String::as_str));
        let rules = (rules.into_iter()).map(|(ipv, table, chain, priority, args)| {
            format!("{ipv} {table} {chain} {priority} {}", join(&args))
        });
        let passthroughs = (passthroughs.into_iter())
            .map(|(ipv, args)| format!("{ipv} passthrough {}", join(&args)));
        Ok(rules.chain(passthroughs).collect())
    }

    /// One zone's settings dictionary, of the runtime or the permanent side.
    fn zone_settings(
        &self,
        zone: &str,
        permanent: bool,
    ) -> Result<HashMap<String, OwnedValue>, String> {
        let settings = if permanent {
            let path = self.zone_path(zone)?;
            self.call(&path, CONFIG_ZONE, "getSettings2", &())
        } else {
            self.call(PATH, ZONE, "getZoneSettings2", &(zone,))
        };
        settings.map_err(|e| format!("zone {zone}: {e}"))
    }

    /// One ipset's settings, of the runtime or the permanent side.
    fn ipset_settings(&self, ipset: &str, permanent: bool) -> Result<IpsetSettings, String> {
        let settings = if permanent {
            let path = self.ipset_path(ipset)?;
            self.call(&path, CONFIG_IPSET, "getSettings", &())
        } else {
            self.call(PATH, IPSET, "getIPSetSettings", &(ipset,))
        };
        settings.map_err(|e| format!("ipset {ipset}: {e}"))
    }

    fn zone_path(&self, zone: &str) -> Result<String, String> {
        self.config_object("getZoneByName", zone)
    }

    fn ipset_path(&self, ipset: &str) -> Result<String, String> {
        self.config_object("getIPSetByName", ipset)
    }

    /// The object path of a permanent zone or ipset, by `getter`.
    fn config_object(&self, getter: &str, name: &str) -> Result<String, String> {
        let path: OwnedObjectPath = self.call(CONFIG_PATH, CONFIG, getter, &(name,))?;
        Ok(path.as_str().to_string())
    }

    /// Carry out one `firewall-cmd` argv of core's over D-Bus; `None` when
    /// it is not one this knows, for the caller to run `firewall-cmd`.
    pub fn run(&self, command: &Command) -> Option<Result<String, String>> {
        let action = Action::parse(command)?;
        Some(self.apply(&action).map(|()| "success\n".to_string()))
    }

    /// The calls `firewall-cmd` makes for the same options, in its order:
    /// one per rich rule or entry.
    fn apply(&self, action: &Action) -> Result<(), String> {
        match action {
            Action::RichRules {
                permanent: false,
                zone,
                add,
                rules,
            } => rules.iter().try_for_each(|rule| {
                let zone = zone.as_str();
                if *add {
                    self.call::<_, String>(PATH, ZONE, "addRichRule", &(zone, rule, 0i32))
                } else {
                    self.call::<_, String>(PATH, ZONE, "removeRichRule", &(zone, rule))
                }
                .map(drop)
            }),
            Action::RichRules {
                permanent: true,
                zone,
                add,
                rules,
            } => {
                let path = self.zone_path(zone)?;
                let method = if *add {
                    "addRichRule"
                } else {
                    "removeRichRule"
                };
                rules
                    .iter()
                    .try_for_each(|rule| self.call::<_, ()>(&path, CONFIG_ZONE, method, &(rule,)))
            }
            Action::Entry {
                permanent: false,
                ipset,
                add,
                entry,
            } => {
                let method = if *add { "addEntry" } else { "removeEntry" };
                self.call::<_, ()>(PATH, IPSET, method, &(ipset, entry))
            }
            Action::Entry {
                permanent: true,
                ipset,
                add,
                entry,
            } => {
                let path = self.ipset_path(ipset)?;
                let method = if *add { "addEntry" } else { "removeEntry" };
                self.call::<_, ()>(&path, CONFIG_IPSET, method, &(entry,))
            }
            Action::NewIpset {
                name,
                kind,
                options,
            } => {
                let settings: IpsetSettings = (
                    String::new(),
                    String::new(),
                    String::new(),
                    kind.clone(),
                    options.clone(),
                    Vec::new(),
                );
                self.call::<_, OwnedObjectPath>(CONFIG_PATH, CONFIG, "addIPSet", &(name, settings))
                    .map(drop)
            }
            Action::DeleteIpset { name } => {
                let path = self.ipset_path(name)?;
                self.call::<_, ()>(&path, CONFIG_IPSET, "remove", &())
            }
        }
    }
}

/// The definitions of the services `named` and of those they include,
/// each read once by `read` (its `--info-service` text and the names it
/// includes), as firewalld applies a service (`_service` in
/// fw_policy.py: each once, so that a loop of includes ends); in name
/// order, so that the D-Bus read and `firewall-cmd`'s, which list names in
/// other orders, give core the same text.
pub fn service_definitions(
    named: &[String],
    mut read: impl FnMut(&str) -> Result<(String, Vec<String>), String>,
) -> Result<String, String> {
    let mut names = named.to_vec();
    let mut read_ones: Vec<(String, String)> = Vec::new();
    let mut next = 0;
    while let Some(name) = names.get(next).cloned() {
        next += 1;
        if read_ones.iter().any(|(read, _)| *read == name) {
            continue;
        }
        let (text, includes) = read(&name)?;
        names.extend(includes);
        read_ones.push((name, text));
    }
    read_ones.sort();
    Ok(read_ones.into_iter().map(|(_, text)| text + "\n").collect())
}

/// Whether firewalld `version` has `getZoneSettings2` and
/// `config.zone.getSettings2` (0.9.0 and later), and so policies, which
/// came in the same release.
pub fn has_settings_dicts(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    (major, minor) >= (0, 9)
}

/// Only portplan's ipsets are read, as `firewall-cmd --info-ipset` would be.
fn portplan_sets(names: Vec<String>) -> impl Iterator<Item = String> {
    names
        .into_iter()
        .filter(|name| name.starts_with(FIREWALLD_IPSET_PREFIX))
}

/// The keys of a zone's settings dictionary that core reads; a key firewalld
/// leaves out is empty.
fn zone_of(
    name: String,
    settings: &HashMap<String, OwnedValue>,
) -> Result<FirewalldDbusZone, String> {
    let owner = format!("zone {name}");
    Ok(FirewalldDbusZone {
        target: setting(settings, &owner, "target")?.unwrap_or_else(|| "default".into()),
        sources: setting(settings, &owner, "sources")?.unwrap_or_default(),
        ports: port_pairs(settings, &owner, "ports")?,
        rich_rules: setting(settings, &owner, "rules_str")?.unwrap_or_default(),
        protocols: setting(settings, &owner, "protocols")?.unwrap_or_default(),
        source_ports: port_pairs(settings, &owner, "source_ports")?,
        services: setting(settings, &owner, "services")?.unwrap_or_default(),
        forward_ports: forward_ports(settings, &owner)?,
        name,
    })
}

/// A list of `(port, protocol)` pairs as `PORT/PROTOCOL` words, as
/// `firewall-cmd` prints them; empty when firewalld left it out.
fn port_pairs(
    settings: &HashMap<String, OwnedValue>,
    owner: &str,
    key: &str,
) -> Result<Vec<String>, String> {
    let pairs: Vec<(String, String)> = setting(settings, owner, key)?.unwrap_or_default();
    Ok(pairs
        .into_iter()
        .map(|(port, protocol)| format!("{port}/{protocol}"))
        .collect())
}

/// One policy as `firewall-cmd --info-policy` prints the keys core reads
/// (a key firewalld leaves out is empty; `priority`: 0, its default).
fn policy_text(
    name: &str,
    settings: &HashMap<String, OwnedValue>,
    active: bool,
) -> Result<String, String> {
    let owner = format!("policy {name}");
    let words = |key: &str| -> Result<String, String> {
        let words: Vec<String> = setting(settings, &owner, key)?.unwrap_or_default();
        Ok(words.join(" "))
    };
    let priority: i32 = setting(settings, &owner, "priority")?.unwrap_or(0);
    let target: String = setting(settings, &owner, "target")?.unwrap_or_else(|| "CONTINUE".into());
    let forwards = forward_ports(settings, &owner)?;
    let rich: Vec<String> = setting(settings, &owner, "rich_rules")?.unwrap_or_default();
    let rich: String = rich.iter().map(|rule| format!("\t{rule}\n")).collect();
    Ok(format!(
        "{name}{}\n  priority: {priority}\n  target: {target}\n  ingress-zones: {}\n  \
         egress-zones: {}\n  services: {}\n  ports: {}\n  protocols: {}\n  forward-ports: {}\n  \
         source-ports: {}\n  rich rules: \n{rich}",
        if active { " (active)" } else { "" },
        words("ingress_zones")?,
        words("egress_zones")?,
        words("services")?,
        port_pairs(settings, &owner, "ports")?.join(" "),
        words("protocols")?,
        forwards.join(" "),
        port_pairs(settings, &owner, "source_ports")?.join(" "),
    ))
}

/// A zone's or policy's `forward_ports` as `firewall-cmd` prints them
/// (`port=80:proto=tcp:toport=8080:toaddr=`); empty when firewalld left
/// them out.
fn forward_ports(
    settings: &HashMap<String, OwnedValue>,
    owner: &str,
) -> Result<Vec<String>, String> {
    let forwards: Vec<(String, String, String, String)> =
        setting(settings, owner, "forward_ports")?.unwrap_or_default();
    Ok((forwards.into_iter())
        .map(|(port, proto, toport, toaddr)| {
            format!("port={port}:proto={proto}:toport={toport}:toaddr={toaddr}")
        })
        .collect())
}

/// One key of a zone's or policy's settings as `T`; `None` when firewalld
/// left it out. `owner` names it in errors (`zone public`).
fn setting<T>(
    settings: &HashMap<String, OwnedValue>,
    owner: &str,
    key: &str,
) -> Result<Option<T>, String>
where
    T: TryFrom<OwnedValue>,
    T::Error: std::fmt::Display,
{
    let Some(value) = settings.get(key) else {
        return Ok(None);
    };
    let value = value
        .try_clone()
        .map_err(|e| format!("{owner}: {key}: {e}"))?;
    T::try_from(value)
        .map(Some)
        .map_err(|e| format!("{owner}: {key}: {e}"))
}

fn ipset_of(name: String, settings: IpsetSettings) -> FirewalldDbusIpset {
    FirewalldDbusIpset {
        name,
        entries: settings.5,
    }
}

/// One `firewall-cmd` argv of the shapes core renders for firewalld.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    /// `[--permanent] --zone=Z --add-rich-rule=R ...` (or `--remove-`).
    RichRules {
        permanent: bool,
        zone: String,
        add: bool,
        rules: Vec<String>,
    },
    /// `[--permanent] --ipset=N --add-entry=X` (or `--remove-entry`).
    Entry {
        permanent: bool,
        ipset: String,
        add: bool,
        entry: String,
    },
    /// `--permanent --new-ipset=N --type=T [--option=K=V ...]`.
    NewIpset {
        name: String,
        kind: String,
        options: HashMap<String, String>,
    },
    /// `--permanent --delete-ipset=N`.
    DeleteIpset { name: String },
}

impl Action {
    fn parse(command: &Command) -> Option<Action> {
        let (program, args) = command.argv.split_first()?;
        if program != "firewall-cmd" || command.stdin.is_some() {
            return None;
        }
        let permanent = args.first().is_some_and(|a| a == "--permanent");
        let mut options: Vec<(&str, &str)> = Vec::new();
        for arg in &args[usize::from(permanent)..] {
            options.push(arg.strip_prefix("--")?.split_once('=')?);
        }
        let (&(first, value), rest) = options.split_first()?;
        let value = value.to_string();
        match first {
            "zone" => {
                let (flag, _) = rest.first()?;
                let add = match *flag {
                    "add-rich-rule" => true,
                    "remove-rich-rule" => false,
                    _ => return None,
                };
                let rules = rest
                    .iter()
                    .map(|(f, rule)| (f == flag).then(|| (*rule).to_string()))
                    .collect::<Option<Vec<_>>>()?;
                Some(Action::RichRules {
                    permanent,
                    zone: value,
                    add,
                    rules,
                })
            }
            "ipset" => {
                let [(flag, entry)] = rest else { return None };
                let add = match *flag {
                    "add-entry" => true,
                    "remove-entry" => false,
                    _ => return None,
                };
                Some(Action::Entry {
                    permanent,
                    ipset: value,
                    add,
                    entry: (*entry).to_string(),
                })
            }
            "new-ipset" if permanent => {
                let (("type", kind), extra) = rest.split_first()? else {
                    return None;
                };
                let options = extra
                    .iter()
                    .map(|(flag, option)| {
                        let (key, value) = option.split_once('=')?;
                        (*flag == "option").then(|| (key.to_string(), value.to_string()))
                    })
                    .collect::<Option<HashMap<_, _>>>()?;
                Some(Action::NewIpset {
                    name: value,
                    kind: (*kind).to_string(),
                    options,
                })
            }
            "delete-ipset" if permanent && rest.is_empty() => {
                Some(Action::DeleteIpset { name: value })
            }
            _ => None,
        }
    }
}

/// The lines that tell core which backend firewalld runs
/// (`FIREWALLD_BACKEND`), by what runs rather than what is configured: the
/// setting (firewalld.conf, or the config property that reflects it) may
/// have changed since firewalld last started or reloaded, which is when it
/// chooses. nftables where firewalld's nftables table exists (its iptables
/// backend makes none, and drops it when it takes over at a reload), else
/// the configured one but nftables; none where not known. Under nftables,
/// also whether that table accepts what was sent to the host before the
/// zones (`FIREWALLD_NFT_DNAT_UNACCEPTED`, decided by core from the table).
/// Last, this machine's addresses (`FIREWALLD_LOCAL_ADDRESSES`): a nat
/// table's `DNAT` to one of them sends to this host.
pub fn backend_lines(configured: Option<&str>) -> Vec<String> {
    let mut lines = Vec::new();
    let table = run_argv(&["nft", "list", "table", "inet", "firewalld"]);
    let backend = match &table {
        Ok(_) => Some("nftables"),
        Err(_) => configured.filter(|backend| *backend != "nftables"),
    };
    lines.extend(backend.map(|backend| format!("{FIREWALLD_BACKEND}{backend}")));
    let unaccepted = table.ok().and_then(|table| firewalld_nft_dnat_line(&table));
    lines.extend(unaccepted.map(String::from));
    lines.push(local_line(&super::facts::local_addresses(Path::new(
        "/proc",
    ))));
    lines
}

/// The line that lists `addresses` as core reads them.
fn local_line(addresses: &BTreeSet<IpAddr>) -> String {
    let mut line = FIREWALLD_LOCAL_ADDRESSES.to_string();
    for address in addresses {
        line.push(' ');
        line.push_str(&address.to_string());
    }
    line
}

/// iptables' tables as `iptables-save` and `ip6tables-save` print them
/// (core's `FirewalldDbusDump::saved`), an empty one where its command
/// fails (no iptables, a kernel without IPv6). Without `-t` each lists the
/// tables the kernel holds and loads no module (`-t nat` would load legacy
/// iptables' nat table to answer). Core reads the filter tables that hold
/// firewalld's iptables ruleset, unless the runtime's `direct` rules say
/// firewalld runs nftables (an iptables accept then opens nothing), and
/// the nat tables under either backend (firewalld accepts what they send
/// to the host before its zones).
pub fn saved_tables() -> Vec<String> {
    let save = |program| run_argv(&[program]).unwrap_or_default();
    vec![save("iptables-save"), save("ip6tables-save")]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(argv: &[&str]) -> Command {
        Command {
            argv: argv.iter().map(ToString::to_string).collect(),
            stdin: None,
        }
    }

    /// As Python's `shlex.quote` joins them (firewall-cmd's `joinArgs`),
    /// checked against its output for these arguments.
    #[test]
    fn a_direct_rules_arguments_are_joined_as_firewall_cmd_prints_them() {
        let args = [
            "-m",
            "comment",
            "--comment",
            "it's a rule",
            "",
            "198.18.2.0/24",
            "a_b@%+=:,./-",
            "$(x)",
            "é",
        ]
        .map(String::from);
        assert_eq!(
            firewalld_join_args(args.iter().map(String::as_str)),
            r#"-m comment --comment 'it'"'"'s a rule' '' 198.18.2.0/24 a_b@%+=:,./- '$(x)' 'é'"#
        );
    }

    #[test]
    fn core_argvs_are_understood() {
        let rule = r#"rule family="ipv4" source address="198.18.2.10" port port="7001" protocol="tcp" log prefix="portplan:a" level="info" limit value="1/h" accept"#;
        let add = format!("--add-rich-rule={rule}");
        assert_eq!(
            Action::parse(&command(&[
                "firewall-cmd",
                "--permanent",
                "--zone=public",
                &add,
                &add
            ])),
            Some(Action::RichRules {
                permanent: true,
                zone: "public".into(),
                add: true,
                rules: vec![rule.into(), rule.into()],
            })
        );
        assert_eq!(
            Action::parse(&command(&[
                "firewall-cmd",
                "--permanent",
                "--new-ipset=portplan-x-v4",
                "--type=hash:net",
                "--option=family=inet",
            ])),
            Some(Action::NewIpset {
                name: "portplan-x-v4".into(),
                kind: "hash:net".into(),
                options: [("family".to_string(), "inet".to_string())].into(),
            })
        );
        assert_eq!(
            Action::parse(&command(&[
                "firewall-cmd",
                "--ipset=p",
                "--remove-entry=10.0.0.1"
            ])),
            Some(Action::Entry {
                permanent: false,
                ipset: "p".into(),
                add: false,
                entry: "10.0.0.1".into(),
            })
        );
        assert_eq!(
            Action::parse(&command(&[
                "firewall-cmd",
                "--permanent",
                "--delete-ipset=p"
            ])),
            Some(Action::DeleteIpset { name: "p".into() })
        );
    }

    #[test]
    fn anything_else_is_left_to_firewall_cmd() {
        for argv in [
            &["firewall-cmd", "--reload"][..],
            &["firewall-cmd", "--zone=public", "--add-port=80/tcp"],
            &[
                "firewall-cmd",
                "--zone=public",
                "--add-rich-rule=a",
                "--remove-rich-rule=b",
            ],
            &["firewall-cmd", "--new-ipset=p", "--type=hash:net"],
            &[
                "firewall-cmd",
                "--ipset=p",
                "--add-entry=1",
                "--add-entry=2",
            ],
            &["nft", "-f", "-"],
        ] {
            assert_eq!(Action::parse(&command(argv)), None, "{argv:?}");
        }
    }

    #[test]
    fn settings_dictionaries_came_with_0_9() {
        assert!(has_settings_dicts("1.3.3"));
        assert!(has_settings_dicts("0.9.3"));
        assert!(!has_settings_dicts("0.8.2"));
        assert!(!has_settings_dicts("0.6.3"));
        assert!(!has_settings_dicts(""));
    }
}
