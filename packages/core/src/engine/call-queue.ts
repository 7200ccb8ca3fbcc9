import { abortedError } from '../spec/errors.js';

/** Runs async work one piece at a time, in call order (a model's calls share one session and its caches). */
export class CallQueue {
  private tail: Promise<void> = Promise.resolve();

  /**
   * Waits for every earlier holder; the returned function lets the next one in. With `signal`, a
   * wait that is aborted rejects with ABORTED at once, and its turn is handed on when it comes.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    let release!: () => void;
    const turn = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => turn);
    if (!signal) return ready;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        reject(abortedError(signal, 'The call was aborted while it waited for earlier calls.'));
        void ready.then((handOn) => handOn());
      };
      try {
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
      } catch (error) {
        // Not a real AbortSignal: the turn must not stay taken.
        reject(error);
        void ready.then((handOn) => handOn());
        return;
      }
      void ready.then((own) => {
        signal.removeEventListener('abort', onAbort);
        // Aborted while waiting: the turn was handed on already.
        if (!signal.aborted) resolve(own);
      });
    });
  }

  /** Runs `work` in its turn (see {@link acquire} for `signal`). */
  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await work();
    } finally {
      release();
    }
  }

  /** Resolves once everything queued so far has finished. */
  async drain(): Promise<void> {
    await this.run(async () => {});
  }
}
