// The examples/web-chat page, served by its own serve.mjs on 127.0.0.1 with the tiny model: load
// with a progress bar, stream a reply, stop it, see tokens/s. Saves test-results/web-chat.png.
import { mkdir, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain JavaScript module without type declarations.
import { startWebChatServer } from '../../examples/web-chat/serve.mjs';
import { ensureModel } from '../fixtures/models.js';
import { type BrowserSession, buildBundle, hasChromium, launchBrowser } from './harness.js';

const SCREENSHOT = fileURLToPath(new URL('../../test-results/web-chat.png', import.meta.url));

describe.skipIf(!hasChromium)('examples/web-chat in Chromium', () => {
  let bundle: string;
  let server: Server;
  let url: string;
  let browser: BrowserSession;
  let modelDir: string;

  beforeAll(async () => {
    modelDir = await ensureModel('tiny');
    [bundle, browser] = await Promise.all([buildBundle(), launchBrowser()]);
    ({ server, url } = await startWebChatServer({ port: 0, modelDir, bundleDir: bundle }));
  });

  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((ok) => server?.close(ok));
    if (bundle) await rm(bundle, { recursive: true, force: true });
  });

  it('loads the tiny model with progress, streams a reply, stops it, shows tokens/s; loads a picked folder', async () => {
    const page = await browser.newPage();
    await page.setViewportSize({ width: 1000, height: 760 });
    await page.goto(`${url}/`);
    // Record every status line and the progress bar's value with it.
    await page.evaluate(() => {
      const w = window as unknown as { statusLog: { text: string; progress: number }[] };
      w.statusLog = [];
      const status = document.getElementById('status')!;
      const bar = document.getElementById('progress') as HTMLProgressElement;
      new MutationObserver(() =>
        w.statusLog.push({ text: status.textContent ?? '', progress: bar.value }),
      ).observe(status, { childList: true, characterData: true, subtree: true });
    });
    await page.fill('#source', '/models/local/');
    await page.selectOption('#device', 'wasm');
    await page.click('#load');
    await page.waitForFunction(
      () => document.getElementById('status')?.textContent?.startsWith('Ready'),
      null,
      {
        timeout: 60_000,
      },
    );
    const status = await page.textContent('#status');
    expect(status).toMatch(/^Ready: llama on wasm ×\d+ threads/);
    const log = await page.evaluate(
      () => (window as unknown as { statusLog: { text: string; progress: number }[] }).statusLog,
    );
    expect(log.some((s) => /^downloading onnx\/model\.onnx/.test(s.text))).toBe(true);
    expect(log.some((s) => s.progress > 0 && s.progress < 1)).toBe(true);
    expect(
      await page.evaluate(() => (document.getElementById('progress') as HTMLProgressElement).value),
    ).toBe(1);

    // The page samples (temperature 0.7, no seed): a reply may end on its own before Stop can be
    // clicked. Then the test asks again, up to three times.
    for (let attempt = 1; ; attempt++) {
      await page.fill('#prompt', 'Tell me a story about a robot.');
      await page.click('#send');
      // Streaming: text shows up while the Stop button is still enabled (generation running).
      await page.waitForFunction(() => {
        const reply = [...document.querySelectorAll('.message.assistant')].at(-1);
        const stop = document.getElementById('stop') as HTMLButtonElement;
        const send = document.getElementById('send') as HTMLButtonElement;
        return ((reply?.textContent?.length ?? 0) > 20 && !stop.disabled) || !send.disabled;
      });
      const clicked = await page.click('#stop', { timeout: 2_000 }).then(
        () => true,
        () => false,
      );
      if (clicked) break;
      if (attempt === 3) throw new Error('three replies in a row ended before Stop could be clicked');
      await page.waitForFunction(() => !(document.getElementById('send') as HTMLButtonElement).disabled);
    }
    await page.waitForSelector('.message.assistant.stopped');
    await page.waitForFunction(() => !(document.getElementById('send') as HTMLButtonElement).disabled);
    const speed = (await page.textContent('#speed')) ?? '';
    const match = /([\d.]+) tokens\/s · stopped after (\d+) tokens/.exec(speed);
    expect(match, speed).not.toBeNull();
    expect(Number(match![1])).toBeGreaterThan(0);
    expect(Number(match![2])).toBeGreaterThan(0);
    expect(Number(match![2])).toBeLessThan(256);
    expect(await page.isDisabled('#stop')).toBe(true);
    await mkdir(fileURLToPath(new URL('../../test-results/', import.meta.url)), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // A model folder picked from disk loads without any model request.
    const before = await page.evaluate(() => performance.getEntriesByType('resource').length);
    await page.evaluate(() => {
      document.getElementById('status')!.textContent = '';
    });
    await page.setInputFiles('#folder', modelDir);
    await page.waitForFunction(
      () =>
        /^Ready: .*\bin [\d.]+ s\.$/.test(document.getElementById('status')?.textContent ?? '') &&
        document.querySelectorAll('.message').length === 0,
    );
    const requested = await page.evaluate(
      (n) =>
        performance
          .getEntriesByType('resource')
          .slice(n)
          .map((e) => new URL(e.name).pathname),
      before,
    );
    expect(requested.filter((p) => p.startsWith('/models/'))).toEqual([]);
    await page.fill('#prompt', 'Hello');
    await page.fill('#max-tokens', '5');
    await page.click('#send');
    await page.waitForFunction(() => /· 5 tokens$/.test(document.getElementById('speed')?.textContent ?? ''));

    expect(browser.foreignRequests).toEqual([]);
    expect(browser.console.filter((line) => line.startsWith('pageerror'))).toEqual([]);
    await page.close();
  });
});
