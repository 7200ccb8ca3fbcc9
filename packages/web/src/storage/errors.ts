import { SlmkitError } from '@slmkit/core';

/** True for the DOMException a browser throws when an origin's storage quota is used up. */
export function isQuotaError(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name;
  return name === 'QuotaExceededError' || name === 'NS_ERROR_DOM_QUOTA_REACHED';
}

/** Turns a browser storage failure into a `STORAGE_ERROR` that says what to do about it. */
export function storageError(error: unknown, what: string): SlmkitError {
  if (error instanceof SlmkitError) return error;
  if (isQuotaError(error)) {
    return new SlmkitError(
      'STORAGE_ERROR',
      `Browser storage is full (QuotaExceededError) while ${what}. Nothing incomplete was kept. Free space (e.g. storage.clear() for models no longer needed), ask for more with navigator.storage.persist(), or load the model without caching.`,
      { cause: error },
    );
  }
  return new SlmkitError(
    'STORAGE_ERROR',
    `Browser storage failed while ${what}: ${(error as Error)?.message ?? error}`,
    {
      cause: error,
    },
  );
}

/** Lower-case hex sha256 of `data` (Web Crypto), or undefined where Web Crypto is unavailable (insecure origins). */
export async function sha256Hex(data: BufferSource): Promise<string | undefined> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return undefined;
  const digest = new Uint8Array(await subtle.digest('SHA-256', data));
  let hex = '';
  for (const byte of digest) hex += byte.toString(16).padStart(2, '0');
  return hex;
}
