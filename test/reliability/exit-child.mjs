// Run by process-exit.test.ts as a fresh process (plain node, no tsx): a long generation on the
// session thread (the default), and an exit in the middle of it.
// Usage: node exit-child.mjs <@slmkit/node entry> <model dir> <how> <when>
//   how:  a number: process.exit(<how>) from this process itself
//         sigint:   process.exit(130) from a SIGINT handler; the test sends the signal on "exit now"
//         throw:    an exception nothing catches (Node exits with code 1)
//   when: prefill:  as soon as the stream asks the session thread for its first run, the prefill of
//                   a 256-token prompt (one run of about 100 ms)
//         decode:   just after the first tokens of a short prompt stream (runs of a millisecond or two)
// Just before it exits, it prints what it saw: "exiting: <runs asked for> <runs answered> <tokens>".
import { Worker } from 'node:worker_threads';

const [entry, dir, how, when] = process.argv.slice(2);
const { createModel } = await import(entry);
const model = await createModel(dir);

// The run requests this process posts to the session thread after loading, and the replies to them
// it has received: a run asked for and not answered is one under way (or queued) on the thread.
let asked = 0;
let answered = 0;
const pending = new Set();
const post = Worker.prototype.postMessage;
Worker.prototype.postMessage = function (message, ...rest) {
  const result = post.call(this, message, ...rest);
  if (message?.op === 'run') {
    pending.add(message.id);
    if (++asked === 1 && when === 'prefill') exitNow();
  }
  return result;
};
const emit = Worker.prototype.emit;
Worker.prototype.emit = function (event, reply, ...rest) {
  if (event === 'message' && pending.delete(reply?.id)) answered++;
  return emit.call(this, event, reply, ...rest);
};
let tokens = 0;
const report = () => process.stdout.write(`exiting: ${asked} ${answered} ${tokens}\n`);

if (how === 'sigint') {
  process.on('SIGINT', () => {
    report();
    process.exit(130);
  });
}

function exitNow() {
  if (how === 'sigint') {
    process.stdout.write('exit now\n');
    return;
  }
  // From a timer, so that it lands while a run is under way on the session thread (the stream's
  // loop body runs between runs, while the thread waits).
  setTimeout(() => {
    report();
    if (how === 'throw') throw new Error('uncaught, on purpose');
    process.exit(Number(how));
  }, 1);
}
const prompt =
  when === 'prefill'
    ? { inputIds: Array.from({ length: 256 }, (_, i) => 3 + ((i * 7919) % 31990)) }
    : 'Once upon a time';
const stream = model.stream(prompt, { maxNewTokens: 1500, temperature: 0 });
for await (const _ of stream) {
  if (++tokens === 1 && when === 'decode') exitNow();
}
// Not reached before the exit: 1,500 tokens take seconds.
process.stdout.write('finished\n');
