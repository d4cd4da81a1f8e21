// Two builds of the Extism plugin against each other on the same inputs:
// every function, on valid inputs and on inputs changed at random nodes
// (wrong types, missing and unknown members, repeated keys). Prints how many
// answers were the same bytes (output, or error message) and the first
// differences. For a change to the boundary's decoding (what it may not
// change is any answer).
//
//   node wasm-plugin/bench/diff-plugins.mjs OLD.wasm NEW.wasm [CHANGES]
import createPlugin from '@extism/extism';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const [oldPath, newPath, count = '150'] = process.argv.slice(2);
const load = async (path) =>
  createPlugin({ wasm: [{ data: readFileSync(path) }] }, { useWasi: false });
const plugins = [await load(oldPath), await load(newPath)];

async function call(plugin, name, input) {
  try {
    const out = await plugin.call(name, JSON.stringify(input));
    return 'ok ' + (out ? out.text() : '');
  } catch (e) {
    return 'error ' + String(e.message ?? e);
  }
}

// A small deterministic generator (xorshift), so runs repeat.
let seed = 25;
const random = () => {
  seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
  return ((seed >>> 0) % 1_000_000) / 1_000_000;
};
const pick = (xs) => xs[Math.floor(random() * xs.length)];
const REPLACEMENTS = [null, true, 0, -1, 1.5, 70000, '', 'x', 'tcp', 'inet', '1-2', [], ['x'],
  {}, { x: 1 }, { nftables: {} }, { host: 'x' }, 'runtime'];

function paths(value, at, out) {
  out.push(at);
  if (Array.isArray(value)) value.forEach((v, i) => paths(v, [...at, i], out));
  else if (value && typeof value === 'object') for (const k of Object.keys(value)) paths(value[k], [...at, k], out);
  return out;
}

function change(input) {
  const doc = structuredClone(input);
  const all = paths(doc, [], []).filter((p) => p.length > 0);
  for (let n = 1 + Math.floor(random() * 3); n > 0 && all.length; n--) {
    const at = pick(all);
    let parent = doc;
    for (const step of at.slice(0, -1)) parent = parent?.[step];
    if (parent == null || typeof parent !== 'object') continue;
    const key = at[at.length - 1];
    const r = random();
    if (r < 0.6) parent[key] = structuredClone(pick(REPLACEMENTS));
    else if (r < 0.8 && !Array.isArray(parent)) delete parent[key];
    else if (parent[key] && typeof parent[key] === 'object' && !Array.isArray(parent[key])) parent[key].unknown = 1;
    else if (Array.isArray(parent)) parent.splice(key, 1);
  }
  return doc;
}

const plan = JSON.parse(readFileSync(join(root, 'examples/plans/observed-postinstall.json'), 'utf8'));
const cluster = JSON.parse(readFileSync(join(root, 'examples/plans/ocp-cluster.json'), 'utf8'));
const ok = async (name, input) => {
  const answer = await call(plugins[1], name, input);
  if (!answer.startsWith('ok ')) throw new Error(`${name}: ${answer}`);
  return JSON.parse(answer.slice(3));
};
const report = await ok('validate-plan', { plan: cluster });
const captured = (file) => readFileSync(join(root, 'core/tests/captured', file), 'utf8');
const states = [
  await ok('read-firewall', { backend: 'nftables', output: { main: captured('nft-debian-drop.json') } }),
  await ok('read-firewall', { backend: 'iptables', output: { main: captured('iptables-save-v4.txt'), extra: captured('iptables-save-v6.txt') } }),
  await ok('read-firewall', { backend: 'firewalld', output: { main: captured('firewalld-1.3-list-all-zones.txt'), extra: captured('firewalld-1.3-permanent-list-all-zones.txt'), zone: 'public' } }),
  await ok('read-firewall', { backend: 'ufw', output: { main: captured('ufw-0.36-status-verbose.txt'), extra: captured('ufw-0.36-show-added.txt') } }),
];
const host = cluster.hosts[0].name;
const rules = (await ok('firewall-rules', { report, host }));
const probe = await ok('probe-plan', { plan: cluster, source: { host }, phase: 'postinstall' });
const observation = plan.observations?.[0]?.observation ?? { listeners: [] };

const inputs = [
  ['validate-plan', { plan }], ['validate-plan', { plan: cluster }],
  ['check-host', { plan, host: plan.hosts[0].name, phase: 'postinstall', observation }],
  ['render-report', { report, format: 'json' }], ['firewall-rules', { report, host }],
  ['render-plan-error', { error: { problems: [{ path: 'a', value: '1', message: 'm' }] }, format: 'table' }],
  ['get-profile', { name: 'ocp-server' }], ['parse-plan', { text: JSON.stringify(plan) }],
  ['empty-firewall', { backend: 'nftables' }],
  ['probe-plan', { plan: cluster, source: { host }, phase: 'postinstall' }],
  ...states.map((state) => ['plan-firewall', { rules, state, 'remove-all': false }]),
  ...states.map((state) => ['plan-restore', { before: state, now: state }]),
  ['reach-report', { plan: cluster, phase: 'postinstall', served: [], probed: [] }],
];
if (probe) inputs.push(['probe-plan', { plan: cluster, source: 'outsider', phase: 'preinstall' }]);

let same = 0, differ = 0, refused = 0, calls = 0;
for (const [name, input] of inputs) {
  for (let n = 0; n <= Number(count); n++) {
    const doc = n === 0 ? input : change(input);
    const [a, b] = [await call(plugins[0], name, doc), await call(plugins[1], name, doc)];
    // @extism/extism 2.x refuses an instance's 16,384th error ("cannot
    // assign to this block"), whichever build: fresh instances now and then.
    if (++calls % 4000 === 0) plugins.splice(0, 2, await load(oldPath), await load(newPath));
    if (a === b) { same++; refused += a.startsWith('error'); continue; }
    if (++differ <= 5) console.log(`DIFF ${name} ${JSON.stringify(doc).slice(0, 300)}\n old ${a.slice(0, 400)}\n new ${b.slice(0, 400)}`);
  }
}
console.log(`same ${same} (${refused} of them refused), differ ${differ}`);
process.exit(differ ? 1 : 0);
