// The access matrix as an SVG picture: one row per source (a host of the plan,
// a client network, or a CIDR that is neither; the report's sources are merged
// CIDRs, so each is matched back to the hosts and networks it covers), one column per host, and in each cell the
// ports that source may reach on that host, shaded by how many there are.

const SVG = 'http://www.w3.org/2000/svg';

const range = (r) => (r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`);

/** An address or CIDR as { v6, bits, net: BigInt } (null if not one). */
function cidr(text) {
  const [addr, len] = text.split('/');
  let value = 0n;
  let width;
  if (addr.includes(':')) {
    width = 128;
    const [head, tail = ''] = addr.split('::');
    const hs = head ? head.split(':') : [];
    const ts = addr.includes('::') && tail ? tail.split(':') : [];
    const groups = addr.includes('::') ? [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts] : hs;
    if (groups.length !== 8) return null;
    for (const g of groups) value = (value << 16n) | BigInt(parseInt(g || '0', 16));
  } else {
    width = 32;
    const parts = addr.split('.').map(Number);
    if (parts.length !== 4 || parts.some((n) => !(n >= 0 && n <= 255))) return null;
    for (const n of parts) value = (value << 8n) | BigInt(n);
  }
  const bits = len === undefined ? width : Number(len);
  const shift = BigInt(width - bits);
  return { v6: width === 128, bits, net: (value >> shift) << shift, width };
}

function contains(outer, inner) {
  if (!outer || !inner || outer.v6 !== inner.v6 || inner.bits < outer.bits) return false;
  const shift = BigInt(outer.width - outer.bits);
  return (inner.net >> shift) === (outer.net >> shift);
}

/** Who a rule's source stands for: the plan's hosts inside it, the client
 * networks overlapping it; a source that is neither keeps its CIDR. */
function sourceResolver(plan) {
  const hosts = (plan.hosts ?? []).map((h) => ({ label: h.name, kind: 'host', at: cidr(h.address) }));
  const networks = (plan.networks ?? []).map((n) => ({ label: n.name, kind: 'network', at: n.cidrs.map(cidr) }));
  return (source) => {
    if (source === 'anywhere') return [{ label: 'anywhere', kind: 'cidr' }];
    const s = cidr(source);
    const found = [
      ...hosts.filter((h) => contains(s, h.at)),
      ...networks.filter((n) => n.at.some((c) => contains(s, c) || contains(c, s))),
    ];
    return found.length ? found : [{ label: source, kind: 'cidr' }];
  };
}

/** { sources: [{ key, label, kind }], hosts: [name], cells: Map("src\thost" -> [{ports, spec}]) } */
export function accessMatrix(plan, report) {
  const resolve = sourceResolver(plan);
  const sources = new Map();
  const cells = new Map();
  for (const rule of report.rules) {
    for (const src of rule.sources.length ? rule.sources : ['anywhere']) {
      for (const { label, kind } of resolve(src)) {
        if (!sources.has(label)) sources.set(label, { key: label, label, kind, cidrs: new Set() });
        sources.get(label).cidrs.add(src);
        const key = `${label}\t${rule.host}`;
        if (!cells.has(key)) cells.set(key, []);
        const ports = range(rule.ports) + (rule.transport === 'udp' ? '/udp' : '');
        cells.get(key).push({ ports, first: rule.ports.first, spec: rule.spec });
      }
    }
  }
  const order = { host: 0, network: 1, cidr: 2 };
  const planOrder = (plan.hosts ?? []).map((h) => h.name);
  const sorted = [...sources.values()].sort((a, b) =>
    order[a.kind] - order[b.kind] ||
    (a.kind === 'host' ? planOrder.indexOf(a.label) - planOrder.indexOf(b.label) : a.label.localeCompare(b.label)));
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
    label.append(el('title', {}, `${row.source.kind}, admitted as ${[...row.source.cidrs].join(', ')}`));
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
