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
import { TRUTH_FORMATS, checkCorpus, checkReachCorpus } from './corpus.mjs';

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

// jco's shapes: records with camelCase fields, variants as { tag, val }.
const camel = (key) => key.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
const kebab = (key) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const toSource = (s) => (typeof s === 'string' ? { tag: s } : { tag: Object.keys(s)[0], val: Object.values(s)[0] });
const fromSource = (s) => (s.val === undefined ? s.tag : { [s.tag]: s.val });

function toJco(value, key) {
  if (key === 'source') return toSource(value);
  if (Array.isArray(value)) return value.map((v) => toJco(v));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), toJco(v, k)]));
  }
  return value;
}

function fromJco(value, key) {
  if (key === 'source') return fromSource(value);
  if (Array.isArray(value)) return value.map((v) => fromJco(v));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [kebab(k), fromJco(v, k)]));
  }
  return value;
}

// The reach functions: a probe plan per source, the truth table in every format.
function reach(portplan, inputText) {
  const input = JSON.parse(inputText);
  const plan = portplan.parsePlan(JSON.stringify(input.plan));
  const attempt = (call) => {
    try {
      return { ok: call() };
    } catch (error) {
      if (error.payload === undefined) throw error;
      return { error: error.payload };
    }
  };
  const probes = input.probed.map(({ source, phase }) => {
    const answer = attempt(() => portplan.probePlan(plan, toSource(source), phase));
    return fromJco(answer.ok ?? answer.error);
  });
  const table = attempt(() => portplan.reachReport(plan, toJco(input.served), toJco(input.probed)));
  let truth = '';
  for (const format of TRUTH_FORMATS) {
    truth += `==> ${format}\n`;
    truth += table.ok !== undefined
      ? portplan.renderTruthTable(table.ok, format)
      : portplan.renderPlanError(table.error, format);
  }
  return { truth, probes };
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
    const plans = await checkCorpus((text) => answer(portplan, text).text, rest[1], 'node-jco');
    const reached = await checkReachCorpus((text) => reach(portplan, text), rest[1], 'node-jco');
    return plans && reached ? 0 : 1;
  } catch (error) {
    console.error(`jco_host.mjs: the component crashed: ${error?.message ?? error}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
