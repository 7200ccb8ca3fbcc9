// Run by address-space.test.ts as a child process, with and without an address-space limit
// (`ulimit -v`): generates greedily and with sampling from the model folder given, and prints the
// token ids, whether this process could make a WebAssembly memory at all, and its peak address
// space, as JSON on stdout.
// Usage: tsx address-space-child.ts <model dir>
import { readFileSync } from 'node:fs';
import { createModel } from '@slmkit/node';

const [dir] = process.argv.slice(2);
let wasmMemory = true;
try {
  new WebAssembly.Memory({ initial: 1, maximum: 1 });
} catch {
  wasmMemory = false;
}
const model = await createModel(dir);
try {
  const greedy = await model.generate('Once upon a time', { maxNewTokens: 12, temperature: 0 });
  // temperature → top-k → top-p: the sampler's topIndices path.
  const sampled = await model.generate('The garden', {
    maxNewTokens: 12,
    temperature: 0.8,
    topK: 40,
    topP: 0.9,
    seed: 7,
  });
  const peakKiB = Number(/VmPeak:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
  process.stdout.write(
    JSON.stringify({ greedy: greedy.tokenIds, sampled: sampled.tokenIds, wasmMemory, peakKiB }),
  );
} finally {
  await model.dispose();
}
