// "Start from a profile": a first plan with one host per role (a kind of
// machine, e.g. OCP's OBServer hosts), named as operators name them (ocp1,
// obs1..obs3, proxy1), and one CIDR per client network.
//
// What comes from the catalog (the profile the plugin returns): which
// components exist, so every one of them is placed and none the catalog lacks
// is invented, and the client networks. What is a choice written here: which
// components share a machine, and how many machines a role gets. The catalog
// is the vendors' port tables (who listens where, who reaches it); the seeds
// state their deployment units in prose ("on the component server", "agents
// deployed on the hosts that are managed by OCP"), which no field carries.
// Guessing from accessors does not work: FineDataLink's OPS Agent is reached
// by the same accessors as the application, and "a component reaches its own
// port" holds for OBServer's RPC (three machines) and for OCP-Server's
// monitor range alike (one machine in a first plan).

/**
 * The roles of each built-in profile: a host-name prefix, the components the
 * seeds put on that machine (the one the role is for first), and, where
 * several machines are the rule, how many. A component of the profile no role names gets a role of its own
 * (named after it), so a catalog that grows never loses a component here.
 */
export const ROLES = {
  // Seed 000, 'A Single FineDataLink Application': one server runs the
  // application and its components.
  'finedatalink-single': [
    { prefix: 'fdl', components: ['finedatalink', 'fanruan-gateway', 'mysql', 'elasticsearch', 'kafka', 'ops-agent'] },
  ],
  // Seed 000, 'Multiple FineDataLink Applications': main application servers
  // (two: "the main application servers form a cluster", and one is the
  // single-application profile) and a component server; the OPS Agent on
  // every server (note 3).
  'finedatalink-cluster': [
    { prefix: 'app', count: 2, components: ['finedatalink', 'ops-agent'] },
    { prefix: 'comp', components: ['fanruan-gateway', 'elasticsearch', 'mysql', 'redis', 'minio', 'kafka', 'nacos', 'nacos-mysql', 'ops-agent'] },
  ],
  // FineOps is installed on one server of its own.
  fineops: [
    { prefix: 'fineops', components: ['fineops-nginx', 'skywalking-oap', 'fineops-registry'] },
  ],
  // Seed 001's deployment units: OCP-Server (its Docker), the OBServer hosts
  // with their backup agent, an OBProxy host; OCP-Agent on every host OCP
  // manages (the hosts with OBServer or OBProxy). OceanBase keeps going when
  // a machine fails only with a majority of its replicas left, and three is
  // the smallest number where that holds.
  ocp: [
    { prefix: 'ocp', components: ['ocp-server'] },
    { prefix: 'obs', count: 3, components: ['observer', 'ocp-agent', 'backup-agent'] },
    { prefix: 'proxy', components: ['obproxy', 'ocp-agent'] },
  ],
  // Seed 002: OCP-Server and the OceanBase database of its MetaDB, three
  // machines for the same reason as OBServer's.
  'ocp-ce': [
    { prefix: 'ocp', components: ['ocp-server'] },
    { prefix: 'metadb', count: 3, components: ['metadb'] },
  ],
};

/** The roles of `profile` (a catalog profile): [{ prefix, count, components }]. */
export function roles(profile) {
  const known = new Set(profile.components.map((c) => c.name));
  // A role is for its first component (the others join it): without that one
  // in the catalog there is no such machine, and a component left unplaced
  // gets a host of its own below.
  const written = (ROLES[profile.name] ?? [])
    .filter((r) => known.has(r.components[0]))
    .map((r) => ({ ...r, components: r.components.filter((c) => known.has(c)) }));
  const placed = new Set(written.flatMap((r) => r.components));
  const own = profile.components.filter((c) => !placed.has(c.name))
    .map((c) => ({ prefix: c.name, components: [c.name] }));
  return [...written, ...own].map((r) => ({ ...r, count: r.count ?? 1 }));
}

/** A first plan for a catalog profile. */
export function starterPlan(profile) {
  const hosts = roles(profile).flatMap((r) =>
    Array.from({ length: r.count }, (_, i) => ({ name: `${r.prefix}${i + 1}`, components: r.components })));
  return {
    name: `${profile.name}-plan`,
    profiles: [profile.name],
    'deploy-user': 'root',
    hosts: hosts.map((host, i) => ({ name: host.name, address: `198.18.0.${11 + i}`, components: host.components })),
    networks: profile.networks.map((n, i) => ({
      name: n.name,
      cidrs: [`198.18.${100 + i}.0/24`],
      description: n.description,
    })),
    overrides: [],
  };
}
