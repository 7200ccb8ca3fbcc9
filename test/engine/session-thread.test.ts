import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import {
  type HostTensor,
  type InferenceSession,
  isResident,
  type ResidentTensor,
  type SessionValue,
  type TensorData,
} from '@slmkit/core/backend';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
// The backend directly (not @slmkit/node's index): these tests drive sessions, not the engine.
import { createNodeBackend } from '../../packages/node/src/backend.js';
import { ensureModel } from '../fixtures/models.js';

const ONNX = 'onnx/model.onnx';

const int64 = (values: number[], dims: number[]): HostTensor => ({
  type: 'int64',
  dims,
  data: BigInt64Array.from(values, BigInt),
});

/** Prefill feeds for `ids` with an empty past, as core builds them. */
function prefillFeeds(session: InferenceSession, ids: number[]): Record<string, SessionValue> {
  const n = ids.length;
  const feeds: Record<string, SessionValue> = {
    input_ids: int64(ids, [1, n]),
    attention_mask: int64(new Array(n).fill(1), [1, n]),
    position_ids: int64(
      ids.map((_, i) => i),
      [1, n],
    ),
  };
  for (const name of session.inputNames.filter((input) => input.startsWith('past_key_values.'))) {
    const [, heads, , dim] = session.inputMetadata[name].shape as number[];
    feeds[name] = { type: 'float32', dims: [1, heads, 0, dim], data: new Float32Array(0) };
  }
  return feeds;
}

/** Feeds of one decoding step after `past` positions, with the previous run's present.* as past. */
function stepFeeds(
  previous: Record<string, SessionValue>,
  token: number,
  past: number,
): Record<string, SessionValue> {
  const feeds: Record<string, SessionValue> = {
    input_ids: int64([token], [1, 1]),
    attention_mask: int64(new Array(past + 1).fill(1), [1, past + 1]),
    position_ids: int64([past], [1, 1]),
  };
  for (const [name, value] of Object.entries(previous)) {
    if (name.startsWith('present.')) feeds[name.replace('present.', 'past_key_values.')] = value;
  }
  return feeds;
}

/** The data of an output that must be a host tensor. */
function hostData(value: SessionValue): TensorData {
  if (isResident(value)) throw new Error('expected a host tensor, got a resident one');
  return value.data;
}

/** The resident outputs of `outputs` named in `names`, in that order. */
function residents(outputs: Record<string, SessionValue>, names: readonly string[]): ResidentTensor[] {
  return names.map((name) => {
    const value = outputs[name];
    if (!isResident(value)) throw new Error(`${name} is not resident`);
    return value;
  });
}

/** The first `length` positions of a [1, heads, n, headDim] array, sliced here. */
function firstPositions(data: TensorData, dims: readonly number[], length: number): Float32Array {
  const [, heads, n, headDim] = dims;
  const out = new Float32Array(heads * length * headDim);
  for (let h = 0; h < heads; h++) {
    out.set(
      (data as Float32Array).subarray(h * n * headDim, (h * n + length) * headDim),
      h * length * headDim,
    );
  }
  return out;
}

/**
 * Bytes structured clone copies for `message`: every typed array's whole buffer (a view's too),
 * each buffer once.
 */
function clonedBytes(message: unknown, seen = new Set<ArrayBufferLike>()): number {
  if (ArrayBuffer.isView(message)) {
    if (seen.has(message.buffer)) return 0;
    seen.add(message.buffer);
    return message.buffer.byteLength;
  }
  if (message === null || typeof message !== 'object') return 0;
  return Object.values(message).reduce((sum: number, value) => sum + clonedBytes(value, seen), 0);
}

describe('sessions on a worker thread (the node default)', () => {
  let folder: string;
  let threaded: InferenceSession;
  let inProcess: InferenceSession;
  let present: string[];
  const dir = mkdtempSync(join(tmpdir(), 'slmkit-session-thread-'));
  const file = () => ({ name: ONNX, path: join(folder, ONNX) });

  beforeAll(async () => {
    folder = await ensureModel('tiny');
    threaded = await createNodeBackend().createSession(file(), {});
    inProcess = await createNodeBackend({ sessionThread: 'main' }).createSession(file(), {});
    present = threaded.outputNames.filter((name) => name.startsWith('present.'));
  });
  afterAll(async () => {
    await threaded?.release();
    await inProcess?.release();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps resident outputs on its thread and returns the same values as an in-process session', async () => {
    const prompt = [1, 22557, 1526, 28705];
    const expected = await inProcess.run(prefillFeeds(inProcess, prompt));
    const outputs = await threaded.run(prefillFeeds(threaded, prompt), { residentOutputs: present });

    expect(isResident(outputs.logits)).toBe(false);
    expect(hostData(outputs.logits)).toEqual(hostData(expected.logits));
    for (const name of present) {
      const tensor = outputs[name];
      expect(isResident(tensor)).toBe(true);
      expect('data' in tensor).toBe(false);
      expect(tensor.type).toBe('float32');
      expect(tensor.dims).toEqual(expected[name].dims);
      if (isResident(tensor)) expect(await tensor.read()).toEqual(hostData(expected[name]));
    }

    // Fed back as the past, they give the in-process session's next logits, bit for bit.
    const next = await threaded.run(stepFeeds(outputs, 9, prompt.length), { residentOutputs: present });
    const nextExpected = await inProcess.run(stepFeeds(expected, 9, prompt.length));
    expect(hostData(next.logits)).toEqual(hostData(nextExpected.logits));
    for (const name of present) {
      const tensor = next[name];
      if (!isResident(tensor)) throw new Error(`${name} is not resident`);
      expect(await tensor.read()).toEqual(hostData(nextExpected[name]));
    }
    // Feeds are not consumed: the first outputs can be fed again, and read.
    const again = await threaded.run(stepFeeds(outputs, 9, prompt.length));
    expect(hostData(again.logits)).toEqual(hostData(nextExpected.logits));
    for (const value of [...Object.values(outputs), ...Object.values(next)]) {
      if (isResident(value)) value.dispose();
    }

    // Without the option every output comes back as data.
    const plain = await threaded.run(prefillFeeds(threaded, prompt));
    for (const name of present) expect(hostData(plain[name])).toEqual(hostData(expected[name]));
  });

  it('in-process, resident outputs keep the runtime tensor and give the same values', async () => {
    const prompt = [1, 415, 2936];
    const expected = await inProcess.run(prefillFeeds(inProcess, prompt));
    const outputs = await inProcess.run(prefillFeeds(inProcess, prompt), { residentOutputs: present });
    expect(hostData(outputs.logits)).toEqual(hostData(expected.logits));
    for (const name of present) {
      const tensor = outputs[name];
      if (!isResident(tensor)) throw new Error(`${name} is not resident`);
      expect(tensor.dims).toEqual(expected[name].dims);
      expect(await tensor.read()).toEqual(hostData(expected[name]));
    }
    const next = await inProcess.run(stepFeeds(outputs, 9, prompt.length), { residentOutputs: present });
    const nextExpected = await inProcess.run(stepFeeds(expected, 9, prompt.length));
    expect(hostData(next.logits)).toEqual(hostData(nextExpected.logits));

    // A disposed one cannot be read or fed.
    const first = outputs[present[0]];
    if (!isResident(first)) throw new Error('not resident');
    first.dispose();
    first.dispose();
    await expect(first.read()).rejects.toMatchObject({ code: 'DISPOSED' });
    await expect(inProcess.run(stepFeeds(outputs, 9, prompt.length))).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining(
        `Input "${present[0].replace('present.', 'past_key_values.')}" was disposed`,
      ),
    });
    for (const value of [...Object.values(outputs), ...Object.values(next)]) {
      if (isResident(value)) value.dispose();
    }
  });

  it('frees a disposed resident tensor on its thread, and says so if it is fed again', async () => {
    const outputs = await threaded.run(prefillFeeds(threaded, [1, 5, 6]), { residentOutputs: present });
    const first = outputs[present[0]];
    if (!isResident(first)) throw new Error('not resident');
    first.dispose();
    first.dispose();
    // The refusal comes from the thread (the handle still goes; the thread freed it just before).
    await expect(threaded.run(stepFeeds(outputs, 7, 3))).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/^Input "past_key_values\.0\.key" was disposed and cannot be used/),
    });
    await expect(first.read()).rejects.toMatchObject({ code: 'DISPOSED' });
    // The session is still usable, and so are the other outputs.
    const again = await threaded.run(prefillFeeds(threaded, [1, 5, 6]));
    expect(again.logits.dims).toEqual([1, 3, 32000]);
    const second = outputs[present[1]];
    if (!isResident(second)) throw new Error('not resident');
    expect((await second.read()).length).toBeGreaterThan(0);
    for (const value of Object.values(outputs)) if (isResident(value)) value.dispose();
  });

  it('slices resident outputs on its thread, in one call, into new ones with the values sliced here', async () => {
    const prompt = [1, 22557, 1526, 28705, 9];
    const outputs = await threaded.run(prefillFeeds(threaded, prompt), { residentOutputs: present });
    const full = residents(outputs, present);
    const whole = await Promise.all(full.map((tensor) => tensor.read()));
    const sliced = await threaded.sliceResident!(full, 2, 3);
    // The sources are left as they were: freeing them leaves the slices.
    for (const value of Object.values(outputs)) if (isResident(value)) value.dispose();
    const past: Record<string, HostTensor> = {};
    for (const [i, tensor] of sliced.entries()) {
      const [, heads, , headDim] = full[i].dims;
      expect(tensor.dims).toEqual([1, heads, 3, headDim]);
      const expected = firstPositions(whole[i], full[i].dims, 3);
      expect(await tensor.read()).toEqual(expected);
      past[present[i]] = { type: 'float32', dims: tensor.dims, data: expected };
    }
    // Fed back, they give what the same values fed as host tensors give, bit for bit.
    const next = await threaded.run(
      stepFeeds(Object.fromEntries(present.map((n, i) => [n, sliced[i]])), 7, 3),
    );
    const nextExpected = await inProcess.run(stepFeeds(past, 7, 3));
    expect(hostData(next.logits)).toEqual(hostData(nextExpected.logits));
    // A whole copy (length = dims[axis]) is independent of its source.
    const copies = await threaded.sliceResident!(sliced, 2, 3);
    for (const tensor of sliced) tensor.dispose();
    expect(await copies[0].read()).toEqual(firstPositions(whole[0], full[0].dims, 3));

    await expect(threaded.sliceResident!(copies, 2, 4)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(threaded.sliceResident!(copies, 4, 1)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(threaded.sliceResident!(sliced, 2, 1)).rejects.toMatchObject({ code: 'DISPOSED' });
    const foreign = await inProcess.run(prefillFeeds(inProcess, [1, 5]), { residentOutputs: present });
    await expect(threaded.sliceResident!(residents(foreign, present), 2, 1)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('resident tensor of another session'),
    });
    for (const value of [...Object.values(foreign), ...copies]) if (isResident(value)) value.dispose();
  });

  it("refuses another session's resident tensor, and its own under a name that is no input", async () => {
    const other = await createNodeBackend().createSession(file(), {});
    try {
      for (const [session, foreignSource] of [
        [threaded, inProcess],
        [threaded, other],
        [inProcess, threaded],
      ] as const) {
        const foreign = await foreignSource.run(prefillFeeds(foreignSource, [1, 5]), {
          residentOutputs: present,
        });
        await expect(session.run(stepFeeds(foreign, 7, 2))).rejects.toMatchObject({
          code: 'INVALID_INPUT',
          message: expect.stringContaining(
            'Input "past_key_values.0.key" is a resident tensor of another session',
          ),
        });
        // Its own resident output under a name that is not an input.
        const own = await session.run(prefillFeeds(session, [1, 5]), { residentOutputs: present });
        const misnamed = { ...prefillFeeds(session, [1, 5]), 'present.0.key': own['present.0.key'] };
        await expect(session.run(misnamed)).rejects.toMatchObject({
          code: 'INVALID_INPUT',
          message: expect.stringContaining('"present.0.key" is not an input of this session'),
        });
        for (const value of [...Object.values(foreign), ...Object.values(own)]) {
          if (isResident(value)) value.dispose();
        }
      }
    } finally {
      await other.release();
    }
  });

  it('rejects runs and reads after release instead of hanging', async () => {
    for (const sessionThread of ['worker', 'main'] as const) {
      const session = await createNodeBackend({ sessionThread }).createSession(file(), {});
      const outputs = await session.run(prefillFeeds(session, [1, 5]), { residentOutputs: present });
      await session.release();
      await session.release();
      await expect(session.run(prefillFeeds(session, [1, 5]))).rejects.toMatchObject({
        code: 'DISPOSED',
        message: expect.stringMatching(/session was released/),
      });
      const kept = outputs[present[0]];
      if (!isResident(kept)) throw new Error('not resident');
      // Released with the session; disposing it afterwards is harmless.
      await expect(kept.read()).rejects.toMatchObject({ code: 'DISPOSED' });
      kept.dispose();
    }
  });

  it('reports a file the runtime cannot load with the runtime message', async () => {
    writeFileSync(join(dir, 'model.onnx'), 'not a graph');
    await expect(
      createNodeBackend().createSession({ name: ONNX, path: join(dir, 'model.onnx') }, {}),
    ).rejects.toThrow(/protobuf|parse|load/i);
  });

  it('generates the same tokens as the in-process backend, greedy and sampled, with the prefix cache', async () => {
    // Through the engine (the only test here that needs it).
    const { createModel } = await import('@slmkit/node');
    const threadedModel = await createModel(folder);
    const inProcessModel = await createModel(folder, { sessionThread: 'main' });
    try {
      for (const options of [
        { maxNewTokens: 24 },
        { maxNewTokens: 24, doSample: true, seed: 7, temperature: 1.2 },
      ]) {
        for (const prompt of ['Once upon a time', 'Once upon a time there was']) {
          const a = await threadedModel.generate(prompt, options);
          const b = await inProcessModel.generate(prompt, options);
          expect(a.tokenIds).toEqual(b.tokenIds);
          expect(a.usage.cachedPromptTokens).toBe(b.usage.cachedPromptTokens);
        }
      }
      // The second prompt extends the first, so the kept cache was cut back through read().
      const reused = await threadedModel.generate('Once upon a time there', { maxNewTokens: 4 });
      expect(reused.usage.cachedPromptTokens).toBeGreaterThan(0);
    } finally {
      await threadedModel.dispose();
      await inProcessModel.dispose();
    }
  });

  it('truncating, forking and copying a prefix move no KV data between the threads', async () => {
    const { createModel } = await import('@slmkit/node');
    const model = await createModel(folder);
    const sequence = model.createSequence();
    const messages: { op: string; bytes: number; feeds: string[] }[] = [];
    let received = 0;
    const post = Worker.prototype.postMessage;
    vi.spyOn(Worker.prototype, 'postMessage').mockImplementation(function (
      this: Worker,
      ...args: Parameters<Worker['postMessage']>
    ) {
      const message = args[0] as { op: string; feeds?: Record<string, unknown> };
      messages.push({ op: message.op, bytes: clonedBytes(message), feeds: Object.keys(message.feeds ?? {}) });
      return post.apply(this, args);
    });
    const emit = Worker.prototype.emit;
    vi.spyOn(Worker.prototype, 'emit').mockImplementation(function (this: Worker, event, ...rest) {
      if (event === 'message') received += clonedBytes(rest[0]);
      return emit.call(this, event, ...rest);
    });
    try {
      const ids = Array.from({ length: 600 }, (_, i) => 3 + ((i * 7919) % 31990));
      await model.generate({ inputIds: ids }, { maxNewTokens: 4, temperature: 0, sequence });
      // The cache holds 603 positions of 512 bytes (2 layers x key and value x 2 heads x 16 x 4), 309 KB.
      const counted = async (work: () => Promise<unknown>) => {
        messages.length = 0;
        received = 0;
        await work();
        // Freed handles may go alone, a macrotask after they were freed: numbers, no data.
        const calls = messages.filter((m) => m.op !== 'free');
        return { ops: calls.map((m) => m.op), posted: calls.reduce((a, m) => a + m.bytes, 0), received };
      };
      expect(await counted(() => sequence.truncate(590))).toEqual({
        ops: ['slice'],
        posted: 16,
        received: 16,
      });
      const fork = await sequence.fork();
      // The next run of each feeds the cache from the thread: no past_key_values go as data.
      const next = await counted(() =>
        model.generate({ inputIds: [...ids.slice(0, 590), 5, 6] }, { maxNewTokens: 1, sequence: fork }),
      );
      expect(next.ops).toEqual(['run']);
      expect(
        messages.find((m) => m.op === 'run')?.feeds.filter((name) => name.startsWith('past_key_values')),
      ).toEqual([]);
      expect(next.posted).toBeLessThan(8 * 1024);
      // A prefix shared with the prefix cache's entry is copied on the thread too.
      await model.generate({ inputIds: ids.slice(0, 300) }, { maxNewTokens: 2 });
      const copy = await counted(() =>
        model.generate({ inputIds: [...ids.slice(0, 290), 7, 8] }, { maxNewTokens: 1 }),
      );
      expect(copy.ops).toEqual(['slice', 'run']);
      expect(copy.posted).toBeLessThan(8 * 1024);
      await fork.dispose();
    } finally {
      vi.restoreAllMocks();
      await sequence.dispose();
      await model.dispose();
    }
  });

  it('posts exact-size copies of feeds that are views of a larger buffer', async () => {
    const mask = new BigInt64Array(1000).fill(1n);
    const feeds = prefillFeeds(threaded, [1, 5, 6]);
    feeds.attention_mask = { type: 'int64', dims: [1, 3], data: mask.subarray(0, 3) };
    let posted = 0;
    const post = Worker.prototype.postMessage;
    vi.spyOn(Worker.prototype, 'postMessage').mockImplementation(function (
      this: Worker,
      ...args: Parameters<Worker['postMessage']>
    ) {
      posted += clonedBytes(args[0]);
      return post.apply(this, args);
    });
    try {
      const outputs = await threaded.run(feeds);
      expect(outputs.logits.dims).toEqual([1, 3, 32000]);
    } finally {
      vi.restoreAllMocks();
    }
    // ids, mask and positions (3 x 3 x 8 bytes) and the empty pasts: not the mask's 8,000-byte buffer.
    expect(posted).toBeLessThan(200);
  });

  it("keeps the calling thread's event loop running while the model runs (onnxruntime-node runs block their thread)", async () => {
    // A long prefill: one run of a few hundred milliseconds on the tiny model.
    const ids = Array.from({ length: 1500 }, (_, i) => 3 + ((i * 7919) % 31990));
    const timerDuringRun = async (sessionThread: 'worker' | 'main') => {
      const session = await createNodeBackend({ sessionThread }).createSession(file(), {});
      try {
        await session.run(prefillFeeds(session, ids));
        let last = performance.now();
        let longest = 0;
        let ticks = 0;
        const timer = setInterval(() => {
          const now = performance.now();
          longest = Math.max(longest, now - last);
          last = now;
          ticks++;
        }, 1);
        const start = performance.now();
        const outputs = await session.run(prefillFeeds(session, ids), { residentOutputs: present });
        const runMs = performance.now() - start;
        const ticksDuringRun = ticks;
        // Let the timer fire once more: after a blocked run its next tick shows the whole gap.
        await new Promise((resolve) => setTimeout(resolve, 5));
        clearInterval(timer);
        for (const value of Object.values(outputs)) if (isResident(value)) value.dispose();
        return { longest, ticksDuringRun, runMs };
      } finally {
        await session.release();
      }
    };
    const inProcess = await timerDuringRun('main');
    const threaded = await timerDuringRun('worker');
    // In-process the timer cannot fire while the graph runs; on the worker thread it keeps firing
    // (every millisecond on an idle machine; "several times" leaves room for a loaded one).
    expect(inProcess.longest).toBeGreaterThan(inProcess.runMs * 0.8);
    expect(inProcess.ticksDuringRun).toBeLessThanOrEqual(2);
    expect(threaded.ticksDuringRun).toBeGreaterThanOrEqual(10);
    expect(threaded.longest).toBeLessThan(threaded.runMs / 2);
  });

  it('does not keep the process alive when a model is never disposed', async () => {
    // Through the built package, as an application runs it (dist/session-worker.js).
    const script = join(dir, 'forget.mjs');
    const entry = new URL('../../packages/node/dist/index.js', import.meta.url).href;
    writeFileSync(
      script,
      `import { createModel } from ${JSON.stringify(entry)};\n` +
        `const model = await createModel(${JSON.stringify(folder)});\n` +
        `const { tokenIds } = await model.generate('Hello', { maxNewTokens: 3 });\n` +
        `console.log(tokenIds.length);\n`,
    );
    const { stdout } = await promisify(execFile)(process.execPath, [script], {
      timeout: 30_000,
    });
    expect(stdout.trim()).toBe('3');
  });
});
