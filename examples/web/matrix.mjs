// The access matrix as an SVG picture: one row per source (a host of the plan,
// a client network, or a CIDR that is neither), one column per host, and in
// each cell the ports that source may reach on that host, shaded by how many
// there are. Who a source is comes from the report itself: each port-table row
// names the plan hosts (`source-hosts`) and client networks (`source-networks`)
// behind its merged CIDR `sources`.

const SVG = 'http://www.w3.org/2000/svg';

const range = (r) => (r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`);

/** Who a port-table row admits: its hosts and networks by name; a row that
 * admits sources but names neither (core never writes one) keeps its CIDRs,
 * so nothing admitted goes unseen. */
function whoReaches(entry) {
  const who = [
    ...(entry['source-hosts'] ?? []).map((label) => ({ kind: 'host', label })),
    ...(entry['source-networks'] ?? []).map((label) => ({ kind: 'network', label })),
  ];
  return who.length ? who : entry.sources.map((label) => ({ kind: 'cidr', label }));
}

/** { sources: [{ key, label, kind, detail }], hosts: [name], cells: Map("key\thost" -> [{ports, first, spec}]) } */
export function accessMatrix(plan, report) {
  const planHosts = (plan.hosts ?? []).map((h) => h.name);
  const address = new Map((plan.hosts ?? []).map((h) => [h.name, h.address]));
  const networks = new Map((plan.networks ?? []).map((n) => [n.name, n.cidrs]));
  const detail = {
    host: (label) => `host at ${address.get(label) ?? '?'}`,
    network: (label) => `client network ${(networks.get(label) ?? []).join(', ')}`,
    cidr: () => 'neither a host nor a client network of the plan',
  };
  const sources = new Map();
  const cells = new Map();
  for (const host of report.hosts) {
    for (const entry of host.ports) {
      if (!entry.sources.length) continue; // admits no one: no firewall rule
      const ports = range(entry.ports) + (entry.transport === 'udp' ? '/udp' : '');
      for (const { kind, label } of whoReaches(entry)) {
        const key = `${kind}:${label}`;
        if (!sources.has(key)) sources.set(key, { key, label, kind, detail: detail[kind](label) });
        const cell = `${key}\t${host.host}`;
        if (!cells.has(cell)) cells.set(cell, []);
        cells.get(cell).push({ ports, first: entry.ports.first, spec: entry.spec });
      }
    }
  }
  const order = { host: 0, network: 1, cidr: 2 };
  const sorted = [...sources.values()].sort((a, b) =>
    order[a.kind] - order[b.kind] ||
    (a.kind === 'host' ? planHosts.indexOf(a.label) - planHosts.indexOf(b.label) : a.label.localeCompare(b.label)));
  return { sources: sorted, hosts: report.hosts.map((h) => h.host), cells };
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

export function renderMatrix({ sources, hosts, cells }) {
  const labelW = 140;
  const colW = 124;
  const headH = 40;
  const lineH = 15;
  const rows = sources.map((s) => {
    const lines = hosts.map((h) => {
      const list = cells.get(`${s.key}\t${h}`) ?? [];
      const ports = [...new Set(list.sort((a, b) => a.first - b.first).map((c) => c.ports))];
      return { list, lines: wrap(ports, 16) };
    });
    const height = Math.max(34, 12 + lineH * Math.max(1, ...lines.map((l) => l.lines.length)));
    return { source: s, lines, height };
  });
  const width = labelW + colW * hosts.length + 2;
  const height = headH + rows.reduce((n, r) => n + r.height, 0) + 2;
  const svg = el('svg', {
    viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', class: 'matrix',
    'aria-labelledby': 'matrix-title matrix-desc',
  });
  svg.append(el('title', { id: 'matrix-title' }, 'Access matrix'));
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
    row.lines.forEach(({ list, lines }, c) => {
      const x = labelW + c * colW;
      const shade = list.length ? 0.15 + 0.6 * (list.length / max) : 0;
      const cell = el('rect', {
        x, y, width: colW, height: row.height, class: list.length ? 'cell on' : 'cell',
        'fill-opacity': list.length ? shade.toFixed(2) : 1,
      });
      if (list.length) {
        cell.append(el('title', {}, `${row.source.label} → ${hosts[c]}\n${list.map((l) => `${l.ports} ${l.spec}`).join('\n')}`));
        desc.push(`${row.source.label} may reach ${hosts[c]} on ${lines.join(' ')}`);
      }
      g.append(cell);
      lines.forEach((t, n) => g.append(el('text', { x: x + 6, y: y + 20 + n * lineH, class: 'ports' }, t)));
    });
    svg.append(g);
    y += row.height;
  }
  svg.append(el('desc', { id: 'matrix-desc' }, desc.join('; ') || 'No host may reach another.'));
  return svg;
}
