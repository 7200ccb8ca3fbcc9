// Run by address-space.test.ts as a child process, with and without an address-space limit
// (`ulimit -v`): generates greedily and with sampling from the model folder given, and prints the
// token ids, whether this process could make a WebAssembly memory at all, and every WebAssembly
// memory the generation asked for (the SIMD logit kernels' memory: made, or refused and so the
// plain loops chose the tokens), as JSON on stdout.
// Usage: tsx address-space-child.ts <model dir>
import { createModel } from '@slmkit/node';

const [dir] = process.argv.slice(2);
let wasmMemory = true;
try {
  new WebAssembly.Memory({ initial: 1, maximum: 1 });
} catch {
  wasmMemory = false;
}
const model = await createModel(dir);

/** One `new WebAssembly.Memory(...)` during the generation: its size in pages, and whether it was made. */
interface MemoryRequest {
  initial: number;
  maximum?: number;
  made: boolean;
}
const memories: MemoryRequest[] = [];
const Memory = WebAssembly.Memory;
// Only the sampler makes WebAssembly memories while generating (the kernels, on first use).
Object.defineProperty(WebAssembly, 'Memory', {
  configurable: true,
  writable: true,
  value: new Proxy(Memory, {
    construct(target, args: [WebAssembly.MemoryDescriptor]) {
      const [{ initial, maximum }] = args;
      try {
        const memory = Reflect.construct(target, args);
        memories.push({ initial, maximum, made: true });
        return memory;
      } catch (error) {
        memories.push({ initial, maximum, made: false });
        throw error;
      }
    },
  }),
});
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
  process.stdout.write(
    JSON.stringify({ greedy: greedy.tokenIds, sampled: sampled.tokenIds, wasmMemory, memories }),
  );
} finally {
  Object.defineProperty(WebAssembly, 'Memory', { configurable: true, writable: true, value: Memory });
  await model.dispose();
}
