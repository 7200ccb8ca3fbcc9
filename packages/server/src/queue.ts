// One model runs one request at a time; the others wait here, at most `maxQueue` of them.
import { HttpError } from './errors.js';

/** Starts a waiting request. */
type Waiter = () => void;

/** The line of requests for one model: one runs, up to `maxQueue` wait, the rest get a 429 at once. */
export class RequestQueue {
  readonly #maxQueue: number;
  #running = false;
  readonly #waiting: Waiter[] = [];

  constructor(maxQueue: number) {
    this.#maxQueue = maxQueue;
  }

  /** Requests waiting (not counting the one running). */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Resolves with the release function once it is this request's turn. Rejects at once with a 429
   * when the queue is full, and with the signal's reason when the client leaves while it waits (it
   * then no longer holds a place).
   */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (!this.#running) {
      this.#running = true;
      return Promise.resolve(this.#releaser());
    }
    if (this.#waiting.length >= this.#maxQueue) {
      return Promise.reject(
        new HttpError(
          429,
          `The server is busy: ${this.#waiting.length} requests are already waiting for this model (maxQueue ${this.#maxQueue}). Retry later.`,
          { type: 'requests', code: 'rate_limit_exceeded', headers: { 'retry-after': '1' } },
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const at = this.#waiting.indexOf(waiter);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(signal.reason);
      };
      const waiter: Waiter = () => {
        signal.removeEventListener('abort', onAbort);
        resolve(this.#releaser());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  /** A function that hands the model to the next waiter (once, however often it is called). */
  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running = false;
    };
  }
}
