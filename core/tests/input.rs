//! Bad input: each is rejected with the JSON path and the value, never a panic.

#![allow(clippy::unwrap_used)]

mod support;

use portplan_core::{Observation, Phase};
use serde_json::json;
use support::*;

fn problem(value: serde_json::Value) -> (String, String, String) {
    let e = rejected(value);
    let p = &e.problems[0];
    (p.path.clone(), p.value.clone(), p.message.clone())
}

#[test]
fn unknown_fields_name_the_field() {
    let (path, _, message) = problem(ocp_ce(json!({ "hostz": [] })));
    assert_eq!(path, "hostz");
    assert!(message.contains("unknown field `hostz`"), "{message}");
    let mut plan = ocp_ce(json!({}));
    plan["hosts"][0]["adress"] = json!("x");
    let (path, _, _) = problem(plan);
    assert_eq!(path, "hosts[0].adress");
}

#[test]
fn wrong_types_name_path_and_value() {
    let mut plan = ocp_ce(json!({}));
    plan["hosts"][0]["components"] = json!("metadb");
    let (path, value, message) = problem(plan);
    assert_eq!(
        (path.as_str(), value.as_str()),
        ("hosts[0].components", "\"metadb\"")
    );
    assert!(message.contains("invalid type"), "{message}");
}

#[test]
fn ports_out_of_range_or_reversed_are_rejected() {
    for (ports, expected) in [
        (json!(0), "port 0 is outside 1-65535"),
        (json!(70000), "port 70000 is outside 1-65535"),
        (json!(-1), "port -1 is outside 1-65535"),
        (
            json!({ "first": 9000, "last": 8000 }),
            "first port 9000 is above last port 8000",
        ),
        (json!("80a"), "\"80a\" is not a port number"),
        (
            json!("9000-8000"),
            "first port 9000 is above last port 8000",
        ),
    ] {
        let (path, value, message) = problem(ocp_ce(
            json!({ "overrides": [{ "spec": "ocp-server.http", "ports": ports }] }),
        ));
        assert_eq!(path, "overrides[0].ports", "{ports}");
        assert_eq!(value, ports.to_string());
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn unknown_names_are_rejected_with_the_known_ones() {
    let (path, value, message) =
        problem(json!({ "name": "t", "profiles": ["ocp-ee"], "hosts": [] }));
    assert_eq!((path.as_str(), value.as_str()), ("profiles[0]", "ocp-ee"));
    assert!(
        message.contains("known profiles: finedatalink-single"),
        "{message}"
    );

    let mut plan = ocp_ce(json!({}));
    plan["hosts"][0]["components"] = json!(["metadb", "observer"]);
    let (path, value, _) = problem(plan);
    assert_eq!(
        (path.as_str(), value.as_str()),
        ("hosts[0].components[1]", "observer")
    );

    let (path, value, _) = problem(ocp_ce(
        json!({ "overrides": [{ "spec": "ocp-server.https", "ports": 1 }] }),
    ));
    assert_eq!(
        (path.as_str(), value.as_str()),
        ("overrides[0].spec", "ocp-server.https")
    );

    let (path, value, _) = problem(ocp_ce(
        json!({ "networks": [{ "name": "admins", "cidrs": ["198.18.0.0/24"] }] }),
    ));
    assert_eq!(
        (path.as_str(), value.as_str()),
        ("networks[0].name", "admins")
    );

    let (path, value, _) = problem(ocp_ce(json!({ "enable": ["metadb.sql"] })));
    assert_eq!((path.as_str(), value.as_str()), ("enable[0]", "metadb.sql"));
}

#[test]
fn unknown_host_in_check_host_is_rejected() {
    let e = portplan_core::check_host(
        &plan(ocp_ce(json!({}))),
        "h9",
        Phase::Preinstall,
        &Observation::default(),
    )
    .unwrap_err();
    assert_eq!(
        (e.problems[0].path.as_str(), e.problems[0].value.as_str()),
        ("host", "h9")
    );
}

#[test]
fn bad_addresses_and_cidrs_are_rejected() {
    let mut plan = ocp_ce(json!({}));
    plan["hosts"][0]["address"] = json!("198.18.0.256");
    let (path, value, _) = problem(plan);
    assert_eq!(
        (path.as_str(), value.as_str()),
        ("hosts[0].address", "198.18.0.256")
    );

    let (path, value, _) = problem(ocp_ce(
        json!({ "networks": [{ "name": "ocp-console", "cidrs": ["198.18.0.0/33"] }] }),
    ));
    assert_eq!(
        (path.as_str(), value.as_str()),
        ("networks[0].cidrs[0]", "198.18.0.0/33")
    );

    let e = portplan_core::check_host(
        &plan_of(ocp_ce(json!({}))),
        "h1",
        Phase::Preinstall,
        &serde_json::from_value(
            json!({ "listeners": [{ "transport": "tcp", "address": "nope", "port": 1 }] }),
        )
        .unwrap(),
    )
    .unwrap_err();
    assert_eq!(e.problems[0].path, "observation.listeners[0].address");
}

/// An address reads the same in a CIDR as alone: std's parser refuses a
/// leading zero (`010.0.0.0`, which inet_aton reads as octal 8.0.0.0), and
/// so does a network's CIDR now, its prefix in plain digits too.
#[test]
fn a_leading_zero_is_refused_in_cidrs_as_in_addresses() {
    for cidr in [
        "010.0.0.0/8",
        "198.018.50.0/24",
        "198.18.50.0/024",
        "198.18.50.0/+24",
        "198.18.50.0/",
    ] {
        let (path, value, _) = problem(ocp_ce(
            json!({ "networks": [{ "name": "ocp-console", "cidrs": [cidr] }] }),
        ));
        assert_eq!(
            (path.as_str(), value.as_str()),
            ("networks[0].cidrs[0]", cidr)
        );
    }
    let mut plan = ocp_ce(json!({}));
    plan["hosts"][0]["address"] = json!("010.0.0.9");
    assert_eq!(problem(plan).0, "hosts[0].address");
    // What reads stays read as before.
    for cidr in [
        "198.18.50.0/24",
        "198.18.50.7/0",
        "198.18.50.7",
        "2001:db8::/32",
    ] {
        portplan_core::validate_plan(&plan_of(ocp_ce(
            json!({ "networks": [{ "name": "ocp-console", "cidrs": [cidr] }] }),
        )))
        .unwrap();
    }
}

/// A host's address is where its peers reach it and what their rules admit:
/// the wildcard, loopback, multicast and broadcast addresses are none.
#[test]
fn a_host_address_no_peer_can_reach_is_refused() {
    for (address, why) in [
        ("0.0.0.0", "the wildcard address"),
        ("::", "the wildcard address"),
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("255.255.255.255", "the broadcast address"),
    ] {
        let mut plan = ocp_ce(json!({}));
        plan["hosts"][0]["address"] = json!(address);
        let (path, value, message) = problem(plan);
        assert_eq!(
            (path.as_str(), value.as_str()),
            ("hosts[0].address", address)
        );
        assert!(message.starts_with(why), "{address}: {message}");
    }
}

fn plan_of(value: serde_json::Value) -> portplan_core::Plan {
    plan(value)
}

#[test]
fn duplicate_host_names_and_addresses_are_rejected() {
    let e = rejected(json!({
        "name": "t", "profiles": ["ocp-ce"],
        "hosts": [
            { "name": "h1", "address": "198.18.0.1", "components": ["metadb"] },
            { "name": "h1", "address": "198.18.0.2", "components": ["ocp-server"] },
            { "name": "h3", "address": "198.18.0.1", "components": ["ocp-server"] }
        ]
    }));
    let paths: Vec<_> = e
        .problems
        .iter()
        .map(|p| (p.path.as_str(), p.value.as_str()))
        .collect();
    assert_eq!(
        paths,
        [("hosts[1].name", "h1"), ("hosts[2].address", "198.18.0.1")]
    );
    assert!(e.problems[0].message.contains("hosts[0] has it already"));
}

#[test]
fn an_empty_plan_is_rejected() {
    let (path, _, message) = problem(json!({}));
    assert_eq!(path, ".");
    assert!(message.contains("missing field `name`"), "{message}");
    let e = rejected(json!({ "name": "t", "profiles": [], "hosts": [] }));
    let paths: Vec<_> = e.problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["profiles", "hosts"]);
}

#[test]
fn invalid_json_is_rejected_without_a_path() {
    let e = portplan_core::parse_plan("{\"name\": ").unwrap_err();
    assert_eq!(e.problems[0].path, ".");
    assert!(e.problems[0].message.starts_with("not valid JSON"), "{e}");
    let e = portplan_core::parse_plan(&format!("{} {{}}", ocp_ce(json!({})))).unwrap_err();
    assert!(e.problems[0].message.starts_with("not valid JSON"), "{e}");
}

#[test]
fn long_values_are_cut_in_the_message() {
    let long = "x".repeat(500);
    let (_, value, _) = problem(ocp_ce(json!({ "name": 5, "deploy-user": long })));
    assert!(value.len() < 100, "{value}");
}

/// A record is an object: serde's derived decoding would also take the
/// array of its fields (`["h1", "198.18.0.1", ["metadb"]]` for a host,
/// serde #1587), and the plan is read so that it never does, as a
/// shortcut through serde_json once did, on the plan, a host, an override,
/// a network and an observation alike.
#[test]
fn a_record_written_as_an_array_of_its_fields_is_refused() {
    for (extra, path) in [
        (
            json!({"hosts": [["h1", "198.18.0.1", ["metadb"]]]}),
            "hosts[0]",
        ),
        (
            json!({"overrides": [["ocp-server.http", 8080]]}),
            "overrides[0]",
        ),
        (
            json!({"networks": [["ocp-console", ["198.18.200.0/24"]]]}),
            "networks[0]",
        ),
        (
            json!({"observations": [{"host": "h1", "phase": "preinstall", "observation": []}]}),
            "observations[0].observation",
        ),
    ] {
        let (found, _, message) = problem(ocp_ce(extra));
        assert_eq!(found, path, "{message}");
        assert!(message.contains("invalid type: sequence"), "{message}");
    }
    let whole = json!(["t", ["ocp-ce"], null, [{"name": "h1", "address": "198.18.0.1", "components": ["metadb"]}]]);
    assert!(portplan_core::parse_plan(&whole.to_string()).is_err());
}
