//! The built-in catalog against the vendor seed tables (`shared/seeds/000-002`):
//! every row is a required spec, optional specs are only the listed extras,
//! the "accessible to" relations are present and every reference resolves.

use std::collections::BTreeSet;

use portplan_core::catalog as profiles;
use portplan_core::{Accessor, Modifiable, PortRange, PortSpec, Profile, Transport};

/// Whether the seed says the port can be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// "Not supported".
    No,
    /// The seed says how.
    Yes,
}

use Change::{No, Yes};

const TCP: Transport = Transport::Tcp;

/// One seed row: (where, profile, component, first port, last port, transport, changeable).
type Row = (
    &'static str,
    &'static str,
    &'static str,
    u16,
    u16,
    Transport,
    Change,
);

/// Every row of every seed table.
#[rustfmt::skip]
const ROWS: &[Row] = &[
    // 000, "A Single FineDataLink Application".
    ("000 single: FineDataLink 8068", "finedatalink-single", "finedatalink", 8068, 8068, TCP, Yes),
    ("000 single: FineDataLink 15500", "finedatalink-single", "finedatalink", 15500, 15500, TCP, Yes),
    ("000 single: FanRuan Internal Gateway 80", "finedatalink-single", "fanruan-gateway", 80, 80, TCP, Yes),
    ("000 single: MySQL 3306", "finedatalink-single", "mysql", 3306, 3306, TCP, Yes),
    ("000 single: Elasticsearch 9200", "finedatalink-single", "elasticsearch", 9200, 9200, TCP, Yes),
    ("000 single: Kafka 9092", "finedatalink-single", "kafka", 9092, 9092, TCP, Yes),
    ("000 single: OPS Agent 9070", "finedatalink-single", "ops-agent", 9070, 9070, TCP, Yes),
    // 000, "Multiple FineDataLink Applications".
    ("000 cluster: FineDataLink 8080", "finedatalink-cluster", "finedatalink", 8080, 8080, TCP, Yes),
    ("000 cluster: FineDataLink 7800", "finedatalink-cluster", "finedatalink", 7800, 7800, TCP, Yes),
    ("000 cluster: FineDataLink 7830", "finedatalink-cluster", "finedatalink", 7830, 7830, TCP, Yes),
    ("000 cluster: FineDataLink 7840", "finedatalink-cluster", "finedatalink", 7840, 7840, TCP, Yes),
    ("000 cluster: FineDataLink 7850", "finedatalink-cluster", "finedatalink", 7850, 7850, TCP, Yes),
    ("000 cluster: FineDataLink 7870", "finedatalink-cluster", "finedatalink", 7870, 7870, TCP, Yes),
    ("000 cluster: FineDataLink 15500", "finedatalink-cluster", "finedatalink", 15500, 15500, TCP, Yes),
    ("000 cluster: main server OPS Agent 9070", "finedatalink-cluster", "ops-agent", 9070, 9070, TCP, Yes),
    ("000 cluster: FanRuan Internal Gateway 80", "finedatalink-cluster", "fanruan-gateway", 80, 80, TCP, Yes),
    ("000 cluster: Elasticsearch 9200", "finedatalink-cluster", "elasticsearch", 9200, 9200, TCP, Yes),
    ("000 cluster: MySQL 3306", "finedatalink-cluster", "mysql", 3306, 3306, TCP, Yes),
    ("000 cluster: Redis 6379", "finedatalink-cluster", "redis", 6379, 6379, TCP, Yes),
    ("000 cluster: MinIO 9000", "finedatalink-cluster", "minio", 9000, 9000, TCP, Yes),
    ("000 cluster: MinIO 9006", "finedatalink-cluster", "minio", 9006, 9006, TCP, Yes),
    ("000 cluster: Kafka 9092", "finedatalink-cluster", "kafka", 9092, 9092, TCP, Yes),
    ("000 cluster: Nacos 8848", "finedatalink-cluster", "nacos", 8848, 8848, TCP, Yes),
    ("000 cluster: Nacos 9848", "finedatalink-cluster", "nacos", 9848, 9848, TCP, Yes),
    ("000 cluster: Nacos MySQL 3307", "finedatalink-cluster", "nacos-mysql", 3307, 3307, TCP, Yes),
    ("000 cluster: component server OPS Agent 9070", "finedatalink-cluster", "ops-agent", 9070, 9070, TCP, Yes),
    // 000, "Networking" (ports named in the matrices).
    ("000 networking: Basic O&M, application node 8068", "finedatalink-single", "finedatalink", 8068, 8068, TCP, Yes),
    ("000 networking: indicators, OPS Agent 9070", "finedatalink-single", "ops-agent", 9070, 9070, TCP, Yes),
    ("000 networking: indicators, OPS Agent 9070", "finedatalink-cluster", "ops-agent", 9070, 9070, TCP, Yes),
    // The matrix names FineOps Nginx but no port: 80 is FineOps' documented
    // nginx default (as root); a plan that keeps it gets a finding.
    ("000 networking: Basic O&M and indicators, FineOps Nginx", "fineops", "fineops-nginx", 80, 80, TCP, Yes),
    ("000 networking: Tracing, SkyWalking OAP 11800", "fineops", "skywalking-oap", 11800, 11800, TCP, Yes),
    ("000 networking: Tracing, SkyWalking OAP 12800", "fineops", "skywalking-oap", 12800, 12800, TCP, Yes),
    ("000 networking: pulling components, Registry 5000", "fineops", "fineops-registry", 5000, 5000, TCP, Yes),
    // Not a port of the registry: "For pulling images from the cloud
    // repository | <- Access | Registry: 5000 |" has the registry reach the
    // cloud repository, outbound, which portplan does not plan.
    // 001, OCP listening port list.
    ("001: OCP-Server 8080 HTTP", "ocp", "ocp-server", 8080, 8080, TCP, Yes),
    ("001: OCP-Server 62881 to 63881 TCP", "ocp", "ocp-server", 62881, 63881, TCP, No),
    // 001, "OCP Docker": "The OCP Docker contains OCP-Server and OBProxy ...
    // the OBProxy listening port in the OCP Docker does not need to be opened
    // to other hosts": the OCP-Server host holds OBProxy's ports, locally.
    ("001 OCP Docker: OBProxy 2883 in the OCP Docker", "ocp", "ocp-server", 2883, 2883, TCP, No),
    ("001 OCP Docker: OBProxy 2884 in the OCP Docker", "ocp", "ocp-server", 2884, 2884, TCP, No),
    ("001: OBServer 2881 TCP", "ocp", "observer", 2881, 2881, TCP, No),
    ("001: OBServer 2882 TCP", "ocp", "observer", 2882, 2882, TCP, No),
    ("001: OBProxy 2883 TCP", "ocp", "obproxy", 2883, 2883, TCP, No),
    ("001: OBProxy 2884 HTTP", "ocp", "obproxy", 2884, 2884, TCP, No),
    ("001: OCP-Agent 62888 TCP", "ocp", "ocp-agent", 62888, 62888, TCP, No),
    ("001: OCP-Agent 62881 to 63881 HTTP", "ocp", "ocp-agent", 62881, 63881, TCP, No),
    ("001: Backup-Agent 2911 TCP", "ocp", "backup-agent", 2911, 2911, TCP, Yes),
    ("001: Backup-Agent 2912 TCP", "ocp", "backup-agent", 2912, 2912, TCP, Yes),
    // 002, OCP Community Edition port planning.
    ("002: OceanBase database 2881 TCP", "ocp-ce", "metadb", 2881, 2881, TCP, No),
    ("002: OceanBase database 2882 TCP", "ocp-ce", "metadb", 2882, 2882, TCP, No),
    ("002: OCP-Server 8080 HTTP", "ocp-ce", "ocp-server", 8080, 8080, TCP, Yes),
];

/// Specs that no seed lists: (profile, spec id). They must be optional.
const EXTRAS: &[(&str, &str)] = &[
    ("finedatalink-single", "elasticsearch.transport"),
    ("finedatalink-single", "kafka.controller"),
    ("finedatalink-cluster", "elasticsearch.transport"),
    ("finedatalink-cluster", "nacos.raft"),
    ("finedatalink-cluster", "nacos.grpc-cluster"),
    ("finedatalink-cluster", "kafka.controller"),
];

/// "Accessible to" relations the seeds state: (profile, spec id, accessors).
/// An empty list is the seed's "None": the spec must have no accessor at all.
#[rustfmt::skip]
const ACCESS: &[(&str, &str, &[&str])] = &[
    // 001.
    (
        "ocp",
        "ocp-server.http",
        &["component:observer", "component:obproxy", "network:ocp-console", "component:backup-agent", "network:ocp-slb"],
    ),
    ("ocp", "ocp-server.monitor", &["component:ocp-server"]),
    ("ocp", "observer.sql", &["component:obproxy", "component:ocp-server", "network:application"]),
    ("ocp", "observer.rpc", &["component:observer"]),
    ("ocp", "obproxy.sql", &["network:application", "component:ocp-server", "component:backup-agent"]),
    ("ocp", "obproxy.metrics", &["component:ocp-server"]),
    ("ocp", "ocp-agent.rpc", &["component:ocp-server"]),
    ("ocp", "ocp-agent.metrics", &["component:ocp-server"]),
    ("ocp", "ocp-server.obproxy-sql", &[]),
    ("ocp", "ocp-server.obproxy-metrics", &[]),
    ("ocp", "backup-agent.backup", &[]),
    ("ocp", "backup-agent.restore", &[]),
    // 002 has no accessor column; it follows 001.
    ("ocp-ce", "metadb.sql", &["component:ocp-server"]),
    ("ocp-ce", "metadb.rpc", &["component:metadb"]),
    // 001/002: "other components access OCP-Server through SLB or DNS address".
    ("ocp-ce", "ocp-server.http", &["network:ocp-console", "network:ocp-slb"]),
    // 000, "Networking".
    ("finedatalink-single", "fanruan-gateway.http", &["network:admin", "network:business-database"]),
    ("finedatalink-cluster", "fanruan-gateway.http", &["network:admin", "network:business-database"]),
    ("finedatalink-single", "finedatalink.http", &["component:fineops-nginx"]),
    ("finedatalink-cluster", "finedatalink.http", &["component:fineops-nginx"]),
    ("finedatalink-single", "ops-agent.http", &["component:fineops-nginx"]),
    ("finedatalink-cluster", "ops-agent.http", &["component:fineops-nginx"]),
    // Read literally: "FineOps Nginx <- Access Each application node ..." and
    // "... <- Access OPS Agent on every server of this project".
    (
        "fineops",
        "fineops-nginx.http",
        &["profile:finedatalink-single", "profile:finedatalink-cluster", "network:project"],
    ),
    ("fineops", "skywalking-oap.grpc", &["component:finedatalink", "component:fanruan-gateway"]),
    ("fineops", "skywalking-oap.http", &["component:finedatalink", "component:fanruan-gateway"]),
    (
        "fineops",
        "fineops-registry.http",
        &["profile:finedatalink-single", "profile:finedatalink-cluster"],
    ),
];

/// Readings that fix the whole accessor list (ARCHITECTURE.md, "Readings of
/// the seeds"): (seed sentence, profile, spec id, exactly these accessors).
#[rustfmt::skip]
const EXACT: &[(&str, &str, &str, &[&str])] = &[
    // Issue 14 item 2: only Nginx is opened to O&M personnel.
    (
        "000: 'For the admin to access O&M Projects | O&M personnel (unlimited IP address) | Access -> | Nginx of O&M projects'",
        "finedatalink-cluster", "minio.api", &["profile:finedatalink-cluster", "network:minio-clients"],
    ),
    (
        "000: 'For the admin to access O&M Projects | O&M personnel (unlimited IP address) | Access -> | Nginx of O&M projects'",
        "finedatalink-cluster", "minio.console", &["profile:finedatalink-cluster", "network:minio-clients"],
    ),
    // Issue 14 item 10: OCP-CE's OceanBase is OCP's own MetaDB/MonitorDB.
    (
        "002: 'MetaDB and MonitorDB | OceanBase database | 2881 | TCP | ... | The SQL listening port of OBServer.'",
        "ocp-ce", "metadb.sql", &["component:ocp-server"],
    ),
    (
        "002: 'MetaDB and MonitorDB | OceanBase database | 2882 | TCP | ... | The remote procedure call (RPC) port.'",
        "ocp-ce", "metadb.rpc", &["component:metadb"],
    ),
];

fn profile<'a>(all: &'a [Profile], name: &str) -> &'a Profile {
    all.iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no catalog profile {name}"))
}

fn change_of(spec: &PortSpec) -> Change {
    match &spec.modifiable {
        Modifiable::NotSupported => No,
        Modifiable::Configurable(_) => Yes,
    }
}

fn key(accessor: &Accessor) -> String {
    match accessor {
        Accessor::Component(name) => format!("component:{name}"),
        Accessor::Network(name) => format!("network:{name}"),
        Accessor::Profile(name) => format!("profile:{name}"),
    }
}

#[test]
fn every_seed_row_is_a_required_spec() {
    let all = profiles();
    for &(seed, profile_name, component, first, last, transport, change) in ROWS {
        let ports = PortRange { first, last };
        let spec = profile(&all, profile_name)
            .specs
            .iter()
            .find(|s| !s.optional && s.component == component && s.ports == ports)
            .unwrap_or_else(|| {
                panic!("seed {seed}: {profile_name} has no required {component} spec on {ports}")
            });
        assert_eq!(
            spec.transport, transport,
            "seed {seed}: transport of {}",
            spec.id
        );
        assert_eq!(
            change_of(spec),
            change,
            "seed {seed}: modifiable of {}",
            spec.id
        );
    }
}

#[test]
fn every_required_spec_comes_from_a_seed_row() {
    for p in profiles() {
        for s in p.specs.iter().filter(|s| !s.optional) {
            let listed = ROWS
                .iter()
                .any(|&(_, profile_name, component, first, last, _, _)| {
                    profile_name == p.name
                        && component == s.component
                        && PortRange { first, last } == s.ports
                });
            assert!(
                listed,
                "{}: {} is required but no seed row lists it",
                p.name, s.id
            );
        }
    }
}

#[test]
fn optional_specs_are_the_listed_extras() {
    let all = profiles();
    let optional: BTreeSet<(&str, &str)> = all
        .iter()
        .flat_map(|p| {
            p.specs
                .iter()
                .filter(|s| s.optional)
                .map(move |s| (p.name.as_str(), s.id.as_str()))
        })
        .collect();
    let listed: BTreeSet<(&str, &str)> = EXTRAS.iter().copied().collect();
    assert_eq!(optional, listed);
}

#[test]
fn seed_access_relations_are_present() {
    let all = profiles();
    for &(profile_name, id, expected) in ACCESS {
        let spec = profile(&all, profile_name)
            .specs
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("{profile_name} has no spec {id}"));
        let actual: BTreeSet<String> = spec.accessed_by.iter().map(key).collect();
        if expected.is_empty() {
            assert!(
                actual.is_empty(),
                "{profile_name}: the seed says nobody reaches {id}, got {actual:?}"
            );
        }
        for want in expected {
            assert!(
                actual.contains(*want),
                "{profile_name}: {id} lacks accessor {want}"
            );
        }
    }
    // 000: "Ensure the ports mentioned in the Port Occupancy section are interconnected."
    for name in ["finedatalink-single", "finedatalink-cluster"] {
        let own = Accessor::Profile(name.to_owned());
        for s in profile(&all, name).specs.iter().filter(|s| !s.optional) {
            assert!(
                s.accessed_by.contains(&own),
                "{name}: {} is not open to the project's own hosts",
                s.id
            );
        }
    }
}

#[test]
fn references_resolve() {
    let all = profiles();
    let components: BTreeSet<&str> = all
        .iter()
        .flat_map(|p| p.components.iter().map(|c| c.name.as_str()))
        .collect();
    let profile_names: BTreeSet<&str> = all.iter().map(|p| p.name.as_str()).collect();
    for p in &all {
        let networks: BTreeSet<&str> = p.networks.iter().map(|n| n.name.as_str()).collect();
        for s in &p.specs {
            assert!(
                p.components.iter().any(|c| c.name == s.component),
                "{}: {} listens on {}, which the profile does not declare",
                p.name,
                s.id,
                s.component
            );
            assert!(
                s.id.starts_with(&format!("{}.", s.component)),
                "{}: id {} does not start with its component",
                p.name,
                s.id
            );
            for a in &s.accessed_by {
                let known = match a {
                    Accessor::Component(name) => components.contains(name.as_str()),
                    Accessor::Network(name) => networks.contains(name.as_str()),
                    Accessor::Profile(name) => profile_names.contains(name.as_str()),
                };
                assert!(known, "{}: {} is accessed by unknown {a:?}", p.name, s.id);
            }
        }
    }
}

#[test]
fn readings_fix_the_whole_accessor_list() {
    let all = profiles();
    for &(seed, profile_name, id, expected) in EXACT {
        let spec = profile(&all, profile_name)
            .specs
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("{profile_name} has no spec {id}"));
        let actual: BTreeSet<String> = spec.accessed_by.iter().map(key).collect();
        let expected: BTreeSet<String> = expected.iter().map(|a| (*a).to_owned()).collect();
        assert_eq!(actual, expected, "{profile_name} {id}, seed {seed}");
    }
}

/// 001, "OCP Docker": the OBProxy in the OCP Docker is reached through
/// localhost only, so its ports are loopback specs of the OCP-Server host.
#[test]
fn the_ocp_docker_holds_obproxy_locally() {
    let all = profiles();
    for id in ["ocp-server.obproxy-sql", "ocp-server.obproxy-metrics"] {
        let spec = profile(&all, "ocp")
            .specs
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("ocp has no spec {id}"));
        assert_eq!(spec.exposure, portplan_core::Exposure::Loopback, "{id}");
    }
}

/// Issue 14, "Also": `portplan catalog PROFILE` lists the client network
/// names a plan may define for the profile.
#[test]
fn the_catalog_lists_each_profiles_client_networks() {
    for p in profiles() {
        let text = portplan_core::shell::render_profile(&p);
        for n in &p.networks {
            assert!(
                text.contains(&format!("    {} - ", n.name)),
                "{}: network {} is not listed:\n{text}",
                p.name,
                n.name
            );
        }
    }
}

/// 000 cluster notes 2 ("ensure the port configuration of all component
/// servers is consistent") and 3 ("Ensure the port number of the OPS Agent
/// component on all servers is the same"): exactly the component servers'
/// specs and the OPS Agent's must match; FineDataLink's main-server ports
/// are not named by either note.
#[test]
fn only_component_server_and_ops_agent_ports_must_match() {
    let all = profiles();
    for s in &profile(&all, "finedatalink-cluster").specs {
        assert_eq!(
            s.same_on_all_hosts,
            s.component != "finedatalink",
            "finedatalink-cluster {}",
            s.id
        );
    }
}
