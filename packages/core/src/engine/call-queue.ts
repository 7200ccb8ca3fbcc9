/** Runs async work one piece at a time, in call order (a model's calls share one session and its caches). */
export class CallQueue {
  private tail: Promise<void> = Promise.resolve();

  /** Waits for every earlier holder; the returned function lets the next one in. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const turn = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => turn);
    return ready;
  }

  /** Runs `work` in its turn. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
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
