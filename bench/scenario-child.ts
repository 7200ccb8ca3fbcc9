/**
 * One role of a scenario workload (bench/lib/scenarios.ts) in a fresh process: sends what it
 * measured to the parent over IPC (to stdout when run alone). Run by bench/run.ts; `cacheDir` is
 * the round's temporary slmkit cache directory (saved prefixes go under its slmkit-state/).
 *
 *   node --import tsx bench/scenario-child.ts <scenario> <role> <threads> <spinning 0|1> <cacheDir>
 */
import {
  type ChatRole,
  type ProfileRole,
  SCENARIOS,
  type ScenarioId,
  type ScenarioResult,
} from './lib/scenarios.js';
import type { StructuredRole } from './lib/structured.js';
import { modelFolder } from './lib/workloads.js';
import { runChat } from './scenarios/chat.js';
import { runProfile } from './scenarios/profile.js';
import { runDecode, runMask } from './scenarios/structured.js';

async function main() {
  const [scenario, role, threads, spinning, cacheDir] = process.argv.slice(2);
  const definition = SCENARIOS[scenario as ScenarioId];
  if (!definition || ![...definition.setup, ...definition.roles].includes(role) || !cacheDir) {
    throw new Error(
      `usage: scenario-child.ts <scenario> <role> <threads> <spinning> <cacheDir>; got ${process.argv.slice(2).join(' ')}`,
    );
  }
  const load = { folder: await modelFolder('default'), threads: Number(threads), spinning: spinning === '1' };
  let result: ScenarioResult;
  if (definition.id === 'chat-10') {
    const { loadMs, turns } = await runChat(role as ChatRole, load, cacheDir);
    result = { scenario: 'chat-10', role: role as ChatRole, loadMs, peakRssMb: peakRssMb(), turns };
  } else if (definition.id === 'profile-1000') {
    const { loadMs, profile } = await runProfile(role as ProfileRole, load, cacheDir);
    result = { scenario: 'profile-1000', role: role as ProfileRole, loadMs, peakRssMb: peakRssMb(), profile };
  } else {
    const structured = role as StructuredRole;
    result =
      structured === 'mask-32k' || structured === 'mask-152k'
        ? {
            scenario: 'structured-output',
            role: structured,
            mask: await runMask(structured),
            peakRssMb: peakRssMb(),
          }
        : {
            scenario: 'structured-output',
            role: structured,
            decode: await runDecode(structured, load),
            peakRssMb: peakRssMb(),
          };
  }
  if (process.send) process.send(result, () => process.exit(0));
  else console.log(JSON.stringify(result, (key, value) => (key.endsWith('Ids') ? value.length : value), 2));
}

const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
