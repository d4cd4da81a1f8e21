//! The module's options, validated here because Ansible validates nothing for
//! a binary module: unknown options are named, text converts where a number or
//! a boolean is expected (Jinja templating hands everything over as text), and
//! a wrong type is an error that names the option and the value.
//!
//! A value an error quotes is echoed the way portplan-core quotes plan values:
//! control and bidi characters written as `\u{hex}` escapes, and at most
//! 200 characters, then `...`.

use portplan_core::shell::CheckedPlan;
use portplan_core::{Phase, Plan, PlanError, Problem, Severity};
use serde_json::{Map, Value};

pub use portplan_run::{FirewallChoice, Task as State};

/// The `state` option's spellings.
const STATES: &[(&str, State)] = &[
    ("present", State::Present),
    ("absent", State::Absent),
    ("checked", State::Checked),
];

/// The `phase` option's spellings.
const PHASES: &[(&str, Phase)] = &[
    ("preinstall", Phase::Preinstall),
    ("postinstall", Phase::Postinstall),
];

/// The `firewall` option's spellings.
const FIREWALLS: &[(&str, FirewallChoice)] = &[
    ("auto", FirewallChoice::Auto),
    ("firewalld", FirewallChoice::Firewalld),
    ("ufw", FirewallChoice::Ufw),
    ("nftables", FirewallChoice::Nftables),
    ("iptables", FirewallChoice::Iptables),
    ("none", FirewallChoice::None),
];

/// The `fail_on` option's spellings.
const FAIL_ON: &[(&str, Severity)] = &[("error", Severity::Error), ("warning", Severity::Warning)];

/// The option's spelling of a state.
pub fn state_name(state: State) -> &'static str {
    STATES
        .iter()
        .find(|(_, s)| *s == state)
        .map_or("", |(name, _)| name)
}

/// The validated options of one task.
#[derive(Debug, Clone)]
pub struct Params {
    pub plan: Plan,
    pub host: String,
    pub phase: Phase,
    pub state: State,
    pub firewall: FirewallChoice,
    pub fail_on: Severity,
    pub persist: bool,
    /// Enable an inactive ufw once its rules are in place.
    pub ufw_enable: bool,
    pub check_mode: bool,
    pub diff: bool,
    pub no_log: bool,
    /// Keep a copy of every file persisting replaces (`backup`).
    pub backup: bool,
    /// firewalld: the zone that gets portplan's rules (`zone`), instead of
    /// the zone serving the host's interface.
    pub zone: Option<String>,
    /// Reserve the planned fixed ports inside the ephemeral range, at runtime
    /// and in a sysctl.d drop-in (`reserve_ports`).
    pub reserve_ports: bool,
    /// Drift is an error in any phase (`portplan check`), not only after install.
    pub strict_audit: bool,
    /// Postinstall: how long to wait for planned ports to listen (`wait_timeout`).
    pub wait: std::time::Duration,
    /// How long to wait for another run's host lock (`lock_timeout`, seconds).
    pub lock_timeout: std::time::Duration,
    /// The task's own options as given (no `_ansible_*` keys).
    pub given: Map<String, Value>,
}

const OPTIONS: &[&str] = &[
    "plan",
    "plan_yaml",
    "plan_hosts",
    "host",
    "phase",
    "state",
    "firewall",
    "fail_on",
    "persist",
    "ufw_enable",
    "lock_timeout",
    "wait_timeout",
    "backup",
    "zone",
    "reserve_ports",
];

/// Ansible's internal options the module honours; every other `_ansible_*`
/// key is Ansible's business and ignored.
const CHECK_MODE: &str = "_ansible_check_mode";
const DIFF: &str = "_ansible_diff";
const NO_LOG: &str = "_ansible_no_log";

/// Parse the args file's text. Every problem is reported, not just the first.
#[cfg(test)]
pub fn parse(text: &str) -> Result<Params, PlanError> {
    parse_value(read(text)?).map(|(params, _)| params)
}

/// The args file's text as JSON: read once, the plan included. A `plan`
/// mapping is kept as its JSON text (a string), read as a plan given as
/// text is: decoded straight from the text, not first built into a JSON
/// value tree (with 5,000 hosts that tree cost more than decoding the
/// plan). What differs from reading it as a value: a repeated key inside it
/// is a problem, as in a plan file (Ansible writes the args file from a
/// dictionary, so it never has one), and the plan's size limit counts the
/// text as written.
pub fn read(text: &str) -> Result<Value, PlanError> {
    let mut json = serde_json::Deserializer::from_str(text);
    let options = serde::Deserializer::deserialize_map(&mut json, Options);
    match options.and_then(|options| json.end().map(|()| options)) {
        Ok(options) => Ok(Value::Object(options)),
        // Not an object, or not JSON: read as before, for the same answer.
        Err(_) => serde_json::from_str(text)
            .map_err(|e| PlanError::single("args", "", format!("the args file is not JSON: {e}"))),
    }
}

/// The args file's object, a `plan` mapping as its text ([`read`]).
struct Options;

impl<'de> serde::de::Visitor<'de> for Options {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the module's options as a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut members: A,
    ) -> Result<Self::Value, A::Error> {
        let mut options = Map::new();
        while let Some(key) = members.next_key::<String>()? {
            let value = if key == "plan" {
                let raw: &serde_json::value::RawValue = members.next_value()?;
                if raw.get().starts_with('{') {
                    Value::String(raw.get().to_owned())
                } else {
                    serde_json::from_str(raw.get()).map_err(serde::de::Error::custom)?
                }
            } else {
                members.next_value()?
            };
            options.insert(key, value);
        }
        Ok(options)
    }
}

/// The options of the args file already read as JSON ([`read`]), every
/// problem reported, not just the first; and the plan as checked up front,
/// kept resolved for the run's `check_host` calls. The plan is decoded from
/// that value, never written back to text.
pub fn parse_value(value: Value) -> Result<(Params, CheckedPlan), PlanError> {
    let Value::Object(mut args) = value else {
        return Err(PlanError::single(
            "args",
            short(&value),
            "the args file must hold a JSON object",
        ));
    };
    // Ansible 2.x's wrapped form, should a caller use it.
    match args.remove("ANSIBLE_MODULE_ARGS") {
        None => {}
        Some(Value::Object(inner)) => args = inner,
        Some(other) => {
            return Err(PlanError::single(
                "ANSIBLE_MODULE_ARGS",
                short(&other),
                "must be a JSON object holding the module's options (Ansible's wrapped form)",
            ));
        }
    }
    let mut problems = Vec::new();
    unknown_options(&args, &mut problems);

    let host = text_option(&args, "host", &mut problems);
    let phase = choice(&args, "phase", PHASES, Phase::Preinstall, &mut problems);
    let state = choice(&args, "state", STATES, State::Present, &mut problems);
    let firewall = choice(
        &args,
        "firewall",
        FIREWALLS,
        FirewallChoice::Auto,
        &mut problems,
    );
    let fail_on = choice(&args, "fail_on", FAIL_ON, Severity::Error, &mut problems);
    let persist = boolean(&args, "persist", true, &mut problems);
    let ufw_enable = boolean(&args, "ufw_enable", false, &mut problems);
    let lock_timeout = seconds(&args, "lock_timeout", 60, &mut problems);
    let backup = boolean(&args, "backup", false, &mut problems);
    let wait = seconds(&args, "wait_timeout", 0, &mut problems);
    let zone = zone_option(&args, &mut problems);
    let reserve_ports = boolean(&args, "reserve_ports", false, &mut problems);
    let check_mode = boolean(&args, CHECK_MODE, false, &mut problems);
    let diff = boolean(&args, DIFF, false, &mut problems);
    let no_log = boolean(&args, NO_LOG, false, &mut problems);
    let plan = checked_plan_option(&args, &mut problems);

    if host.is_none() && !problems.iter().any(|p| p.path == "host") {
        problems.push(Problem {
            path: "host".into(),
            value: String::new(),
            message: "is required: the name of this target in the plan's hosts \
                      (the action plugin fills it from inventory_hostname)"
                .into(),
        });
    }
    match (plan, host) {
        (Some((plan, checked)), Some(host)) if problems.is_empty() => Ok((
            Params {
                host,
                phase,
                state,
                firewall,
                fail_on,
                persist,
                ufw_enable,
                lock_timeout,
                backup,
                wait,
                zone,
                reserve_ports,
                strict_audit: false,
                check_mode,
                diff,
                no_log,
                given: args
                    .into_iter()
                    .filter(|(key, _)| !key.starts_with("_ansible_"))
                    .map(|(key, value)| {
                        let value = if PLAN_OPTIONS.contains(&key.as_str()) {
                            not_echoed(&key, &value, &plan)
                        } else {
                            value
                        };
                        (key, value)
                    })
                    .collect(),
                plan,
            },
            checked,
        )),
        _ => Err(PlanError { problems }),
    }
}

/// The options in `args` that are neither in `options` nor Ansible's own,
/// and the problem naming them with every supported one.
pub(crate) fn unsupported<'a>(
    args: &'a Map<String, Value>,
    options: &[&str],
) -> (Vec<&'a str>, Option<Problem>) {
    let unknown: Vec<&str> = args
        .keys()
        .map(String::as_str)
        .filter(|k| !k.starts_with("_ansible_") && !options.contains(k))
        .collect();
    if unknown.is_empty() {
        return (unknown, None);
    }
    let mut supported = options.to_vec();
    supported.sort_unstable();
    let problem = Problem {
        path: quote(&unknown.join(", ")),
        value: String::new(),
        message: format!(
            "unsupported parameter{}; supported: {}",
            if unknown.len() == 1 { "" } else { "s" },
            supported.join(", ")
        ),
    };
    (unknown, Some(problem))
}

/// Names every option that is neither the module's nor Ansible's own.
fn unknown_options(args: &Map<String, Value>, problems: &mut Vec<Problem>) {
    let (unknown, problem) = unsupported(args, OPTIONS);
    if let Some(problem) = problem {
        problems.push(problem);
        if unknown.contains(&"plan_file") {
            problems.push(Problem {
                path: "plan_file".into(),
                value: String::new(),
                message: "is read on the controller by the portplan.ports.portplan action \
                          plugin; call the module by that name, or pass `plan`"
                    .into(),
            });
        }
    }
}

/// The options that carry the plan, which the result's `invocation` does not
/// echo (see [`not_echoed`]).
const PLAN_OPTIONS: &[&str] = &["plan", "plan_yaml", "plan_hosts"];

/// What `invocation` shows for a plan option instead of its value: every
/// host's result would otherwise carry the whole plan (482 KB per host with
/// a 5,000-host plan), and the plan is the task's input, not its outcome.
/// The name, host count and size still tell which plan ran (the size of
/// the plan's text as the args file holds it; a mapping's own text since
/// [`read`] keeps it as text).
fn not_echoed(key: &str, value: &Value, plan: &Plan) -> Value {
    let bytes = match value {
        Value::String(text) => text.len(),
        // Its JSON text's length, counted without writing it.
        other => portplan_core::shell::json_size(other).0,
    };
    Value::String(if key == "plan_hosts" {
        let hosts = value.as_array().map_or(0, Vec::len);
        format!("(not echoed: {hosts} hosts, {bytes} bytes)")
    } else {
        format!(
            "(not echoed: plan {}, {} hosts, {bytes} bytes)",
            quote(&plan.name),
            plan.hosts.len()
        )
    })
}

/// The plan from `plan` (a mapping, or its JSON text) or `plan_yaml` (YAML
/// 1.2 text, read as `portplan validate` reads a `.yaml` file), with the
/// hosts of `plan_hosts` when given, parsed and validated up front.
pub(crate) fn plan_option(args: &Map<String, Value>, problems: &mut Vec<Problem>) -> Option<Plan> {
    checked_plan_option(args, problems).map(|(plan, _)| plan)
}

/// [`plan_option`], and the plan kept resolved for `check_host`.
fn checked_plan_option(
    args: &Map<String, Value>,
    problems: &mut Vec<Problem>,
) -> Option<(Plan, CheckedPlan)> {
    let present = |name: &str| args.get(name).is_some_and(|v| !v.is_null());
    let (source, yaml) = match (present("plan"), present("plan_yaml")) {
        (false, false) => {
            problems.push(Problem {
                path: "plan".into(),
                value: String::new(),
                message: "is required: the plan inline, or `plan_file` through the action plugin"
                    .into(),
            });
            return None;
        }
        (true, true) => {
            problems.push(Problem {
                path: "plan_yaml".into(),
                value: String::new(),
                message: "and `plan` are mutually exclusive: give the plan once".into(),
            });
            return None;
        }
        (true, false) => (&args["plan"], false),
        (false, true) => (&args["plan_yaml"], true),
    };
    let given = match source {
        // A plan passed through a template arrives as its JSON text.
        Value::String(text) if yaml => Given::Yaml(text),
        Value::String(text) => Given::Text(text),
        value @ Value::Object(_) if !yaml => Given::Value(value),
        other => {
            let (path, message) = if yaml {
                ("plan_yaml", "must be a string: the text of a YAML plan")
            } else {
                ("plan", "must be a mapping (the plan) or its JSON text")
            };
            problems.push(Problem {
                path: path.into(),
                value: short(other),
                message: message.into(),
            });
            return None;
        }
    };
    let hosts = match args.get("plan_hosts") {
        None | Some(Value::Null) => None,
        Some(Value::Array(hosts)) => Some(hosts),
        Some(other) => {
            problems.push(Problem {
                path: "plan_hosts".into(),
                value: short(other),
                message: "must be a list of plan hosts (name, address, components)".into(),
            });
            return None;
        }
    };
    // A YAML plan's problems get their line in the YAML text.
    let lines = |error: PlanError| match given {
        Given::Yaml(text) => crate::plan_input::with_lines("plan.yaml", text, error),
        _ => error,
    };
    let checked = read_plan(&given, hosts)
        .map_err(lines)
        // Resolving the plan (addresses, components, overrides) up front keeps
        // every plan problem under the `plan.` path, before any fact is read;
        // the run's checks of the host start from this resolution.
        .and_then(|plan| match portplan_core::shell::check_plan(&plan) {
            Ok(checked) => Ok((plan, checked)),
            Err(error) => Err(lines(error)),
        });
    match checked {
        Ok(checked) => Some(checked),
        Err(error) => {
            // Core's path of the whole input is `.`: that is `plan` itself.
            problems.extend(error.problems.into_iter().map(|p| Problem {
                path: match p.path.as_str() {
                    "" | "." => "plan".into(),
                    path => format!("plan.{path}"),
                },
                ..p
            }));
            None
        }
    }
}

/// How the plan was given.
enum Given<'a> {
    /// `plan` as a mapping: already read with the args file.
    Value(&'a Value),
    /// `plan` as JSON text (through a template).
    Text(&'a str),
    /// `plan_yaml`.
    Yaml(&'a str),
}

/// The plan, read once by core's strict parser: JSON text as text (so
/// serde_json's own messages and the duplicate key checks apply to exactly
/// what was given), a mapping or a YAML plan from its value; with `hosts`
/// set from `plan_hosts` when given.
fn read_plan(given: &Given<'_>, hosts: Option<&Vec<Value>>) -> Result<Plan, PlanError> {
    let value = match (given, hosts) {
        (Given::Text(text), None) => return portplan_core::parse_plan(text),
        (Given::Value(value), None) => return portplan_core::shell::parse_plan_value(value),
        (Given::Text(text), Some(_)) => match serde_json::from_str::<Value>(text) {
            Ok(value) => value,
            // Core names the syntax error as it does for any plan.
            Err(_) => return portplan_core::parse_plan(text),
        },
        (Given::Yaml(text), _) => crate::plan_input::yaml_value(text)?,
        // A plan given with `plan_hosts` lists no hosts (else it is refused
        // below), so this copy is small; the hosts are copied into it.
        (Given::Value(value), Some(_)) => (*value).clone(),
    };
    with_hosts(value, hosts)
}

/// `plan` with the hosts of `plan_hosts` set, read by core's parser.
fn with_hosts(mut value: Value, hosts: Option<&Vec<Value>>) -> Result<Plan, PlanError> {
    if let (Some(hosts), Value::Object(plan)) = (hosts, &mut value) {
        if let Some(listed) = plan.get("hosts") {
            return Err(PlanError::single(
                "hosts",
                short(listed),
                "the plan lists hosts, and `plan_hosts` (the action plugin's \
                 hosts_from_inventory) gives them too: remove `hosts` from the plan \
                 or turn hosts_from_inventory off",
            ));
        }
        plan.insert("hosts".into(), Value::Array(hosts.clone()));
    }
    portplan_core::shell::parse_plan_value(&value)
}

/// A string option; numbers and booleans convert to their text as Ansible's
/// own `type: str` does.
fn text_option(
    args: &Map<String, Value>,
    name: &str,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    match args.get(name)? {
        Value::Null => None,
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        other => {
            problems.push(Problem {
                path: name.into(),
                value: short(other),
                message: "must be a string".into(),
            });
            None
        }
    }
}

fn choice<T: Copy>(
    args: &Map<String, Value>,
    name: &str,
    choices: &[(&str, T)],
    default: T,
    problems: &mut Vec<Problem>,
) -> T {
    let Some(text) = text_option(args, name, problems) else {
        return default;
    };
    match choices.iter().find(|(key, _)| *key == text) {
        Some((_, value)) => *value,
        None => {
            let names: Vec<&str> = choices.iter().map(|(key, _)| *key).collect();
            problems.push(Problem {
                path: name.into(),
                value: quote(&text),
                message: format!("must be one of: {}", names.join(", ")),
            });
            default
        }
    }
}

/// The `zone` option: a firewalld zone name. Whether firewalld has such a
/// zone is asked on the host; here only a name firewall-cmd could take as
/// one argument (letters, digits, `_`, `-`, `.`, `+`, `/`: no space, no
/// option-like leading `-`).
pub(crate) fn zone_option(
    args: &Map<String, Value>,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let zone = text_option(args, "zone", problems)?;
    match check_zone(&zone) {
        Ok(()) => Some(zone),
        Err(message) => {
            problems.push(Problem {
                path: "zone".into(),
                value: quote(&zone),
                message,
            });
            None
        }
    }
}

/// Whether `zone` can be a firewalld zone's name, else why not.
pub(crate) fn check_zone(zone: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_-.+/".contains(c);
    if zone.is_empty() || zone.starts_with('-') || !zone.chars().all(allowed) {
        return Err(
            "must be a firewalld zone name (letters, digits, _ - . + /, not starting with -), \
                    e.g. public or internal"
                .into(),
        );
    }
    Ok(())
}

/// Whole seconds the way Ansible's `type: int` reads them (a number, or its
/// text), at most a day.
fn seconds(
    args: &Map<String, Value>,
    name: &str,
    default: u64,
    problems: &mut Vec<Problem>,
) -> std::time::Duration {
    let parsed = match args.get(name) {
        None | Some(Value::Null) => Some(default),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(text)) => text.trim().parse().ok(),
        Some(_) => None,
    };
    match parsed.filter(|s| *s <= 86_400) {
        Some(seconds) => std::time::Duration::from_secs(seconds),
        None => {
            problems.push(Problem {
                path: name.into(),
                value: args.get(name).map(short).unwrap_or_default(),
                message: "must be a whole number of seconds from 0 to 86400".into(),
            });
            std::time::Duration::from_secs(default)
        }
    }
}

/// A boolean the way Ansible's `type: bool` reads one.
fn boolean(
    args: &Map<String, Value>,
    name: &str,
    default: bool,
    problems: &mut Vec<Problem>,
) -> bool {
    let parsed = match args.get(name) {
        None | Some(Value::Null) => return default,
        Some(Value::Bool(flag)) => Some(*flag),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        Some(Value::String(text)) => match text.to_ascii_lowercase().as_str() {
            "yes" | "on" | "1" | "true" | "t" | "y" => Some(true),
            "no" | "off" | "0" | "false" | "f" | "n" => Some(false),
            _ => None,
        },
        Some(_) => None,
    };
    parsed.unwrap_or_else(|| {
        problems.push(Problem {
            path: name.into(),
            value: args.get(name).map(short).unwrap_or_default(),
            message: "must be a boolean (true/false, yes/no, on/off, 1/0)".into(),
        });
        default
    })
}

/// A value as an error message quotes it: a string as its text, anything
/// else as its JSON, then [`quote`]d.
fn short(value: &Value) -> String {
    match value {
        Value::String(text) => quote(text),
        other => quote(&other.to_string()),
    }
}

/// A value as an error quotes it: portplan-core's rule (escaped, capped).
fn quote(text: &str) -> String {
    portplan_core::shell::quote(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"{"name":"p","profiles":["ocp"],"hosts":[{"name":"a","address":"198.18.0.1","components":["ocp-server"]}]}"#;

    fn args(extra: &str) -> String {
        format!(r#"{{"plan":{PLAN},"host":"a"{extra},"_ansible_version":"2.19.0"}}"#)
    }

    /// A `plan` mapping is read from its text, as a plan given as text is:
    /// the same plan and options, whatever the spacing Ansible writes; only
    /// a repeated key, which a JSON value would have dropped, is now named.
    #[test]
    fn a_plan_mapping_reads_as_its_text() {
        let text = serde_json::to_string(PLAN).expect("text");
        let as_text = parse(&format!(r#"{{"plan":{text},"host":"a"}}"#)).expect("valid");
        let spaced = PLAN.replace(',', ", ").replace(':', ": ");
        let as_mapping = parse(&format!(r#"{{"plan": {spaced}, "host": "a"}}"#)).expect("valid");
        assert_eq!(as_mapping.plan, as_text.plan);
        assert_eq!(
            serde_json::to_string(&as_mapping.plan).expect("json"),
            serde_json::to_string(&portplan_core::parse_plan(PLAN).expect("plan")).expect("json")
        );
        let repeated = PLAN.replacen('{', r#"{"name":"first","#, 1);
        let error = parse(&format!(r#"{{"plan":{repeated},"host":"a"}}"#)).expect_err("repeated");
        assert_eq!(error.problems[0].path, "plan.name", "{error}");
        assert!(
            error.problems[0].message.contains("duplicate field"),
            "{error}"
        );
        // Not a mapping: read as any other option value.
        let error = parse(r#"{"plan":[1],"host":"a"}"#).expect_err("a list");
        assert_eq!(error.problems[0].path, "plan");
    }

    #[test]
    fn defaults_and_internal_options() {
        let params = parse(&args(
            r#","_ansible_check_mode":true,"_ansible_diff":"yes""#,
        ))
        .expect("valid");
        assert_eq!(params.state, State::Present);
        assert_eq!(params.phase, Phase::Preinstall);
        assert_eq!(params.firewall, FirewallChoice::Auto);
        assert_eq!(params.fail_on, Severity::Error);
        assert!(params.persist && params.check_mode && params.diff && !params.no_log);
    }

    #[test]
    fn text_converts_where_a_boolean_or_port_is_expected() {
        let with_override = PLAN.replace(
            r#""components":["ocp-server"]"#,
            r#""components":["ocp-server"],"overrides":[{"spec":"ocp-server.http","ports":"8081"}]"#,
        );
        let text = format!(r#"{{"plan":{with_override},"host":"a","persist":"no"}}"#);
        let params = parse(&text).expect("valid");
        assert!(!params.persist);
        assert_eq!(params.plan.hosts[0].overrides[0].ports.first, 8081);
    }

    #[test]
    fn every_problem_names_its_option_and_value() {
        let error = parse(&args(
            r#","state":"opened","persist":"maybe","colour":"red""#,
        ))
        .expect_err("invalid");
        let paths: Vec<(&str, &str)> = error
            .problems
            .iter()
            .map(|p| (p.path.as_str(), p.value.as_str()))
            .collect();
        assert_eq!(
            paths,
            [("colour", ""), ("state", "opened"), ("persist", "maybe")]
        );
        assert!(
            error.problems[0]
                .message
                .contains("supported: backup, fail_on")
        );
    }

    #[test]
    fn zone_and_reserve_ports_are_read_and_a_bad_one_is_named_with_its_value() {
        let params = parse(&args(r#","zone":"internal","reserve_ports":"yes""#)).expect("valid");
        assert_eq!(params.zone.as_deref(), Some("internal"));
        assert!(params.reserve_ports);
        let params = parse(&args("")).expect("valid");
        assert_eq!((params.zone, params.reserve_ports), (None, false));
        for (zone, shown) in [
            (r#""my zone""#, "my zone"),
            (r#""--permanent""#, "--permanent"),
            (r#""""#, ""),
        ] {
            let error = parse(&args(&format!(r#","zone":{zone}"#))).expect_err(zone);
            let problem = &error.problems[0];
            assert_eq!(
                (problem.path.as_str(), problem.value.as_str()),
                ("zone", shown)
            );
            assert!(problem.message.contains("firewalld zone name"), "{error}");
        }
        let error = parse(&args(r#","reserve_ports":"perhaps""#)).expect_err("not a boolean");
        assert_eq!(error.problems[0].path, "reserve_ports");
        assert_eq!(error.problems[0].value, "perhaps");
    }

    #[test]
    fn plan_problems_carry_the_plan_prefix() {
        let text = r#"{"plan":{"name":"p","profiles":["ocp"],"hosts":[{"name":"a","address":"not-ip","components":[]}]},"host":"a"}"#;
        let error = parse(text).expect_err("invalid");
        assert_eq!(error.problems[0].path, "plan.hosts[0].address");
        assert_eq!(error.problems[0].value, "not-ip");
    }

    #[test]
    fn a_wrapped_form_that_is_not_an_object_is_an_error() {
        let wrapped = format!(r#"{{"ANSIBLE_MODULE_ARGS":{}}}"#, args(""));
        let params = parse(&wrapped).expect("the wrapped form is read");
        assert_eq!(params.host, "a");
        for (inner, value) in [("[1,2]", "[1,2]"), ("\"plan\"", "plan"), ("null", "null")] {
            let error = parse(&format!(r#"{{"ANSIBLE_MODULE_ARGS":{inner},"host":"a"}}"#))
                .expect_err("not an object");
            assert_eq!(error.problems.len(), 1, "{error}");
            assert_eq!(error.problems[0].path, "ANSIBLE_MODULE_ARGS");
            assert_eq!(error.problems[0].value, value);
            assert!(error.to_string().contains("ANSIBLE_MODULE_ARGS"), "{error}");
        }
    }

    #[test]
    fn a_plan_that_is_not_a_plan_is_at_path_plan() {
        for plan in [r#""{not json""#, r#""[]""#, r#""42""#] {
            let error = parse(&format!(r#"{{"plan":{plan},"host":"a"}}"#)).expect_err("invalid");
            let paths: Vec<&str> = error.problems.iter().map(|p| p.path.as_str()).collect();
            assert_eq!(paths, ["plan"], "{plan}: {error}");
            assert!(!error.to_string().contains("plan.."), "{error}");
        }
    }

    #[test]
    fn echoed_values_are_capped_and_escaped() {
        let hostile = format!("x\u{0}\u{1b}[31m\u{202e}{}", "y".repeat(10_000));
        let json = |text: &str| serde_json::to_string(text).expect("json");
        let text = format!(
            r#"{{"plan":{PLAN},"host":"a","state":{s},"persist":{s},{s}:1}}"#,
            s = json(&hostile)
        );
        let error = parse(&text).expect_err("invalid");
        assert_eq!(error.problems.len(), 3, "{error}");
        for problem in &error.problems {
            for field in [&problem.path, &problem.value] {
                assert!(field.chars().count() <= 200 + 3, "{field}");
                assert!(!field.contains(['\u{0}', '\u{1b}', '\u{202e}']), "{field}");
            }
        }
        assert!(
            error.problems[1]
                .value
                .starts_with("x\\u{0}\\u{1b}[31m\\u{202e}yyy")
        );
        assert!(error.problems[1].value.ends_with("y..."));
        assert!(
            error.to_string().len() < 2000,
            "{}",
            error.to_string().len()
        );
    }

    #[test]
    fn plan_values_echoed_from_core_are_capped_and_escaped() {
        let name = format!("h\u{0}\u{202e}{}", "n".repeat(10_000));
        let plan = serde_json::json!({
            "name": "p",
            "profiles": ["ocp"],
            "hosts": [
                {"name": name, "address": "198.18.0.1", "components": ["ocp-server"]},
                {"name": name, "address": "::ffff:198.18.0.1", "components": [name]},
            ],
        });
        let text = serde_json::json!({"plan": plan, "host": name}).to_string();
        let error = parse(&text).expect_err("invalid");
        let paths: Vec<&str> = error.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "plan.hosts[1].name",
                "plan.hosts[1].address",
                "plan.hosts[1].components[0]"
            ],
            "{error}"
        );
        let message = error.to_string();
        assert!(message.len() < 2000, "{}", message.len());
        assert!(!message.contains(['\u{0}', '\u{202e}']));
        assert!(message.contains("h\\u{0}\\u{202e}nnn"));
    }

    const PLAN_YAML: &str = "name: p\nprofiles: [ocp]\nhosts:\n  - name: a\n    address: 198.18.0.1\n    components: [ocp-server]\n";

    #[test]
    fn a_yaml_plan_reads_as_its_json_twin() {
        let yaml = serde_json::json!({"plan_yaml": PLAN_YAML, "host": "a"}).to_string();
        let from_yaml = parse(&yaml).expect("valid");
        let from_json = parse(&args("")).expect("valid");
        assert_eq!(
            serde_json::to_string(&from_yaml.plan).expect("json"),
            serde_json::to_string(&from_json.plan).expect("json")
        );
    }

    #[test]
    fn a_yaml_plan_is_yaml_1_2_with_lines_in_its_problems() {
        // YAML 1.1 (PyYAML) would read `yes` as true and `0777` as 511.
        let text = PLAN_YAML.replace("name: p\n", "name: yes\n").replace(
            "components: [ocp-server]",
            "components: [ocp-server]\n    overrides: [{spec: ocp-server.http, ports: 0x10000}]",
        );
        let error = parse(&serde_json::json!({"plan_yaml": text, "host": "a"}).to_string())
            .expect_err("port 65536");
        assert_eq!(error.problems.len(), 1, "{error}");
        assert_eq!(error.problems[0].path, "plan.hosts[0].overrides[0].ports");
        assert!(error.problems[0].message.ends_with("(line 7)"), "{error}");
        let ok = text.replace("0x10000", "0x1f90");
        let params =
            parse(&serde_json::json!({"plan_yaml": ok, "host": "a"}).to_string()).expect("valid");
        assert_eq!(params.plan.name, "yes");
        assert_eq!(params.plan.hosts[0].overrides[0].ports.first, 8080);
        // A flow-style YAML plan is YAML here, whatever its first character.
        let flow = "{name: p, profiles: [ocp], hosts: [{name: a, address: 198.18.0.1, components: [ocp-server]}]}";
        parse(&serde_json::json!({"plan_yaml": flow, "host": "a"}).to_string()).expect("valid");
    }

    #[test]
    fn plan_and_plan_yaml_are_exclusive_and_plan_yaml_is_text() {
        let both = serde_json::json!({"plan": PLAN, "plan_yaml": PLAN_YAML, "host": "a"});
        let error = parse(&both.to_string()).expect_err("both");
        assert_eq!(error.problems[0].path, "plan_yaml");
        let mapping = serde_json::json!({"plan_yaml": {"name": "p"}, "host": "a"});
        let error = parse(&mapping.to_string()).expect_err("not text");
        assert_eq!(
            (
                error.problems[0].path.as_str(),
                error.problems[0].value.as_str()
            ),
            ("plan_yaml", r#"{"name":"p"}"#)
        );
    }

    const INVENTORY_HOSTS: &str =
        r#"[{"name":"a","address":"198.18.0.1","components":["ocp-server"]}]"#;

    #[test]
    fn plan_hosts_fill_a_plan_without_hosts() {
        let without: Value = serde_json::from_str(PLAN).expect("json");
        let mut without = without.as_object().expect("object").clone();
        without.remove("hosts");
        let hosts: Value = serde_json::from_str(INVENTORY_HOSTS).expect("json");
        let expected = parse(&args("")).expect("valid");
        let yaml_without = "name: p\nprofiles: [ocp]\n";
        for given in [
            serde_json::json!({"plan": without, "plan_hosts": hosts, "host": "a"}),
            serde_json::json!({"plan": Value::Object(without.clone()).to_string(), "plan_hosts": hosts, "host": "a"}),
            serde_json::json!({"plan_yaml": yaml_without, "plan_hosts": hosts, "host": "a"}),
        ] {
            let params = parse(&given.to_string()).expect("valid");
            assert_eq!(
                serde_json::to_string(&params.plan).expect("json"),
                serde_json::to_string(&expected.plan).expect("json"),
                "{given}"
            );
        }
    }

    #[test]
    fn plan_hosts_never_add_to_hosts_the_plan_lists() {
        let hosts: Value = serde_json::from_str(INVENTORY_HOSTS).expect("json");
        for given in [
            serde_json::json!({"plan": serde_json::from_str::<Value>(PLAN).expect("json"), "plan_hosts": hosts, "host": "a"}),
            serde_json::json!({"plan_yaml": PLAN_YAML, "plan_hosts": hosts, "host": "a"}),
            serde_json::json!({"plan_yaml": "name: p\nprofiles: [ocp]\nhosts: []\n", "plan_hosts": hosts, "host": "a"}),
        ] {
            let error = parse(&given.to_string()).expect_err("hosts twice");
            assert_eq!(error.problems.len(), 1, "{error}");
            assert_eq!(error.problems[0].path, "plan.hosts", "{error}");
            assert!(
                error.problems[0].message.contains("hosts_from_inventory"),
                "{error}"
            );
        }
    }

    #[test]
    fn plan_hosts_problems_name_the_host_without_a_yaml_line() {
        let hosts = serde_json::json!([{"name": "a", "address": "db1.example", "components": ["ocp-server"]}]);
        let given = serde_json::json!({"plan_yaml": "name: p\nprofiles: [ocp]\n", "plan_hosts": hosts, "host": "a"});
        let error = parse(&given.to_string()).expect_err("not an address");
        assert_eq!(error.problems[0].path, "plan.hosts[0].address");
        assert_eq!(error.problems[0].value, "db1.example");
        // The hosts came from the inventory, not from a line of the YAML.
        assert!(!error.problems[0].message.contains("(line"), "{error}");
        let given = serde_json::json!({"plan_yaml": "name: p\nprofiles: [ocp]\n", "plan_hosts": {"a": 1}, "host": "a"});
        let error = parse(&given.to_string()).expect_err("not a list");
        assert_eq!(error.problems[0].path, "plan_hosts");
    }

    #[test]
    fn invocation_names_the_plan_without_echoing_it() {
        let hosts: Value = serde_json::from_str(INVENTORY_HOSTS).expect("json");
        let given = serde_json::json!({"plan_yaml": "name: p\nprofiles: [ocp]\n", "plan_hosts": hosts, "host": "a", "state": "checked"});
        let params = parse(&given.to_string()).expect("valid");
        assert_eq!(
            params.given["plan_yaml"],
            "(not echoed: plan p, 1 hosts, 24 bytes)"
        );
        assert_eq!(
            params.given["plan_hosts"],
            "(not echoed: 1 hosts, 65 bytes)"
        );
        assert_eq!(params.given["state"], "checked");
        let params = parse(&args("")).expect("valid");
        assert!(
            params.given["plan"]
                .as_str()
                .is_some_and(|s| s.starts_with("(not echoed: plan p, 1 hosts,")),
            "{:?}",
            params.given
        );
    }

    #[test]
    fn plan_file_points_at_the_action_plugin() {
        let error = parse(r#"{"plan_file":"x.json","host":"a"}"#).expect_err("invalid");
        assert!(
            error
                .problems
                .iter()
                .any(|p| p.message.contains("action plugin"))
        );
        assert!(error.problems.iter().any(|p| p.path == "plan"));
    }
}
