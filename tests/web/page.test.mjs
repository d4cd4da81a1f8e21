// The browser page under Debian's chromium (playwright-core, no downloaded browser):
//
//   node tests/web/page.test.mjs
//
// Stages the page (scripts/build-web), serves dist/web on 127.0.0.1, then:
// the golden corpus through the page's plugin equals the native reports byte
// for byte; a profile starts a plan; an edited port makes a conflict appear
// and disappear; a rejection points at its place in the plan; the access
// matrix names the hosts and networks behind each port's sources (its source
// group's hosts and networks, even inside a merged CIDR); the
// firewall commands, planned against core's empty-firewall states, render for
// every backend; the CSV and Markdown sheets download with the right rows; a
// YAML plan typed, pasted or uploaded gives its JSON twin's report, and a YAML
// problem names and selects its line; a profile starts one host per role; the
// profile dropdown follows the plan; the plan survives a reload (storage) and
// travels in a link (the address's fragment, deflate-raw + base64url); copy
// buttons copy the exact commands, which wrap instead of being cut off; the
// sheet is marked, on screen, on paper and in its downloads, when the plan has
// errors; sources show by name with their address on hover; the print
// stylesheet hides the controls and gives tables the page's width; measured
// reachability results (the reach corpus's serve and probe documents written
// as files, pasted, or its truth table) mark exactly the cells the truth
// table says differ, with the kind, count as its summary does, show held
// ports as unknown, name the file and path of a bad document, and are
// cleared when the plan changes; screenshots at 1280x800, 390x844, of the
// printed sheet and of the measured matrix go to target/web-screenshots/
// (and docs/page.png, docs/page-print.png, docs/page-reach.png with
// --update-docs).
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import assert from 'node:assert/strict';
import { roles, starterPlan } from '../../examples/web/starter.mjs';

const root = resolve(import.meta.dirname, '../..');
const web = join(root, 'dist/web');
const shots = join(root, 'target/web-screenshots');
const corpus = join(root, 'tests/corpus');
const TYPES = {
  '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.css': 'text/css',
  '.json': 'application/json', '.wasm': 'application/wasm',
};

function serve(dir) {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = normalize(join(dir, path.endsWith('/') ? `${path}index.html` : path));
    try {
      if (!file.startsWith(dir)) throw new Error('outside');
      const body = readFileSync(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

let failures = 0;
async function check(name, body) {
  try {
    await body();
    console.log(`ok   ${name}`);
  } catch (error) {
    failures += 1;
    console.log(`FAIL ${name}\n     ${String(error.stack ?? error).split('\n').slice(0, 6).join('\n     ')}`);
  }
}

const idle = (page) => page.waitForFunction(() => document.body.dataset.state === 'idle');

/** Type into the editor like a person: put the caret after `anchor`, then type. */
async function typeAfter(page, anchor, text) {
  const at = await page.$eval('#editor', (e, a) => e.value.indexOf(a) + a.length, anchor);
  assert.ok(at >= anchor.length, `editor has ${anchor}`);
  await page.$eval('#editor', (e, i) => { e.focus(); e.setSelectionRange(i, i); }, at);
  await page.keyboard.type(text);
}

async function replaceIn(page, from, to) {
  const at = await page.$eval('#editor', (e, f) => e.value.indexOf(f), from);
  assert.ok(at >= 0, `editor has ${from}`);
  await page.$eval('#editor', (e, [i, n]) => { e.focus(); e.setSelectionRange(i, i + n); }, [at, from.length]);
  await page.keyboard.type(to);
}

/** A reach corpus case: the plan, served and probed (input.json) and the
 * truth table's JSON (the first section of truth.txt). */
function reachCase(name) {
  const input = JSON.parse(readFileSync(join(corpus, 'reach', `${name}.input.json`), 'utf8'));
  const truthJson = readFileSync(join(corpus, 'reach', `${name}.truth.txt`), 'utf8').split('==> json\n')[1].split('\n==> ')[0];
  return { input, truth: JSON.parse(truthJson), truthJson };
}

const sourceKey = (s) => (s === 'outsider' ? 'outsider:outsider' : s.host !== undefined ? `host:${s.host}` : `network:${s.network}`);

/** Files as the hosts would hand them over: each probe's document as
 * `portplan reach probe` prints it (pretty JSON), every host's serve line in
 * one file (JSON lines, as `serve ... >> serve.jsonl` gathers them). */
function writeResults(dir, input) {
  mkdirSync(dir, { recursive: true });
  const files = input.probed.map((p) => {
    const file = join(dir, `probe-${sourceKey(p.source).replace(':', '-')}.json`);
    writeFileSync(file, `${JSON.stringify(p, null, 2)}\n`);
    return file;
  });
  if (input.served.length) {
    const file = join(dir, 'serve.jsonl');
    writeFileSync(file, input.served.map((x) => `${JSON.stringify(x)}\n`).join(''));
    files.push(file);
  }
  return files;
}

async function main() {
  execFileSync(join(root, 'scripts/build-web'), { stdio: 'inherit' });
  mkdirSync(shots, { recursive: true });
  const server = await serve(web);
  const url = `http://127.0.0.1:${server.address().port}/`;
  const profileDir = mkdtempSync(join(tmpdir(), 'portplan-chromium-'));
  const downloads = mkdtempSync(join(tmpdir(), 'portplan-downloads-'));
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
    acceptDownloads: true,
    downloadsPath: downloads,
  });
  // No network but the page's own server.
  await context.route('**/*', (route) =>
    route.request().url().startsWith(url) ? route.continue() : route.abort());
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url.replace(/\/$/, '') });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  // Every confirm the page asks is recorded and answered by `answer` (dismissed
  // unless a check says otherwise), so a check can also prove none was asked.
  const dialogs = [];
  let answer = 'dismiss';
  page.on('dialog', (d) => { dialogs.push(d.message()); return answer === 'accept' ? d.accept() : d.dismiss(); });
  const clipboard = () => page.evaluate(() => navigator.clipboard.readText());
  const loadExample = async (name) => {
    await page.selectOption('#example', name);
    await page.click('#use-example');
    await idle(page);
  };
  const hostsOf = async () => JSON.parse(await page.inputValue('#editor')).hosts.map((x) => `${x.name}: ${x.components.join(' ')}`);

  try {
    await page.goto(url);
    await idle(page);

    await check('the page loads the plugin, lists every catalog profile and shows the first example', async () => {
      const options = await page.$$eval('#profile option', (os) => os.map((o) => o.value));
      assert.deepEqual(options, ['finedatalink-single', 'finedatalink-cluster', 'fineops', 'ocp', 'ocp-ce']);
      assert.match(await page.textContent('#status'), /^Ready/);
      assert.equal(await page.$$eval('#ports table', (t) => t.length), 5);
      await page.screenshot({ path: join(shots, 'page-1280x800.png') });
      if (process.argv.includes('--update-docs')) copyFileSync(join(shots, 'page-1280x800.png'), join(root, 'docs/page.png'));
    });

    await check('the golden corpus through the page equals the native reports byte for byte', async () => {
      const names = readdirSync(corpus).filter((n) => n.endsWith('.plan.json')).sort();
      assert.ok(names.length > 0);
      const differ = [];
      for (const name of names) {
        const plan = readFileSync(join(corpus, name), 'utf8');
        const expected = readFileSync(join(corpus, name.replace('.plan.json', '.report.json')), 'utf8');
        const got = await page.evaluate((text) => window.portplanPage.reportJson(text), plan);
        if (got !== expected) differ.push(name);
      }
      console.log(`     browser-extism: ${names.length - differ.length} passed, ${differ.length} failed`);
      assert.deepEqual(differ, []);
    });

    await check('a profile starts a plan; an edited port makes a conflict that disappears when fixed', async () => {
      await page.selectOption('#profile', 'finedatalink-single');
      await page.click('#use-profile');
      await idle(page);
      assert.match(await page.inputValue('#editor'), /"profiles": \[\s*"finedatalink-single"/);
      assert.equal(await page.$$('.finding[data-code="port-conflict"]').then((l) => l.length), 0);
      // gpfdist onto the FineDataLink HTTP port, typed into the overrides.
      await typeAfter(page, '"overrides": [', '{ "spec": "finedatalink.gpfdist", "ports": 8068 }');
      await page.waitForSelector('.finding.error[data-code="port-conflict"]');
      const text = await page.textContent('.finding[data-code="port-conflict"]');
      assert.match(text, /finedatalink\.gpfdist/);
      assert.match(text, /Fix:/);
      assert.match(await page.textContent('#findings'), /Host fdl1/);
      await idle(page);
      await page.screenshot({ path: join(shots, 'conflict-1280x800.png'), fullPage: false });
      await replaceIn(page, '"ports": 8068', '"ports": 15501');
      await page.waitForSelector('.finding[data-code="port-conflict"]', { state: 'detached' });
      await idle(page);
      assert.match(await page.textContent('#summary'), /0 errors/);
      assert.match(await page.textContent('#ports'), /15501/);
    });

    await check('a rejected plan names the problem and selects its place in the plan', async () => {
      await replaceIn(page, '"address": "198.18.0.11"', '"address": "198.18.0.300"');
      await page.waitForSelector('#problems li');
      await idle(page);
      assert.match(await page.textContent('#problems'), /hosts\[0\]\.address: not an IPv4 or IPv6 address \(value: 198\.18\.0\.300\)/);
      assert.ok(await page.$('#results.stale'));
      await page.focus('#problems button');
      await page.keyboard.press('Enter');
      const selected = await page.$eval('#editor', (e) => e.value.slice(e.selectionStart, e.selectionEnd));
      assert.equal(selected, '"address": "198.18.0.300"');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'editor');
      await page.screenshot({ path: join(shots, 'rejected-1280x800.png') });
      await replaceIn(page, '198.18.0.300', '198.18.0.11');
      await page.waitForSelector('#problems li', { state: 'detached' });
      await idle(page);
      assert.equal(await page.$('#results.stale'), null);
    });

    await check('the access matrix pictures who may reach which host', async () => {
      await page.selectOption('#example', 'ocp-cluster');
      await page.click('#use-example');
      await idle(page);
      const heads = await page.$$eval('#matrix .col-head', (t) => t.map((x) => x.textContent));
      assert.deepEqual(heads, ['ocp1', 'obs1', 'obs2', 'obs3', 'proxy1']);
      const rows = await page.$$eval('#matrix .row-label', (t) => t.map((x) => x.firstChild.nodeValue));
      assert.ok(rows.includes('ocp1') && rows.includes('ocp-console') && rows.includes('application'), rows.join());
      assert.match(await page.$eval('#matrix desc', (d) => d.textContent), /ocp1 may reach obs1 on .*2881/);
    });

    await check('the matrix names hosts that a merged CIDR hides (the source group\'s hosts)', async () => {
      // obs1's observer.rpc admits obs2 (198.18.2.12) and obs3 (198.18.2.13) as one /31
      // (and obs1 itself): neither address is written anywhere in the report's sources.
      const rpc = await page.$$eval('#ports table', (tables) => tables
        .filter((t) => t.closest('section').querySelector('h3').firstChild.nodeValue.trim() === 'obs1')
        .flatMap((t) => [...t.querySelectorAll('tbody tr')])
        .filter((r) => r.cells[2].textContent === 'observer.rpc')
        .map((r) => [r.cells[0].textContent, r.cells[5].textContent,
          [...r.cells[5].querySelectorAll('.src')].map((s) => s.title).join(' ')]));
      // By name, each with its address on hover: the /31 of the rule names no one.
      assert.deepEqual(rpc, [['2882', 'obs2, obs3', '198.18.2.12 198.18.2.13']]);
      const sources = await page.$$eval('#ports .host-ports', (ss) => [...ss
        .find((s) => s.querySelector('h3').firstChild.nodeValue.trim() === 'obs1')
        .querySelectorAll('tbody tr')]
        .filter((r) => r.cells[2].textContent === 'observer.sql')
        .map((r) => [...r.cells[5].querySelectorAll('.src')].map((s) => `${s.className}:${s.textContent}=${s.title}`)));
      assert.deepEqual(sources, [[
        'src host:ocp1=198.18.2.10', 'src host:proxy1=198.18.2.20', 'src network:application=198.18.50.0/24',
      ]]);
      // A network of several CIDRs shows them all on hover.
      assert.deepEqual(await page.$$eval('#ports .src.network', (ss) => [...new Set(ss
        .filter((s) => s.textContent === 'ocp-console').map((s) => s.title))]), ['198.18.60.0/25, 198.18.60.128/25']);
      const desc = await page.$eval('#matrix desc', (d) => d.textContent).then((t) => t.split('; '));
      for (const who of ['obs2', 'obs3']) {
        assert.ok(desc.some((d) => d.startsWith(`${who} may reach obs1 on `) && /\b2882\b/.test(d)), `${who} -> obs1 2882 in: ${desc.join('; ')}`);
      }
      const rows = await page.$$eval('#matrix .row.host .row-label', (t) => t.map((x) => x.firstChild.nodeValue));
      assert.deepEqual(rows, ['ocp1', 'obs1', 'obs2', 'obs3', 'proxy1']);
      assert.equal(await page.$eval('#matrix .row.host .row-label title', (t) => t.textContent), 'host at 198.18.2.10');
    });

    await check('firewall commands render per backend for each host', async () => {
      assert.match(await page.textContent('#firewall [data-host="obs1"] pre'), /^nft -f - <<'EOF'\n(.*\n)*add rule inet filter input ip saddr \{[^}]*198\.18\.2\.10,[^}]*\} tcp dport 2881 accept/);
      // Planned against core's empty nftables state (empty-firewall: an `inet filter`
      // input chain that drops), so the rules go into that chain and nothing is created.
      const staged = readFileSync(join(web, 'portplan.mjs'), 'utf8');
      assert.match(staged, /call\('empty-firewall', \{ backend \}\)/);
      assert.doesNotMatch(staged, /read-firewall/);
      const nft = await page.textContent('#firewall [data-host="obs1"] pre');
      assert.equal(nft, [
        "nft -f - <<'EOF'",
        // Every OBServer, obs1 itself included: one source group on every OBServer.
        'add rule inet filter input ip saddr { 198.18.2.11, 198.18.2.12/31 } tcp dport 2882 accept comment "portplan:observer.rpc"',
        'add rule inet filter input ip saddr { 198.18.2.10, 198.18.2.20, 198.18.50.0/24 } tcp dport 2881 accept comment "portplan:observer.sql"',
        'add rule inet filter input ip saddr 198.18.2.10 tcp dport 62881-63881 accept comment "portplan:ocp-agent.metrics"',
        'add rule inet filter input ip saddr 198.18.2.10 tcp dport 62888 accept comment "portplan:ocp-agent.rpc"',
        'EOF',
      ].join('\n'));
      assert.equal(await page.textContent('#firewall [data-host="obs1"] h3 .addr'), '198.18.2.11 · nftables');
      const hosts = await page.$$eval('#firewall .host-firewall pre', (ps) => ps.map((p) => p.closest('section').dataset.host));
      assert.deepEqual(hosts, ['ocp1', 'obs1', 'obs2', 'obs3', 'proxy1']);
      await page.check('input[value="iptables"]');
      await idle(page);
      await page.waitForFunction(() => document.querySelector('#firewall [data-host="obs1"] pre')?.textContent.startsWith('iptables'));
      assert.match(await page.textContent('#firewall [data-host="obs1"] pre'), /iptables -w -A INPUT -s 198\.18\.2\.10\/32 -p tcp -m tcp --dport 2881/);
      await page.check('input[value="firewalld"]');
      await idle(page);
      await page.waitForFunction(() => document.querySelector('#firewall [data-host="obs1"] pre')?.textContent.startsWith('firewall-cmd'));
      assert.match(await page.textContent('#firewall [data-host="obs1"] pre'), /^firewall-cmd --zone=public .*'--add-rich-rule=rule family="ipv4" source address="198\.18\.2\.10" port port="2881" protocol="tcp" log prefix="portplan:observer\.sql" level="info" limit value="1\/h" accept'/m);
      assert.match(await page.textContent('#firewall [data-host="obs1"] pre'), /^firewall-cmd --permanent --zone=public /m);
      await page.check('input[value="ufw"]');
      await idle(page);
      await page.waitForFunction(() => document.querySelector('#firewall [data-host="obs1"] pre')?.textContent.startsWith('ufw'));
      assert.match(await page.textContent('#firewall [data-host="obs1"] pre'), /^ufw allow from 198\.18\.2\.10 to any port 2881 proto tcp comment portplan:observer\.sql$/m);
      await page.check('input[value="nftables"]');
      await idle(page);
    });

    await check('the network team\'s sheet downloads as CSV and Markdown with the report\'s rows', async () => {
      dialogs.length = 0;
      assert.equal(await page.isHidden('#errors-mark'), true, 'a plan without errors is not marked');
      const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
      assert.equal(csv.suggestedFilename(), 'ocp-prod-ports.csv');
      const rows = readFileSync(await csv.path(), 'utf8').trimEnd().split('\n');
      assert.equal(rows[0], 'host,address,port,transport,allowed sources,purpose');
      const expected = JSON.parse(readFileSync(join(corpus, 'example-ocp-cluster.report.json'), 'utf8'));
      const openRows = expected.hosts.flatMap((h) => h.ports.filter((p) => p.group).map((p) => [h, p]));
      assert.ok(rows.length - 1 >= openRows.length && openRows.length > 0, `${rows.length - 1} rows`);
      assert.ok(rows.some((r) => r.startsWith('obs1,198.18.2.11,2881,tcp,')), 'obs1 2881 row');
      for (const [h, p] of openRows) {
        const port = p.ports.first === p.ports.last ? `${p.ports.first}` : `${p.ports.first}-${p.ports.last}`;
        assert.ok(rows.some((r) => r.startsWith(`${h.host},${h.address},${port},${p.transport},`)), `row for ${h.host} ${port}`);
      }
      const [md] = await Promise.all([page.waitForEvent('download'), page.click('#download-md')]);
      assert.equal(md.suggestedFilename(), 'ocp-prod-ports.md');
      const table = readFileSync(await md.path(), 'utf8');
      assert.match(table, /\| obs1 \| 198\.18\.2\.11 \| 2881 \| tcp \|/);
      assert.doesNotMatch(table, /Draft/);
      assert.deepEqual(dialogs, [], 'no confirm for a plan without errors');
    });

    await check('a YAML plan typed into the editor gives its JSON twin\'s report and results', async () => {
      const results = () => page.$eval('#results', (r) => ['#summary', '#findings', '#matrix', '#ports', '#firewall']
        .map((id) => r.querySelector(id).innerHTML));
      await page.fill('#editor', readFileSync(join(root, 'examples/plans/finedatalink-single.json'), 'utf8'));
      await idle(page);
      const fromJson = await page.evaluate(() => window.portplanPage.currentReport());
      assert.match(fromJson, /^\{"plan":"fdl-single"/);
      const jsonResults = await results();
      // Typed as a person would: keystroke by keystroke, newlines and all.
      await page.fill('#editor', '');
      await page.focus('#editor');
      await page.keyboard.type(readFileSync(join(root, 'examples/plans-yaml/finedatalink-single.yaml'), 'utf8'));
      await idle(page);
      assert.equal(await page.$('#problems li'), null);
      assert.equal(await page.evaluate(() => window.portplanPage.currentReport()), fromJson);
      assert.deepEqual(await results(), jsonResults);
      // The YAML twin among the examples (an anchor and aliases) too.
      await page.selectOption('#example', 'ocp-cluster');
      await page.click('#use-example');
      await idle(page);
      const cluster = await page.evaluate(() => window.portplanPage.currentReport());
      await page.selectOption('#example', 'ocp-cluster.yaml');
      await page.click('#use-example');
      await idle(page);
      assert.match(await page.inputValue('#editor'), /^# The YAML twin/);
      assert.equal(await page.evaluate(() => window.portplanPage.currentReport()), cluster);
    });

    await check('a YAML problem names its line and selects it; YAML 1.2 keeps yes a string', async () => {
      await page.fill('#editor', readFileSync(join(root, 'examples/plans-yaml/finedatalink-single.yaml'), 'utf8'));
      await idle(page);
      const selectedLine = () => page.$eval('#editor', (e) => ({
        text: e.value.slice(e.selectionStart, e.selectionEnd),
        line: e.value.slice(0, e.selectionStart).split('\n').length,
      }));
      // A bad value (a resolution problem of the plugin): path, line, value.
      await replaceIn(page, '198.18.0.100', '198.18.0.300');
      await page.waitForSelector('#problems li');
      await idle(page);
      assert.equal(await page.textContent('#problems li'),
        'hosts[1].address: not an IPv4 or IPv6 address (line 18) (value: 198.18.0.300)');
      await page.click('#problems button');
      assert.deepEqual(await selectedLine(), { text: 'address: 198.18.0.300', line: 18 });
      await page.screenshot({ path: join(shots, 'yaml-rejected-1280x800.png') });
      await replaceIn(page, '198.18.0.300', '198.18.0.100');
      await page.waitForSelector('#problems li', { state: 'detached' });
      // A syntax error: line and column, and the caret goes there.
      await replaceIn(page, 'skywalking-oap, fineops-registry]', 'skywalking-oap, fineops-registry');
      await page.waitForSelector('#problems li');
      await idle(page);
      const syntax = await page.textContent('#problems li');
      assert.match(syntax, /^the plan: not valid YAML: .* at line (\d+) column (\d+)$/);
      const [, line] = /at line (\d+)/.exec(syntax);
      await page.click('#problems button');
      assert.equal((await selectedLine()).line, Number(line));
      await replaceIn(page, 'skywalking-oap, fineops-registry', 'skywalking-oap, fineops-registry]');
      await page.waitForSelector('#problems li', { state: 'detached' });
      // A duplicate key names both lines.
      await typeAfter(page, 'name: fdl-single', '\nname: again');
      await page.waitForSelector('#problems li');
      await idle(page);
      assert.match(await page.textContent('#problems li'), /^the plan: not valid YAML: Map keys must be unique at line 3 column 1$/);
      await replaceIn(page, '\nname: again', '');
      await page.keyboard.press('Backspace'); // typing nothing leaves the selection
      await page.waitForSelector('#problems li', { state: 'detached' });
      // `yes` is a string: the plan is called yes.
      await replaceIn(page, 'name: fdl-single', 'name: yes');
      await page.waitForFunction(() => document.querySelector('#summary strong')?.textContent === 'yes');
      await idle(page);
      assert.equal(await page.$('#problems li'), null);
    });

    await check('the matrix shows who a rule names, not every plan host inside its CIDRs', async () => {
      // dns1 admits the `clients` network (198.18.0.0/15, which holds both hosts'
      // addresses and the ocp-console network) and the ocp host, merged into that
      // one CIDR: only the named ones are sources, and dns1 never reaches itself.
      await page.fill('#editor', readFileSync(join(corpus, 'custom-profile.plan.json'), 'utf8'));
      await page.waitForFunction(() => document.querySelector('#matrix .col-head')?.textContent === 'ocp');
      await idle(page);
      const rows = await page.$$eval('#matrix .row-label', (t) => t.map((x) => `${x.parentNode.classList[1]}:${x.firstChild.nodeValue}`));
      assert.deepEqual(rows, ['host:ocp', 'network:clients', 'network:ocp-console']);
      const desc = await page.$eval('#matrix desc', (d) => d.textContent);
      assert.equal(desc, 'ocp may reach dns1 on 53/udp; clients may reach dns1 on 53/udp; ocp-console may reach ocp on 8080');
    });

    await check('Start from a profile: one host per role, named as operators name them, for every profile', async () => {
      const expected = {
        'finedatalink-single': ['fdl1: finedatalink fanruan-gateway mysql elasticsearch kafka ops-agent'],
        'finedatalink-cluster': [
          'app1: finedatalink ops-agent', 'app2: finedatalink ops-agent',
          'comp1: fanruan-gateway elasticsearch mysql redis minio kafka nacos nacos-mysql ops-agent'],
        fineops: ['fineops1: fineops-nginx skywalking-oap fineops-registry'],
        ocp: ['ocp1: ocp-server', 'obs1: observer ocp-agent backup-agent', 'obs2: observer ocp-agent backup-agent',
          'obs3: observer ocp-agent backup-agent', 'proxy1: obproxy ocp-agent'],
        'ocp-ce': ['ocp1: ocp-server', 'metadb1: metadb', 'metadb2: metadb', 'metadb3: metadb'],
      };
      for (const [profile, hosts] of Object.entries(expected)) {
        await page.selectOption('#profile', profile);
        await page.click('#use-profile');
        await idle(page);
        assert.deepEqual(await hostsOf(), hosts, profile);
        // Every component of the catalog placed, none invented; a starter checks without errors.
        const catalog = await page.evaluate((n) => window.portplanPage.profile(n), profile);
        const placed = new Set(hosts.flatMap((x) => x.split(': ')[1].split(' ')));
        assert.deepEqual([...placed].sort(), catalog.components.map((c) => c.name).sort(), profile);
        assert.equal(await page.textContent('#summary .badge.error'), '0 errors', profile);
        assert.equal(await page.$eval('#profile', (e) => e.value), profile, `${profile} stays selected`);
      }
    });

    await check('starter roles follow the catalog: every component placed, none invented', async () => {
      const ocp = await page.evaluate(() => window.portplanPage.profile('ocp'));
      const hosts = (p) => starterPlan(p).hosts.map((x) => `${x.name}: ${x.components.join(' ')}`);
      // A component the roles do not name gets a host of its own; one the catalog lacks is not invented.
      const grown = structuredClone(ocp);
      grown.components.push({ name: 'ocp-exporter', title: 'Exporter', description: '', required: true });
      grown.components = grown.components.filter((c) => c.name !== 'backup-agent');
      assert.deepEqual(hosts(grown), [
        'ocp1: ocp-server', 'obs1: observer ocp-agent', 'obs2: observer ocp-agent', 'obs3: observer ocp-agent',
        'proxy1: obproxy ocp-agent', 'ocp-exporter1: ocp-exporter']);
      // A role left with no component of the catalog is no host.
      grown.components = grown.components.filter((c) => c.name !== 'obproxy');
      assert.ok(!hosts(grown).some((x) => x.startsWith('proxy')), hosts(grown).join());
      // A profile with no written roles (a custom one): one host per component, none lost.
      const custom = { name: 'dns', components: [{ name: 'unbound' }, { name: 'kea' }], networks: [{ name: 'clients', description: 'x' }], specs: [] };
      assert.deepEqual(roles(custom), [{ prefix: 'unbound', components: ['unbound'], count: 1 }, { prefix: 'kea', components: ['kea'], count: 1 }]);
      assert.deepEqual(starterPlan(custom).networks.map((n) => `${n.name} ${n.cidrs}`), ['clients 198.18.100.0/24']);
    });

    await check('the profile dropdown follows the loaded plan', async () => {
      const shown = () => page.$eval('#profile', (e) => ({ value: e.value, text: e.selectedOptions[0].textContent, start: !document.getElementById('use-profile').disabled }));
      await loadExample('ocp-cluster');
      assert.deepEqual(await shown(), { value: 'ocp', text: 'ocp: OceanBase Cloud Platform (OCP)', start: true });
      await loadExample('finedatalink-cluster');
      assert.deepEqual(await shown(), { value: '', text: 'This plan: finedatalink-cluster + fineops', start: false });
      await page.fill('#editor', readFileSync(join(corpus, 'custom-profile.plan.json'), 'utf8'));
      await page.waitForFunction(() => document.getElementById('profile').selectedOptions[0].textContent.includes('dns'));
      await idle(page);
      assert.deepEqual(await shown(), { value: '', text: 'This plan: ocp-ce + dns (custom)', start: false });
      assert.equal(await page.$$eval('#profile option.plan-profiles', (o) => o.length), 1, 'one neutral entry, replaced');
      // A profile picked by hand stays while the plan is edited without changing its profiles.
      await page.selectOption('#profile', 'fineops');
      assert.equal((await shown()).start, true);
      await replaceIn(page, '"name": "custom"', '"name": "custom2"');
      await page.waitForFunction(() => document.querySelector('#summary strong')?.textContent === 'custom2');
      await idle(page);
      assert.equal((await shown()).value, 'fineops');
      await loadExample('ocp-ce-single');
      assert.deepEqual(await shown(), { value: 'ocp-ce', text: 'ocp-ce: OceanBase Cloud Platform (OCP) Community Edition', start: true });
      assert.equal(await page.$$eval('#profile option', (o) => o.length), 5, 'the neutral entry is gone');
    });

    await check('the plan travels in a share link (compressed fragment) and comes back byte for byte', async () => {
      // The YAML twin, comments and aliases kept, then edited by typing.
      await loadExample('ocp-cluster.yaml');
      await replaceIn(page, 'name: ocp-prod', 'name: ocp-shared');
      await page.waitForFunction(() => document.querySelector('#summary strong')?.textContent === 'ocp-shared');
      await idle(page);
      const text = await page.inputValue('#editor');
      const report = await page.evaluate(() => window.portplanPage.currentReport());
      // The address follows the editor.
      const hash = new URL(page.url()).hash;
      assert.match(hash, /^#plan=[A-Za-z0-9_-]+$/);
      await page.click('#share');
      await page.waitForSelector('#share-row .copy-note:text("Copied")');
      const link = await clipboard();
      assert.equal(link, page.url());
      // deflate-raw + base64url, readable by any inflate, and shorter than the plan.
      const value = new URL(link).hash.slice('#plan='.length);
      assert.equal(inflateRawSync(Buffer.from(value, 'base64url')).toString('utf8'), text);
      // (base64url alone would make it a third longer than the plan)
      assert.ok(value.length < text.length * 0.75, `${value.length} characters for a ${text.length}-character plan`);
      // Opened where nothing was kept: the link alone brings the plan back.
      await page.evaluate(() => localStorage.clear());
      await page.goto('about:blank');
      await page.goto(link);
      await idle(page);
      assert.equal(await page.inputValue('#editor'), text);
      assert.equal(await page.evaluate(() => window.portplanPage.currentReport()), report);
      assert.equal(await page.textContent('#status'), 'Ready: showing the plan from the link.');
      // A link pasted into the address bar of the open page (only the fragment changes).
      const other = readFileSync(join(root, 'examples/plans/finedatalink-single.json'), 'utf8');
      await page.evaluate((h) => { location.hash = h; }, `plan=${deflateRawSync(Buffer.from(other)).toString('base64url')}`);
      await page.waitForFunction(() => document.querySelector('#summary strong')?.textContent === 'fdl-single');
      await idle(page);
      assert.equal(await page.inputValue('#editor'), other);
    });

    await check('a reload brings back the plan this browser kept; a link wins over it', async () => {
      await loadExample('ocp-ce-single');
      await replaceIn(page, '"name": "ocp-ce-lab"', '"name": "kept-plan"');
      await page.waitForFunction(() => document.querySelector('#summary strong')?.textContent === 'kept-plan');
      await idle(page);
      const kept = await page.inputValue('#editor');
      const link = page.url();
      await page.goto(url); // no fragment
      await idle(page);
      assert.equal(await page.inputValue('#editor'), kept);
      assert.match(await page.textContent('#status'), /^Ready: .* Showing the plan this browser kept\.$/);
      await page.reload();
      await idle(page);
      assert.equal(await page.inputValue('#editor'), kept);
      // A link to another plan beats what was kept.
      const other = readFileSync(join(root, 'examples/plans/gateway-on-6000.json'), 'utf8');
      // Only the fragment changes, so the page is not reloaded: its hashchange
      // handler loads the plan, after the state was already idle; wait for the text.
      const holds = (text) => page.waitForFunction((t) => document.getElementById('editor').value === t, text, { timeout: 5000 }).catch(() => {});
      await page.goto(`${url}#plan=${deflateRawSync(Buffer.from(other)).toString('base64url')}`);
      await holds(other);
      await idle(page);
      assert.equal(await page.inputValue('#editor'), other);
      await page.goto(link);
      await holds(kept);
      await idle(page);
      assert.equal(await page.inputValue('#editor'), kept);
    });

    await check('an emptied editor leaves no plan in the address; a browser without CompressionStream still checks', async () => {
      await page.fill('#editor', '');
      await idle(page);
      assert.equal(new URL(page.url()).hash, '');
      await page.reload();
      await idle(page);
      assert.match(await page.textContent('#summary strong'), /^ocp-prod$/, 'nothing kept: the first example');
      const old = await context.newPage();
      try {
        await old.addInitScript(() => { delete globalThis.CompressionStream; });
        await old.goto(url);
        await idle(old);
        assert.equal(await old.evaluate(() => typeof CompressionStream), 'undefined');
        assert.equal(await old.textContent('#summary strong'), 'ocp-prod');
        assert.equal(await old.$('#problems li'), null);
        assert.equal(new URL(old.url()).hash, '');
        await old.click('#share');
        await old.waitForSelector('#share-row .copy-note:text("Copy failed")');
        assert.equal(await old.textContent('#share-row .copy-note'),
          'Copy failed: this browser cannot write the plan into a link (it has no CompressionStream)');
      } finally {
        await old.close();
      }
    });

    await check('a damaged or oversized link is refused with a message and the page still works', async () => {
      const good = await page.inputValue('#editor');
      for (const [fragment, why] of [
        ['plan=not*base64', /not base64url text/],
        [`plan=${deflateRawSync(Buffer.from(good)).toString('base64url').slice(0, 40)}`, /damaged/],
        // 5 MiB of spaces deflate to a few kilobytes: a link must not make the page swallow them.
        [`plan=${deflateRawSync(Buffer.alloc(5 * 1024 * 1024, 32)).toString('base64url')}`, /larger than 4 MiB/],
        [`plan=${deflateRawSync(Buffer.from([0xff, 0xfe, 0x00])).toString('base64url')}`, /not UTF-8/],
      ]) {
        await page.goto('about:blank');
        await page.goto(`${url}#${fragment}`);
        await idle(page);
        assert.match(await page.textContent('#status'), why);
        assert.match(await page.textContent('#status'), /^The plan in this link cannot be read: .*\. Showing the plan this browser kept\.$/);
        assert.equal(await page.inputValue('#editor'), good, 'the kept plan instead');
        assert.match(await page.textContent('#summary'), /errors?/);
      }
      // Picking another plan ends the message about the link.
      await loadExample('ocp-cluster');
      assert.match(await page.textContent('#status'), /^Ready: \d+ built-in profiles/);
    });

    await check('copy buttons copy a host\'s exact commands; long commands wrap instead of being cut off', async () => {
      await loadExample('ocp-cluster');
      await page.check('input[value="firewalld"]');
      await page.waitForFunction(() => document.querySelector('#firewall [data-host="obs1"] pre')?.textContent.startsWith('firewall-cmd'));
      await idle(page);
      const shown = await page.textContent('#firewall [data-host="obs1"] pre');
      await page.click('#firewall [data-host="obs1"] button.copy');
      await page.waitForSelector('#firewall [data-host="obs1"] .copy-note:text("Copied")');
      const copied = await clipboard();
      assert.equal(copied, shown);
      assert.match(copied, /^firewall-cmd --permanent --zone=public .*'--add-rich-rule=rule family="ipv4" source address="198\.18\.2\.10" port port="2881" protocol="tcp" log prefix="portplan:observer\.sql" level="info" limit value="1\/h" accept'/m);
      assert.equal(await page.getAttribute('#firewall [data-host="obs1"] button.copy', 'aria-label'), 'Copy the firewalld commands for obs1');
      // No command runs past its box, at the desktop width and on a phone; and
      // the lines are longer than the box, so it is the wrap that keeps them in.
      for (const width of [1280, 390]) {
        await page.setViewportSize({ width, height: 844 });
        const boxes = await page.$$eval('#firewall pre', (ps) => ps.map((p) => {
          const longest = Math.max(...p.textContent.split('\n').map((l) => l.length));
          const ch = parseFloat(getComputedStyle(p).fontSize) * 0.6; // a monospace character, at least
          return { over: p.scrollWidth - p.clientWidth, wraps: longest * ch > p.clientWidth, lines: p.textContent.split('\n').length,
            height: p.getBoundingClientRect().height, lineHeight: parseFloat(getComputedStyle(p).lineHeight) || 15 };
        }));
        assert.ok(boxes.length === 5, `${boxes.length} command boxes`);
        for (const b of boxes) assert.ok(b.over <= 0, `a command runs ${b.over}px past its box at ${width}px`);
        assert.ok(boxes.every((b) => b.wraps), `firewalld lines are longer than the box at ${width}px`);
        assert.ok(boxes.every((b) => b.height > b.lines * b.lineHeight * 1.5), `wrapped lines take more rows at ${width}px`);
      }
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.check('input[value="nftables"]');
      await idle(page);
    });

    await check('copy works where the Clipboard API does not (a page served over plain http to colleagues)', async () => {
      await page.evaluate(() => navigator.clipboard.writeText('before'));
      const fresh = await context.newPage();
      try {
        await fresh.addInitScript(() => Object.defineProperty(Navigator.prototype, 'clipboard', { get: () => undefined }));
        await fresh.goto(url);
        await idle(fresh);
        assert.equal(await fresh.evaluate(() => navigator.clipboard), undefined);
        await fresh.click('#firewall [data-host="obs1"] button.copy');
        await fresh.waitForSelector('#firewall [data-host="obs1"] .copy-note:text("Copied")');
        assert.equal(await clipboard(), await fresh.textContent('#firewall [data-host="obs1"] pre'));
      } finally {
        await fresh.close();
      }
    });

    await check('a plan with errors marks its sheet on screen, on paper and in its downloads', async () => {
      await loadExample('conflict-ocp-and-fdl-on-8080');
      const n = Number(/^(\d+) errors?$/.exec(await page.textContent('#summary .badge.error'))[1]);
      assert.ok(n > 0);
      const errs = `${n} error${n === 1 ? '' : 's'}`;
      assert.equal(await page.isVisible('#errors-mark'), true);
      assert.equal(await page.textContent('#errors-mark'), `Draft: this plan has ${errs} (see Findings). Do not open these ports until portplan reports none.`);
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: join(shots, 'errors-1280x800.png') });
      // The download asks first; a "no" downloads nothing.
      dialogs.length = 0;
      const downloads = [];
      const onDownload = (d) => downloads.push(d);
      page.on('download', onDownload);
      try {
        answer = 'dismiss';
        await page.click('#download-csv');
        assert.equal(dialogs.length, 1);
        assert.match(dialogs[0], new RegExp(`has ${errs}:`));
        answer = 'accept';
        const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
        const [md] = await Promise.all([page.waitForEvent('download'), page.click('#download-md')]);
        assert.equal(dialogs.length, 3);
        assert.equal(downloads.length, 2, 'the refused download never came');
        const plan = JSON.parse(await page.inputValue('#editor')).name;
        assert.equal(csv.suggestedFilename(), `${plan}-ports-DRAFT-${errs.replace(' ', '-')}.csv`);
        assert.match(readFileSync(await csv.path(), 'utf8'), /^host,address,port,transport,allowed sources,purpose\n/);
        assert.equal(md.suggestedFilename(), `${plan}-ports-DRAFT-${errs.replace(' ', '-')}.md`);
        assert.ok(readFileSync(await md.path(), 'utf8').startsWith(`> **Draft: this plan has ${errs}.** Do not open`));
      } finally {
        answer = 'dismiss';
        page.off('download', onDownload);
      }
      // A plan the editor holds but cannot check: the sheet is an older plan's, and the download says so.
      await loadExample('ocp-cluster');
      await replaceIn(page, '"address": "198.18.2.11"', '"address": "198.18.2.311"');
      await page.waitForSelector('#results.stale');
      await idle(page);
      dialogs.length = 0;
      answer = 'dismiss';
      await page.click('#download-csv');
      assert.equal(dialogs.length, 1);
      assert.match(dialogs[0], /^The plan in the editor cannot be checked; the sheet is of the last plan that could\.\n\nDownload it anyway\?$/);
      await loadExample('conflict-ocp-and-fdl-on-8080');
      // On paper the mark stays.
      await page.emulateMedia({ media: 'print' });
      assert.equal(await page.isVisible('#errors-mark'), true);
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: join(shots, 'errors-print-1280x800.png') });
      await page.emulateMedia({ media: 'screen' });
      // Fixed, the mark goes.
      await loadExample('ocp-cluster');
      assert.equal(await page.isHidden('#errors-mark'), true);
    });

    await check('print: no controls, tables the width of the page, sources with their addresses', async () => {
      await loadExample('ocp-cluster');
      await page.setViewportSize({ width: 794, height: 1123 }); // A4 at 96 dpi
      await page.emulateMedia({ media: 'print' });
      try {
        const style = (sel, prop, pseudo = null) => page.$$eval(sel, (es, [p, ps]) => es.map((e) => getComputedStyle(e, ps)[p]), [prop, pseudo]);
        assert.deepEqual([...new Set(await style('button', 'display'))], ['none']);
        assert.deepEqual(await style('#input', 'display'), ['none']);
        assert.deepEqual(await style('fieldset.backends', 'display'), ['none']);
        const widths = await page.evaluate(() => ({
          page: document.documentElement.clientWidth,
          results: document.getElementById('results').getBoundingClientRect().width,
          tables: [...document.querySelectorAll('#ports table')].map((t) => t.getBoundingClientRect().width),
          wide: document.documentElement.scrollWidth,
        }));
        assert.ok(widths.results >= widths.page - 2, `results ${widths.results}px of ${widths.page}px`);
        assert.equal(widths.tables.length, 5);
        for (const w of widths.tables) assert.ok(Math.abs(w - widths.results) <= 1, `a table is ${w}px of ${widths.results}px`);
        assert.ok(widths.wide <= widths.page, `printed page is ${widths.wide}px wide`);
        const after = await style('#ports .host-ports:nth-child(2) .src', 'content', '::after');
        assert.ok(after.includes('" (198.18.2.12)"') && after.includes('" (198.18.50.0/24)"'), after.join());
        // The planner's columns are not the network team's.
        assert.deepEqual([...new Set(await style('#ports .planner', 'display'))], ['none']);
        assert.deepEqual(await page.$eval('#ports thead tr', (tr) => [...tr.cells].filter((c) => getComputedStyle(c).display !== 'none').map((c) => c.textContent)),
          ['Port', 'Transport', 'Spec', 'Allowed sources', 'Purpose']);
        await page.evaluate(() => window.scrollTo(0, 0));
        await page.screenshot({ path: join(shots, 'print-794x1123.png') });
        if (process.argv.includes('--update-docs')) copyFileSync(join(shots, 'print-794x1123.png'), join(root, 'docs/page-print.png'));
      } finally {
        await page.emulateMedia({ media: 'screen' });
        await page.setViewportSize({ width: 1280, height: 800 });
      }
      // The print rules are for print only.
      assert.equal(await page.$eval('#input', (e) => getComputedStyle(e).display), 'flex');
      assert.equal(await page.$eval('#ports .src[title]', (e) => getComputedStyle(e, '::after').content), 'none');
    });

    // Measured results. All three reach cases share one plan.
    const reachDir = mkdtempSync(join(tmpdir(), 'portplan-reach-'));
    const measuredCells = () => page.$$eval('#matrix rect.cell[data-verdict]', (cs) => cs.map((c) =>
      `${c.dataset.source} -> ${c.dataset.destination}: ${c.dataset.verdict}${c.dataset.kinds ? ` ${c.dataset.kinds}` : ''}`));
    const marked = (verdict) => measuredCells().then((l) => l.filter((c) => c.includes(`: ${verdict}`)).sort());
    const marks = (verdict) => page.$$eval(`#matrix text.mark.${verdict}`, (t) => t.map((x) => x.textContent));
    /** Load results files (after clearing what was shown) and wait for the answer. */
    const loadResultFiles = async (files) => {
      await page.click('#results-clear');
      await page.setInputFiles('#results-files', files);
      await page.waitForSelector('#reach-summary .reach-headline, #reach-problems li');
      await idle(page);
    };
    const showPlan = async (plan) => {
      await page.fill('#editor', `${JSON.stringify(plan, null, 2)}\n`);
      await page.waitForFunction((n) => document.querySelector('#summary strong')?.textContent === n, plan.name);
      await idle(page);
    };
    /** What the truth table says of each (source, destination): the worst verdict of its rows. */
    const truthCells = (truth, verdict) => {
      const cells = new Map();
      for (const r of truth.rows) {
        const k = `${sourceKey(r.source)} -> ${r.destination}`;
        const worst = cells.get(k);
        if (!worst || r.verdict === 'mismatch' || (r.verdict === 'unknown' && worst === 'as-expected')) cells.set(k, r.verdict);
      }
      return [...cells].filter(([, v]) => v === verdict).map(([k]) => k).sort();
    };
    const counts = async () => {
      const text = await page.textContent('#reach-summary .reach-headline');
      const m = /^reachability of (\S+) \((\w+)\): (\d+) probes?, (\d+) as expected, (\d+) mismatch(?:es)?, (\d+) unknown$/.exec(text);
      assert.ok(m, text);
      return { plan: m[1], phase: m[2], rows: Number(m[3]), 'as-expected': Number(m[4]), mismatches: Number(m[5]), unknown: Number(m[6]) };
    };

    await check('measured results: the router drops 2881, and exactly those cells are marked timeout', async () => {
      const { input, truth } = reachCase('router-drops-2881');
      await showPlan(input.plan);
      assert.equal(await page.$('#matrix rect.cell[data-verdict]'), null, 'no marks before results');
      await loadResultFiles(writeResults(join(reachDir, 'router'), input));
      assert.equal(await page.$('#reach-problems li'), null);
      // Exactly the cells the truth table has a mismatch in, and its kind.
      assert.deepEqual(await marked('mismatch'), ['host:ocp1 -> obs1: mismatch timeout', 'network:application -> obs1: mismatch timeout']);
      assert.deepEqual((await marked('mismatch')).map((c) => c.replace(/: .*$/, '')), truthCells(truth, 'mismatch'));
      assert.deepEqual(await marks('mismatch'), ['✗ timeout 2881', '✗ timeout 2881']);
      assert.deepEqual(await marked('unknown'), []);
      // Every other probed cell as expected; sources that are not plan hosts have rows too.
      assert.deepEqual((await marked('as-expected')).map((c) => c.replace(/: .*$/, '')), truthCells(truth, 'as-expected'));
      const rows = await page.$$eval('#matrix .row-label', (t) => t.map((x) => `${x.parentNode.classList[1]}:${x.firstChild.nodeValue}`));
      assert.deepEqual(rows, ['host:ocp1', 'host:obs1', 'host:proxy1', 'network:application', 'outsider:outsider']);
      assert.deepEqual(await counts(), { plan: truth.plan, phase: truth.phase, ...truth.summary });
      assert.deepEqual(await page.$$eval('#reach-findings li.finding', (l) => l.map((x) => `${x.dataset.code}: ${x.querySelector('.message').textContent}`)),
        truth.findings.map((f) => `${f.code}: ${f.message}`));
      assert.match(await page.$eval('#matrix desc', (d) => d.textContent), /measured from host ocp1 to obs1: mismatch timeout 2881, \d+ as expected/);
      assert.doesNotMatch(await page.textContent('section[aria-labelledby="h-matrix"]'), /null|undefined|NaN/);
      const section = page.locator('section[aria-labelledby="h-matrix"]');
      await section.scrollIntoViewIfNeeded();
      await section.screenshot({ path: join(shots, 'reach-1280.png') });
      if (process.argv.includes('--update-docs')) copyFileSync(join(shots, 'reach-1280.png'), join(root, 'docs/page-reach.png'));
      // On a phone the wider measured matrix scrolls in its box, not the page;
      // on paper the marks keep their key and the loading controls go.
      await page.setViewportSize({ width: 390, height: 844 });
      try {
        assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 390);
        await page.emulateMedia({ media: 'print' });
        assert.equal(await page.isVisible('#reach-summary .reach-legend'), true);
        assert.equal(await page.isHidden('.reach-load'), true);
      } finally {
        await page.emulateMedia({ media: 'screen' });
        await page.setViewportSize({ width: 1280, height: 800 });
      }
    });

    await check('measured results: a truth table JSON shows the same; another plan\'s is refused by name', async () => {
      const { input, truthJson } = reachCase('router-drops-2881');
      const fromProbes = await page.$eval('#matrix', (m) => m.innerHTML);
      const file = join(reachDir, 'truth.json');
      writeFileSync(file, `${truthJson}\n`);
      await loadResultFiles([file]);
      assert.equal(await page.$('#reach-problems li'), null);
      assert.equal(await page.$eval('#matrix', (m) => m.innerHTML), fromProbes);
      writeFileSync(file, `${truthJson.replace('"plan": "reach-corpus"', '"plan": "other-plan"')}\n`);
      await loadResultFiles([file]);
      assert.deepEqual(await page.$$eval('#reach-problems li', (l) => l.map((x) => x.textContent)),
        [`truth.json[0].plan: not the plan in the editor (${input.plan.name}) (value: other-plan)`]);
      assert.equal(await page.$('#matrix rect.cell[data-verdict]'), null);
    });

    await check('measured results: all as planned, pasted as one text, shows no marks', async () => {
      const { input, truth } = reachCase('all-as-planned');
      // What several hosts printed, one after another: pretty probe documents and a compact one.
      const text = input.probed.map((p, i) => (i % 2 ? JSON.stringify(p) : JSON.stringify(p, null, 2))).join('\n');
      await page.click('#results-clear');
      await page.fill('#results-text', text);
      await page.click('#results-compare');
      await page.waitForSelector('#reach-summary .reach-headline');
      await idle(page);
      assert.equal(truth.summary.mismatches + truth.summary.unknown, 0);
      assert.deepEqual(await counts(), { plan: truth.plan, phase: truth.phase, ...truth.summary });
      assert.deepEqual(await marked('mismatch'), []);
      assert.deepEqual(await marked('unknown'), []);
      assert.deepEqual(await marks('mismatch'), []);
      assert.deepEqual(await marks('unknown'), []);
      assert.equal(await page.$('#matrix rect.outline'), null);
      assert.equal((await marked('as-expected')).length, truthCells(truth, 'as-expected').length);
      assert.equal(await page.textContent('#reach-findings .ok'), 'Every connection was measured as the plan expects it.');
      await page.fill('#results-text', '');
    });

    await check('measured results: a port held before install is unknown (held), not a mismatch; overexposure is', async () => {
      const { input, truth } = reachCase('held-and-overexposed');
      await loadResultFiles(writeResults(join(reachDir, 'held'), input));
      assert.equal(await page.$('#reach-problems li'), null);
      assert.deepEqual(await marked('unknown'), [
        'host:ocp1 -> obs1: unknown held', 'host:proxy1 -> obs1: unknown held', 'network:application -> obs1: unknown held']);
      assert.deepEqual((await marked('unknown')).map((c) => c.replace(/: .*$/, '')), truthCells(truth, 'unknown'));
      assert.deepEqual(await marks('unknown'), ['? held 2881', '? held 2881', '? held 2881']);
      assert.deepEqual(await marked('mismatch'), [
        'host:obs1 -> proxy1: mismatch overexposed', 'outsider:outsider -> obs1: mismatch overexposed', 'outsider:outsider -> proxy1: mismatch overexposed']);
      assert.deepEqual((await marked('mismatch')).map((c) => c.replace(/: .*$/, '')), truthCells(truth, 'mismatch'));
      assert.deepEqual(await counts(), { plan: truth.plan, phase: truth.phase, ...truth.summary });
      assert.deepEqual(await page.$$eval('#reach-findings li.finding', (l) => l.map((x) => x.dataset.code)), ['overexposed', 'overexposed', 'overexposed']);
      assert.deepEqual(await page.$$eval('#reach-findings .reach-unknown li', (l) => l.map((x) => x.dataset.kind)), ['held', 'held', 'held']);
      await page.locator('#matrix').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(shots, 'reach-held-1280x800.png') });
    });

    await check('measured results: a bad document is refused naming its file and JSON path', async () => {
      const { input } = reachCase('router-drops-2881');
      const dir = join(reachDir, 'bad');
      mkdirSync(dir, { recursive: true });
      // Two probes in one file (JSON lines); the second's third result has a port that is no number.
      const bad = structuredClone(input.probed.slice(0, 2));
      bad[1].results[2].port = 'x';
      writeFileSync(join(dir, 'probes.jsonl'), bad.map((p) => `${JSON.stringify(p)}\n`).join(''));
      await loadResultFiles([join(dir, 'probes.jsonl')]);
      assert.deepEqual(await page.$$eval('#reach-problems li', (l) => l.map((x) => x.textContent)),
        ['probes.jsonl[1].results[2].port: invalid type: string "x", expected u16 (value: "x")']);
      assert.equal(await page.$('#reach-summary .reach-headline'), null, 'nothing shown as measured');
      assert.equal(await page.$('#matrix rect.cell[data-verdict]'), null);
      // Another plan's results, a file that is not JSON and a probe plan: every file named.
      const other = structuredClone(input.probed[0]);
      other.plan = 'other-plan';
      writeFileSync(join(dir, 'other.json'), JSON.stringify(other, null, 2));
      await loadResultFiles([join(dir, 'other.json')]);
      assert.deepEqual(await page.$$eval('#reach-problems li', (l) => l.map((x) => x.textContent)),
        ['other.json[0].plan: not this plan\'s name (value: other-plan)']);
      writeFileSync(join(dir, 'cut.json'), '{\n  "plan": "reach-corpus",\n  "source" "outsider"\n}\n');
      writeFileSync(join(dir, 'dry-run.json'), JSON.stringify({ plan: 'reach-corpus', source: 'outsider', phase: 'preinstall', listen: [], targets: [], sampling: [] }));
      await loadResultFiles([join(dir, 'cut.json'), join(dir, 'dry-run.json')]);
      const problems = await page.$$eval('#reach-problems li', (l) => l.map((x) => x.textContent));
      assert.equal(problems.length, 2, problems.join('\n'));
      assert.match(problems[0], /^cut\.json\[0\]: not JSON: .* \(line 3, column 12\)$/);
      assert.match(problems[1], /^dry-run\.json\[0\]: a probe plan \(what to try\), not what was measured/);
      assert.match(await page.textContent('#reach-problems h3'), /^The results cannot be compared \(2 problems\)$/);
    });

    await check('measured results are cleared when the plan changes, and kept when only its text does', async () => {
      const { input } = reachCase('router-drops-2881');
      await loadResultFiles(writeResults(join(reachDir, 'router'), input));
      assert.equal((await marked('mismatch')).length, 2);
      assert.equal(await page.$('#reach-problems li'), null, 'a good load clears the last problems');
      // The same plan, written differently: the same plan record, so the results stay.
      await page.fill('#editor', `${JSON.stringify(input.plan)}\n`);
      await idle(page);
      assert.equal((await marked('mismatch')).length, 2);
      // Another plan: no marks, and the page says why.
      const moved = structuredClone(input.plan);
      moved.name = 'reach-corpus-2';
      await page.fill('#editor', `${JSON.stringify(moved, null, 2)}\n`);
      await page.waitForSelector('#reach-summary .reach-note');
      await idle(page);
      assert.equal(await page.$('#matrix rect.cell[data-verdict]'), null);
      assert.equal(await page.$('#reach-findings li'), null);
      assert.match(await page.textContent('#reach-summary'), /^The measured results were cleared: the plan changed after they were compared\./);
      assert.equal(await page.$eval('#results-files', (f) => f.files.length), 0);
      // Compared again against this plan, they are another plan's.
      await loadResultFiles(writeResults(join(reachDir, 'router'), input));
      assert.deepEqual(await page.$$eval('#reach-problems li', (l) => l.map((x) => x.textContent)),
        ['probe-host-ocp1.json[0].plan: not this plan\'s name (value: reach-corpus)']);
      // Results given while an edit waits for its check: compared with the plan
      // shown then, so the edit's plan (the results' own) must not inherit
      // them; and the page settles (idle) whichever finishes first.
      await page.fill('#editor', `${JSON.stringify(input.plan, null, 2)}\n`);
      await page.setInputFiles('#results-files', writeResults(join(reachDir, 'router'), input));
      await page.waitForFunction((n) => document.querySelector('#summary strong')?.textContent === n, input.plan.name);
      await idle(page);
      assert.equal(await page.$('#matrix rect.cell[data-verdict]'), null);
      assert.equal(await page.$('#reach-summary .reach-headline'), null);
      assert.equal(await page.$('#reach-problems li'), null, 'no problem of the other plan\'s comparison is left');
      rmSync(reachDir, { recursive: true, force: true });
    });

    await check('a YAML plan pasted or uploaded gives its JSON twin\'s report', async () => {
      await page.fill('#editor', readFileSync(join(root, 'examples/plans/finedatalink-single.json'), 'utf8'));
      await idle(page);
      const twin = await page.evaluate(() => window.portplanPage.currentReport());
      const yamlFile = join(root, 'examples/plans-yaml/finedatalink-single.yaml');
      await page.fill('#editor', '{}');
      await idle(page);
      await page.evaluate((t) => navigator.clipboard.writeText(t), readFileSync(yamlFile, 'utf8'));
      await page.focus('#editor');
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.press('ControlOrMeta+V');
      await idle(page);
      assert.equal(await page.inputValue('#editor'), readFileSync(yamlFile, 'utf8'));
      assert.equal(await page.$('#problems li'), null);
      assert.equal(await page.evaluate(() => window.portplanPage.currentReport()), twin);
      await page.fill('#editor', '{}');
      await idle(page);
      await page.setInputFiles('#upload', yamlFile);
      await page.waitForFunction(() => document.getElementById('editor').value.startsWith('#'));
      await idle(page);
      assert.equal(await page.evaluate(() => window.portplanPage.currentReport()), twin);
      assert.match(new URL(page.url()).hash, /^#plan=/, 'an uploaded plan is kept in the address too');
    });

    await check('keyboard: a skip link, and every control reachable with Tab', async () => {
      // The first example (one profile: Start is enabled), not a kept plan.
      await page.evaluate(() => localStorage.clear());
      await page.goto(url);
      await idle(page);
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.className), 'skip');
      const seen = new Set();
      for (let i = 0; i < 40; i += 1) {
        await page.keyboard.press('Tab');
        seen.add(await page.evaluate(() => document.activeElement.id || document.activeElement.value || document.activeElement.tagName));
      }
      for (const id of ['profile', 'use-profile', 'example', 'use-example', 'upload', 'editor', 'share', 'matrix']) {
        assert.ok(seen.has(id), `Tab reaches #${id}`);
      }
    });

    await check('narrow screen: no page-wide horizontal scroll', async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      await idle(page);
      await page.evaluate(() => window.scrollTo(0, 0));
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(wide <= 390, `page is ${wide}px wide`);
      await page.screenshot({ path: join(shots, 'page-390x844.png') });
      await page.setViewportSize({ width: 1280, height: 800 });
    });

    await check('no errors in the page console', async () => {
      assert.deepEqual(errors, []);
    });
  } finally {
    await context.close();
    server.close();
    rmSync(profileDir, { recursive: true, force: true });
    rmSync(downloads, { recursive: true, force: true });
  }
  console.log(failures ? `web page: ${failures} failed` : 'web page: all passed');
  return failures ? 1 : 0;
}

process.exitCode = await main();
