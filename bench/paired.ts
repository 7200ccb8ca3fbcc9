/**
 * The paired run: all three systems loaded in one process, taking turns on the same workload, so
 * each comparison is between runs seconds apart. Run by bench/run.ts (results over IPC), or alone:
 *
 *   npx tsx bench/paired.ts [iterations] [threads]
 */
import { modelFolder, promptIds, WORKLOADS, type WorkloadId } from './lib/workloads.js';
import { type BenchSystem, createSystem, type RunTiming, type SystemName } from './systems/types.js';

/** One turn of every system on one workload. Keys: system name, or `slmkit-greedy` beside sampling. */
export type PairedIteration = Partial<Record<SystemName | 'slmkit-greedy', RunTiming>>;

export interface PairedResult {
  workloads: Partial<Record<WorkloadId, PairedIteration[]>>;
}

const PAIRED_WORKLOADS: WorkloadId[] = ['greedy-128', 'greedy-1024', 'sample-128'];

async function runPaired(iterations: number, threads: number, spinning: boolean): Promise<PairedResult> {
  const folder = await modelFolder('default');
  const systems = new Map<SystemName, BenchSystem>();
  for (const name of ['floor', 'slmkit', 'transformers'] as const) {
    const system = await createSystem(name);
    await system.load({ folder, threads, spinning });
    systems.set(name, system);
  }
  const result: PairedResult = { workloads: {} };
  for (const id of PAIRED_WORKLOADS) {
    const workload = WORKLOADS[id];
    const prompt = promptIds(workload.promptTokens);
    // Warm-up of every system at this prompt length.
    for (const system of systems.values()) {
      if (workload.sampling && system.name === 'floor') continue;
      await system.run({ promptIds: prompt, newTokens: 4, sampling: workload.sampling });
    }
    const runs: PairedIteration[] = [];
    for (let i = 0; i < iterations; i++) {
      // On the sampling workload slmkit also runs greedy, as the baseline of its sampling cost.
      const turns: (SystemName | 'slmkit-greedy')[] = workload.sampling
        ? ['slmkit-greedy', 'slmkit', 'transformers']
        : [...workload.systems];
      const order = turns.map((_, k) => turns[(k + i) % turns.length]);
      const iteration: PairedIteration = {};
      for (const turn of order) {
        const system = systems.get(turn === 'slmkit-greedy' ? 'slmkit' : turn)!;
        const sampling = turn === 'slmkit-greedy' ? undefined : workload.sampling;
        process.stderr.write(`  paired ${id} #${i + 1} ${turn}…`);
        const timing = await system.run({ promptIds: prompt, newTokens: workload.newTokens, sampling });
        process.stderr.write(` ${(timing.decodeMs / (workload.newTokens - 1)).toFixed(2)} ms/token\n`);
        iteration[turn] = timing;
      }
      runs.push(iteration);
    }
    result.workloads[id] = runs;
  }
  for (const system of systems.values()) await system.dispose();
  return result;
}

const [iterations = '3', threads = '2', spinning = '1'] = process.argv.slice(2);
runPaired(Number(iterations), Number(threads), spinning === '1')
  .then((result) => {
    if (process.send) process.send(result, () => process.exit(0));
    else console.log(JSON.stringify(result, null, 2));
  })
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
