// The examples users copy must run. They use the generated tiny model when given no folder.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);
// One process with tsx's loader: `npx tsx` starts npm, then the tsx CLI, which starts node again.
const tsx = (script: string) =>
  exec(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 120_000 });

describe('examples', () => {
  it('node-demo streams a chat reply with a usage line', async () => {
    const { stdout } = await tsx('examples/node-demo.ts');
    expect(stdout).toMatch(/^model: .*\nuser: .*\nassistant: /);
    expect(stdout).toMatch(
      /\[length\] prompt \d+ tokens, 64 new tokens, first token after \d+ ms, [\d.]+ tokens\/s/,
    );
  });

  it('chat runs sessions, forks, snapshots, sequences and a saved prefix', async () => {
    const { stdout } = await tsx('examples/chat.ts');
    expect(stdout).toMatch(/^assistant: .*\nturn 2 reused [1-9]\d* of \d+ prompt tokens\nmessages: 5\n/);
    expect(stdout).toContain('forks differ: true');
    expect(stdout).toMatch(/snapshot \d+ bytes; restored chat continues the same: true/);
    expect(stdout).toMatch(/sequence holds \d+ tokens; reused [1-9]/);
    expect(stdout).toContain('truncated copy holds 2 tokens');
    expect(stdout).toMatch(/prefix: \d+ tokens \(computed\); answer reused [1-9]/);
  });

  it('generation-tour runs every step', async () => {
    const { stdout } = await tsx('examples/generation-tour.ts');
    expect(stdout).toContain('same seed, same tokens: true');
    expect(stdout).toContain('stream ended: cancelled');
    expect(stdout).toContain('batch: [ 8, 8 ]');
    expect(stdout).toContain('no token twice: true');
    expect(stdout).toContain('no token thrice: true');
    expect(stdout).toContain('logprobs: 3 steps; greedy picks the likeliest: true');
    expect(stdout).toContain('aborted: ABORTED');
    expect(stdout).toContain('INVALID_OPTION: topP must be in (0, 1]; got 2.');
  });

  it('structured-output gets schema, regex, grammar and chat outputs, and a refusal', async () => {
    const { stdout } = await tsx('examples/structured-output.ts');
    expect(stdout).toMatch(/^json_schema: stop \{"city":".*","population":\d+,"capital":(true|false)\}\n/);
    expect(stdout).toContain('population in [1, 999]: true');
    expect(stdout).toMatch(/\nregex: stop 20\d\d-(0[1-9]|1[0-2])-[0-2]\d\n/);
    expect(stdout).toMatch(/\ngrammar: stop (red|green|blue)(, (red|green|blue)){1,2}\.\n/);
    expect(stdout).toMatch(/\nchat: ([1-9]|10) \/ next turn, unconstrained: (length|eos)\n/);
    expect(stdout).toContain(
      'INVALID_OPTION: responseFormat.schema at /maximum: maximum is supported only on integers',
    );
  });

  it('openai-server serves the tiny model and answers fetch calls in OpenAI shapes', async () => {
    const { stdout } = await tsx('examples/openai-server.ts');
    expect(stdout).toMatch(/^listening on http:\/\/127\.0\.0\.1:\d+\nmodels: tiny\n/);
    expect(stdout).toMatch(/\nchat: \[length\] ".*" \(\d+ \+ 8 tokens\)\n/);
    expect(stdout).toMatch(/\nstream: \d+ events, same text: true\n/);
    expect(stdout).toContain(
      "400 temperature: Invalid type for 'temperature': expected a number, but got a string instead.",
    );
  });

  it('tools makes a required call in a chat, answers with its result and streams a named call', async () => {
    const { stdout } = await tsx('examples/tools.ts');
    expect(stdout).toMatch(
      /^finish: tool-calls \| call: get_weather \{"city":".{2,20}","unit":"(celsius|fahrenheit)"\}\n/,
    );
    expect(stdout).toContain('roles: system → user → assistant → tool → assistant');
    expect(stdout).toMatch(/\nanswer: (length|eos) \(reused [1-9]\d* prompt tokens\)\n/);
    expect(stdout).toMatch(/\nstreamed call: get_weather \{"city":/);
    expect(stdout).toContain(
      'INVALID_OPTION: toolChoice names "send_email", which is not one of the tools (get_weather).',
    );
  });

  it('ai-sdk runs generateText, streamText, a zod object and a tool loop through @slmkit/ai-sdk', async () => {
    const { stdout } = await tsx('examples/ai-sdk.ts');
    expect(stdout).toMatch(/^generateText: \[length\] ".*" \(\d+ \+ 12 tokens\)\n/);
    expect(stdout).toMatch(/\nstreamText: same text: true, cached prompt tokens: [1-9]\d* of \d+\n/);
    expect(stdout).toMatch(/\nobject: \{"city":".*","population":\d+\}, valid: true\n/);
    expect(stdout).toMatch(
      /\ntool call: get_weather\(\{"city":".*"\}\) -> \{"city":".*","tempC":21,"sky":"clear"\}\n/,
    );
    expect(stdout).toMatch(/\nanswer: \[length\] ".*"\n$/);
  });

  it('testing checks code against createTestModel', async () => {
    const { stdout } = await tsx('examples/testing.ts');
    expect(stdout).toMatch(/^ok 1 - streamed \d+ tokens, as returned\n/);
    expect(stdout).toContain('ok 2 - the same seed gives the same reply');
    expect(stdout).toContain('ok 3 - forced reply {"city": "Oslo"}');
    expect(stdout).toMatch(/ok 4 - after 6 turns the chat keeps \d+ of 13 messages/);
  });
});
