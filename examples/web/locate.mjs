// Where a plan problem is in the editor's text: `hosts[1].address` -> a
// character range of the editor. For JSON a small scanner records the span of
// every value (and of its key) under the path syntax portplan's errors use; for
// YAML the reader in yaml.mjs records the same spans from its parse. A syntax
// error ("... at line 3 column 7", JSON's or YAML's) maps to that character,
// and a YAML problem no path points at to the line it names ("(line 4)").
import { isYaml, readYaml, YamlError } from './yaml.mjs';

/** Every path of `text` -> { start, end } (start at the key for object members). */
export function spans(text) {
  if (isYaml(text)) {
    try {
      return readYaml(text).spans;
    } catch (error) {
      // Keep what was mapped before the problem.
      return error instanceof YamlError ? error.spans : new Map();
    }
  }
  const found = new Map();
  let i = 0;
  const ws = () => { while (i < text.length && ' \t\r\n'.includes(text[i])) i += 1; };
  const fail = () => { throw new SyntaxError(`unexpected input at ${i}`); };
  const string = () => {
    if (text[i] !== '"') fail();
    const start = i;
    i += 1;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail();
    i += 1;
    return JSON.parse(text.slice(start, i));
  };
  const value = (path, keyStart) => {
    ws();
    const start = i;
    if (text[i] === '{') {
      i += 1;
      ws();
      if (text[i] === '}') i += 1;
      else {
        for (;;) {
          ws();
          const at = i;
          const key = string();
          ws();
          if (text[i] !== ':') fail();
          i += 1;
          value(path === '' ? key : `${path}.${key}`, at);
          ws();
          if (text[i] === ',') { i += 1; continue; }
          if (text[i] === '}') { i += 1; break; }
          fail();
        }
      }
    } else if (text[i] === '[') {
      i += 1;
      ws();
      if (text[i] === ']') i += 1;
      else {
        for (let n = 0; ; n += 1) {
          value(`${path}[${n}]`, undefined);
          ws();
          if (text[i] === ',') { i += 1; continue; }
          if (text[i] === ']') { i += 1; break; }
          fail();
        }
      }
    } else if (text[i] === '"') {
      string();
    } else {
      const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
      if (!m) fail();
      i += m[0].length;
    }
    found.set(path, { start: keyStart ?? start, end: i });
  };
  try {
    value('', undefined);
  } catch {
    // Keep what was found before the syntax error.
  }
  return found;
}

/** The range of `text` a problem path points at, or null. */
export function locate(text, path, message = '') {
  const syntax = /line (\d+) column (\d+)/.exec(message);
  if (syntax) {
    const lines = text.split('\n');
    const line = Math.min(Number(syntax[1]), lines.length);
    let start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    start += Math.max(0, Math.min(Number(syntax[2]) - 1, lines[line - 1].length));
    return { start: Math.max(0, Math.min(start, text.length - 1)), end: Math.min(start + 1, text.length) };
  }
  const known = spans(text);
  let p = path.replace(/^plan\./, '').replace(/^\.$/, '');
  // A path the text lacks (a missing field) points at its closest parent.
  for (;;) {
    if (known.has(p)) return known.get(p);
    if (p === '') break;
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    p = cut > 0 ? p.slice(0, cut) : '';
  }
  // A YAML problem of the whole plan that names its line: that line.
  const named = /\(line (\d+)\)$/.exec(message);
  if (!named) return null;
  const lines = text.split('\n');
  const line = Math.min(Number(named[1]), lines.length);
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  return { start, end: start + lines[line - 1].length };
}
