// The web-chat example: loads a model in a Web Worker with a progress bar, then chats with streamed
// output, a Stop button and a tokens/s readout. Served by serve.mjs (see README.md).
import { createWorkerModel, SlmkitError } from './slmkit/slmkit-web.js';

const $ = (id) => document.getElementById(id);
const ui = {
  loadForm: $('load-form'),
  source: $('source'),
  folder: $('folder'),
  device: $('device'),
  load: $('load'),
  progress: $('progress'),
  status: $('status'),
  chat: $('chat'),
  promptForm: $('prompt-form'),
  prompt: $('prompt'),
  maxTokens: $('max-tokens'),
  send: $('send'),
  stop: $('stop'),
  speed: $('speed'),
};

let worker;
let model;
let messages = [];
let generation;

const mb = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

function setStatus(text) {
  ui.status.textContent = text;
}

function onProgress(p) {
  if (p.phase === 'download') {
    if (p.total) ui.progress.value = p.loaded / p.total;
    const verb = p.cached ? 'from cache' : 'downloading';
    setStatus(`${verb} ${p.file} — ${mb(p.loaded)}${p.total ? ` of ${mb(p.total)}` : ''}`);
  } else if (p.phase === 'load') {
    ui.progress.value = 1;
    setStatus(`Loading ${p.file} into onnxruntime-web…`);
  }
}

async function load(source) {
  ui.load.disabled = true;
  ui.prompt.disabled = ui.send.disabled = true;
  ui.progress.value = 0;
  await model?.dispose().catch(() => {});
  worker?.terminate();
  messages = [];
  ui.chat.replaceChildren();
  worker = new Worker(new URL('./slmkit/worker.js', import.meta.url), { type: 'module' });
  const started = performance.now();
  try {
    model = await createWorkerModel(worker, source, {
      device: ui.device.value,
      // More than one thread needs a cross-origin isolated page (serve.mjs sends COOP/COEP).
      numThreads: crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1,
      onProgress,
      onWarning: (message) => console.warn(message),
    });
    const { executionProvider, numThreads } = model.runtime;
    setStatus(
      `Ready: ${model.config.modelType} on ${executionProvider}${executionProvider === 'wasm' ? ` ×${numThreads} threads` : ''}, loaded in ${((performance.now() - started) / 1000).toFixed(1)} s.`,
    );
    ui.prompt.disabled = ui.send.disabled = false;
    ui.prompt.focus();
  } catch (error) {
    model = undefined;
    setStatus(
      `Could not load the model: ${error instanceof SlmkitError ? `[${error.code}] ` : ''}${error.message}`,
    );
  } finally {
    ui.load.disabled = false;
  }
}

function addMessage(role, text) {
  const div = document.createElement('div');
  div.className = `message ${role}`;
  div.textContent = text;
  ui.chat.append(div);
  ui.chat.scrollTop = ui.chat.scrollHeight;
  return div;
}

async function send(text) {
  messages.push({ role: 'user', content: text });
  addMessage('user', text);
  const out = addMessage('assistant', '');
  generation = new AbortController();
  ui.send.disabled = true;
  ui.stop.disabled = false;
  ui.speed.textContent = '';
  let answer = '';
  let tokens = 0;
  let firstTokenAt;
  try {
    const stream = model.stream(messages, {
      maxNewTokens: Number(ui.maxTokens.value) || 256,
      temperature: 0.7,
      topP: 0.95,
      signal: generation.signal,
    });
    for await (const chunk of stream) {
      answer += chunk.text;
      out.textContent = answer;
      tokens++;
      firstTokenAt ??= performance.now();
      const seconds = (performance.now() - firstTokenAt) / 1000;
      if (seconds > 0) ui.speed.textContent = `${((tokens - 1) / seconds).toFixed(1)} tokens/s`;
      ui.chat.scrollTop = ui.chat.scrollHeight;
    }
    const { usage } = await stream.result;
    ui.speed.textContent = `${usage.decodeTokensPerSecond.toFixed(1)} tokens/s · ${usage.completionTokens} tokens`;
  } catch (error) {
    if (error instanceof SlmkitError && error.code === 'ABORTED') {
      out.classList.add('stopped');
      ui.speed.textContent += ` · stopped after ${tokens} tokens`;
    } else {
      out.classList.add('error');
      out.textContent = `${answer}\n[${error.code ?? 'error'}] ${error.message}`;
    }
  } finally {
    messages.push({ role: 'assistant', content: answer });
    generation = undefined;
    ui.send.disabled = false;
    ui.stop.disabled = true;
  }
}

ui.loadForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const source = ui.source.value.trim();
  // A path on this server (resolved against the page by createWorkerModel), an http(s) URL or a hub id.
  if (source) void load(source);
});

ui.folder.addEventListener('change', () => {
  if (ui.folder.files?.length) void load(ui.folder.files);
});

ui.promptForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.prompt.value.trim();
  if (!text || !model || generation) return;
  ui.prompt.value = '';
  void send(text);
});

ui.prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey) {
    event.preventDefault();
    ui.promptForm.requestSubmit();
  }
});

ui.stop.addEventListener('click', () => generation?.abort());
