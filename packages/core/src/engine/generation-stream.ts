import { SlmkitError } from '../spec/errors.js';
import type { GenerationStream, StreamChunk } from '../spec/generation.js';

/** One generation as a stream runs it: its chunks, its results so far, and what to do when it ends. */
export interface StreamedRun<R> {
  /** The run's chunks, in order, iterated once by the stream. */
  chunks(): AsyncIterable<StreamChunk>;
  /** The results once it ended without an error (unfinished sequences as 'cancelled'). */
  result(): R | Promise<R>;
  /** Called once when the generation ends, however it ends (`failed`: it threw). */
  close?(failed: boolean): void;
}

/**
 * The streams of one model that hold its turn right now, so `dispose()` can end one that its caller
 * stopped reading without leaving the loop (it would otherwise hold the model forever).
 */
export type OpenStreams = Set<AsyncGenerator<StreamChunk>>;

/**
 * A {@link GenerationStream} over a run that starts when `open` is called, in the caller's turn of
 * the model's queue (`acquire`). Iterate it once; awaiting `result` alone consumes it; breaking
 * out of the loop ends the run with its results so far. While it holds the turn it is in `open`.
 */
export function queuedStream<R>(
  acquire: () => Promise<() => void>,
  open: () => Promise<StreamedRun<R>>,
  openStreams?: OpenStreams,
): GenerationStream<R> {
  let resolveResult!: (r: R) => void;
  let rejectResult!: (e: unknown) => void;
  const result = new Promise<R>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  // Callers who only iterate must not see an unhandled rejection from the result they never read.
  result.catch(() => {});
  let started = false;
  let self: AsyncGenerator<StreamChunk> | undefined;
  const chunks = async function* (): AsyncGenerator<StreamChunk> {
    let release: (() => void) | undefined;
    let run: StreamedRun<R> | undefined;
    let failed = false;
    try {
      release = await acquire();
      if (self) openStreams?.add(self);
      run = await open();
      yield* run.chunks();
    } catch (error) {
      failed = true;
      rejectResult(error);
      throw error;
    } finally {
      // Also reached when the caller breaks out of the loop.
      try {
        run?.close?.(failed);
        if (run && !failed) resolveResult(await run.result());
      } catch (error) {
        rejectResult(error);
      } finally {
        if (self) openStreams?.delete(self);
        release?.();
      }
    }
  };
  const iterate = () => {
    if (started) throw new SlmkitError('INVALID_INPUT', 'A generation stream can be iterated only once.');
    started = true;
    self = chunks();
    return self;
  };
  return {
    [Symbol.asyncIterator]: iterate,
    get result() {
      if (!started) {
        void (async () => {
          for await (const _ of iterate()) {
            // Consumed for the result.
          }
        })().catch(() => {});
      }
      return result;
    },
  };
}
