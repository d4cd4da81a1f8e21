// The portplan Extism plugin in the browser: each WIT function as an async
// JavaScript function. Input is a JSON object of the function's parameters,
// output the JSON of its result; a rejection throws a PlanError carrying the
// plan-error JSON exactly as the plugin wrote it.
import createPlugin from './vendor/extism.mjs';

const PLUGIN_ERROR = 'Plugin-originated error: ';

export class PlanError extends Error {
  constructor(text) {
    super(text);
    this.text = text; // the plan-error JSON, byte for byte
    this.problems = JSON.parse(text).problems;
  }
}

// The backends whose commands the page shows.
export const BACKENDS = ['nftables', 'iptables', 'firewalld', 'ufw'];

export async function loadPortplan(wasmUrl) {
  const url = new URL(wasmUrl, document.baseURI).href;
  const plugin = await createPlugin({ wasm: [{ url }] }, { useWasi: false });

  // Calls run one at a time: a plugin instance is not re-entrant.
  let queue = Promise.resolve();
  function raw(name, input) {
    const run = queue.then(async () => {
      try {
        const out = await plugin.call(name, input);
        return out === null ? '' : out.text();
      } catch (error) {
        const message = String(error?.message ?? error);
        if (message.startsWith(PLUGIN_ERROR)) throw new PlanError(message.slice(PLUGIN_ERROR.length));
        throw error;
      }
    });
    queue = run.catch(() => {});
    return run;
  }
  const call = async (name, params) => JSON.parse(await raw(name, JSON.stringify(params)));

  // A host with nothing open behind a default-drop firewall, as core builds it;
  // asked once per backend (the promise is kept, so concurrent asks share it).
  const states = new Map();
  function emptyState(backend) {
    if (!states.has(backend)) {
      const state = call('empty-firewall', { backend });
      state.catch(() => states.delete(backend)); // a failure is not remembered
      states.set(backend, state);
    }
    return states.get(backend);
  }

  return {
    catalog: () => call('catalog', {}),
    getProfile: (name) => call('get-profile', { name }),
    // The plan as text in, the plan record (as JSON text, key order kept) out.
    parsePlan: (text) => raw('parse-plan', JSON.stringify({ text })),
    validatePlan: async (planJson) => {
      const text = await raw('validate-plan', `{"plan":${planJson}}`);
      return { text, report: JSON.parse(text) };
    },
    // The report as the plugin wrote it, so nothing is re-serialised on the way.
    renderReport: (reportJson, format) => raw('render-report', `{"report":${reportJson},"format":"${format}"}`).then(JSON.parse),
    // Measured reachability against the plan. The documents go in as the text
    // they were read from, so the plugin's strict reader sees them as written
    // (a repeated key included); the truth table comes back as its JSON text.
    reachReport: (planJson, served, probed) =>
      raw('reach-report', `{"plan":${planJson},"served":[${served.join(',')}],"probed":[${probed.join(',')}]}`),
    // A rendering of a truth table (`json` reads one through the plugin's strict reader).
    renderTruthTable: (tableJson, format) => raw('render-truth-table', `{"table":${tableJson},"format":"${format}"}`).then(JSON.parse),
    // The rules the report's rows name, each with its source group's sources
    // (every host's when `host` is null): what `planFirewall` takes.
    firewallRules: (report, host = null) => call('firewall-rules', { report, host }),
    // What `backend` would run on an empty, default-drop host to hold `rules`.
    planFirewall: async (rules, backend) =>
      call('plan-firewall', { rules, state: await emptyState(backend), 'remove-all': false }),
    // The golden-corpus pipeline of every host: the report JSON, or the rejection JSON.
    async reportJson(planText) {
      try {
        const plan = await raw('parse-plan', JSON.stringify({ text: planText }));
        const { text } = await this.validatePlan(plan);
        return await this.renderReport(text, 'json');
      } catch (error) {
        if (error instanceof PlanError) return error.text;
        throw error;
      }
    },
    close: () => plugin.close(),
  };
}
