import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { InferenceSession } from '@slmkit/core';
import { createModel, createNodeBackend } from '@slmkit/node';
import type { Tensor } from 'onnxruntime-common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureModel } from '../fixtures/models.js';

const ONNX = 'onnx/model.onnx';

/** Prefill feeds for `ids` with an empty past, as core builds them. */
function prefillFeeds(session: InferenceSession, ids: number[]): Record<string, Tensor> {
  const backend = createNodeBackend({ sessionThread: 'main' });
  const n = ids.length;
  const feeds: Record<string, Tensor> = {
    input_ids: backend.createTensor('int64', BigInt64Array.from(ids, BigInt), [1, n]),
    attention_mask: backend.createTensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
    position_ids: backend.createTensor(
      'int64',
      BigInt64Array.from(ids, (_, i) => BigInt(i)),
      [1, n],
    ),
  };
  for (const name of session.inputNames.filter((input) => input.startsWith('past_key_values.'))) {
    const [, heads, , dim] = session.inputMetadata[name].shape as number[];
    feeds[name] = backend.createTensor('float32', new Float32Array(0), [1, heads, 0, dim]);
  }
  return feeds;
}

/** Feeds of one decoding step after `past` positions, with the previous run's present.* as past. */
function stepFeeds(previous: Record<string, Tensor>, token: number, past: number): Record<string, Tensor> {
  const backend = createNodeBackend({ sessionThread: 'main' });
  const feeds: Record<string, Tensor> = {
    input_ids: backend.createTensor('int64', BigInt64Array.of(BigInt(token)), [1, 1]),
    attention_mask: backend.createTensor('int64', new BigInt64Array(past + 1).fill(1n), [1, past + 1]),
    position_ids: backend.createTensor('int64', BigInt64Array.of(BigInt(past)), [1, 1]),
  };
  for (const [name, tensor] of Object.entries(previous)) {
    if (name.startsWith('present.')) feeds[name.replace('present.', 'past_key_values.')] = tensor;
  }
  return feeds;
}

describe('sessions on a worker thread (the node default)', () => {
  let folder: string;
  let threaded: InferenceSession;
  let inProcess: InferenceSession;
  let present: string[];
  const dir = mkdtempSync(join(tmpdir(), 'slmkit-session-thread-'));

  beforeAll(async () => {
    folder = await ensureModel('tiny');
    const file = { name: ONNX, path: join(folder, ONNX) };
    threaded = await createNodeBackend().createSession(file, {});
    inProcess = await createNodeBackend({ sessionThread: 'main' }).createSession(file, {});
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

    expect(outputs.logits.location).toBe('cpu');
    expect(outputs.logits.data).toEqual(expected.logits.data);
    for (const name of present) {
      expect(outputs[name].location).not.toBe('cpu');
      expect(() => outputs[name].data).toThrow();
      expect(outputs[name].dims).toEqual(expected[name].dims);
      expect(await outputs[name].getData()).toEqual(expected[name].data);
    }

    // Fed back as the past, they give the in-process session's next logits.
    const next = await threaded.run(stepFeeds(outputs, 9, prompt.length), { residentOutputs: present });
    const nextExpected = await inProcess.run(stepFeeds(expected, 9, prompt.length));
    expect(next.logits.data).toEqual(nextExpected.logits.data);
    for (const name of present) expect(await next[name].getData()).toEqual(nextExpected[name].data);

    // Without the option every output comes back as data.
    const plain = await threaded.run(prefillFeeds(threaded, prompt));
    for (const name of present) expect(plain[name].data).toEqual(expected[name].data);
  });

  it('frees a disposed resident tensor on its thread, and says so if it is fed again', async () => {
    const outputs = await threaded.run(prefillFeeds(threaded, [1, 5, 6]), { residentOutputs: present });
    outputs[present[0]].dispose();
    await expect(threaded.run(stepFeeds(outputs, 7, 3))).rejects.toThrow(/was disposed and cannot be used/);
    // The session is still usable.
    const again = await threaded.run(prefillFeeds(threaded, [1, 5, 6]));
    expect(again.logits.dims).toEqual([1, 3, 32000]);
  });

  it('refuses a non-CPU tensor it did not produce, and its own under a name that is no input', async () => {
    const outputs = await inProcess.run(prefillFeeds(inProcess, [1, 5]));
    const foreign = { ...outputs.logits, location: 'gpu-buffer' } as Tensor;
    const feeds = { ...prefillFeeds(threaded, [1, 5]), input_ids: foreign };
    await expect(threaded.run(feeds)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining(
        'Input "input_ids" is a gpu-buffer tensor that this session did not produce',
      ),
    });
    // Its own resident output under a name that is not an input.
    const own = await threaded.run(prefillFeeds(threaded, [1, 5]), { residentOutputs: present });
    const misnamed = { ...prefillFeeds(threaded, [1, 5]), 'present.0.key': own['present.0.key'] };
    await expect(threaded.run(misnamed)).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('"present.0.key" is not an input of this session'),
    });
  });

  it('rejects runs after release instead of hanging', async () => {
    const file = { name: ONNX, path: join(folder, ONNX) };
    const session = await createNodeBackend().createSession(file, {});
    await session.release();
    await session.release();
    await expect(session.run(prefillFeeds(session, [1, 5]))).rejects.toThrow(/session was released/);
  });

  it('reports a file the runtime cannot load with the runtime message', async () => {
    writeFileSync(join(dir, 'model.onnx'), 'not a graph');
    await expect(
      createNodeBackend().createSession({ name: ONNX, path: join(dir, 'model.onnx') }, {}),
    ).rejects.toThrow(/protobuf|parse|load/i);
  });

  it('generates the same tokens as the in-process backend, greedy and sampled, with the prefix cache', async () => {
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
      // The second prompt extends the first, so the kept cache was cut back through getData().
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
      const model = await createModel(folder, { sessionThread, prefixCache: false });
      try {
        await model.generate({ inputIds: ids }, { maxNewTokens: 1 });
        let last = performance.now();
        let longest = 0;
        let ticks = 0;
        const timer = setInterval(() => {
          const now = performance.now();
          longest = Math.max(longest, now - last);
          last = now;
          ticks++;
        }, 1);
        const { usage } = await model.generate({ inputIds: ids }, { maxNewTokens: 1 });
        const ticksDuringRun = ticks;
        // Let the timer fire once more: after a blocked run its next tick shows the whole gap.
        await new Promise((resolve) => setTimeout(resolve, 5));
        clearInterval(timer);
        return { longest, ticksDuringRun, runMs: usage.timeToFirstTokenMs };
      } finally {
        await model.dispose();
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
