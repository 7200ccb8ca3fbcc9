/**
 * Diagnostic behind docs/benchmarks.md "the tokenizer's heap makes ONNX Runtime's garbage
 * expensive": at 1,024 tokens of context, the floor alone, the floor with a tokenizer merely kept
 * alive, and slmkit, each in its own process, interleaved.
 *
 *   npx tsx bench/heap-effect.ts [rounds=2] [newTokens=96]
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTokenizer } from '@slmkit/core';
import { llama2TokenizerDir } from '../test/fixtures/models.js';
import { modelFolder, promptIds } from './lib/workloads.js';
import { createSystem } from './systems/types.js';

const MODES = ['floor', 'floor+tokenizer', 'slmkit'] as const;

async function measure(mode: (typeof MODES)[number], newTokens: number): Promise<number> {
  let kept: unknown;
  if (mode === 'floor+tokenizer') {
    const dir = llama2TokenizerDir();
    kept = createTokenizer(
      JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
      JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
    );
  }
  const system = await createSystem(mode === 'slmkit' ? 'slmkit' : 'floor');
  await system.load({ folder: await modelFolder('default'), threads: 2, spinning: true });
  const prompt = promptIds(1024);
  await system.run({ promptIds: prompt, newTokens: 4 });
  const run = await system.run({ promptIds: prompt, newTokens });
  await system.dispose();
  if (kept === null) console.log(); // keeps `kept` alive until here
  return run.decodeMs / (newTokens - 1);
}

const [first, second] = process.argv.slice(2);
if (MODES.includes(first as never)) {
  measure(first as (typeof MODES)[number], Number(second)).then((ms) => {
    process.send?.(ms, () => process.exit(0));
  });
} else {
  const rounds = Number(first ?? 2);
  const newTokens = Number(second ?? 96);
  const script = fileURLToPath(import.meta.url);
  for (let round = 1; round <= rounds; round++) {
    for (const mode of MODES) {
      const ms = await new Promise<number>((resolve, reject) => {
        const child = fork(script, [mode, String(newTokens)], { execArgv: ['--import', 'tsx'] });
        child.on('message', (m) => resolve(m as number));
        child.on('exit', (code) => code && reject(new Error(`${mode} exited with ${code}`)));
      });
      console.log(`round ${round} ${mode.padEnd(16)} ${ms.toFixed(2)} ms/token`);
    }
  }
}
