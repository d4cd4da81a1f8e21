// Load the portplan Extism plugin with the Node @extism/extism SDK.
//
//   node extism_host.mjs PLUGIN.wasm PLAN.json       print the plan's report JSON (or rejection)
//   node extism_host.mjs PLUGIN.wasm --corpus DIR    check DIR/*.plan.json against *.report.json
//
// No WASI, no host functions. A rejected plan is an Error whose message is
// "Plugin-originated error: " followed by the plan-error JSON.
import createPlugin from '@extism/extism';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { checkCorpus } from './corpus.mjs';

const PLUGIN_ERROR = 'Plugin-originated error: ';

async function validate(plugin, planText) {
  try {
    const plan = (await plugin.call('parse-plan', JSON.stringify({ text: planText }))).text();
    const report = (await plugin.call('validate-plan', `{"plan":${plan}}`)).text();
    const rendered = (await plugin.call('render-report', `{"report":${report},"format":"json"}`)).text();
    return JSON.parse(rendered);
  } catch (error) {
    if (!error.message.startsWith(PLUGIN_ERROR)) throw error;
    return error.message.slice(PLUGIN_ERROR.length);
  }
}

async function main([wasm, ...rest]) {
  if (!wasm || !(rest.length === 1 || (rest.length === 2 && rest[0] === '--corpus'))) {
    console.error('usage: extism_host.mjs PLUGIN.wasm (PLAN.json | --corpus DIR)');
    return 2;
  }
  const plugin = await createPlugin({ wasm: [{ path: resolve(wasm) }] }, { useWasi: false });
  try {
    if (rest[0] === '--corpus') {
      return (await checkCorpus((text) => validate(plugin, text), rest[1], 'node-extism')) ? 0 : 1;
    }
    process.stdout.write(await validate(plugin, readFileSync(rest[0], 'utf8')));
    return 0;
  } finally {
    await plugin.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
