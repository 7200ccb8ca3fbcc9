/**
 * `npm run bench`: slmkit against a raw onnxruntime-node loop (the floor) and transformers.js, on
 * the same generated SmolLM2-135M-shaped model.
 *
 * Method: the machine's speed drifts over minutes, so numbers are only ever compared within one
 * round. A round runs every system on a workload in separate fresh processes, one right after the
 * other (the order rotates between rounds); the report gives the median of the per-round ratios.
 * A paired run then loads all systems into one process and alternates them run by run. Progress goes
 * to stderr, the Markdown report to stdout, the JSON to bench/results/.
 *
 * Scenario workloads (bench/lib/scenarios.ts: a 10-turn chat, a saved 1,000-token prefix, what a
 * structured-output responseFormat costs) run in the same rounds, each of their roles in a fresh
 * process (bench/scenario-child.ts), with a temporary slmkit cache directory per round and scenario.
 *
 *   npm run bench [-- --rounds 4 --pairs 3 --threads 2 --no-spinning --quick --write-docs
 *                     --only greedy-128,greedy-1024,chat-10,profile-1000,structured-output
 *                     --skip-paired --skip-micro]
 */
import { fork } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ChildResult } from './child.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { type BenchReport, type RoundRecord, renderReport } from './lib/report.js';
import { isScenarioId, SCENARIOS, type ScenarioId, type ScenarioResult } from './lib/scenarios.js';
import { median, percentile } from './lib/stats.js';
import { modelFolder, WORKLOADS, type WorkloadId } from './lib/workloads.js';
import type { MicroRow } from './micro.js';
import type { PairedResult } from './paired.js';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    pairs: { type: 'string', default: '3' },
    reps: { type: 'string', default: '1' },
    threads: { type: 'string', default: String(os.availableParallelism()) },
    'no-spinning': { type: 'boolean', default: false },
    only: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'skip-rounds': { type: 'boolean', default: false },
    'skip-paired': { type: 'boolean', default: false },
    'skip-micro': { type: 'boolean', default: false },
    'write-docs': { type: 'boolean', default: false },
    'node-flags': { type: 'string', default: '' },
  },
});

const log = (message: string) => process.stderr.write(`${message}\n`);

/** Runs a bench script in a fresh Node process (with tsx) and returns the message it sends. */
function runChild<T>(script: string, argv: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const nodeFlags = args['node-flags'] ? args['node-flags'].split(' ').filter(Boolean) : [];
    const child = fork(here(script), argv, {
      execArgv: ['--import', 'tsx', ...nodeFlags],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let message: T | undefined;
    child.on('message', (m) => {
      message = m as T;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (message !== undefined) resolve(message);
      else reject(new Error(`${script} ${argv.join(' ')} exited with code ${code} and no result`));
    });
  });
}

async function readThrough(path: string): Promise<void> {
  for await (const _ of createReadStream(path, { highWaterMark: 1 << 24 })) {
    // Only to bring the file into the page cache, so load times measure loading, not the disk.
  }
}

async function main() {
  const rounds = args.quick ? 1 : Number(args.rounds);
  const pairs = args.quick ? 1 : Number(args.pairs);
  const threads = Number(args.threads);
  const spinning = !args['no-spinning'];
  const selected = args.only?.split(',') ?? [...Object.keys(WORKLOADS), ...Object.keys(SCENARIOS)];
  for (const id of selected) {
    if (!Object.hasOwn(WORKLOADS, id) && !isScenarioId(id)) throw new Error(`unknown workload ${id}`);
  }
  const workloadIds = selected.filter((id): id is WorkloadId => Object.hasOwn(WORKLOADS, id));
  const scenarioIds = selected.filter(isScenarioId);
  const machine = machineInfo();
  log(`slmkit benchmark on ${describeMachine(machine)}`);
  log(
    `${threads} intra-op threads, spinning ${spinning ? 'on' : 'off'}, ${rounds} rounds, ${pairs} paired turns`,
  );

  log('building / finding the models (first time: about a minute)…');
  const folders = {
    default: await modelFolder('default'),
    'logits-to-keep': await modelFolder('logits-to-keep'),
  };
  for (const folder of Object.values(folders)) await readThrough(join(folder, 'onnx', 'model.onnx'));

  const started = Date.now();
  const roundRecords: RoundRecord[] = [];
  if (!args['skip-rounds']) {
    for (let round = 0; round < rounds; round++) {
      const record: RoundRecord = { round: round + 1, results: [], scenarios: [] };
      for (const id of workloadIds) {
        const systems = WORKLOADS[id].systems;
        // Rotate the order so that no system always runs first (or right after the same neighbour).
        const order = systems.map((_, k) => systems[(k + round) % systems.length]);
        for (const system of order) {
          const t = performance.now();
          const result = await runChild<ChildResult>('./child.ts', [
            system,
            id,
            String(threads),
            spinning ? '1' : '0',
            args.reps,
          ]);
          record.results.push(result);
          const run = result.runs[0];
          const msPerToken = run.decodeMs / (WORKLOADS[id].newTokens - 1);
          log(
            `round ${round + 1}/${rounds} ${id} ${system.padEnd(12)} ${msPerToken.toFixed(2)} ms/token, ttft ${run.ttftMs.toFixed(0)} ms, rss ${result.peakRssMb.toFixed(0)} MB (${((performance.now() - t) / 1000).toFixed(0)} s)`,
          );
        }
      }
      for (const id of scenarioIds) {
        record.scenarios!.push(...(await runScenarioRound(id, round, rounds, threads, spinning)));
      }
      roundRecords.push(record);
    }
  }

  let paired: PairedResult | undefined;
  if (!args['skip-paired']) {
    log(`paired run: all systems in one process, alternating, ${pairs} turns each…`);
    paired = await runChild<PairedResult>('./paired.ts', [
      String(pairs),
      String(threads),
      spinning ? '1' : '0',
    ]);
  }

  let micro: MicroRow[] | undefined;
  if (!args['skip-micro']) micro = await runChild<MicroRow[]>('./micro.ts', []);

  const report: BenchReport = {
    date: new Date().toISOString(),
    durationSeconds: (Date.now() - started) / 1000,
    machine,
    settings: { threads, spinning, rounds, pairs, reps: Number(args.reps), nodeFlags: args['node-flags'] },
    workloads: workloadIds.map((id) => WORKLOADS[id]),
    scenarios: scenarioIds.map((id) => SCENARIOS[id]),
    rounds: roundRecords,
    paired,
    micro,
  };
  const markdown = renderReport(report);
  const resultsDir = here('./results');
  await mkdir(resultsDir, { recursive: true });
  const stamp = report.date.replace(/[:.]/g, '-');
  await writeFile(join(resultsDir, `bench-${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(resultsDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(resultsDir, 'latest.md'), `${markdown}\n`);
  if (args['write-docs']) await writeDocs(markdown);
  process.stdout.write(`${markdown}\n`);
  log(`done in ${(report.durationSeconds / 60).toFixed(1)} min; JSON in bench/results/bench-${stamp}.json`);
}

/**
 * One round of a scenario: its setup roles, then the others in an order that rotates with the
 * round, each in a fresh process, all on one temporary cache directory removed afterwards.
 */
async function runScenarioRound(
  id: ScenarioId,
  round: number,
  rounds: number,
  threads: number,
  spinning: boolean,
): Promise<ScenarioResult[]> {
  const { setup, roles } = SCENARIOS[id];
  const order = [...setup, ...roles.map((_, k) => roles[(k + round) % roles.length])];
  const cacheDir = await mkdtemp(join(os.tmpdir(), `slmkit-bench-${id}-`));
  const results: ScenarioResult[] = [];
  try {
    for (const role of order) {
      const t = performance.now();
      const result = await runChild<ScenarioResult>('./scenario-child.ts', [
        id,
        role,
        String(threads),
        spinning ? '1' : '0',
        cacheDir,
      ]);
      results.push(result);
      let summary: string;
      if (result.scenario === 'chat-10') {
        const ttft = result.turns.map((turn) => turn.ttftMs.toFixed(0));
        summary = `ttft per turn ${ttft.join(' ')} ms`;
      } else if (result.scenario === 'structured-output') {
        summary = structuredSummary(result);
      } else {
        const p = result.profile;
        const prefix =
          p.cachePrefixMs === undefined
            ? ''
            : `cachePrefix ${p.cachePrefixMs.toFixed(0)} ms (${p.cachePrefixSource}), `;
        summary = `${prefix}ttft ${p.ttftMs.toFixed(0)} ms`;
      }
      log(
        `round ${round + 1}/${rounds} ${id} ${role.padEnd(12)} ${summary}, rss ${result.peakRssMb.toFixed(0)} MB (${((performance.now() - t) / 1000).toFixed(0)} s)`,
      );
    }
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
  return results;
}

/** The progress line of a structured-output role: its mask times, or its decode speed. */
function structuredSummary(result: Extract<ScenarioResult, { scenario: 'structured-output' }>): string {
  if (result.mask) {
    const m = result.mask;
    return `mask ${median(m.perTokenMs).toFixed(3)} ms/token (p95 ${percentile(m.perTokenMs, 0.95).toFixed(3)}), first compile ${m.firstCompileMs.toFixed(0)} ms, cached ${median(m.cachedCompileMs).toFixed(2)} ms`;
  }
  const runs = result.decode?.runs ?? [];
  return runs
    .map(
      (r) =>
        `${r.constrained ? 'constrained' : 'free'} ${r.msPerToken.toFixed(2)} ms/token (${r.tokenIds.length} tokens)`,
    )
    .join(', ');
}

/** Replaces the generated section of docs/benchmarks.md with the new report. */
async function writeDocs(markdown: string): Promise<void> {
  const path = here('../docs/benchmarks.md');
  const start = '<!-- bench:results:start -->';
  const end = '<!-- bench:results:end -->';
  const doc = await readFile(path, 'utf8');
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${path} has no ${start} … ${end} section`);
  await writeFile(path, `${doc.slice(0, from + start.length)}\n${markdown}\n${doc.slice(to)}`);
  log('docs/benchmarks.md updated');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
