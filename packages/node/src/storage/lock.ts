import { randomUUID } from 'node:crypto';
import { link, open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';

/** A held lock file; {@link FileLock.release} removes it. */
export interface FileLock {
  /** Removes the lock file if this holder still owns it (it may have been taken over as stale). Safe to call twice. */
  release(): Promise<void>;
}

/** Options of {@link acquireFileLock}. */
export interface FileLockOptions {
  /** A lock whose file was not touched for this long is taken over (default 30 s; holders touch it every third of that). */
  staleMs?: number;
  /** How often a waiter looks again (default 100 ms). */
  pollMs?: number;
}

interface LockInfo {
  id: string;
  pid: number;
  host: string;
}

/**
 * Takes an exclusive lock by creating `path` with O_EXCL, waiting while another process (or
 * another writer in this one) holds it. A lock left by a crashed holder is taken over when its
 * holder process is gone (same host) or its file has not been touched for `staleMs`.
 */
export async function acquireFileLock(path: string, options: FileLockOptions = {}): Promise<FileLock> {
  const staleMs = options.staleMs ?? 30_000;
  const pollMs = options.pollMs ?? 100;
  const info: LockInfo = { id: randomUUID(), pid: process.pid, host: hostname() };
  for (;;) {
    try {
      const handle = await open(path, 'wx');
      try {
        await handle.writeFile(JSON.stringify(info));
      } finally {
        await handle.close();
      }
      const heartbeat = setInterval(() => {
        const now = new Date();
        utimes(path, now, now).catch(() => {});
      }, staleMs / 3);
      heartbeat.unref();
      let released = false;
      return {
        async release() {
          if (released) return;
          released = true;
          clearInterval(heartbeat);
          // Remove the lock only if it is still ours (it may have been taken over as stale).
          const current = await readLockInfo(path);
          if (current?.id === info.id) await unlink(path).catch(() => {});
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (!(await breakIfStale(path, staleMs))) await sleep(pollMs);
  }
}

async function breakIfStale(path: string, staleMs: number): Promise<boolean> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(path)).mtimeMs;
  } catch {
    return true; // released meanwhile: try again at once
  }
  const holder = await readLockInfo(path);
  const dead = holder !== undefined && holder.host === hostname() && !processAlive(holder.pid);
  // A lock file still being written by its creator has no content yet: give it time.
  if (!dead && Date.now() - mtimeMs < staleMs) return false;
  // Move the stale lock aside atomically; if what we moved is not the lock we judged stale (it was
  // replaced in between), put it back without overwriting anything.
  const aside = `${path}.stale-${randomUUID()}`;
  try {
    await rename(path, aside);
  } catch {
    return true;
  }
  const moved = await readLockInfo(aside);
  if (holder !== undefined && moved?.id !== holder.id) await link(aside, path).catch(() => {});
  await unlink(aside).catch(() => {});
  return true;
}

async function readLockInfo(path: string): Promise<LockInfo | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as LockInfo;
    return typeof parsed?.id === 'string' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
