/** Runs async work one piece at a time, in call order (a model's calls share one session and cache). */
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

  /** Resolves once everything queued so far has finished. */
  async drain(): Promise<void> {
    const release = await this.acquire();
    release();
  }
}
