// YAML plans in the page, read as the CLI reads them (ansible-module/src/plan_input.rs):
// YAML 1.2's core schema (`yes` is a string), one document, no duplicate keys,
// no merge keys (`<<`), no custom tags, nesting bounded, aliases expanded
// within a bound. The YAML becomes the JSON text of the same value, which the
// plugin parses as it parses a JSON plan, so problems, paths and reports are
// the JSON twin's; a problem's path then maps back to its YAML line.
//
// Numbers keep their JSON meaning: integers are written exactly (BigInt) and
// floats always with a `.` or an exponent, so `ports: 1.0` is a float here as
// in the CLI and in a JSON plan, not the integer JavaScript would make of it.
import { parseDocument, isAlias, isMap, isScalar, isSeq } from './vendor/yaml/index.js';

export const MAX_DEPTH = 64;
export const MAX_NODES = 1_000_000;

const CORE = 'tag:yaml.org,2002:';

/** Whether the editor's text is YAML: it does not open a JSON object or array (and is not blank). */
export function isYaml(text) {
  const first = text.trimStart()[0];
  return first !== undefined && first !== '{' && first !== '[';
}

/** A YAML plan the page refuses before the plugin sees it; `problems` as a PlanError's. */
export class YamlError extends Error {
  constructor(problems, spans) {
    super(problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
    this.problems = problems;
    this.spans = spans; // what was mapped before the problem
  }
}

function lineStarts(text) {
  const starts = [0];
  for (let i = 0; i < text.length; i += 1) if (text[i] === '\n') starts.push(i + 1);
  return starts;
}

/** 1-based { line, col } of a character offset. */
function position(starts, offset) {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, col: offset - starts[lo] + 1 };
}

/** A number as JSON text with the meaning it has in YAML (and in the CLI). */
function numberJson(node, fail) {
  const { value } = node;
  if (typeof value === 'bigint') {
    // serde_json reads `-0` as the float -0.0; so does the CLI for YAML's `-0`.
    return value === 0n && String(node.source ?? '').startsWith('-') ? '-0' : value.toString();
  }
  if (!Number.isFinite(value)) fail(`${node.source ?? value} has no JSON form; quote it for a string`);
  if (Object.is(value, -0)) return '-0.0';
  const text = String(value);
  return /[.eE]/.test(text) ? text : `${text}.0`;
}

/**
 * The JSON text of a YAML plan and the editor range of every path in it
 * (`hosts[1].address` -> { start, end }, from the key for a mapping entry).
 * Throws a YamlError for what YAML or this reader refuses.
 */
export function readYaml(text) {
  const starts = lineStarts(text);
  const spans = new Map();
  const doc = parseDocument(text, { version: '1.2', intAsBigInt: true, prettyErrors: false, uniqueKeys: true });
  const bad = [...doc.errors, ...doc.warnings][0];
  if (bad) {
    const { line, col } = position(starts, bad.pos[0]);
    throw new YamlError([{ path: '.', value: '', message: `not valid YAML: ${bad.message} at line ${line} column ${col}` }], spans);
  }
  if (doc.contents === null) {
    throw new YamlError([{ path: '.', value: '', message: 'not valid YAML: the file holds no document' }], spans);
  }
  let nodes = 0;
  const count = (n, path, at) => {
    nodes += n;
    if (nodes > MAX_NODES) problem(path, '', `the plan holds more than ${MAX_NODES} values once its aliases are expanded`, at);
  };
  function problem(path, value, message, at) {
    const { line } = position(starts, at);
    throw new YamlError([{ path: path || '.', value, message: `${message} (line ${line})` }], spans);
  }
  const unsupported = (tag) => {
    const shown = tag.startsWith(CORE) ? `!!${tag.slice(CORE.length)}` : tag;
    return `tag \`${shown}\` is not supported here; a plan uses YAML 1.2's core schema (\`!!str\`, \`!!int\`, \`!!float\`, \`!!bool\`, \`!!null\`, \`!!seq\`, \`!!map\`)`;
  };
  // What an alias stands for (the library searches the document each time).
  const targets = new Map();
  const resolve = (alias) => {
    if (!targets.has(alias)) targets.set(alias, alias.resolve(doc));
    return targets.get(alias);
  };
  // The size and depth of a node with its aliases expanded, both saturating
  // past their bounds; remembered per node, so nested aliases cost once. The
  // level guard ends an alias inside its own anchor.
  const measured = new Map();
  const measure = (node, level) => {
    if (isAlias(node)) return measure(resolve(node), level);
    if (!isMap(node) && !isSeq(node)) return { size: 1, depth: 0 };
    if (level > MAX_DEPTH) return { size: 1, depth: MAX_DEPTH + 1 };
    if (measured.has(node)) return measured.get(node);
    let size = 1;
    let depth = 0;
    for (const item of node.items) {
      const child = isMap(node) ? item.value : item;
      const m = child ? measure(child, level + 1) : { size: 1, depth: 0 };
      size = Math.min(size + m.size, MAX_NODES + 1);
      depth = Math.max(depth, m.depth);
    }
    const result = { size, depth: Math.min(depth + 1, MAX_DEPTH + 1) };
    measured.set(node, result);
    return result;
  };

  // `record` is false inside an alias: its paths are the alias's place.
  function json(node, path, depth, at, record) {
    if (node === null || node === undefined) {
      count(1, path, at);
      return 'null';
    }
    if (isAlias(node)) {
      const target = resolve(node);
      if (!target) problem(path, '', 'an alias of an unknown anchor', node.range[0]);
      const m = measure(target, depth);
      if (depth + m.depth > MAX_DEPTH) problem(path, '', `nested more than ${MAX_DEPTH} levels deep`, node.range[0]);
      count(m.size, path, node.range[0]);
      nodes -= m.size; // counted again, node by node, below
      return json(target, path, depth, node.range[0], false);
    }
    const start = record ? node.range[0] : at;
    if (isMap(node) || isSeq(node)) {
      if (depth + 1 > MAX_DEPTH) problem(path, '', `nested more than ${MAX_DEPTH} levels deep`, start);
      const kind = isMap(node) ? 'map' : 'seq';
      if (node.tag && node.tag !== `${CORE}${kind}` && node.tag !== '!') problem(path, '', unsupported(node.tag), start);
      count(1, path, start);
    }
    if (isMap(node)) {
      const parts = [];
      for (const pair of node.items) {
        const keyAt = record && pair.key?.range ? pair.key.range[0] : start;
        if (!isScalar(pair.key)) problem(path, '', 'a key must be a scalar (a string)', keyAt);
        const key = pair.key.type === 'PLAIN' ? String(pair.key.source ?? pair.key.value ?? '') : String(pair.key.value);
        const childPath = path ? `${path}.${key}` : key;
        if (pair.key.type === 'PLAIN' && key === '<<') {
          problem(childPath, '', 'merge keys (<<) are YAML 1.1, not 1.2; write the entries out', keyAt);
        }
        if (record) {
          const end = pair.value?.range ? pair.value.range[1] : pair.key.range[1];
          spans.set(childPath, { start: keyAt, end });
        }
        parts.push(`${JSON.stringify(key)}:${json(pair.value, childPath, depth + 1, keyAt, record)}`);
      }
      return `{${parts.join(',')}}`;
    }
    if (isSeq(node)) {
      const parts = node.items.map((item, i) => {
        const childPath = `${path}[${i}]`;
        const itemAt = record && item?.range ? item.range[0] : start;
        if (record && item?.range) spans.set(childPath, { start: item.range[0], end: item.range[1] });
        return json(item, childPath, depth + 1, itemAt, record);
      });
      return `[${parts.join(',')}]`;
    }
    // A scalar.
    count(1, path, start);
    const fail = (message) => problem(path, String(node.source ?? node.value ?? ''), message, start);
    const { tag } = node;
    if (tag && tag !== '!' && !['str', 'int', 'float', 'bool', 'null'].some((t) => tag === `${CORE}${t}`)) {
      fail(unsupported(tag));
    }
    const { value } = node;
    if (value === null) return 'null';
    if (typeof value === 'boolean') return String(value);
    if (typeof value === 'bigint' || typeof value === 'number') return numberJson(node, fail);
    return JSON.stringify(String(value));
  }

  return { json: json(doc.contents, '', 0, 0, true), spans };
}

/** The 1-based line of a problem path in YAML text (closest written ancestor), or null. */
export function lineOf(text, path, spans = null) {
  let known = spans;
  if (!known) {
    try {
      known = readYaml(text).spans;
    } catch (error) {
      known = error instanceof YamlError ? error.spans : new Map();
    }
  }
  let p = path.replace(/^plan\./, '').replace(/^\.$/, '');
  for (;;) {
    if (p === '') return null;
    if (known.has(p)) return position(lineStarts(text), known.get(p).start).line;
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    p = cut > 0 ? p.slice(0, cut) : '';
  }
}

/** The plugin's problems for a YAML plan, each message ending in the line of its path. */
export function withLines(text, problems) {
  let spans;
  try {
    spans = readYaml(text).spans;
  } catch {
    return problems;
  }
  return problems.map((p) => {
    const line = lineOf(text, p.path, spans);
    return line ? { ...p, message: `${p.message} (line ${line})` } : p;
  });
}
