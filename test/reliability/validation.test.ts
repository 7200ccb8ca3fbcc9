// Bad input gets a typed SlmkitError that says what is wrong and what to do, and the model stays
// usable: graphs without a KV cache, invalid config.json / generation_config.json values, options
// of the wrong type, unreadable model files, greedy decoding with nothing to choose, invalid chat
// messages and async logits processors.
import { execFile } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type LocalLanguageModel, type LogitsProcessor, SlmkitError } from '@slmkit/core';
import { createModel } from '@slmkit/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttentionInputs } from '../../packages/core/src/engine/attention-inputs.js';
import { createRng } from '../../packages/core/src/logits/rng.js';
import { TokenSampler } from '../../packages/core/src/logits/sampler.js';
import { showValue } from '../../packages/core/src/spec/errors.js';
import { StopStringMatcher } from '../../packages/core/src/text/stop-strings.js';
import { ensureModel } from '../fixtures/models.js';
import { floatTensor, GraphBuilder } from '../fixtures/onnx-graph.js';
import { DataType, onnx } from '../fixtures/onnx-proto.js';

const GREEDY = { maxNewTokens: 5 } as const;

async function caught(action: () => unknown): Promise<unknown> {
  try {
    await action();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Runs `action` and checks it failed with a SlmkitError of `code` whose message matches `text`. */
async function expectError(action: () => unknown, code: string, text?: RegExp): Promise<SlmkitError> {
  const error = await caught(action);
  expect(error, `expected SlmkitError ${code}, got ${String(error)}`).toBeInstanceOf(SlmkitError);
  expect((error as SlmkitError).code, (error as Error).message).toBe(code);
  if (text) expect((error as SlmkitError).message).toMatch(text);
  return error as SlmkitError;
}

/** Loading `dir` fails with `code` (a model that loads anyway is disposed, and the check fails). */
function expectLoadError(dir: string, code: string, text: RegExp): Promise<SlmkitError> {
  return expectError(
    async () => {
      const model = await createModel(dir);
      await model.dispose();
    },
    code,
    text,
  );
}

let folder: string;
/** The shared model every call test runs its bad calls on. */
let model: LocalLanguageModel;
/** What a fresh model generates greedily for 'Hello' (GREEDY). */
let baseline: number[];
const copies: string[] = [];

/** A copy of the tiny model's folder in a temporary directory, changed by `edit`. */
function copyTiny(edit: (dir: string) => void = () => {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'slmkit-validation-'));
  copies.push(dir);
  cpSync(folder, dir, { recursive: true });
  edit(dir);
  return dir;
}

function editJson(dir: string, file: string, change: (json: Record<string, unknown>) => void): void {
  const json = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  change(json);
  writeFileSync(join(dir, file), JSON.stringify(json));
}

/** The shared model still generates what a fresh one does. */
async function expectUsable(): Promise<void> {
  expect((await model.generate('Hello', GREEDY)).tokenIds).toEqual(baseline);
}

beforeAll(async () => {
  folder = await ensureModel('tiny');
  const fresh = await createModel(folder);
  baseline = (await fresh.generate('Hello', GREEDY)).tokenIds;
  await fresh.dispose();
  model = await createModel(folder);
});

afterAll(async () => {
  await model?.dispose();
  for (const dir of copies) {
    chmodRecursive(dir);
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Makes everything under `dir` accessible again so it can be removed. */
function chmodRecursive(dir: string): void {
  try {
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'onnx'), 0o755);
  } catch {
    // already gone
  }
}

/**
 * A graph that declares input_ids and attention_mask → logits [batch, sequence, vocab] and no
 * past_key_values (it multiplies the ids by a vector: loadable, and never meant to be run).
 */
function writeGraphWithoutPast(path: string, vocab = 32000): void {
  const g = new GraphBuilder();
  g.input('input_ids', DataType.INT64, ['batch_size', 'sequence_length']);
  g.input('attention_mask', DataType.INT64, ['batch_size', 'total_sequence_length']);
  g.output('logits', DataType.FLOAT, ['batch_size', 'sequence_length', vocab]);
  const ids = g.op('Cast', '/Cast', ['input_ids'], { to: DataType.FLOAT });
  const column = g.op('Unsqueeze', '/Unsqueeze', [ids, g.ints([2])]);
  const weights = g.initializer(
    floatTensor(
      '/lm_head/weight',
      Array.from({ length: vocab }, (_, i) => (i % 7) / 7),
      [vocab],
    ),
  );
  g.op('Mul', '/lm_head/Mul', [column, weights], {}, 'logits');
  const proto = { irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: g.graph('main_graph') };
  writeFileSync(path, onnx.ModelProto.encode(onnx.ModelProto.create(proto)).finish());
}

describe('item 2: a graph without a KV cache', () => {
  it('is refused with UNSUPPORTED_MODEL saying why', async () => {
    const dir = copyTiny((d) => writeGraphWithoutPast(join(d, 'onnx/model.onnx')));
    const error = await expectLoadError(dir, 'UNSUPPORTED_MODEL', /past_key_values/);
    expect(error.message).toMatch(/onnx\/model\.onnx/);
    expect(error.message).toMatch(/input_ids, attention_mask/);
    expect(error.message).toMatch(/with-past|KV cache/);
  });
});

describe('item 5: generation_config.json values are checked like call options', () => {
  const cases: [string, unknown, RegExp][] = [
    ['max_new_tokens', -1, /an integer >= 0/],
    ['repetition_penalty', 0, /> 0/],
    ['temperature', -1, /a finite number >= 0/],
    ['top_k', -5, /an integer >= 0/],
    ['top_p', 1.5, /\(0, 1\]/],
    ['min_p', '0.1', /\[0, 1\]/],
    ['do_sample', 'true', /a boolean/],
  ];
  for (const [field, value, rule] of cases) {
    it(`refuses ${field}: ${JSON.stringify(value)} at load, naming the file and field`, async () => {
      const dir = copyTiny((d) =>
        editJson(d, 'generation_config.json', (json) => {
          json[field] = value;
        }),
      );
      const error = await expectLoadError(
        dir,
        'MODEL_FILE_INVALID',
        new RegExp(`generation_config\\.json.*${field}`),
      );
      expect(error.message).toMatch(rule);
      expect(error.message).toContain(dir);
    });
  }

  it('still loads valid defaults and uses them', async () => {
    const dir = copyTiny((d) =>
      editJson(d, 'generation_config.json', (json) => {
        Object.assign(json, { max_new_tokens: 3, do_sample: false, temperature: 0.7, top_k: 20, top_p: 0.9 });
      }),
    );
    const other = await createModel(dir);
    try {
      expect((await other.generate('Hello')).tokenIds).toEqual(baseline.slice(0, 3));
    } finally {
      await other.dispose();
    }
  });
});

describe('item 5: config.json values are checked at load', () => {
  const cases: [string, string, (json: Record<string, unknown>) => void, RegExp][] = [
    [
      'a negative max_position_embeddings',
      'config.json',
      (json) => {
        json.max_position_embeddings = -5;
      },
      /config\.json.*max_position_embeddings.*positive integer/,
    ],
    [
      'a string eos_token_id',
      'config.json',
      (json) => {
        json.eos_token_id = '2';
      },
      /config\.json.*eos_token_id.*"2"/,
    ],
    [
      'an eos_token_id list with a string',
      'config.json',
      (json) => {
        json.eos_token_id = [2, 'x'];
      },
      /config\.json.*eos_token_id/,
    ],
    [
      'an eos_token_id outside the vocabulary',
      'config.json',
      (json) => {
        json.eos_token_id = 32000;
      },
      /config\.json.*eos_token_id.*32000.*\[0, 32000\)/,
    ],
    [
      'a string eos_token_id in generation_config.json',
      'generation_config.json',
      (json) => {
        json.eos_token_id = '2';
      },
      /generation_config\.json.*eos_token_id/,
    ],
    [
      'a vocab_size larger than the graph’s logits',
      'config.json',
      (json) => {
        json.vocab_size = 40000;
      },
      /vocab_size 40000.*32000 logits/,
    ],
  ];
  for (const [name, file, change, message] of cases) {
    it(`refuses ${name} with MODEL_FILE_INVALID`, async () => {
      const dir = copyTiny((d) => editJson(d, file, change));
      await expectLoadError(dir, 'MODEL_FILE_INVALID', message);
    });
  }

  it('loads a graph whose logits exceed vocab_size (a padded vocabulary) and never picks the padding', async () => {
    const dir = copyTiny((d) =>
      editJson(d, 'config.json', (json) => {
        json.vocab_size = 31000;
      }),
    );
    const other = await createModel(dir);
    try {
      // The rows stages see end at vocab_size, so not even a processor can prefer a padding id.
      const widths = new Set<number>();
      const pad: LogitsProcessor = (logits) => {
        widths.add(logits.length);
        logits[31500] = 1e4;
      };
      const result = await other.generate('Hello', { ...GREEDY, logitsProcessors: [pad] });
      expect([...widths]).toEqual([31000]);
      expect(result.tokenIds).toEqual(baseline);
    } finally {
      await other.dispose();
    }
  });
});

describe('item 6: options of the wrong type are INVALID_OPTION, not TypeError', () => {
  const cases: [string, unknown, RegExp][] = [
    ['options: null', null, /options must be an object/],
    ['options: "fast"', 'fast', /options must be an object/],
    ['stop: 5', { stop: 5 }, /stop must be a string or an array of strings/],
    ['stop: [5]', { stop: [5] }, /stop strings must be non-empty strings/],
    ['stop: null', { stop: null }, /stop must be/],
    ['eosTokenIds: 2', { eosTokenIds: 2 }, /eosTokenIds must be an array/],
    ['eosTokenIds: ["2"]', { eosTokenIds: ['2'] }, /eosTokenIds must be token ids/],
    ['logitsProcessors: "x"', { logitsProcessors: 'x' }, /logitsProcessors must be an array/],
    ['logitsProcessors: [5]', { logitsProcessors: [5] }, /logitsProcessors must be functions/],
    ['logitBias: 5', { logitBias: 5 }, /logitBias must be an object/],
    ['maxNewTokens: "5"', { maxNewTokens: '5' }, /maxNewTokens must be an integer >= 0; got "5"/],
    ['doSample: "yes"', { doSample: 'yes' }, /doSample must be a boolean/],
  ];
  for (const [name, options, message] of cases) {
    it(`refuses ${name}`, async () => {
      await expectError(() => model.generate('Hello', options as never), 'INVALID_OPTION', message);
      expect(() => model.stream('Hello', options as never)).toThrow(SlmkitError);
      await expectUsable();
    });
  }

  it('takes 200,000 stop strings (no RangeError) and still stops at the one that occurs', async () => {
    const text = (await model.generate('Hello', { maxNewTokens: 20 })).text;
    const stop = text.slice(4, 8);
    expect(stop.length).toBe(4);
    const many = Array.from({ length: 200_000 }, (_, i) => `never-${i}-here`);
    const result = await model.generate('Hello', { maxNewTokens: 20, stop: [...many, stop] });
    expect(result.finishReason).toBe('stop');
    expect(result.text).toBe(text.slice(0, text.indexOf(stop)));
    await expectUsable();
  });
});

describe('item 6: stop strings cost per push does not grow with their number', () => {
  it('matches 200,000 stop strings in time independent of their count', () => {
    // Every stop string shares a long prefix with the text, so each push could match many of them.
    const stops = Array.from({ length: 200_000 }, (_, i) => `abcabcab${i}`);
    const matcher = new StopStringMatcher(stops);
    const started = performance.now();
    let emitted = '';
    for (let i = 0; i < 20_000; i++) emitted += matcher.push('abc'[i % 3]).text;
    const elapsed = performance.now() - started;
    expect(emitted.length + matcher.flush().length).toBe(20_000);
    // Linear in the text: ~20k steps. Per-stop scanning would be 20k × 200k string comparisons.
    expect(elapsed).toBeLessThan(1000);
    expect(matcher.push('abcabcab1').stopped).toBe(true);
  });

  it('finds a stop string across pushes, holds back its prefix and releases a false start', () => {
    const matcher = new StopStringMatcher(['END', 'xyz']);
    expect(matcher.push('hello E')).toEqual({ text: 'hello ', stopped: false });
    expect(matcher.push('N')).toEqual({ text: '', stopped: false });
    expect(matcher.push('X')).toEqual({ text: 'ENX', stopped: false });
    expect(matcher.push(' and EN')).toEqual({ text: ' and ', stopped: false });
    expect(matcher.push('D more')).toEqual({ text: '', stopped: true });
    const other = new StopStringMatcher(['bcd', 'abcde']);
    // The first stop string to complete wins, whatever the tokens are.
    expect(other.push('xabcdef')).toEqual({ text: 'xa', stopped: true });
    const tail = new StopStringMatcher(['aab']);
    expect(tail.push('aaa')).toEqual({ text: 'a', stopped: false });
    expect(tail.flush()).toBe('aa');
  });
});

describe('items 6 and 9: unreadable and misshapen model files', () => {
  const isRoot = process.getuid?.() === 0;
  const repo = fileURLToPath(new URL('../..', import.meta.url));
  const script = fileURLToPath(new URL('./validation-child.ts', import.meta.url));

  /**
   * Loads `dir` in a child process: as the user `nobody` when these tests run as root (root reads
   * files of mode 000, so only another user gets EACCES), else as ourselves.
   */
  async function loadInChild(
    dir: string,
  ): Promise<{ loaded?: boolean; name?: string; code?: string; message?: string }> {
    const ids = isRoot ? { uid: 65534, gid: 65534 } : {};
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, dir], {
      cwd: repo,
      ...ids,
    });
    return JSON.parse(stdout);
  }

  /** A copy another user can read (mkdtemp makes the folder private), then changed by `edit`. */
  function readableCopy(edit: (dir: string) => void): string {
    return copyTiny((dir) => {
      chmodSync(dir, 0o755);
      edit(dir);
    });
  }

  it('the child can load a readable copy (so its failures below are about permissions)', async () => {
    expect(await loadInChild(readableCopy(() => {}))).toEqual({ loaded: true });
  });

  it('an unreadable config.json (mode 000) is MODEL_FILE_INVALID saying permission denied', async () => {
    const dir = readableCopy((d) => chmodSync(join(d, 'config.json'), 0));
    const error = await loadInChild(dir);
    expect(error).toMatchObject({ name: 'SlmkitError', code: 'MODEL_FILE_INVALID' });
    expect(error.message).toMatch(/config\.json.*permission denied/);
  });

  it('an unreadable onnx/model.onnx (mode 000) is MODEL_FILE_INVALID saying permission denied', async () => {
    const dir = readableCopy((d) => chmodSync(join(d, 'onnx/model.onnx'), 0));
    const error = await loadInChild(dir);
    expect(error).toMatchObject({ name: 'SlmkitError', code: 'MODEL_FILE_INVALID' });
    expect(error.message).toMatch(/onnx\/model\.onnx.*permission denied/);
  });

  it('a folder of mode 000 is reported as unreadable, not as "config.json not found"', async () => {
    const dir = readableCopy((d) => chmodSync(d, 0));
    const error = await loadInChild(dir);
    expect(error).toMatchObject({ name: 'SlmkitError', code: 'MODEL_FILE_INVALID' });
    expect(error.message).toMatch(/permission denied/);
    expect(error.message).not.toMatch(/not found/);
  });

  it('another file-system error (a symlink loop: ELOOP) is MODEL_FILE_INVALID with the system’s reason', async () => {
    const dir = copyTiny((d) => {
      unlinkSync(join(d, 'tokenizer.json'));
      symlinkSync('tokenizer.json', join(d, 'tokenizer.json'));
    });
    await expectLoadError(dir, 'MODEL_FILE_INVALID', /tokenizer\.json in .* cannot be read: ELOOP/);
  });

  it('an onnx/model.onnx that is a directory says so (not "not found, the folder has it")', async () => {
    const dir = copyTiny((d) => {
      unlinkSync(join(d, 'onnx/model.onnx'));
      mkdirSync(join(d, 'onnx/model.onnx'));
    });
    const error = await expectLoadError(dir, 'MODEL_FILE_INVALID', /onnx\/model\.onnx.*is a directory/);
    expect(error.message).not.toMatch(/not found/);
  });

  it('a config.json that is a directory says so', async () => {
    const dir = copyTiny((d) => {
      unlinkSync(join(d, 'config.json'));
      mkdirSync(join(d, 'config.json'));
    });
    await expectLoadError(dir, 'MODEL_FILE_INVALID', /config\.json.*is a directory/);
  });
});

describe('item 7: greedy decoding with nothing to choose', () => {
  it('throws INVALID_INPUT like sampling does, instead of returning token 0', async () => {
    const greedy = new TokenSampler({ temperature: 0, topK: 0, topP: 1, minP: 0 }, createRng(1));
    for (const fill of [Number.NEGATIVE_INFINITY, Number.NaN]) {
      expect(() => greedy.sample(new Float32Array(8).fill(fill))).toThrow(/nothing can be/);
      for (const temperature of [0, 1]) {
        const ban: LogitsProcessor = (logits) => {
          logits.fill(fill);
        };
        await expectError(
          () => model.generate('Hello', { ...GREEDY, temperature, logitsProcessors: [ban] }),
          'INVALID_INPUT',
          /Every token has a logit of -Infinity or NaN/,
        );
        await expectUsable();
      }
    }
  });
});

describe('item 9: messages are checked before the template renders them', () => {
  const badMessages: [string, unknown[], RegExp][] = [
    [
      'a numeric role',
      [{ role: 5, content: 'Hi' }],
      /messages\[0\]\.role must be a non-empty string.*; got 5\./,
    ],
    ['an empty role', [{ role: '', content: 'Hi' }], /messages\[0\]\.role/],
    [
      'object content',
      [
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: new Map([['a', 1]]) },
      ],
      /messages\[1\]\.content must be a string or an array of \{ type: 'text', text \} parts/,
    ],
    ['missing content', [{ role: 'user' }], /messages\[0\]\.content/],
    [
      'a non-text content part',
      [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }],
      /messages\[0\]\.content\[0\] is a part of type "image_url"/,
    ],
    [
      'a role the template drops',
      [
        { role: 'system', content: 'Be terse.' },
        { role: 'narrator', content: 'It was a dark night.' },
        { role: 'user', content: 'Hi' },
      ],
      /messages\[1\].*"narrator".*chat template/,
    ],
  ];
  for (const [name, messages, message] of badMessages) {
    it(`refuses ${name} with INVALID_INPUT naming the message and field`, async () => {
      await expectError(() => model.generate(messages as never, GREEDY), 'INVALID_INPUT', message);
      await expectError(() => model.applyChatTemplate(messages as never), 'INVALID_INPUT', message);
      await expectError(() => model.countTokens(messages as never), 'INVALID_INPUT', message);
      await expectUsable();
    });
  }

  it('joins OpenAI-style text parts into the content the template renders', async () => {
    const parts = [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Hi' },
          { type: 'text', text: 'there' },
        ],
      },
    ];
    const joined = [{ role: 'user', content: 'Hi\nthere' }];
    expect(await model.applyChatTemplate(parts as never)).toBe(await model.applyChatTemplate(joined));
    expect((await model.generate(parts as never, GREEDY)).tokenIds).toEqual(
      (await model.generate(joined, GREEDY)).tokenIds,
    );
  });

  const badOptions: [string, object, RegExp][] = [
    ['signal: "abort"', { signal: 'abort' }, /signal must be an AbortSignal/],
    ['signal: {}', { signal: {} }, /signal must be an AbortSignal/],
    ['templateVariables: "x"', { templateVariables: 'x' }, /templateVariables must be an object/],
    ['templateVariables: [1]', { templateVariables: [1] }, /templateVariables must be an object/],
  ];
  for (const [name, options, message] of badOptions) {
    it(`refuses ${name} with INVALID_OPTION`, async () => {
      await expectError(() => model.generate('Hello', options as never), 'INVALID_OPTION', message);
      await expectUsable();
    });
  }

  it('refuses wrong-typed templateVariables where messages are rendered without options', async () => {
    const messages = [{ role: 'user', content: 'Hi' }];
    await expectError(
      () => model.applyChatTemplate(messages, 'x' as never),
      'INVALID_OPTION',
      /templateVariables must be an object/,
    );
    await expectError(
      () => model.countTokens(messages, 5 as never),
      'INVALID_OPTION',
      /templateVariables must be an object/,
    );
  });

  it('an async logits processor is INVALID_OPTION, with no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const failing = (async () => {
        throw new Error('async processor failed');
      }) as unknown as LogitsProcessor;
      const quiet = (async (logits: Float32Array) => {
        logits[5] = 100;
      }) as unknown as LogitsProcessor;
      const stage = { process: failing } as never;
      for (const processor of [failing, quiet, stage]) {
        await expectError(
          () => model.generate('Hello', { ...GREEDY, logitsProcessors: [processor] }),
          'INVALID_OPTION',
          /logitsProcessors\[0\].*returned a Promise.*synchronous/,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    await expectUsable();
  });
});

describe('issue #15: the defects the fuzz test found (docs/reliability.md K1–K12)', () => {
  const odd = Object.assign(Object.create(null), { a: 1n });

  it('K1: decode of [] is "", of anything but token ids INVALID_INPUT naming the id', async () => {
    expect(await model.decode([])).toBe('');
    expect(await model.decode(await model.encode('Hello'))).toBe('Hello');
    const cases: [unknown, RegExp][] = [
      [[1.5], /decode\(ids\): ids\[0\] is 1\.5, which is not a token id \(an integer in \[0, 32000\)\)/],
      [[5, 32000], /ids\[1\] is 32000, which is not a token id/],
      [[-1], /ids\[0\] is -1/],
      [[Number.NaN], /ids\[0\] is NaN/],
      [[-0.5], /ids\[0\] is -0\.5/],
      [[Object.create(null)], /ids\[0\] is \{\}/],
      [[Symbol('id')], /ids\[0\] is Symbol\(id\)/],
      // biome-ignore lint/suspicious/noSparseArray: a hole is not a token id
      [[1, , 3], /ids\[1\] is undefined/],
      [null, /decode\(ids\): ids must be an array of token ids .*; got null/],
      ['abc', /must be an array of token ids .*; got "abc"/],
    ];
    for (const [ids, message] of cases)
      await expectError(() => model.decode(ids as never), 'INVALID_INPUT', message);
    await expectUsable();
  });

  it('K2: encode of anything but a string is INVALID_INPUT', async () => {
    for (const [value, shown] of [
      [null, 'null'],
      [undefined, 'undefined'],
      [5, '5'],
      [[Object.create(null)], '\\[\\{\\}\\]'],
    ] as const) {
      await expectError(
        () => model.encode(value as never),
        'INVALID_INPUT',
        new RegExp(`encode takes a string; got ${shown}\\.`),
      );
    }
    await expectUsable();
  });

  it('K3: createChat with options that are not an object, or messages that are not an array, is INVALID_OPTION', async () => {
    await expectError(
      () => model.createChat(null as never),
      'INVALID_OPTION',
      /Chat options must be an object .*; got null/,
    );
    await expectError(
      () => model.createChat(5 as never),
      'INVALID_OPTION',
      /Chat options must be an object .*; got 5/,
    );
    await expectError(
      () => model.createChat({ messages: 1.5 as never }),
      'INVALID_OPTION',
      /options\.messages must be an array of \{ role, content \} messages .*; got 1\.5/,
    );
    await expectError(
      () => model.createChat({ system: 5 as never }),
      'INVALID_OPTION',
      /options\.system must be a string; got 5/,
    );
    await expectUsable();
  });

  it('K4: a token id or truncate length a template literal cannot print is INVALID_INPUT', async () => {
    await expectError(
      () => model.generate({ inputIds: [Object.create(null)] }),
      'INVALID_INPUT',
      /inputIds\[0\] is \{\}/,
    );
    await expectError(
      () => model.generate({ inputIds: [3, Symbol('x')] as never }),
      'INVALID_INPUT',
      /inputIds\[1\] is Symbol\(x\)/,
    );
    await expectError(
      () => model.generate({ inputIds: odd }),
      'INVALID_INPUT',
      /inputIds must be a non-empty array of token ids; got \[object Object\]/,
    );
    const sequence = model.createSequence();
    try {
      await model.generate('Hello', { ...GREEDY, sequence });
      await expectError(
        () => sequence.truncate(Object.create(null)),
        'INVALID_INPUT',
        /truncate\(\{\}\): the sequence holds \d+ tokens/,
      );
      await expectError(
        () => sequence.truncate(Symbol('n') as never),
        'INVALID_INPUT',
        /truncate\(Symbol\(n\)\)/,
      );
      await sequence.truncate(1);
      expect(sequence.tokenIds.length).toBe(1);
    } finally {
      await sequence.dispose();
    }
    await expectUsable();
  });

  it('K6: cachePrefix with a signal that is not an AbortSignal is INVALID_OPTION, and nothing waits on it', async () => {
    for (const signal of [{}, 5, Object.create(null)]) {
      await expectError(
        () => model.cachePrefix('Hello', { signal: signal as never }),
        'INVALID_OPTION',
        /signal must be an AbortSignal .*; got/,
      );
    }
    const prefix = await model.cachePrefix('Hello');
    await prefix.release();
    await expectUsable();
  });

  it('cachePrefix options of the wrong type are INVALID_OPTION', async () => {
    for (const [options, message] of [
      [null, /cachePrefix options must be an object \(or left out\); got null/],
      ['persist', /cachePrefix options must be an object \(or left out\); got "persist"/],
      [{ persist: 'yes' }, /persist must be true or false; got "yes"/],
      [{ persist: 1 }, /persist must be true or false; got 1/],
      [{ templateVariables: 5 }, /templateVariables must be an object .*; got 5/],
    ] as const) {
      await expectError(() => model.cachePrefix('Hello', options as never), 'INVALID_OPTION', message);
    }
    await expectUsable();
  });

  it('K10: a chat turn’s maxNewTokens that is not an integer >= 0 is INVALID_OPTION before the chat uses it', async () => {
    const chat = model.createChat();
    try {
      await chat.send('Hi', { maxNewTokens: 2 });
      const before = chat.messages;
      for (const [value, shown] of [
        [Symbol('m'), 'Symbol\\(m\\)'],
        [10n, '10n'],
        [Number.NaN, 'NaN'],
      ] as const) {
        const message = new RegExp(`maxNewTokens must be an integer >= 0; got ${shown}\\.`);
        await expectError(() => chat.send('Hi', { maxNewTokens: value as never }), 'INVALID_OPTION', message);
        expect(() => chat.stream('Hi', { maxNewTokens: value as never })).toThrow(message);
      }
      await expectError(() => chat.send('Hi', null as never), 'INVALID_OPTION', /options must be an object/);
      expect(chat.messages).toEqual(before);
      expect((await chat.send('Hi', { maxNewTokens: 2 })).tokenIds.length).toBeGreaterThan(0);
    } finally {
      await chat.dispose();
    }
    // The chat's defaults are checked when it is made.
    await expectError(
      () => model.createChat({ defaults: { maxNewTokens: 10n as never } }),
      'INVALID_OPTION',
      /The chat's defaults are invalid: maxNewTokens must be an integer >= 0; got 10n\./,
    );
    await expectError(
      () => model.createChat({ defaults: { topP: odd } }),
      'INVALID_OPTION',
      /topP must be in \(0, 1\]; got \[object Object\]/,
    );
    await expectUsable();
  });

  it('K11: a contextPolicy that is not one is INVALID_OPTION when the chat is made or restored', async () => {
    for (const [policy, shown] of [
      [Object.create(null), '\\{\\}'],
      ['bogus', '"bogus"'],
      [odd, '\\[object Object\\]'],
      [null, 'null'],
    ] as const) {
      const message = new RegExp(
        `contextPolicy must be 'error', 'drop-oldest' or a function .*; got ${shown}\\.`,
      );
      await expectError(
        () => model.createChat({ contextPolicy: policy as never }),
        'INVALID_OPTION',
        message,
      );
    }
    const chat = model.createChat({ contextPolicy: 'drop-oldest' });
    try {
      await chat.send('Hi', { maxNewTokens: 2 });
      const bytes = await chat.save();
      await expectError(
        () => model.restoreChat(bytes, { contextPolicy: 'bogus' as never }),
        'INVALID_OPTION',
        /contextPolicy must be/,
      );
      await expectError(
        () => model.restoreChat(bytes, null as never),
        'INVALID_OPTION',
        /Chat options must be an object/,
      );
      const restored = await model.restoreChat(bytes, { contextPolicy: (m) => m.slice(-1) });
      expect(restored.messages).toEqual(chat.messages);
      await restored.dispose();
    } finally {
      await chat.dispose();
    }
    await expectUsable();
  });

  it('K12: showValue never throws, and the option and message checks show what they cannot print', async () => {
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('no');
        },
      },
    );
    expect(showValue(odd)).toBe('[object Object]');
    expect(showValue(revoked.proxy)).toBe('a value of type object');
    expect(showValue(hostile)).toBe('a value of type object');
    expect(showValue(Number.NaN)).toBe('NaN');
    expect(showValue(-0)).toBe('-0');
    expect(showValue(10n)).toBe('10n');
    expect(showValue(Symbol('s'))).toBe('Symbol(s)');
    expect(showValue(() => 1)).toBe('a function');
    expect(showValue(new Map())).toBe('a Map');
    expect(showValue('2')).toBe('"2"');
    expect(showValue('x'.repeat(1000))).toBe(`"${'x'.repeat(199)}…`);
    await expectError(
      () => model.generate('Hi', { repetitionPenalty: odd }),
      'INVALID_OPTION',
      /repetitionPenalty must be .*; got \[object Object\]/,
    );
    await expectError(
      () => model.generate([{ role: 'user', content: odd }]),
      'INVALID_INPUT',
      /messages\[0\]\.content must be .*; got \[object Object\]/,
    );
    await expectError(
      () => model.applyChatTemplate(odd),
      'INVALID_INPUT',
      /messages must be an array .*; got \[object Object\]/,
    );
    await expectUsable();
  });
});

describe('issue #15 K9: a chat snapshot’s checksum covers its messages', () => {
  let bytes: Uint8Array;
  let messages: readonly unknown[];
  beforeAll(async () => {
    const chat = model.createChat();
    await chat.send('Hello there', { maxNewTokens: 2 });
    bytes = await chat.save();
    messages = chat.messages;
    await chat.dispose();
  });

  it('restores the messages saved', async () => {
    const restored = await model.restoreChat(bytes);
    expect(restored.messages).toEqual(messages);
    await restored.dispose();
  });

  it('refuses a changed letter of a message with INVALID_SNAPSHOT', async () => {
    const damaged = bytes.slice();
    damaged[new TextDecoder().decode(bytes.subarray(0, 400)).indexOf('Hello there')] ^= 1; // 'H' → 'I'
    await expectError(
      () => model.restoreChat(damaged),
      'INVALID_SNAPSHOT',
      /corrupt \(its checksum does not match\)/,
    );
    await expectUsable();
  });

  it('refuses a flipped bit anywhere: every byte of the header and the end, and bytes across the payload', async () => {
    const positions = new Set<number>();
    for (let i = 0; i < 512; i++) positions.add(i);
    for (let i = bytes.length - 8; i < bytes.length; i++) positions.add(i);
    for (let k = 0; k < 64; k++) positions.add(Math.floor((k / 64) * bytes.length));
    const accepted: number[] = [];
    for (const at of positions) {
      const damaged = bytes.slice();
      damaged[at] ^= 1 << (at % 8);
      const error = await caught(() => model.restoreChat(damaged));
      if (!(error instanceof SlmkitError && error.code === 'INVALID_SNAPSHOT')) accepted.push(at);
    }
    expect(accepted).toEqual([]);
    await expectUsable();
  });

  it('refuses a snapshot of format version 1 (its checksum left the header out), saying why', async () => {
    const old = bytes.slice();
    new DataView(old.buffer).setUint32(8, 1, true);
    await expectError(
      () => model.restoreChat(old),
      'INVALID_SNAPSHOT',
      /format version 1, from an older slmkit; this slmkit reads version 2 only\. Save the sequence or chat again/,
    );
  });
});

describe('issue #15 K8: a huge context window', () => {
  for (const [field, value] of [
    ['max_position_embeddings', 2 ** 53],
    ['max_position_embeddings', 1e308],
    ['max_position_embeddings', 2 ** 31],
    ['n_positions', 2 ** 53],
  ] as const) {
    it(`is refused at load: ${field} ${value}`, async () => {
      const dir = copyTiny((d) =>
        editJson(d, 'config.json', (json) => {
          delete json.max_position_embeddings;
          json[field] = value;
        }),
      );
      const error = await expectLoadError(
        dir,
        'MODEL_FILE_INVALID',
        new RegExp(
          `config\\.json in .* has ${field}: ${JSON.stringify(value).replace('+', '\\+')}, but a context window can be at most 2147483647 positions`,
        ),
      );
      expect(error.message).toMatch(/Set it to the model's real window/);
    });
  }

  it('at the bound, with max_new_tokens 1e308, runs; memory follows the tokens generated', async () => {
    const dir = copyTiny((d) => {
      editJson(d, 'config.json', (json) => {
        json.max_position_embeddings = 2 ** 31 - 1;
      });
      editJson(d, 'generation_config.json', (json) => {
        json.max_new_tokens = 1e308;
      });
    });
    const other = await createModel(dir);
    try {
      expect(other.config.contextLength).toBe(2 ** 31 - 1);
      expect((await other.generate('Hello', GREEDY)).tokenIds).toEqual(baseline);
      // The default maxNewTokens, 1e308: a stream left after a few tokens.
      const stream = other.stream('Hello');
      const ids: number[] = [];
      for await (const chunk of stream) if (ids.push(chunk.tokenId) === 5) break;
      expect(ids).toEqual(baseline);
      // 2^31 new tokens asked for, aborted at once: it used to allocate 16 GiB of mask first.
      const started = performance.now();
      await expectError(
        () => other.generate('Hello', { maxNewTokens: 2 ** 31, signal: AbortSignal.timeout(200) }),
        'ABORTED',
      );
      expect(performance.now() - started).toBeLessThan(5000);
    } finally {
      await other.dispose();
    }
  });

  it('the attention mask grows by doubling with the positions used, and keeps its zeros', () => {
    const padding = [0, 2, 1];
    const inputs = new AttentionInputs(padding, 2 ** 31 - 1);
    for (let total = 3; total <= 300; total++) {
      const mask = inputs.maskFor(total);
      expect(mask.length).toBe(3 * total);
      expect(mask.buffer.byteLength).toBeLessThanOrEqual(2 * 3 * total * 8);
      for (const [b, pad] of padding.entries()) {
        const row = Array.from(mask.subarray(b * total, (b + 1) * total), Number);
        expect(row.indexOf(1)).toBe(pad);
        expect(row.slice(pad).every((v) => v === 1)).toBe(true);
      }
    }
    // Never past the run's most positions.
    const capped = new AttentionInputs([0], 10);
    capped.maskFor(6);
    expect(capped.maskFor(7).buffer.byteLength).toBe(10 * 8);
  });
});
