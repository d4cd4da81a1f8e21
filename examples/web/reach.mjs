// Measured reachability on the page: the documents `portplan reach serve` and
// `portplan reach probe` print (or a whole truth table, `portplan reach report
// --format json`), from files or pasted text, compared with the plan in the
// editor by the plugin's `reach-report`. Problems name the file and the JSON
// path the way `portplan reach report` does: `probe-obs1.json[0].results[2].port`
// (the file, the document's index in it, the path inside the document).
import { PlanError } from './portplan.mjs';

export class ResultsError extends Error {
  /** problems: [{ path, value, message }], each path starting with its file. */
  constructor(problems) {
    super(problems.map((p) => `${p.path}: ${p.message}`).join('; '));
    this.problems = problems;
  }
}

/**
 * The top-level JSON values of `text`: one document, several in a row, or JSON
 * lines, as the CLI prints them. Only the ends are found here (strings and
 * nesting followed, nothing judged); JSON.parse then judges each document and
 * the plugin reads the same text, so a repeated key is still seen there.
 */
function splitDocuments(text) {
  const docs = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a BOM some editors write
  let line = 1;
  let counted = 0;
  const lineAt = (pos) => {
    for (; counted < pos; counted += 1) if (text.charCodeAt(counted) === 10) line += 1;
    return line;
  };
  for (;;) {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i += 1;
    if (i >= text.length) return docs;
    const start = i;
    let depth = 0;
    let inString = false;
    if (text[i] === '{' || text[i] === '[') {
      for (; i < text.length; i += 1) {
        const c = text[i];
        if (inString) {
          if (c === '\\') i += 1;
          else if (c === '"') inString = false;
        } else if (c === '"') inString = true;
        else if (c === '{' || c === '[') depth += 1;
        else if (c === '}' || c === ']') {
          depth -= 1;
          if (depth === 0) break;
        }
      }
      i += 1;
    } else {
      // Not an object: up to the end of the line, for JSON.parse to name.
      while (i < text.length && text[i] !== '\n') i += 1;
    }
    docs.push({ text: text.slice(start, i), start, line: lineAt(start) });
  }
}

/** Line and column of `pos` in `text`, both from 1. */
function lineColumn(text, pos) {
  const before = text.slice(0, pos).split('\n');
  return `line ${before.length}, column ${before.at(-1).length + 1}`;
}

/**
 * Sort every document of every source (`{ name, text }`) into served, probed
 * and truth tables, as `portplan reach report` does (`results`: a probe's,
 * `listening`: a responder's; here also `rows`: a truth table). Every problem
 * of every file is collected before anything is compared.
 */
export function readResults(sources) {
  const served = [];
  const probed = [];
  const tables = [];
  const problems = [];
  for (const { name, text } of sources) {
    const docs = splitDocuments(text);
    if (!docs.length) problems.push({ path: name, value: '', message: 'holds no JSON document' });
    docs.forEach((doc, n) => {
      const at = `${name}[${n}]`;
      let value;
      try {
        value = JSON.parse(doc.text);
      } catch (error) {
        // V8 says where: "... in JSON at position 12 (line 1 column 13)"; the
        // file's own line and column are what its reader can find.
        const pos = /at position (\d+)/.exec(error.message);
        const where = pos ? lineColumn(text, doc.start + Number(pos[1])) : `the document at line ${doc.line}`;
        problems.push({ path: at, value: '', message: `not JSON: ${error.message.replace(/ in JSON at position.*$/, '')} (${where})` });
        return;
      }
      const entry = { text: doc.text, at };
      const object = value !== null && typeof value === 'object' && !Array.isArray(value);
      if (object && 'results' in value) probed.push(entry);
      else if (object && 'listening' in value) served.push(entry);
      else if (object && 'rows' in value) tables.push(entry);
      else {
        problems.push({
          path: at, value: '',
          message: object && 'targets' in value
            ? 'a probe plan (what to try), not what was measured: give what `portplan reach probe` printed without --dry-run'
            : 'neither a probe\'s results (`results`), a responder\'s status (`listening`) nor a truth table (`rows`)',
        });
      }
    });
  }
  if (tables.length && (tables.length > 1 || served.length || probed.length)) {
    problems.push({
      path: tables[0].at, value: '',
      message: 'a truth table is already the comparison: load it alone, or the serve and probe results without it',
    });
  }
  if (!problems.length && !tables.length && !probed.length) {
    problems.push({ path: sources.map((s) => s.name).join(', '), value: '', message: 'no probe results: a serve status alone measures nothing' });
  }
  if (problems.length) throw new ResultsError(problems);
  return { served, probed, table: tables[0] ?? null };
}

/** The plugin's path (`probed[1].results[2].port`, `table.rows[3]`) as the file's. */
function inFile(problems, lists) {
  return problems.map((p) => {
    const m = /^(served|probed|table)(?:\[(\d+)\])?(.*)$/.exec(p.path);
    const doc = m && (m[1] === 'table' ? lists.table : lists[m[1]]?.[Number(m[2])]);
    return doc ? { ...p, path: `${doc.at}${m[3]}` } : p;
  });
}

const VERDICTS = ['as-expected', 'mismatch', 'unknown'];

/**
 * A loaded truth table stands for itself, so the page checks what it can
 * against the plan in the editor: its plan's name, that every host and
 * network it names is the plan's, and that its summary counts its rows.
 */
function checkTable(table, plan, at) {
  const problems = [];
  const hosts = new Set((plan.hosts ?? []).map((h) => h.name));
  const networks = new Set((plan.networks ?? []).map((n) => n.name));
  if (table.plan !== plan.name) {
    problems.push({ path: `${at}.plan`, value: table.plan, message: `not the plan in the editor (${plan.name})` });
  }
  table.rows.forEach((row, i) => {
    if (!hosts.has(row.destination)) {
      problems.push({ path: `${at}.rows[${i}].destination`, value: row.destination, message: 'no host of that name in the plan' });
    }
    const s = row.source;
    if (s !== 'outsider' && !(s.host !== undefined ? hosts.has(s.host) : networks.has(s.network))) {
      problems.push({
        path: `${at}.rows[${i}].source`, value: s.host ?? s.network,
        message: `no ${s.host !== undefined ? 'host' : 'network'} of that name in the plan`,
      });
    }
  });
  const count = Object.fromEntries(VERDICTS.map((v) => [v, table.rows.filter((r) => r.verdict === v).length]));
  const summary = { rows: table.rows.length, 'as-expected': count['as-expected'], mismatches: count.mismatch, unknown: count.unknown };
  for (const [key, n] of Object.entries(summary)) {
    if (table.summary[key] !== n) {
      problems.push({ path: `${at}.summary.${key}`, value: String(table.summary[key]), message: `the rows count ${n}` });
    }
  }
  return problems.slice(0, 100); // as the plugin: enough to act on, not a flood
}

/**
 * Compare `sources` with the plan (`planJson`: the plan record's JSON as the
 * plugin wrote it; `plan`: the same, parsed): the truth table, or a
 * ResultsError whose problems name the file and the path.
 */
export async function compareResults(api, planJson, plan, sources) {
  const lists = readResults(sources);
  let text;
  try {
    text = lists.table
      ? await api.renderTruthTable(lists.table.text, 'json') // the plugin's strict reader of a truth table
      : await api.reachReport(planJson, lists.served.map((d) => d.text), lists.probed.map((d) => d.text));
  } catch (error) {
    if (error instanceof PlanError) throw new ResultsError(inFile(error.problems, lists));
    throw error;
  }
  const table = JSON.parse(text);
  if (lists.table) {
    const problems = checkTable(table, plan, lists.table.at);
    if (problems.length) throw new ResultsError(problems);
  }
  return table;
}

/** `portplan reach report`'s headline, so the page and the CLI say the same. */
export function headline(table) {
  const s = table.summary;
  return `reachability of ${table.plan} (${table.phase}): ${s.rows} probe${s.rows === 1 ? '' : 's'}, `
    + `${s['as-expected']} as expected, ${s.mismatches} mismatch${s.mismatches === 1 ? '' : 'es'}, ${s.unknown} unknown`;
}

/** A truth row's source as the CLI names it. */
export function sourceName(source) {
  if (source === 'outsider') return 'an outsider';
  return source.host !== undefined ? `host ${source.host}` : `network ${source.network}`;
}

/**
 * What a row that is not as expected shows: for a mismatch, how an allowed
 * connection failed (`timeout`, `refused`, `unreachable`, `wrong-responder`:
 * the `unreachable` finding's kinds) or `overexposed` for a denied one that
 * connected; for an unknown row, why it proves nothing. Core judges an
 * allow that failed on a port held before install as unknown, a local
 * `error` as unknown, and a target with no result as "not probed" (no
 * outcome), so those three are the unknown kinds.
 */
export function rowKind(row) {
  if (row.verdict === 'mismatch') return row.expect === 'allow' ? row.outcome : 'overexposed';
  if (row.verdict === 'unknown') {
    if (row.outcome === null || row.outcome === undefined) return 'not probed';
    return row.outcome === 'error' ? 'error' : 'held';
  }
  return null;
}
