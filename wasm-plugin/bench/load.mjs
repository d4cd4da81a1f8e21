// Load + first call of the Extism plugin in Node and in the browser (Debian's
// chromium through playwright-core), for one or more plugin files: the
// figures of BENCHMARKS.md ("Plugin load and first call").
//
//   node wasm-plugin/bench/load.mjs [ROUNDS] PLUGIN.wasm [PLUGIN.wasm ...]
//
// A round makes a fresh plugin from each file's bytes in turn (compile and
// instantiate: "load"), then calls `validate-plan` of
// examples/plans/ocp-cluster.json ("first call": it also inflates and parses
// the built-in catalog, once per instance). The plugins take turns within a
// round, so a busy machine slows them alike. Prints the median of the rounds
// per plugin and runtime, in ms.
// The Python figures come from load.py next to this file.
import createPlugin from '@extism/extism';
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const plan = readFileSync(join(root, 'examples/plans/ocp-cluster.json'), 'utf8');
const input = JSON.stringify({ plan: JSON.parse(plan) });

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One round's load and first call of a plugin from `bytes`. */
async function once(createPlugin, bytes, input) {
  const t0 = performance.now();
  const plugin = await createPlugin({ wasm: [{ data: bytes }] }, { useWasi: false });
  const t1 = performance.now();
  const out = await plugin.call('validate-plan', input);
  const t2 = performance.now();
  if (!out.text().includes('"findings"')) throw new Error('validate-plan gave no report');
  await plugin.close();
  return [t1 - t0, t2 - t1];
}

async function node(all, rounds) {
  const times = all.map(() => ({ load: [], first: [] }));
  for (let r = 0; r < rounds; r += 1) {
    for (const [i, bytes] of all.entries()) {
      const [load, first] = await once(createPlugin, bytes, input);
      times[i].load.push(load);
      times[i].first.push(first);
    }
  }
  return times.map((t) => ({ load: median(t.load), first: median(t.first) }));
}

/** The browser's figures: the page fetches the bytes, then times the same steps. */
async function browser(files, rounds) {
  const server = createServer((request, response) => {
    const name = decodeURIComponent(new URL(request.url, 'http://x').pathname.slice(1));
    const body = name === 'extism.mjs'
      ? readFileSync(join(root, 'node_modules/@extism/extism/dist/browser/mod.js'))
      : name === '' ? '<!doctype html><title>bench</title>'
        : files.has(name) ? files.get(name) : null;
    if (body === null) { response.writeHead(404).end(); return; }
    const type = name.endsWith('.mjs') ? 'text/javascript' : name.endsWith('.wasm') ? 'application/wasm' : 'text/html';
    response.writeHead(200, { 'content-type': type }).end(body);
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  const url = `http://127.0.0.1:${server.address().port}/`;
  const chrome = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu'],
  });
  try {
    const page = await chrome.newPage();
    await page.goto(url);
    const names = [...files.keys()];
    const medians = await page.evaluate(async ({ names, input, rounds, once }) => {
      const { default: createPlugin } = await import('/extism.mjs');
      // The same steps as `once` in Node, rebuilt from its text in the page.
      const step = new Function(`return ${once}`)();
      const all = [];
      for (const name of names) all.push(new Uint8Array(await (await fetch(`/${name}`)).arrayBuffer()));
      const times = all.map(() => ({ load: [], first: [] }));
      for (let r = 0; r < rounds; r += 1) {
        for (const [i, bytes] of all.entries()) {
          const [load, first] = await step(createPlugin, bytes, input);
          times[i].load.push(load);
          times[i].first.push(first);
        }
      }
      const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      return times.map((t) => ({ load: median(t.load), first: median(t.first) }));
    }, { names, input, rounds, once: once.toString() });
    const results = new Map(names.map((name, i) => [name, medians[i]]));
    return results;
  } finally {
    await chrome.close();
    server.close();
  }
}

async function main(args) {
  const rounds = /^\d+$/.test(args[0] ?? '') ? Number(args.shift()) : 15;
  if (args.length === 0) {
    console.error('usage: load.mjs [ROUNDS] PLUGIN.wasm [PLUGIN.wasm ...]');
    return 2;
  }
  // Distinct names for the page's server, in the order given.
  const files = new Map(args.map((path, i) => [`${i}-${basename(path)}`, readFileSync(path)]));
  const inBrowser = await browser(files, rounds);
  const inNode = await node([...files.values()], rounds);
  console.log('| plugin | bytes | Node load | Node first call | browser load | browser first call |');
  console.log('|---|---|---|---|---|---|');
  const ms = (x) => `${x.toFixed(1)} ms`;
  for (const [i, path] of args.entries()) {
    const name = `${i}-${basename(path)}`;
    const [n, b] = [inNode[i], inBrowser.get(name)];
    console.log(`| ${path} | ${files.get(name).length} | ${ms(n.load)} | ${ms(n.first)} | ${ms(b.load)} | ${ms(b.first)} |`);
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
