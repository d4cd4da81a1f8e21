// The browser page under Debian's chromium (playwright-core, no downloaded browser):
//
//   node tests/web/page.test.mjs
//
// Stages the page (scripts/build-web), serves dist/web on 127.0.0.1, then:
// the golden corpus through the page's plugin equals the native reports byte
// for byte; a profile starts a plan; an edited port makes a conflict appear
// and disappear; a rejection points at its place in the plan; the access
// matrix names the hosts and networks behind each port's sources (the
// report's source-hosts and source-networks, even inside a merged CIDR); the
// firewall commands, planned against core's empty-firewall states, render for
// every backend; the CSV and Markdown sheets download with the right rows; a
// YAML plan typed in gives its JSON twin's report, and a YAML problem names
// and selects its line;
// screenshots at 1280x800 and 390x844 go to target/web-screenshots/ (and
// docs/page.png with --update-docs).
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import assert from 'node:assert/strict';

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
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

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
      assert.match(await page.textContent('#findings'), /Host finedatalink/);
      await idle(page);
      await page.screenshot({ path: join(shots, 'conflict-1280x800.png'), fullPage: false });
      await replaceIn(page, '"ports": 8068', '"ports": 15501');
      await page.waitForSelector('.finding[data-code="port-conflict"]', { state: 'detached' });
      await idle(page);
      assert.match(await page.textContent('#summary'), /0 errors/);
      assert.match(await page.textContent('#ports'), /15501/);
    });

    await check('a rejected plan names the problem and selects its place in the plan', async () => {
      await replaceIn(page, '"address": "198.18.0.12"', '"address": "198.18.0.300"');
      await page.waitForSelector('#problems li');
      await idle(page);
      assert.match(await page.textContent('#problems'), /hosts\[1\]\.address: not an IPv4 or IPv6 address \(value: 198\.18\.0\.300\)/);
      assert.ok(await page.$('#results.stale'));
      await page.focus('#problems button');
      await page.keyboard.press('Enter');
      const selected = await page.$eval('#editor', (e) => e.value.slice(e.selectionStart, e.selectionEnd));
      assert.equal(selected, '"address": "198.18.0.300"');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'editor');
      await page.screenshot({ path: join(shots, 'rejected-1280x800.png') });
      await replaceIn(page, '198.18.0.300', '198.18.0.12');
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

    await check('the matrix names hosts that a merged CIDR hides (the report\'s source-hosts)', async () => {
      // obs1's observer.rpc admits obs2 (198.18.2.12) and obs3 (198.18.2.13) as one /31:
      // neither address is written anywhere in the report's sources.
      const rpc = await page.$$eval('#ports table', (tables) => tables
        .filter((t) => t.closest('section').querySelector('h3').firstChild.nodeValue.trim() === 'obs1')
        .flatMap((t) => [...t.querySelectorAll('tbody tr')])
        .filter((r) => r.cells[2].textContent === 'observer.rpc')
        .map((r) => [r.cells[0].textContent, r.cells[5].textContent]));
      assert.deepEqual(rpc, [['2882', '198.18.2.12/31']]);
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
        'add rule inet filter input ip saddr 198.18.2.12/31 tcp dport 2882 accept comment "portplan:observer.rpc"',
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
      const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
      assert.equal(csv.suggestedFilename(), 'ocp-prod-ports.csv');
      const rows = readFileSync(await csv.path(), 'utf8').trimEnd().split('\n');
      assert.equal(rows[0], 'host,address,port,transport,allowed sources,purpose');
      const expected = JSON.parse(readFileSync(join(corpus, 'example-ocp-cluster.report.json'), 'utf8'));
      const openRows = expected.hosts.flatMap((h) => h.ports.filter((p) => p.sources.length).map((p) => [h, p]));
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

    await check('keyboard: a skip link, and every control reachable with Tab', async () => {
      await page.goto(url);
      await idle(page);
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement.className), 'skip');
      const seen = new Set();
      for (let i = 0; i < 40; i += 1) {
        await page.keyboard.press('Tab');
        seen.add(await page.evaluate(() => document.activeElement.id || document.activeElement.value || document.activeElement.tagName));
      }
      for (const id of ['profile', 'use-profile', 'example', 'use-example', 'upload', 'editor', 'matrix']) {
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
