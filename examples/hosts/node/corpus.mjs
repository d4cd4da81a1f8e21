// The golden-corpus check shared by the Node hosts: every DIR/*.plan.json must
// give exactly its *.report.json. Prints the plain "N passed, M failed" line.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export async function checkCorpus(validate, dir, label) {
  let passed = 0;
  let failed = 0;
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.plan.json')).sort()) {
    const expected = readFileSync(join(dir, name.replace('.plan.json', '.report.json')), 'utf8');
    if ((await validate(readFileSync(join(dir, name), 'utf8'))) === expected) {
      passed += 1;
    } else {
      failed += 1;
      console.error(`DIFFERS ${name}`);
    }
  }
  console.log(`${label}: ${passed} passed, ${failed} failed`);
  return failed === 0 && passed > 0;
}

// The reach corpus: every DIR/reach/*.input.json (a plan, what the responders
// reported, what every source measured) must give exactly its *.truth.txt
// (the truth table in every format) and the probe plans of *.probes.json.
// `reach(inputText)` returns { truth, probes }.
export async function checkReachCorpus(reach, dir, label) {
  const { isDeepStrictEqual } = await import('node:util');
  const reachDir = join(dir, 'reach');
  let passed = 0;
  let failed = 0;
  for (const name of readdirSync(reachDir).filter((n) => n.endsWith('.input.json')).sort()) {
    const stem = join(reachDir, name.replace('.input.json', ''));
    const { truth, probes } = await reach(readFileSync(join(reachDir, name), 'utf8'));
    const expectedProbes = JSON.parse(readFileSync(`${stem}.probes.json`, 'utf8'));
    if (truth === readFileSync(`${stem}.truth.txt`, 'utf8') && isDeepStrictEqual(probes, expectedProbes)) {
      passed += 1;
    } else {
      failed += 1;
      console.error(`DIFFERS reach/${name}`);
    }
  }
  console.log(`${label} reach: ${passed} passed, ${failed} failed`);
  return failed === 0 && passed > 0;
}

// The formats of a *.truth.txt, each under a `==> FORMAT` line.
export const TRUTH_FORMATS = ['json', 'table', 'markdown', 'csv'];
