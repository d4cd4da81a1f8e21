// Load + first call of the Extism plugin in Node and in the browser (Debian's
// chromium through playwright-core), for one or more plugin files: the
// figures of BENCHMARKS.md ("Plugin load and first call").
//
//   node wasm-plugin/bench/load.mjs [ROUNDS] PLUGIN.wasm [PLUGIN.wasm ...]
//
// A round is a fresh plugin made from the file's bytes (compile and
// instantiate: "load"), then `validate-plan` of examples/plans/ocp-cluster.json
// ("first call": it also inflates and parses the built-in catalog, once per
// instance). Prints the median of the rounds per plugin and runtime, in ms.
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

async function node(bytes, rounds) {
  const load = [];
  const first = [];
  for (let i = 0; i < rounds; i += 1) {
    const t0 = performance.now();
    const plugin = await createPlugin({ wasm: [{ data: bytes }] }, { useWasi: false });
    const t1 = performance.now();
    const out = await plugin.call('validate-plan', input);
    const t2 = performance.now();
    if (!out.text().includes('"findings"')) throw new Error('validate-plan gave no report');
    await plugin.close();
    load.push(t1 - t0);
    first.push(t2 - t1);
  }
  return { load: median(load), first: median(first) };
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
    const results = new Map();
    for (const name of files.keys()) {
      results.set(name, await page.evaluate(async ({ name, input, rounds }) => {
        const { default: createPlugin } = await import('/extism.mjs');
        const bytes = new Uint8Array(await (await fetch(`/${name}`)).arrayBuffer());
        const load = [];
        const first = [];
        for (let i = 0; i < rounds; i += 1) {
          const t0 = performance.now();
          const plugin = await createPlugin({ wasm: [{ data: bytes }] }, { useWasi: false });
          const t1 = performance.now();
          const out = await plugin.call('validate-plan', input);
          const t2 = performance.now();
          if (!out.text().includes('"findings"')) throw new Error('validate-plan gave no report');
          await plugin.close();
          load.push(t1 - t0);
          first.push(t2 - t1);
        }
        const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
        return { load: median(load), first: median(first) };
      }, { name, input, rounds }));
    }
    return results;
  } finally {
    await chrome.close();
    server.close();
  }
}

async function main(args) {
  const rounds = /^\d+$/.test(args[0] ?? '') ? Number(args.shift()) : 7;
  if (args.length === 0) {
    console.error('usage: load.mjs [ROUNDS] PLUGIN.wasm [PLUGIN.wasm ...]');
    return 2;
  }
  // Distinct names for the page's server, in the order given.
  const files = new Map(args.map((path, i) => [`${i}-${basename(path)}`, readFileSync(path)]));
  const inBrowser = await browser(files, rounds);
  console.log('| plugin | bytes | Node load | Node first call | browser load | browser first call |');
  console.log('|---|---|---|---|---|---|');
  for (const [i, path] of args.entries()) {
    const name = `${i}-${basename(path)}`;
    const bytes = files.get(name);
    const n = await node(bytes, rounds);
    const b = inBrowser.get(name);
    const ms = (x) => `${x.toFixed(1)} ms`;
    console.log(`| ${path} | ${bytes.length} | ${ms(n.load)} | ${ms(n.first)} | ${ms(b.load)} | ${ms(b.first)} |`);
  }
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
