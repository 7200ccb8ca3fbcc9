// The long fuzz run: the properties of test/reliability/fuzz.test.ts with more runs and a random
// seed (printed first, so a failure can be replayed). Not part of the test suite.
//
//   npm run fuzz                          scale 10, a random seed, survey mode (see below)
//   npm run fuzz -- --seed 123 --scale 40
//   npm run fuzz -- --strict              stop at the first failure and shrink it (fast-check's report)
//   npm run fuzz -- --known               also generate the inputs of the known defects (KNOWN(n) in
//                                         the test; docs/reliability.md) to see which are fixed
//   npm run fuzz -- -t sequences          only the properties whose name matches
//
// Survey mode (the default) does not stop at a failure: it runs every property to its count and
// lists each distinct failure once, with the shortest case that showed it. Exits 1 when anything
// failed.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string' },
    scale: { type: 'string', default: '10' },
    strict: { type: 'boolean', default: false },
    known: { type: 'boolean', default: false },
    t: { type: 'string' },
    'call-ms': { type: 'string', default: '15000' },
  },
});
const seed = args.seed ?? String(Math.floor(Math.random() * 2 ** 31));
const report = join(tmpdir(), `slmkit-fuzz-${process.pid}.json`);
console.log(
  `fuzz: seed ${seed}, scale ${args.scale}${args.strict ? ', strict' : ', survey'}${args.known ? ', known defects included' : ''}`,
);
console.log(
  `      replay: npm run fuzz -- --seed ${seed} --scale ${args.scale}${args.known ? ' --known' : ''}\n`,
);

const vitest = spawnSync(
  'npx',
  ['vitest', 'run', 'test/reliability/fuzz.test.ts', ...(args.t ? ['-t', args.t] : [])],
  {
    stdio: 'inherit',
    env: {
      ...process.env,
      SLMKIT_FUZZ_SEED: seed,
      SLMKIT_FUZZ_SCALE: args.scale,
      SLMKIT_FUZZ_CALL_MS: args['call-ms'],
      SLMKIT_FUZZ_KNOWN: args.known ? '1' : '0',
      SLMKIT_FUZZ_SURVEY: args.strict ? '0' : '1',
      SLMKIT_FUZZ_REPORT: report,
    },
  },
);

let found = 0;
if (existsSync(report)) {
  const parsed = JSON.parse(readFileSync(report, 'utf8')) as { found: unknown[] };
  found = parsed.found.length;
  rmSync(report);
}
console.log(
  `\nfuzz: seed ${seed}: ${vitest.status === 0 ? 'vitest passed' : `vitest exited ${vitest.status}`}${args.strict ? '' : `, ${found} distinct failures`}`,
);
process.exitCode = vitest.status === 0 && found === 0 ? 0 : 1;
