import type { InferenceSession as OrtSession, Tensor } from 'onnxruntime-common';
import type { InferenceSession, SessionOptions, ValueInfo } from './backend.js';

/** Metadata of a session's tensor inputs or outputs, keyed by name (other kinds are left out). */
export function describeOrtValues(metadata: readonly OrtSession.ValueMetadata[]): Record<string, ValueInfo> {
  const described: Record<string, ValueInfo> = {};
  for (const value of metadata) {
    if (!value.isTensor) continue;
    described[value.name] = { name: value.name, type: value.type, shape: value.shape };
  }
  return described;
}

/**
 * Wraps a session of any onnxruntime-common based runtime (onnxruntime-node, onnxruntime-web) as
 * slmkit's {@link InferenceSession}; shared by the node and web backends.
 */
export function wrapOrtSession(session: OrtSession): InferenceSession {
  let released = false;
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputMetadata: describeOrtValues(session.inputMetadata),
    outputMetadata: describeOrtValues(session.outputMetadata),
    // Every output comes back on the CPU: in-process, there is nowhere else to keep one.
    run: (feeds) => session.run(feeds) as Promise<Record<string, Tensor>>,
    async release() {
      if (released) return;
      released = true;
      await session.release();
    },
  };
}

/** Maps slmkit's session options to onnxruntime-common's. */
export function toOrtSessionOptions(options: SessionOptions): OrtSession.SessionOptions {
  const extra: Record<string, string> = { ...options.extra };
  if (options.allowSpinning === false) {
    extra['session.intra_op.allow_spinning'] = '0';
    extra['session.inter_op.allow_spinning'] = '0';
  }
  const ortOptions: OrtSession.SessionOptions = {
    interOpNumThreads: options.interOpNumThreads ?? 1,
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    extra,
  };
  // Runtimes reject keys that are present but undefined.
  if (options.executionProviders) ortOptions.executionProviders = [...options.executionProviders];
  if (options.intraOpNumThreads !== undefined) ortOptions.intraOpNumThreads = options.intraOpNumThreads;
  return ortOptions;
}
