// The ready-made model worker of the browser bundle: `new Worker('/slmkit/worker.js', { type: 'module' })`.
import { serveModelWorker } from './worker/serve.js';

serveModelWorker();
