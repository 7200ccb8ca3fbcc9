import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type HostTensor,
  type InferenceSession,
  isResident,
  type SessionValue,
  type TensorData,
} from '@slmkit/core/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
