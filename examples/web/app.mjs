// The page: a plan editor whose findings, port tables, access matrix, firewall
// commands and request sheet follow every edit. All answers come from the
// portplan plugin (portplan.mjs); this file only turns them into HTML. The
// plan also lives in the page's address and this browser's storage
// (share.mjs), so a reload or a shared link brings it back. Measured results
// (reach.mjs) are compared with the plan and shown in the access matrix until
// the plan changes.
import { loadPortplan, PlanError } from './portplan.mjs';
import { locate } from './locate.mjs';
import { isYaml, readYaml, withLines, YamlError } from './yaml.mjs';
import { accessMatrix, groupOf, renderMatrix } from './matrix.mjs';
import { compareResults, headline, ResultsError, rowKind, sourceName } from './reach.mjs';
import { starterPlan } from './starter.mjs';
import { decodePlan, fragmentValue, shareUrl, ShareError, storedPlan, storePlan } from './share.mjs';

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

/**
 * Put `text` on the clipboard. The asynchronous Clipboard API exists only in
 * a secure context (https, localhost); a page served to colleagues from
 * `http://<address>:8000` is not one, so the older copy command of a
 * selection is the fallback there.
 */
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const back = document.activeElement;
    const area = h('textarea', { readonly: '', 'aria-hidden': 'true', class: 'offscreen' });
    area.value = text;
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    area.remove();
    back?.focus();
    return ok;
  }
}

/** A button that copies what `text()` gives and says so next to itself
 * (`by hand`: where to copy from when no way of copying works). */
function copyButton(label, text, attrs = {}, byHand = 'select the text and copy it by hand') {
  const note = h('span', { class: 'copy-note', role: 'status' });
  const button = h('button', {
    type: 'button', class: 'copy', ...attrs,
    onclick: async () => {
      note.textContent = '';
      let ok;
      let why = byHand;
      try {
        ok = await copyText(await text());
      } catch (error) {
        ok = false;
        why = error.message ?? String(error);
      }
      // Stays until the next click (or the next render): a note that
      // vanishes on a timer is missed by whoever looked away.
      note.textContent = ok ? 'Copied' : `Copy failed: ${why}`;
    },
  }, label);
  return [button, note];
}

let api;
let current = null; // { plan, planJson, reportText, report } of the last valid plan
let reach = null; // { planJson, table, from } of the results compared with that plan
let reachNote = ''; // why results were cleared, until the next load
let reachFor = null; // the plan JSON the last load (results or problems) was compared with
// "idle" means the page shows what the editor and the loaded results say:
// no update running or waiting, no results being compared.
let updating = 0; // updates running (a newer one may start before an older ends)
let working = 0; // other work under way: results compared, commands re-rendered
let pending = false; // an edit waits for its update
let generation = 0;
let profileNames = new Set(); // the catalog's profiles
let ready = ''; // the status line once the plugin is loaded

/** A plan the user picked replaces the one a message was about: back to "Ready". */
function picked(text) {
  $('status').textContent = ready;
  return setPlan(text);
}

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

/**
 * Who a port admits, by name: the plan hosts and client networks of the
 * row's source group (the report lists each group once, `source-groups`),
 * each with its address or CIDRs on hover (and after the name when printed,
 * where nothing hovers). The row's own host is left out: its rule admits it
 * too (the group is the same on every host), but it does not reach itself
 * from outside. A merged CIDR such as 198.18.2.12/31 says nothing about which
 * hosts are meant; the names do. A group that admits sources but names none
 * (core never writes one) keeps its CIDRs, so nothing admitted goes unseen.
 */
function sourcesCell(entry, host, plan, report) {
  const hostAddress = new Map([
    ...(plan.hosts ?? []).map((x) => [x.name, x.address]),
    ...report.hosts.map((x) => [x.host, x.address]), // as core normalised it
  ]);
  const networkCidrs = new Map((plan.networks ?? []).map((n) => [n.name, n.cidrs.join(', ')]));
  const group = groupOf(report, entry);
  if (!group) return entry.exposure === 'loopback' ? 'none (loopback)' : 'none';
  const named = [
    ...group.hosts.filter((n) => n !== host).map((n) => h('span', { class: 'src host', title: hostAddress.get(n) }, n)),
    ...group.networks.map((n) => h('span', { class: 'src network', title: networkCidrs.get(n) }, n)),
  ];
  const list = named.length ? named : group.sources.map((c) => h('span', { class: 'src cidr' }, c));
  return list.flatMap((node, i) => (i ? [', ', node] : [node]));
}

/** A spec id that may wrap after its dots and dashes (`ocp-server.` `obproxy-` `sql`)
 * rather than anywhere, when a column is narrow (a phone, paper). */
function breakable(id) {
  return id.split(/(?<=[.-])/).flatMap((part, i) => (i ? [h('wbr'), part] : [part]));
}

function renderPorts(report, plan) {
  $('ports').replaceChildren(...report.hosts.map((host) =>
    h('section', { class: 'host-ports' },
      h('h3', {}, `${host.host} `, h('span', { class: 'addr' }, host.address)),
      h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': `Ports of ${host.host}` },
        h('table', {},
          // Allocation and exposure are the planner's columns; the printed
          // sheet leaves them out (the network team's columns are the CSV's).
          h('thead', {}, h('tr', {}, ['Port', 'Transport', 'Spec', 'Allocation', 'Exposure', 'Allowed sources', 'Purpose']
            .map((t) => h('th', { scope: 'col', class: t === 'Allocation' || t === 'Exposure' ? 'planner' : null }, t)))),
          h('tbody', {}, host.ports.map((p) =>
            h('tr', {},
              h('td', { class: 'num' }, range(p.ports), p.overridden ? h('span', { class: 'tag', title: 'overridden by the plan' }, ' *') : null),
              h('td', {}, p.transport),
              h('td', {}, h('code', {}, breakable(p.spec))),
              h('td', { class: 'planner' }, p.allocation),
              h('td', { class: 'planner' }, p.exposure),
              h('td', { class: 'sources' }, sourcesCell(p, host.host, plan, report)),
              h('td', { class: 'purpose' }, p.purpose)))))))));
}

function selectedBackend() {
  return document.querySelector('input[name="backend"]:checked').value;
}

async function renderFirewall(report, gen) {
  const backend = selectedBackend();
  const sections = [];
  const groups = new Map((report['source-groups'] ?? []).map((g) => [g.name, g]));
  for (const host of report.hosts) {
    let body;
    if (!host.ports.some((p) => p.group != null)) {
      body = h('p', { class: 'hint' }, 'No port of this host is opened to anyone: nothing to run.');
    } else {
      try {
        // The plugin gets this host's rows and the groups they name, not the
        // whole report: each host's call stays the size of its own rules.
        const named = [...new Set(host.ports.map((p) => p.group).filter((g) => g != null))];
        const part = { ...report, hosts: [host], 'source-groups': named.map((n) => groups.get(n)).filter(Boolean) };
        const rules = await api.firewallRules(part, host.host);
        const change = await api.planFirewall(rules, backend);
        const text = change.commands.map(commandText).join('\n');
        body = [
          h('div', { class: 'copy-row' },
            copyButton('Copy commands', () => text, { 'aria-label': `Copy the ${backend} commands for ${host.host}` })),
          h('pre', { class: 'commands' }, h('code', {}, text)),
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

/** A plan with error findings is no request for the network team yet: say so
 * on the page, on paper (the mark prints) and before a download. */
function renderMark(report) {
  const n = report.summary.errors;
  const mark = $('errors-mark');
  mark.hidden = n === 0;
  mark.textContent = n === 0 ? '' :
    `Draft: this plan has ${n} error${n === 1 ? '' : 's'} (see Findings). Do not open these ports until portplan reports none.`;
  $('results').dataset.errors = String(n);
}

function renderAccess(result) {
  const table = reach && reach.planJson === result.planJson ? reach.table : null;
  $('matrix').replaceChildren(renderMatrix(accessMatrix(result.plan, result.report, table)));
  renderReach();
}

function render(result, gen) {
  renderSummary(result.report, false);
  renderMark(result.report);
  renderFindings(result.report);
  renderAccess(result);
  renderPorts(result.report, result.plan);
  return renderFirewall(result.report, gen);
}

/** The headline of the measured results above the matrix, their findings
 * (and the probes that prove nothing) below it. */
function renderReach() {
  const summary = $('reach-summary');
  const box = $('reach-findings');
  if (!reach) {
    summary.replaceChildren(...(reachNote ? [h('p', { class: 'hint reach-note' }, reachNote)] : []));
    box.replaceChildren();
    return;
  }
  const { table, from } = reach;
  const s = table.summary;
  summary.replaceChildren(
    h('p', { class: `reach-headline ${s.mismatches ? 'bad' : s.unknown ? 'unknown' : 'good'}` }, headline(table)),
    h('p', { class: 'hint reach-legend' }, `Measured results from ${from.join(', ')}. In each cell: `,
      h('span', { class: 'mark-key mismatch' }, '✗'), ' a mismatch and its kind (for a connection the plan opens, how it failed: timeout, refused, unreachable, wrong-responder; ',
      h('code', {}, 'overexposed'), ' where one the plan does not open connected), ',
      h('span', { class: 'mark-key unknown' }, '?'), ' a probe that proves nothing (held before install, not probed, or the source could not try), ',
      h('span', { class: 'mark-key as-expected' }, '✓'), ' how many probes were as expected.'));
  const unknown = table.rows.filter((r) => r.verdict === 'unknown');
  box.replaceChildren(...[
    h('h3', {}, `Measured findings (${table.findings.length})`),
    table.findings.length
      ? h('ul', { class: 'findings reach' }, table.findings.map((f) =>
        h('li', { class: `finding ${f.severity}`, 'data-code': f.code },
          h('p', { class: 'head' },
            h('span', { class: `badge ${f.severity}` }, f.severity), ' ',
            h('code', {}, f.code),
            f.host ? h('span', { class: 'where' }, ` ${f.host}`) : null,
            f.spec ? h('span', { class: 'where' }, ` ${f.spec}`) : null,
            f.ports ? h('span', { class: 'where' }, ` port ${range(f.ports)}`) : null),
          h('p', { class: 'message' }, f.message),
          h('p', { class: 'fix' }, h('strong', {}, 'Fix: '), f.fix))))
      : h('p', { class: 'ok' }, 'Every connection was measured as the plan expects it.'),
    unknown.length ? h('h3', {}, `Not proven either way (${unknown.length})`) : null,
    unknown.length ? h('ul', { class: 'reach-unknown' }, unknown.map((r) =>
      h('li', { 'data-kind': rowKind(r) },
        `${sourceName(r.source)} → ${r.destination} ${r.port}/${r.transport} `, h('code', {}, r.spec),
        ` (expected ${r.expect}): ${rowKind(r)}: ${r.detail}`))) : null,
  ].filter(Boolean));
}

function showReachProblems(problems) {
  const box = $('reach-problems');
  box.replaceChildren();
  if (!problems.length) return;
  box.append(
    h('h3', {}, `The results cannot be compared (${problems.length} problem${problems.length > 1 ? 's' : ''})`),
    h('ul', { class: 'problems' }, problems.map((p) =>
      h('li', {}, h('code', {}, p.path), `: ${p.message}`,
        p.value ? h('span', { class: 'value' }, ` (value: ${p.value})`) : null))),
  );
}

/** Results, and the problems of a load, belong to the plan they were
 * compared with: another plan (or none that can be checked) clears them, and
 * where there were results, says so (`why`) in their place. */
function clearReach(why) {
  reachNote = reach ? why : '';
  reach = null;
  reachFor = null;
  showReachProblems([]);
  $('results-files').value = ''; // so choosing the same files again compares them again
}

function settle() {
  if (updating === 0 && working === 0 && !pending) setState('idle');
}

/** Compare `sources` ([{ name, text }]) with the plan the page shows. */
async function loadResults(sources) {
  const gen = generation;
  working += 1;
  setState('busy');
  try {
    if (!current || $('results').classList.contains('stale')) {
      throw new ResultsError([{ path: sources.map((x) => x.name).join(', '), value: '', message: 'no plan to compare with: the plan in the editor cannot be checked' }]);
    }
    const base = current;
    const table = await compareResults(api, base.planJson, base.plan, sources);
    if (gen !== generation) return; // the plan changed meanwhile: these are not its results
    reach = { planJson: base.planJson, table, from: sources.map((x) => x.name) };
    reachFor = base.planJson;
    reachNote = '';
    showReachProblems([]);
    renderAccess(base);
  } catch (error) {
    if (gen !== generation) return;
    // A rejected load replaces what was shown: old results under a new
    // error would look like the answer to the files just given.
    reach = null;
    // '' is no plan's JSON: a load refused for want of a plan is cleared by the next one.
    reachFor = current && !$('results').classList.contains('stale') ? current.planJson : '';
    reachNote = '';
    showReachProblems(error instanceof ResultsError ? error.problems
      : [{ path: sources.map((x) => x.name).join(', '), value: '', message: `internal error: ${error.message ?? error}` }]);
    if (current) renderAccess(current);
  } finally {
    working -= 1;
    settle();
  }
}

/**
 * The profile dropdown shows the plan's profile: the one catalog profile it
 * deploys, or an entry that names the plan's profiles when it deploys several
 * or its own (a "Start" from that entry would not say which to start from,
 * so Start waits for a choice). Only when the plan's profiles change, so a
 * profile picked by hand stays while the plan is edited.
 */
let followedProfiles = null;
function followProfiles(plan) {
  const names = plan.profiles ?? [];
  const key = JSON.stringify(names);
  if (key === followedProfiles) return;
  followedProfiles = key;
  const select = $('profile');
  select.querySelector('option.plan-profiles')?.remove();
  if (names.length === 1 && profileNames.has(names[0])) {
    select.value = names[0];
  } else {
    const custom = new Set((plan['custom-profiles'] ?? []).map((p) => p.name));
    const label = names.map((n) => (custom.has(n) || !profileNames.has(n) ? `${n} (custom)` : n)).join(' + ');
    select.prepend(h('option', { value: '', class: 'plan-profiles' }, `This plan: ${label || 'no profile'}`));
    select.value = '';
  }
  syncStart();
}

function syncStart() {
  $('use-profile').disabled = $('profile').value === '';
}

// The address and the storage follow the editor. Encoding is asynchronous,
// so an older edit never overwrites a newer one's address. A browser without
// CompressionStream (older than 2023) still checks plans: its address then
// carries no plan rather than an older one.
let persisted = 0;
async function persist(text) {
  const n = ++persisted;
  storePlan(text);
  const bare = location.href.replace(/#.*$/, '');
  let href = bare;
  try {
    if (text.trim()) href = await shareUrl(location, text);
  } catch {
    href = bare;
  }
  if (n === persisted && href !== location.href) history.replaceState(null, '', href);
}

async function update() {
  updating += 1;
  try {
    await check();
  } finally {
    updating -= 1;
    settle();
  }
}

/** Check the editor's plan and render it; an older check gives way to a newer one. */
async function check() {
  const gen = ++generation;
  setState('busy');
  const text = editor.value;
  // A YAML plan goes to the plugin as the JSON text of the same value.
  const yaml = isYaml(text);
  try {
    await persist(text);
    const planJson = await api.parsePlan(yaml ? readYaml(text).json : text);
    const { text: reportText, report } = await api.validatePlan(planJson);
    if (gen !== generation) return;
    current = { plan: JSON.parse(planJson), planJson, reportText, report };
    if (reachFor !== null && reachFor !== planJson) clearReach('The measured results were cleared: the plan changed after they were compared. Load them again to compare them with this plan.');
    followProfiles(current.plan);
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
      if (reachFor !== null) {
        clearReach('The measured results were cleared: the plan changed after they were compared, and cannot be checked now.');
        renderAccess(current);
      }
    }
  }
}

let timer;
function scheduleUpdate() {
  setState('busy'); // so "idle" always means: the results match the editor
  pending = true;
  clearTimeout(timer);
  timer = setTimeout(() => {
    pending = false;
    update();
  }, 200);
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
  const { report, reportText } = current;
  const errors = report.summary.errors;
  const stale = $('results').classList.contains('stale');
  // Asked before anything else happens: a sheet with errors is a draft, and
  // one of an older plan is not what the editor shows.
  if (errors || stale) {
    const why = [
      errors ? `The plan "${report.plan}" has ${errors} error${errors === 1 ? '' : 's'}: the sheet would ask the network team to open the ports of a plan that does not work yet.` : null,
      stale ? 'The plan in the editor cannot be checked; the sheet is of the last plan that could.' : null,
    ].filter(Boolean).join('\n');
    if (!window.confirm(`${why}\n\nDownload it anyway${errors ? ', marked as a draft' : ''}?`)) return;
  }
  let text = await api.renderReport(reportText, format);
  // The file carries the mark too: in its name (CSV has no place for a note
  // its readers keep), and for Markdown also as its first line.
  const mark = errors ? `-DRAFT-${errors}-error${errors === 1 ? '' : 's'}` : '';
  if (errors && format === 'markdown') {
    text = `> **Draft: this plan has ${errors} error${errors === 1 ? '' : 's'}.** Do not open these ports until portplan reports none.\n\n${text}`;
  }
  const a = h('a', { href: URL.createObjectURL(new Blob([text], { type })), download: `${report.plan}-ports${mark}.${extension}` });
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
  profileNames = new Set(profiles.map((p) => p.name));
  $('profile').replaceChildren(...profiles.map((p) => h('option', { value: p.name }, `${p.name}: ${p.title}`)));
  let examples = [];
  try {
    examples = await (await fetch('plans/index.json')).json();
  } catch {
    // Served without the example plans: the profiles and files still work.
  }
  $('example').replaceChildren(...examples.map((n) => h('option', { value: n }, n)));
  $('use-example').disabled = examples.length === 0;
  ready = `Ready: ${profiles.length} built-in profiles, checked by the portplan plugin in this page.`;
  $('status').textContent = ready;

  $('profile').addEventListener('change', syncStart);
  $('use-profile').addEventListener('click', async () => {
    if (!$('profile').value) return;
    setState('busy');
    const profile = await api.getProfile($('profile').value);
    await picked(`${JSON.stringify(starterPlan(profile), null, 2)}\n`);
  });
  $('use-example').addEventListener('click', async () => {
    setState('busy');
    await picked(await (await fetch(examplePath($('example').value))).text());
  });
  $('upload').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    if (file) await picked(await file.text());
  });
  editor.addEventListener('input', scheduleUpdate);
  for (const radio of document.querySelectorAll('input[name="backend"]')) {
    radio.addEventListener('change', async () => {
      if (!current) return;
      setState('busy');
      working += 1;
      try {
        await renderFirewall(current.report, generation);
      } finally {
        working -= 1;
        settle();
      }
    });
  }
  $('results-files').addEventListener('change', async (event) => {
    const files = [...event.target.files];
    if (!files.length) return;
    await loadResults(await Promise.all(files.map(async (f) => ({ name: f.name, text: await f.text() }))));
  });
  $('results-compare').addEventListener('click', () => loadResults([{ name: 'pasted text', text: $('results-text').value }]));
  $('results-clear').addEventListener('click', () => {
    clearReach('');
    if (current) renderAccess(current);
  });
  $('download-csv').addEventListener('click', () => download('csv', 'csv', 'text/csv'));
  $('download-md').addEventListener('click', () => download('markdown', 'md', 'text/markdown'));
  // The link is made from the editor's text at the click, not from the last
  // update, so a click right after typing shares what was typed.
  const [share, shareNote] = copyButton('Copy a link to this plan', async () => {
    await persist(editor.value);
    return shareUrl(location, editor.value);
  }, { id: 'share' }, 'copy the page\'s address, which holds the plan');
  $('share-row').prepend(share, shareNote);
  // A link pasted into this page's address bar changes only the fragment.
  window.addEventListener('hashchange', () => loadShared().catch(() => {}));

  // For the tests: the corpus pipeline of this very plugin instance, and the
  // report JSON (as the plugin wrote it) of the plan in the editor.
  window.portplanPage = {
    reportJson: (text) => api.reportJson(text),
    currentReport: () => current?.reportText ?? null,
    profile: (name) => api.getProfile(name),
  };

  // A shared link first, then what this browser kept, then an example.
  if (await loadShared()) return;
  const kept = storedPlan();
  if (kept !== null && kept.trim()) {
    $('status').textContent += ' Showing the plan this browser kept.';
    await setPlan(kept);
    return;
  }
  const first = examples.includes('ocp-cluster') ? 'ocp-cluster' : null;
  if (first) {
    if ($('status').textContent !== ready) $('status').textContent += ' Showing an example.';
    $('example').value = first;
    await setPlan(await (await fetch(examplePath(first))).text());
  } else {
    const profile = await api.getProfile(profiles[0].name);
    await setPlan(`${JSON.stringify(starterPlan(profile), null, 2)}\n`);
  }
}

/** Load the plan of the address's fragment; false when it has none or it cannot be read. */
async function loadShared() {
  const value = fragmentValue(location.hash);
  if (value === null) return false;
  try {
    const text = await decodePlan(value);
    if (text !== editor.value) {
      $('status').textContent = 'Ready: showing the plan from the link.';
      await setPlan(text);
    }
    return true;
  } catch (error) {
    if (!(error instanceof ShareError)) throw error;
    $('status').textContent = `The plan in this link cannot be read: ${error.message}.`;
    return false;
  }
}

main();
