// Load the portplan Extism plugin with the Node @extism/extism SDK.
//
//   node extism_host.mjs PLUGIN.wasm PLAN.json       print the plan's report JSON (or rejection)
//   node extism_host.mjs PLUGIN.wasm --corpus DIR    check DIR/*.plan.json against *.report.json
//
// No WASI, no host functions. The Node SDK throws a rejected plan as an Error
// whose message is "Plugin-originated error: " followed by the plan-error
// JSON; this host strips that prefix, so it prints exactly the JSON every
// other host prints. Only such a message holding plan-error JSON is a
// rejection; a trap (e.g. "RuntimeError: unreachable") or any other error is
// a crash.
//
// Exit status: 0 the report, 2 the plan was rejected (the plan-error JSON on
// stdout, as the CLI's exit 2), 1 the plugin crashed (its message on stderr).
import createPlugin from '@extism/extism';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { TRUTH_FORMATS, checkCorpus, checkReachCorpus } from './corpus.mjs';

const PLUGIN_ERROR = 'Plugin-originated error: ';

/** The plan-error JSON an SDK error carries, or null when it is no rejection. */
export function rejection(error) {
  const message = String(error?.message ?? error);
  if (!message.startsWith(PLUGIN_ERROR)) return null;
  const json = message.slice(PLUGIN_ERROR.length);
  try {
    const parsed = JSON.parse(json);
    return Array.isArray(parsed?.problems) && parsed.problems.length > 0 ? json : null;
  } catch {
    return null;
  }
}

/** { text, rejected } for a plan; throws when the plugin crashed. */
async function answer(plugin, planText) {
  try {
    const plan = (await plugin.call('parse-plan', JSON.stringify({ text: planText }))).text();
    const report = (await plugin.call('validate-plan', `{"plan":${plan}}`)).text();
    const rendered = (await plugin.call('render-report', `{"report":${report},"format":"json"}`)).text();
    return { text: JSON.parse(rendered), rejected: false };
  } catch (error) {
    const json = rejection(error);
    if (json === null) throw error;
    return { text: json, rejected: true };
  }
}

// The reach functions: a probe plan per source, the truth table in every format.
async function reach(plugin, inputText) {
  const input = JSON.parse(inputText);
  const plan = JSON.stringify(input.plan);
  const call = async (name, args) => {
    try {
      return { ok: (await plugin.call(name, args)).text() };
    } catch (error) {
      const json = rejection(error);
      if (json === null) throw error;
      return { error: json };
    }
  };
  const probes = [];
  for (const { source, phase } of input.probed) {
    const answer = await call('probe-plan', `{"plan":${plan},"source":${JSON.stringify(source)},"phase":"${phase}"}`);
    probes.push(JSON.parse(answer.ok ?? answer.error));
  }
  const table = await call(
    'reach-report',
    `{"plan":${plan},"served":${JSON.stringify(input.served)},"probed":${JSON.stringify(input.probed)}}`,
  );
  let truth = '';
  for (const format of TRUTH_FORMATS) {
    truth += `==> ${format}\n`;
    const rendered = table.ok !== undefined
      ? await call('render-truth-table', `{"table":${table.ok},"format":"${format}"}`)
      : await call('render-plan-error', `{"error":${table.error},"format":"${format}"}`);
    truth += JSON.parse(rendered.ok);
  }
  return { truth, probes };
}

async function main([wasm, ...rest]) {
  if (!wasm || !(rest.length === 1 || (rest.length === 2 && rest[0] === '--corpus'))) {
    console.error('usage: extism_host.mjs PLUGIN.wasm (PLAN.json | --corpus DIR)');
    return 2;
  }
  let plugin;
  try {
    plugin = await createPlugin({ wasm: [{ path: resolve(wasm) }] }, { useWasi: false });
    if (rest[0] === '--corpus') {
      const validate = async (text) => (await answer(plugin, text)).text;
      const plans = await checkCorpus(validate, rest[1], 'node-extism');
      const reached = await checkReachCorpus((text) => reach(plugin, text), rest[1], 'node-extism');
      return plans && reached ? 0 : 1;
    }
    const { text, rejected } = await answer(plugin, readFileSync(rest[0], 'utf8'));
    process.stdout.write(text);
    return rejected ? 2 : 0;
  } catch (error) {
    console.error(`extism_host.mjs: the plugin crashed: ${error?.message ?? error}`);
    return 1;
  } finally {
    await plugin?.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
