// Run by process-exit.test.ts as a fresh process (plain node, no tsx): a long generation on the
// session thread (the default), and an exit in the middle of it.
// Usage: node exit-child.mjs <@slmkit/node entry> <model dir> <how> <when>
//   how:  a number: process.exit(<how>) from this process itself
//         sigint:   process.exit(130) from a SIGINT handler; the test sends the signal on "exit now"
//         throw:    an exception nothing catches (Node exits with code 1)
//   when: prefill:  during the prefill of a 256-token prompt (one run of about 100 ms)
//         decode:   just after the first tokens of a short prompt stream (runs of a millisecond or two)
const [entry, dir, how, when] = process.argv.slice(2);
const { createModel } = await import(entry);
const model = await createModel(dir);
if (how === 'sigint') process.on('SIGINT', () => process.exit(130));

const exitNow = () => {
  if (how === 'sigint') {
    process.stdout.write('exit now\n');
    return;
  }
  // From a timer, so that it lands while a run is under way on the session thread (the stream's
  // loop body runs between runs, while the thread waits).
  setTimeout(() => {
    if (how === 'throw') throw new Error('uncaught, on purpose');
    process.exit(Number(how));
  }, 1);
};
const prompt =
  when === 'prefill'
    ? { inputIds: Array.from({ length: 256 }, (_, i) => 3 + ((i * 7919) % 31990)) }
    : 'Once upon a time';
const stream = model.stream(prompt, { maxNewTokens: 1500, temperature: 0 });
let tokens = 0;
process.stdout.write('generating\n');
if (when === 'prefill') setTimeout(exitNow, 20);
for await (const _ of stream) {
  if (++tokens !== 1) continue;
  process.stdout.write('streaming\n');
  if (when === 'decode') exitNow();
}
// Not reached before the exit: 1,500 tokens take seconds.
process.stdout.write('finished\n');
