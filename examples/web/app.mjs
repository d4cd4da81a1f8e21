// The page: a plan editor whose findings, port tables, access matrix, firewall
// commands and request sheet follow every edit. All answers come from the
// portplan plugin (portplan.mjs); this file only turns them into HTML.
import { loadPortplan, PlanError } from './portplan.mjs';
import { locate } from './locate.mjs';
import { isYaml, readYaml, withLines, YamlError } from './yaml.mjs';
import { accessMatrix, renderMatrix } from './matrix.mjs';

const $ = (id) => document.getElementById(id);
const editor = $('editor');

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

const range = (r) => (r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`);
const shellWord = (w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replaceAll("'", "'\\''")}'`);

/** A command as a shell line; stdin as a quoted here-document. */
function commandText({ argv, stdin }) {
  const line = argv.map(shellWord).join(' ');
  return stdin == null ? line : `${line} <<'EOF'\n${stdin.replace(/\n$/, '')}\nEOF`;
}

/** A first plan for a profile: one host per component, a CIDR per client network. */
export function starterPlan(profile) {
  return {
    name: `${profile.name}-plan`,
    profiles: [profile.name],
    'deploy-user': 'root',
    hosts: profile.components.map((c, i) => ({
      name: c.name,
      address: `198.18.0.${11 + i}`,
      components: [c.name],
    })),
    networks: profile.networks.map((n, i) => ({
      name: n.name,
      cidrs: [`198.18.${100 + i}.0/24`],
      description: n.description,
    })),
    overrides: [],
  };
}

let api;
let current = null; // { plan, reportText, report } of the last valid plan
let generation = 0;

function setState(state) {
  document.body.dataset.state = state;
}

function jumpTo(path, message) {
  const span = locate(editor.value, path, message);
  if (!span) return;
  editor.focus();
  editor.setSelectionRange(span.start, span.end);
  const line = editor.value.slice(0, span.start).split('\n').length - 1;
  const lineHeight = parseFloat(getComputedStyle(editor).lineHeight) || 20;
  editor.scrollTop = Math.max(0, (line - 3) * lineHeight);
}

function showProblems(problems) {
  const box = $('problems');
  box.replaceChildren();
  if (!problems.length) return;
  box.append(
    h('h3', {}, `The plan cannot be checked (${problems.length} problem${problems.length > 1 ? 's' : ''})`),
    h('ul', { class: 'problems' }, problems.map((p) =>
      h('li', {},
        h('button', { type: 'button', class: 'link', onclick: () => jumpTo(p.path, p.message), title: 'Select it in the plan' },
          p.path === '.' ? 'the plan' : p.path),
        `: ${p.message}`,
        p.value ? h('span', { class: 'value' }, ` (value: ${p.value})`) : null))),
  );
}

function renderSummary(report, stale) {
  const s = report.summary;
  const parts = [
    h('span', { class: 'badge error' }, `${s.errors} error${s.errors === 1 ? '' : 's'}`),
    h('span', { class: 'badge warning' }, `${s.warnings} warning${s.warnings === 1 ? '' : 's'}`),
    h('span', { class: 'badge info' }, `${s.infos} info`),
  ];
  $('summary').replaceChildren(h('strong', {}, report.plan), ' ', ...parts);
  if (stale) $('summary').append(h('span', { class: 'stale-note' }, 'Showing the last plan that could be checked.'));
}

function renderFindings(report) {
  const groups = new Map();
  for (const f of report.findings) {
    const key = f.host ?? '';
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(f);
  }
  const box = $('findings');
  if (!report.findings.length) {
    box.replaceChildren(h('p', { class: 'ok' }, 'No findings: every port is free, legal and opened to exactly who needs it.'));
    return;
  }
  box.replaceChildren(...[...groups].map(([host, list]) =>
    h('section', { class: 'host-findings' },
      h('h3', {}, host ? `Host ${host}` : 'Whole plan'),
      h('ul', { class: 'findings' }, list.map((f) =>
        h('li', { class: `finding ${f.severity}`, 'data-code': f.code },
          h('p', { class: 'head' },
            h('span', { class: `badge ${f.severity}` }, f.severity), ' ',
            h('code', {}, f.code),
            f.spec ? h('span', { class: 'where' }, ` ${f.spec}`) : null,
            f.ports ? h('span', { class: 'where' }, ` port ${range(f.ports)}`) : null),
          h('p', { class: 'message' }, f.message),
          h('p', { class: 'fix' }, h('strong', {}, 'Fix: '), f.fix)))))));
}

function renderPorts(report) {
  $('ports').replaceChildren(...report.hosts.map((host) =>
    h('section', { class: 'host-ports' },
      h('h3', {}, `${host.host} `, h('span', { class: 'addr' }, host.address)),
      h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': `Ports of ${host.host}` },
        h('table', {},
          h('thead', {}, h('tr', {}, ['Port', 'Transport', 'Spec', 'Allocation', 'Exposure', 'Allowed sources', 'Purpose']
            .map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, host.ports.map((p) =>
            h('tr', {},
              h('td', { class: 'num' }, range(p.ports), p.overridden ? h('span', { class: 'tag', title: 'overridden by the plan' }, ' *') : null),
              h('td', {}, p.transport),
              h('td', {}, h('code', {}, p.spec)),
              h('td', {}, p.allocation),
              h('td', {}, p.exposure),
              h('td', {}, p.sources.length ? p.sources.join(', ') : (p.exposure === 'loopback' ? 'none (loopback)' : 'none')),
              h('td', { class: 'purpose' }, p.purpose)))))))));
}

function selectedBackend() {
  return document.querySelector('input[name="backend"]:checked').value;
}

async function renderFirewall(report, gen) {
  const backend = selectedBackend();
  const sections = [];
  for (const host of report.hosts) {
    const rules = report.rules.filter((r) => r.host === host.host);
    let body;
    if (!rules.length) {
      body = h('p', { class: 'hint' }, 'No port of this host is opened to anyone: nothing to run.');
    } else {
      try {
        const change = await api.planFirewall(rules, backend);
        body = [
          h('pre', { class: 'commands', tabindex: '0' }, h('code', {}, change.commands.map(commandText).join('\n'))),
          change.notes.length ? h('ul', { class: 'notes' }, change.notes.map((n) => h('li', {}, n))) : null,
        ];
      } catch (error) {
        body = h('p', { class: 'error-text' }, error instanceof PlanError ? error.problems.map((p) => p.message).join('; ') : String(error));
      }
    }
    if (gen !== generation) return;
    sections.push(h('section', { class: 'host-firewall', 'data-host': host.host },
      h('h3', {}, `${host.host} `, h('span', { class: 'addr' }, `${host.address} · ${backend}`)), body));
  }
  $('firewall').replaceChildren(...sections);
}

function render(result, gen) {
  renderSummary(result.report, false);
  renderFindings(result.report);
  $('matrix').replaceChildren(renderMatrix(accessMatrix(result.plan, result.report)));
  renderPorts(result.report);
  return renderFirewall(result.report, gen);
}

async function update() {
  const gen = ++generation;
  setState('busy');
  const text = editor.value;
  // A YAML plan goes to the plugin as the JSON text of the same value.
  const yaml = isYaml(text);
  try {
    const planJson = await api.parsePlan(yaml ? readYaml(text).json : text);
    const { text: reportText, report } = await api.validatePlan(planJson);
    if (gen !== generation) return;
    current = { plan: JSON.parse(planJson), reportText, report };
    showProblems([]);
    $('results').classList.remove('stale');
    await render(current, gen);
  } catch (error) {
    if (gen !== generation) return;
    if (error instanceof YamlError) {
      showProblems(error.problems);
    } else if (!(error instanceof PlanError)) {
      showProblems([{ path: '.', value: '', message: `internal error: ${error.message ?? error}` }]);
    } else {
      showProblems(yaml ? withLines(text, error.problems) : error.problems);
    }
    if (current) {
      $('results').classList.add('stale');
      renderSummary(current.report, true);
    }
  }
  if (gen === generation) setState('idle');
}

let timer;
function scheduleUpdate() {
  setState('busy'); // so "idle" always means: the results match the editor
  clearTimeout(timer);
  timer = setTimeout(update, 200);
}

function setPlan(text) {
  editor.value = text;
  editor.scrollTop = 0;
  return update();
}

/** An example's file: `ocp-cluster` is plans/ocp-cluster.json; a YAML twin keeps its extension. */
function examplePath(name) {
  return /\.ya?ml$/.test(name) ? `plans/${name}` : `plans/${name}.json`;
}

async function download(format, extension, type) {
  if (!current) return;
  const text = await api.renderReport(current.reportText, format);
  const a = h('a', { href: URL.createObjectURL(new Blob([text], { type })), download: `${current.report.plan}-ports.${extension}` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

async function main() {
  try {
    api = await loadPortplan('portplan-extism.wasm');
  } catch (error) {
    $('status').textContent = `The portplan plugin did not load: ${error.message ?? error}`;
    setState('failed');
    return;
  }
  const profiles = await api.catalog();
  $('profile').replaceChildren(...profiles.map((p) => h('option', { value: p.name }, `${p.name}: ${p.title}`)));
  let examples = [];
  try {
    examples = await (await fetch('plans/index.json')).json();
  } catch {
    // Served without the example plans: the profiles and files still work.
  }
  $('example').replaceChildren(...examples.map((n) => h('option', { value: n }, n)));
  $('use-example').disabled = examples.length === 0;
  $('status').textContent = `Ready: ${profiles.length} built-in profiles, checked by the portplan plugin in this page.`;

  $('use-profile').addEventListener('click', async () => {
    setState('busy');
    const profile = await api.getProfile($('profile').value);
    await setPlan(`${JSON.stringify(starterPlan(profile), null, 2)}\n`);
  });
  $('use-example').addEventListener('click', async () => {
    setState('busy');
    await setPlan(await (await fetch(examplePath($('example').value))).text());
  });
  $('upload').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    if (file) await setPlan(await file.text());
  });
  editor.addEventListener('input', scheduleUpdate);
  for (const radio of document.querySelectorAll('input[name="backend"]')) {
    radio.addEventListener('change', async () => {
      if (!current) return;
      setState('busy');
      const gen = generation;
      await renderFirewall(current.report, gen);
      if (gen === generation) setState('idle');
    });
  }
  $('download-csv').addEventListener('click', () => download('csv', 'csv', 'text/csv'));
  $('download-md').addEventListener('click', () => download('markdown', 'md', 'text/markdown'));

  // For the tests: the corpus pipeline of this very plugin instance, and the
  // report JSON (as the plugin wrote it) of the plan in the editor.
  window.portplanPage = {
    reportJson: (text) => api.reportJson(text),
    currentReport: () => current?.reportText ?? null,
  };

  const first = examples.includes('ocp-cluster') ? 'ocp-cluster' : null;
  if (first) {
    $('example').value = first;
    await setPlan(await (await fetch(examplePath(first))).text());
  } else {
    const profile = await api.getProfile(profiles[0].name);
    await setPlan(`${JSON.stringify(starterPlan(profile), null, 2)}\n`);
  }
}

main();
