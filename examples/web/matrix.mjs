// The access matrix as an SVG picture: one row per source (a host of the plan,
// a client network, or a CIDR that is neither), one column per host, and in
// each cell the ports that source may reach on that host, shaded by how many
// there are. Who a source is comes from the report itself: each port-table row
// names a source group (`source-groups`), which names the plan hosts and
// client networks behind its merged CIDR `sources`.
//
// With a truth table (measured results, reach.mjs), each cell also says what
// was measured there: ✗ and the kind for a mismatch, ? and why for a probe
// that proves nothing, ✓ and how many probes were as expected. The outsider
// and any source the report admits nowhere get rows of their own, since the
// probes that must fail (deny) are measured from them.
import { rowKind, sourceName } from './reach.mjs';

const SVG = 'http://www.w3.org/2000/svg';

const range = (r) => (r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`);

/** A port-table row's source group, from the report that lists it (none:
 * the row admits no one, and gets no firewall rule). */
export function groupOf(report, entry) {
  if (entry.group == null) return null;
  // Indexed once per report (a row of every host names a group).
  let byName = indexes.get(report);
  if (!byName) {
    byName = new Map((report['source-groups'] ?? []).map((g) => [g.name, g]));
    indexes.set(report, byName);
  }
  return byName.get(entry.group) ?? null;
}

const indexes = new WeakMap();

/** Who a port-table row of `host` admits: its group's hosts (but `host`
 * itself, which its rule admits without reaching itself from outside) and
 * networks by name; a group that admits sources but names neither (core
 * never writes one) keeps its CIDRs, so nothing admitted goes unseen. */
function whoReaches(group, host) {
  const who = [
    ...group.hosts.filter((label) => label !== host).map((label) => ({ kind: 'host', label })),
    ...group.networks.map((label) => ({ kind: 'network', label })),
  ];
  return who.length ? who : group.sources.map((label) => ({ kind: 'cidr', label }));
}

/** A truth row's source as a matrix source key and kind. */
function probeSource(source) {
  if (source === 'outsider') return { kind: 'outsider', label: 'outsider' };
  return source.host !== undefined ? { kind: 'host', label: source.host } : { kind: 'network', label: source.network };
}

/** { sources: [{ key, label, kind, detail }], hosts: [name], cells: Map("key\thost" -> [{ports, first, spec}]),
 * probes: Map("key\thost" -> [truth row]) or null without a table } */
export function accessMatrix(plan, report, table = null) {
  const planHosts = (plan.hosts ?? []).map((h) => h.name);
  const address = new Map((plan.hosts ?? []).map((h) => [h.name, h.address]));
  const networks = new Map((plan.networks ?? []).map((n) => [n.name, n.cidrs]));
  const detail = {
    host: (label) => `host at ${address.get(label) ?? '?'}`,
    network: (label) => `client network ${(networks.get(label) ?? []).join(', ')}`,
    cidr: () => 'neither a host nor a client network of the plan',
    outsider: () => 'a machine no rule admits (portplan reach probe --outsider)',
  };
  const sources = new Map();
  const cells = new Map();
  for (const host of report.hosts) {
    for (const entry of host.ports) {
      const group = groupOf(report, entry);
      if (!group) continue; // admits no one: no firewall rule
      const ports = range(entry.ports) + (entry.transport === 'udp' ? '/udp' : '');
      for (const { kind, label } of whoReaches(group, host.host)) {
        const key = `${kind}:${label}`;
        if (!sources.has(key)) sources.set(key, { key, label, kind, detail: detail[kind](label) });
        const cell = `${key}\t${host.host}`;
        if (!cells.has(cell)) cells.set(cell, []);
        cells.get(cell).push({ ports, first: entry.ports.first, spec: entry.spec });
      }
    }
  }
  let probes = null;
  if (table) {
    probes = new Map();
    for (const row of table.rows) {
      const { kind, label } = probeSource(row.source);
      const key = `${kind}:${label}`;
      if (!sources.has(key)) sources.set(key, { key, label, kind, detail: detail[kind](label) });
      const cell = `${key}\t${row.destination}`;
      if (!probes.has(cell)) probes.set(cell, []);
      probes.get(cell).push(row);
    }
  }
  const order = { host: 0, network: 1, cidr: 2, outsider: 3 };
  const sorted = [...sources.values()].sort((a, b) =>
    order[a.kind] - order[b.kind] ||
    (a.kind === 'host' ? planHosts.indexOf(a.label) - planHosts.indexOf(b.label) : a.label.localeCompare(b.label)));
  return { sources: sorted, hosts: report.hosts.map((h) => h.host), cells, probes };
}

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Split a list of port strings into lines of at most `width` characters. */
function wrap(parts, width) {
  const lines = [];
  let line = '';
  for (const p of parts) {
    const next = line ? `${line}, ${p}` : p;
    if (next.length > width && line) {
      lines.push(`${line},`);
      line = p;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

const MARK = { mismatch: '✗', unknown: '?' };
const VERDICT_ORDER = { mismatch: 0, unknown: 1 };
const portText = (r) => `${r.port}${r.transport === 'udp' ? '/udp' : ''}`;

/** `✗ timeout 2881, 2882` as lines of at most `width` characters (the first
 * port always on the first line, so a mark is never alone on its line). */
function wrapMark(head, ports, width) {
  const lines = [];
  let line = head;
  for (const p of ports) {
    if (line === head) line = `${line} ${p}`;
    else if (line.length + 2 + p.length > width) {
      lines.push(`${line},`);
      line = `  ${p}`;
    } else line = `${line}, ${p}`;
  }
  lines.push(line);
  return lines;
}

/**
 * What was measured in one cell: the verdict that counts (any mismatch, else
 * any unknown, else as expected), the kinds of its marks, its lines and its
 * hover text; null where nothing was probed (a host and itself).
 */
function measured(rows) {
  if (!rows?.length) return null;
  const groups = new Map(); // "verdict\tkind" -> { verdict, kind, ports }
  let ok = 0;
  for (const r of [...rows].sort((a, b) => a.port - b.port)) {
    const kind = rowKind(r);
    if (!kind) {
      ok += 1;
      continue;
    }
    const g = `${r.verdict}\t${kind}`;
    if (!groups.has(g)) groups.set(g, { verdict: r.verdict, kind, ports: [] });
    const list = groups.get(g).ports;
    if (!list.includes(portText(r))) list.push(portText(r));
  }
  const marks = [...groups.values()].sort((a, b) =>
    VERDICT_ORDER[a.verdict] - VERDICT_ORDER[b.verdict] || a.kind.localeCompare(b.kind));
  const verdict = marks[0]?.verdict ?? 'as-expected';
  const lines = marks.flatMap((m) => wrapMark(`${MARK[m.verdict]} ${m.kind}`, m.ports, 24)
    .map((text) => ({ text, verdict: m.verdict })));
  if (ok) lines.push({ text: `✓ ${ok} as expected`, verdict: 'as-expected' });
  const title = [...rows].sort((a, b) => a.port - b.port).map((r) =>
    `${r.port}/${r.transport} ${r.spec}: expected ${r.expect}, ${r.outcome ?? 'not probed'}`
    + (r.verdict === 'as-expected' ? '' : ` (${r.verdict}: ${rowKind(r)})`));
  const said = marks.map((m) => `${m.verdict} ${m.kind} ${m.ports.join(', ')}`);
  if (ok) said.push(`${ok} as expected`);
  return { verdict, kinds: [...new Set(marks.map((m) => m.kind))], lines, title, said: said.join(', ') };
}

export function renderMatrix({ sources, hosts, cells, probes = null }) {
  const labelW = 140;
  const headH = 40;
  const lineH = 15;
  const rows = sources.map((s) => {
    const lines = hosts.map((h) => {
      const list = cells.get(`${s.key}\t${h}`) ?? [];
      const ports = [...new Set(list.sort((a, b) => a.first - b.first).map((c) => c.ports))];
      const measure = probes ? measured(probes.get(`${s.key}\t${h}`)) : null;
      return { list, lines: wrap(ports, 16), measure };
    });
    const count = (l) => l.lines.length + (l.measure?.lines.length ?? 0);
    const height = Math.max(34, 12 + lineH * Math.max(1, ...lines.map(count)));
    return { source: s, lines, height };
  });
  // Marks are longer than port lists: a column takes the width of its
  // longest line (11px monospace is at most 6.7px a character).
  const longest = Math.max(0, ...rows.flatMap((r) => r.lines.flatMap((l) => l.measure?.lines.map((m) => m.text.length) ?? [])));
  const colW = Math.max(124, Math.ceil(12 + 6.7 * longest));
  const width = labelW + colW * hosts.length + 2;
  const height = headH + rows.reduce((n, r) => n + r.height, 0) + 2;
  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', class: probes ? 'matrix measured' : 'matrix',
    'aria-labelledby': 'matrix-title matrix-desc',
  });
  svg.append(el('title', { id: 'matrix-title' }, probes ? 'Access matrix, expected against measured' : 'Access matrix'));
  const max = Math.max(1, ...rows.flatMap((r) => r.lines.map((l) => l.list.length)));
  const desc = [];
  hosts.forEach((h, c) => {
    const x = labelW + c * colW;
    svg.append(el('text', { x: x + colW / 2, y: headH - 14, class: 'col-head', 'text-anchor': 'middle' }, h));
  });
  svg.append(el('text', { x: 8, y: headH - 14, class: 'corner' }, 'from \\ to'));
  let y = headH;
  for (const row of rows) {
    const g = el('g', { class: `row ${row.source.kind}` });
    g.append(el('rect', { x: 0, y, width: labelW, height: row.height, class: 'row-head' }));
    const label = el('text', { x: 8, y: y + 21, class: 'row-label' }, row.source.label);
    label.append(el('title', {}, row.source.detail));
    g.append(label);
    row.lines.forEach(({ list, lines, measure }, c) => {
      const x = labelW + c * colW;
      // Lighter with measurements, so the marks stay legible on the darkest cell.
      const shade = list.length ? (probes ? 0.1 + 0.3 * (list.length / max) : 0.15 + 0.6 * (list.length / max)) : 0;
      const cell = el('rect', {
        x, y, width: colW, height: row.height, class: list.length ? 'cell on' : 'cell',
        'fill-opacity': list.length ? shade.toFixed(2) : 1,
      });
      const hover = [];
      if (list.length) {
        hover.push(...list.map((l) => `${l.ports} ${l.spec}`));
        desc.push(`${row.source.label} may reach ${hosts[c]} on ${lines.join(' ')}`);
      }
      if (measure) {
        cell.setAttribute('data-source', row.source.key);
        cell.setAttribute('data-destination', hosts[c]);
        cell.setAttribute('data-verdict', measure.verdict);
        cell.setAttribute('data-kinds', measure.kinds.join(' '));
        hover.push('measured:', ...measure.title);
        desc.push(`measured from ${sourceName(row.source.kind === 'outsider' ? 'outsider' : { [row.source.kind]: row.source.label })} to ${hosts[c]}: ${measure.said}`);
      }
      if (hover.length) cell.append(el('title', {}, `${row.source.label} → ${hosts[c]}\n${hover.join('\n')}`));
      g.append(cell);
      if (measure && measure.verdict !== 'as-expected') {
        // Inset, so a marked cell's outline is not half hidden under its neighbours.
        g.append(el('rect', { x: x + 1.5, y: y + 1.5, width: colW - 3, height: row.height - 3, class: `outline ${measure.verdict}` }));
      }
      lines.forEach((t, n) => g.append(el('text', { x: x + 6, y: y + 20 + n * lineH, class: 'ports' }, t)));
      measure?.lines.forEach((m, n) => g.append(el('text', {
        x: x + 6, y: y + 20 + (lines.length + n) * lineH, class: `ports mark ${m.verdict}`,
      }, m.text)));
    });
    svg.append(g);
    y += row.height;
  }
  svg.append(el('desc', { id: 'matrix-desc' }, desc.join('; ') || 'No host may reach another.'));
  return svg;
}
