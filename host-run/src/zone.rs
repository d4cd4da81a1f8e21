//! The `zone` option: which firewalld zone gets portplan's rules when the
//! operator names one instead of the zone serving the host's interface.
//! Pure: the shell asks firewalld for its zones, this decides.

use portplan_core::FirewallBackend;

use crate::RunError;

/// Check the `zone` option against the backend chosen and the zones
/// firewalld knows (`firewall-cmd --get-zones`, space-separated); the
/// reason the result reports. Removing still finds portplan's rules in any
/// zone: core's reader looks at every zone holding them.
pub fn asked_zone(
    zone: &str,
    backend: FirewallBackend,
    backend_reason: &str,
    zones: Option<&str>,
) -> Result<String, RunError> {
    if backend != FirewallBackend::Firewalld {
        return Err(RunError::Firewall(format!(
            "zone: {} is a firewalld option, but the firewall backend is {} ({backend_reason}); \
             nothing was changed. Remove zone, or use firewall: firewalld on a host running firewalld",
            portplan_core::shell::quote(zone),
            backend.as_str()
        )));
    }
    let zones = zones.unwrap_or_default();
    let mut known: Vec<&str> = zones.split_whitespace().collect();
    known.sort_unstable();
    if !known.contains(&zone) {
        return Err(RunError::Firewall(format!(
            "zone: {} is not a firewalld zone on this host; nothing was changed. Zones: {}",
            portplan_core::shell::quote(zone),
            known.join(", ")
        )));
    }
    Ok(format!("zone {zone} was chosen by the zone option"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONES: &str = "block dmz drop external home internal public trusted work\n";

    #[test]
    fn a_known_zone_is_used_and_the_reason_says_the_option_chose_it() {
        let why = asked_zone("internal", FirewallBackend::Firewalld, "", Some(ZONES))
            .expect("as the test sets it up");
        assert_eq!(why, "zone internal was chosen by the zone option");
    }

    #[test]
    fn an_unknown_zone_is_named_with_the_zones_there_are() {
        let error = asked_zone("intrenal", FirewallBackend::Firewalld, "", Some(ZONES))
            .expect_err("unknown")
            .to_string();
        assert!(
            error.starts_with("zone: intrenal is not a firewalld zone"),
            "{error}"
        );
        assert!(
            error.contains(
                "Zones: block, dmz, drop, external, home, internal, public, trusted, work"
            ),
            "{error}"
        );
        // A prefix of a zone's name is not that zone.
        assert!(asked_zone("pub", FirewallBackend::Firewalld, "", Some(ZONES)).is_err());
    }

    #[test]
    fn zone_with_another_backend_names_the_option_and_the_backend() {
        for backend in [
            FirewallBackend::Nftables,
            FirewallBackend::Iptables,
            FirewallBackend::Ufw,
            FirewallBackend::None,
        ] {
            let error = asked_zone("public", backend, "why", Some(ZONES))
                .expect_err("not firewalld")
                .to_string();
            assert!(
                error.starts_with("zone: public is a firewalld option"),
                "{error}"
            );
            assert!(
                error.contains(&format!(
                    "the firewall backend is {} (why)",
                    backend.as_str()
                )),
                "{error}"
            );
        }
    }
}
