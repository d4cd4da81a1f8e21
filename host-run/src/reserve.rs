//! `reserve_ports`: the ephemeral-range fix made to survive a reboot,
//! decided without touching a file.
//!
//! Core's `ephemeral-collision` finding names the fixed ports inside
//! `ip_local_port_range` that are not reserved, and its fix is one
//! `sysctl -w net.ipv4.ip_local_reserved_ports=LIST` merged with what is
//! reserved. Applied for good, that is two things: the running value (in
//! `/proc/sys`) and a drop-in that systemd-sysctl loads at boot.
//!
//! The sysctl is one list for the whole host, and the last file that sets
//! it at boot wins. So the drop-in holds the planned ports merged with the
//! whole running value (never only portplan's ports: that would drop what
//! others reserved), and its name sorts after the usual ones
//! (`99-portplan.conf`).

use std::collections::BTreeSet;

use portplan_core::{Finding, FindingCode};

/// The drop-in, under `/etc`.
pub const SYSCTL_DROPIN: &str = "sysctl.d/99-portplan.conf";

/// The sysctl's key as `sysctl.d` files name it.
pub const RESERVED_PORTS_KEY: &str = "net.ipv4.ip_local_reserved_ports";

/// The first line of every drop-in portplan writes: how it knows the file
/// is its own (it replaces and removes no other file).
const HEADER: &str = "# Managed by portplan (reserve_ports: true).";

/// The fix line of core's `ephemeral-collision` finding, up to the list.
const FIX_PREFIX: &str = "sysctl -w net.ipv4.ip_local_reserved_ports=";

/// What `reserve_ports` changes on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The new running value, when it must change (the kernel's list syntax).
    pub runtime: Option<String>,
    /// The running value as read, in the kernel's list syntax.
    pub runtime_before: String,
    /// What happens to the drop-in.
    pub dropin: DropIn,
}

/// What happens to portplan's drop-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropIn {
    /// It already says what it must (or there is none and nothing to reserve).
    Keep,
    /// Write this text (new file, or replacing portplan's own).
    Write(String),
    /// Remove it (`state: absent`).
    Remove,
}

impl Reservation {
    /// Whether anything changes.
    pub fn changes(&self) -> bool {
        self.runtime.is_some() || self.dropin != DropIn::Keep
    }
}

/// The ports to reserve, from the fix lines of core's `ephemeral-collision`
/// findings (every such finding carries the same, merged list).
pub fn planned_ports(findings: &[Finding]) -> Result<BTreeSet<u16>, String> {
    let mut ports = BTreeSet::new();
    for finding in findings
        .iter()
        .filter(|f| f.code == FindingCode::EphemeralCollision)
    {
        let list = finding.fix.strip_prefix(FIX_PREFIX).ok_or_else(|| {
            format!(
                "reserve_ports: core's ephemeral-collision fix is not `{FIX_PREFIX}LIST`: {}",
                finding.fix
            )
        })?;
        ports.extend(parse_ports(list).map_err(|e| format!("reserve_ports: core's fix: {e}"))?);
    }
    Ok(ports)
}

/// The kernel's list syntax (`8080,9000-9010`, or empty) as ports. A value
/// that is not one is an error naming it: portplan never rewrites a list it
/// did not understand.
pub fn parse_ports(text: &str) -> Result<BTreeSet<u16>, String> {
    let mut ports = BTreeSet::new();
    for part in text.trim().split(',').filter(|p| !p.trim().is_empty()) {
        let (first, last) = part.trim().split_once('-').unwrap_or((part, part));
        let bad = || {
            format!(
                "{RESERVED_PORTS_KEY} value {text:?}: {part:?} is not a port or a range of ports"
            )
        };
        let first: u16 = first.trim().parse().map_err(|_| bad())?;
        let last: u16 = last.trim().parse().map_err(|_| bad())?;
        if first == 0 || first > last {
            return Err(bad());
        }
        ports.extend(first..=last);
    }
    Ok(ports)
}

/// `ports` in the kernel's list syntax, runs of ports as ranges.
pub fn port_list(ports: &BTreeSet<u16>) -> String {
    let mut ranges: Vec<(u16, u16)> = Vec::new();
    for &port in ports {
        match ranges.last_mut() {
            Some((_, last)) if u32::from(*last) + 1 == u32::from(port) => *last = port,
            _ => ranges.push((port, port)),
        }
    }
    ranges
        .iter()
        .map(|&(first, last)| {
            if first == last {
                first.to_string()
            } else {
                format!("{first}-{last}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The drop-in's text for `ports`. No date or plan name: the same ports
/// give the same bytes, so a second run writes nothing.
pub fn dropin_text(ports: &BTreeSet<u16>) -> String {
    format!(
        "{HEADER}\n\
         # The planned fixed ports inside ip_local_port_range, merged with the ports that\n\
         # were reserved when it was written (the last file setting the key wins at boot).\n\
         # portplan rewrites this file and removes it with state: absent; keep your own\n\
         # settings in another file.\n\
         {RESERVED_PORTS_KEY} = {}\n",
        port_list(ports)
    )
}

/// Whether `text` is a drop-in portplan wrote.
pub fn dropin_is_ours(text: &str) -> bool {
    text.starts_with(HEADER)
}

/// `state: present`: reserve `planned` at runtime and in the drop-in,
/// merged with the running value. `dropin` is the drop-in's text as read
/// (`None`: no such file). With nothing planned and no drop-in, nothing
/// changes; a drop-in someone else put at portplan's path is refused.
pub fn reserve(
    planned: &BTreeSet<u16>,
    running: &str,
    dropin: Option<&str>,
    path: &str,
) -> Result<Reservation, String> {
    refuse_foreign(dropin, path)?;
    let now = parse_ports(running).map_err(|e| format!("reserve_ports: the running {e}"))?;
    let wanted: BTreeSet<u16> = now.union(planned).copied().collect();
    let text = dropin_text(&wanted);
    let dropin = match dropin {
        None if planned.is_empty() => DropIn::Keep,
        Some(old) if old == text => DropIn::Keep,
        _ => DropIn::Write(text),
    };
    Ok(Reservation {
        runtime: (wanted != now).then(|| port_list(&wanted)),
        runtime_before: port_list(&now),
        dropin,
    })
}

/// `state: absent`: remove portplan's drop-in. The running reservation is
/// left as it is: the running list cannot tell portplan's ports from ports
/// others reserved, a reserved port only keeps outgoing connections from
/// picking it, and the next boot no longer reserves portplan's ports.
pub fn unreserve(running: &str, dropin: Option<&str>, path: &str) -> Result<Reservation, String> {
    refuse_foreign(dropin, path)?;
    let now = parse_ports(running).map_err(|e| format!("reserve_ports: the running {e}"))?;
    Ok(Reservation {
        runtime: None,
        runtime_before: port_list(&now),
        dropin: if dropin.is_some() {
            DropIn::Remove
        } else {
            DropIn::Keep
        },
    })
}

fn refuse_foreign(dropin: Option<&str>, path: &str) -> Result<(), String> {
    match dropin {
        Some(text) if !dropin_is_ours(text) => Err(format!(
            "reserve_ports: {path} exists and was not written by portplan (its first line is not \
             `{HEADER}`); nothing was changed. Move your settings to another file, or remove it"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portplan_core::Severity;

    const PATH: &str = "/etc/sysctl.d/99-portplan.conf";

    fn ports(list: &[u16]) -> BTreeSet<u16> {
        list.iter().copied().collect()
    }

    fn collision(fix: &str) -> Finding {
        Finding {
            code: FindingCode::EphemeralCollision,
            severity: Severity::Warning,
            host: Some("a".into()),
            component: None,
            spec: None,
            ports: None,
            message: String::new(),
            fix: fix.into(),
        }
    }

    #[test]
    fn lists_parse_and_print_in_the_kernel_syntax() {
        assert_eq!(
            parse_ports("8080,9000-9002\n").expect("as the test sets it up"),
            ports(&[8080, 9000, 9001, 9002])
        );
        assert_eq!(
            parse_ports("\n").expect("as the test sets it up"),
            ports(&[])
        );
        assert_eq!(
            port_list(&ports(&[9002, 8080, 9000, 9001, 65535])),
            "8080,9000-9002,65535"
        );
        for bad in ["80x", "9-8", "0", "70000", "1-"] {
            let error = parse_ports(bad).expect_err(bad);
            assert!(error.contains(&format!("{bad:?}")), "{error}");
        }
    }

    #[test]
    fn planned_ports_come_from_cores_fix_and_a_strange_fix_is_an_error() {
        let findings = [
            collision("sysctl -w net.ipv4.ip_local_reserved_ports=2881-2882,40000"),
            collision("sysctl -w net.ipv4.ip_local_reserved_ports=2881-2882,40000"),
        ];
        assert_eq!(
            planned_ports(&findings).expect("as the test sets it up"),
            ports(&[2881, 2882, 40000])
        );
        let error = planned_ports(&[collision("echo no")]).expect_err("not core's fix");
        assert!(error.contains("echo no"), "{error}");
    }

    #[test]
    fn reserving_merges_with_the_running_value_and_a_second_run_changes_nothing() {
        let planned = ports(&[2881, 2882]);
        let first = reserve(&planned, "8080,2883\n", None, PATH).expect("as the test sets it up");
        assert_eq!(first.runtime.as_deref(), Some("2881-2883,8080"));
        let DropIn::Write(text) = &first.dropin else {
            panic!("{first:?}")
        };
        assert!(
            text.contains("net.ipv4.ip_local_reserved_ports = 2881-2883,8080\n"),
            "{text}"
        );
        let second =
            reserve(&planned, "2881-2883,8080", Some(text), PATH).expect("as the test sets it up");
        assert!(!second.changes(), "{second:?}");
    }

    #[test]
    fn the_drop_in_catches_up_when_only_the_runtime_holds_the_ports() {
        // A one-off `sysctl -w` reserved them: the next boot would not.
        let planned = ports(&[2881]);
        let done = reserve(&planned, "2881", None, PATH).expect("as the test sets it up");
        assert_eq!(done.runtime, None);
        assert_eq!(done.dropin, DropIn::Write(dropin_text(&planned)));
    }

    #[test]
    fn nothing_planned_and_no_drop_in_is_no_change() {
        let done = reserve(&ports(&[]), "8080", None, PATH).expect("as the test sets it up");
        assert!(!done.changes(), "{done:?}");
    }

    #[test]
    fn a_foreign_file_at_portplans_path_is_refused_naming_it() {
        let foreign = "net.ipv4.ip_local_reserved_ports = 9999\n";
        for result in [
            reserve(&ports(&[2881]), "", Some(foreign), PATH),
            unreserve("", Some(foreign), PATH),
        ] {
            let error = result.expect_err("foreign");
            assert!(
                error.contains(PATH) && error.contains("nothing was changed"),
                "{error}"
            );
        }
    }

    #[test]
    fn absent_removes_only_the_drop_in() {
        let ours = dropin_text(&ports(&[2881]));
        let done = unreserve("2881", Some(&ours), PATH).expect("as the test sets it up");
        assert_eq!((done.runtime, done.dropin), (None, DropIn::Remove));
        assert!(
            !unreserve("2881", None, PATH)
                .expect("as the test sets it up")
                .changes()
        );
    }

    #[test]
    fn a_running_value_portplan_cannot_read_is_an_error_naming_it() {
        let error = reserve(&ports(&[2881]), "80;81", None, PATH).expect_err("bad");
        assert!(error.contains("\"80;81\""), "{error}");
    }
}
