// Run the portplan WebAssembly component in Node through `jco transpile`.
//
//   npx jco transpile dist/wasm/portplan-component.wasm --no-wasi-shim -o target/jco
//   node jco_host.mjs target/jco PLAN.json         print the plan's report JSON (or rejection)
//   node jco_host.mjs target/jco --corpus DIR      check DIR/*.plan.json against *.report.json
//
// The component imports nothing, so the transpiled module needs no shim. jco
// maps WIT names to camelCase; a rejected plan is thrown as a ComponentError
// whose payload is the plan-error record; anything else thrown (a trap) is a
// crash.
//
// Exit status: 0 the report, 2 the plan was rejected (the plan-error JSON on
// stdout), 1 the component crashed (its message on stderr).
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkCorpus } from './corpus.mjs';

/** { text, rejected } for a plan; throws when the component crashed. */
function answer(portplan, planText) {
  try {
    const report = portplan.validatePlan(portplan.parsePlan(planText));
    return { text: portplan.renderReport(report, 'json'), rejected: false };
  } catch (error) {
    if (error?.payload === undefined) throw error;
    return { text: portplan.renderPlanError(error.payload, 'json'), rejected: true };
  }
}

async function main([dir, ...rest]) {
  if (!dir || !(rest.length === 1 || (rest.length === 2 && rest[0] === '--corpus'))) {
    console.error('usage: jco_host.mjs TRANSPILED_DIR (PLAN.json | --corpus DIR)');
    return 2;
  }
  try {
    const portplan = await import(pathToFileURL(join(resolve(dir), 'portplan-component.js')).href);
    if (rest[0] !== '--corpus') {
      const { text, rejected } = answer(portplan, readFileSync(rest[0], 'utf8'));
      process.stdout.write(text);
      return rejected ? 2 : 0;
    }
    return (await checkCorpus((text) => answer(portplan, text).text, rest[1], 'node-jco')) ? 0 : 1;
  } catch (error) {
    console.error(`jco_host.mjs: the component crashed: ${error?.message ?? error}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
