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
