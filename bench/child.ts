/**
 * One measurement in a fresh process: load one system, warm up, run one workload, and send the
 * timings (plus the process's peak RSS) to the parent over IPC (to stdout when run alone, e.g. under
 * `node --cpu-prof --import tsx bench/child.ts slmkit greedy-128 2 1 1`). Run by bench/run.ts.
 *
 *   node --import tsx bench/child.ts <system> <workload> <threads> <spinning 0|1> <reps>
 */
import { allocateAppHeap, modelFolder, promptIds, WORKLOADS, type WorkloadId } from './lib/workloads.js';
import { createSystem, type RunTiming, type SystemName } from './systems/types.js';

export interface ChildResult {
  system: SystemName;
  workload: WorkloadId;
  loadMs: number;
  runs: RunTiming[];
  peakRssMb: number;
}

async function main() {
  const [system, workloadId, threads, spinning, reps] = process.argv.slice(2);
  const workload = WORKLOADS[workloadId as WorkloadId];
  const appHeap = workload.appHeapMb ? allocateAppHeap(workload.appHeapMb) : undefined;
  const folder = await modelFolder(workload.model);
  const bench = await createSystem(system as SystemName);
  const loadStart = performance.now();
  await bench.load({ folder, threads: Number(threads), spinning: spinning === '1' });
  const loadMs = performance.now() - loadStart;
  const prompt = promptIds(workload.promptTokens);
  // Warm-up at the workload's own prompt length, so ORT's arena already has its peak size.
  await bench.run({ promptIds: prompt, newTokens: 4, sampling: workload.sampling });
  const runs: RunTiming[] = [];
  for (let i = 0; i < Number(reps); i++) {
    runs.push(
      await bench.run({ promptIds: prompt, newTokens: workload.newTokens, sampling: workload.sampling }),
    );
  }
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  appHeap?.clear(); // referenced until the measurements are done
  await bench.dispose();
  const result: ChildResult = {
    system: system as SystemName,
    workload: workload.id,
    loadMs,
    runs,
    peakRssMb,
  };
  if (process.send) process.send(result, () => process.exit(0));
  else
    console.log(
      JSON.stringify({ ...result, runs: result.runs.map((r) => ({ ...r, tokenIds: r.tokenIds.length })) }),
    );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
