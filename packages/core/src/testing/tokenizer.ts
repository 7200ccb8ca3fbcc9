/**
 * The test model's tokenizer, generated in code: a byte-level BPE (GPT-2 / SmolLM style) whose 256
 * byte tokens encode any text and decode it back unchanged, with merges learned from a short
 * built-in text so that common English words and the chat template's markers are single tokens.
 * Ids 0, 1 and 2 are `<unk>`, `<s>` (BOS, added in front of a plain prompt as Llama's tokenizer
 * does) and `</s>` (EOS), as in Llama's vocabulary.
 */

/** TinyLlama-1.1B-Chat's (Zephyr-style) chat template, verbatim. */
export const CHAT_TEMPLATE =
  "{% for message in messages %}{% if message['role'] == 'user' %}{{ '<|user|>\n' + message['content'] + eos_token }}{% elif message['role'] == 'system' %}{{ '<|system|>\n' + message['content'] + eos_token }}{% elif message['role'] == 'assistant' %}{{ '<|assistant|>\n'  + message['content'] + eos_token }}{% endif %}{% if loop.last and add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}{% endfor %}";

/** The special tokens, in id order from 0. */
const SPECIAL_TOKENS = ['<unk>', '<s>', '</s>'] as const;
export const BOS_TOKEN_ID = 1;
export const EOS_TOKEN_ID = 2;
/** Special tokens, then 256 byte tokens, then learned merges. */
export const TEST_VOCAB_SIZE = 512;

/** What the merges are learned from: plain English, a little code, and the chat markers. */
const CORPUS = `<|system|>
You are a helpful assistant. Answer in one short sentence.</s>
<|user|>
Hello! Who are you, and what can you do?</s>
<|assistant|>
I am a small language model. I run on your own computer, in the browser or in Node.</s>
<|user|>
What is the capital of France?</s>
<|assistant|>
The capital of France is Paris. The capital of Norway is Oslo, and the capital of Italy is Rome.</s>
Once upon a time there was a king who lived in a castle with his three daughters. Every morning
the king walked in the garden, and every evening he told the children a story about the sea, the
mountains and the stars. One day a traveller came to the castle and asked for water and bread.
The youngest daughter gave him both, and he thanked her with a small golden key that opened a door
nobody had seen before. Behind the door there was a library of old books, and the books could talk.
The quick brown fox jumps over the lazy dog. It was the best of times, it was the worst of times.
In 1492, Columbus sailed the ocean blue. The year has 12 months, 52 weeks and 365 days.
def fibonacci(n):
    if n < 2:
        return n
    return fibonacci(n - 1) + fibonacci(n - 2)
const model = await createTestModel({ seed: 1 });
for (let i = 0; i < 10; i++) console.log(i);
Please write a list of three things to do this weekend: read a novel, go hiking, drink tea.
Thank you for your help! You are welcome. Have a nice day, and see you tomorrow.`;

/** GPT-2's map of bytes to printable characters (what a byte-level BPE's tokens are made of). */
function bytesToUnicode(): string[] {
  const chars: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    chars[b] = String.fromCharCode(printable ? b : next++);
  }
  return chars;
}

/** The ByteLevel pre-tokenizer's split (GPT-2's pattern), each piece as byte characters. */
const SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * Learns up to `count` merges from `corpus` (plain BPE training: merge the most frequent adjacent
 * pair, ties to the pair that sorts first), skipping the special tokens, which are never split.
 */
function learnMerges(corpus: string, byteChars: readonly string[], count: number): [string, string][] {
  const encoder = new TextEncoder();
  const words = new Map<string, number>();
  const plain = corpus.split(new RegExp(SPECIAL_TOKENS.map((t) => t.replace(/[|<>/]/g, '\\$&')).join('|')));
  for (const part of plain) {
    for (const piece of part.match(SPLIT) ?? []) {
      const word = Array.from(encoder.encode(piece), (b) => byteChars[b]).join('');
      words.set(word, (words.get(word) ?? 0) + 1);
    }
  }
  const symbols = [...words].map(([word, freq]) => ({ parts: Array.from(word), freq }));
  const merges: [string, string][] = [];
  const made = new Set<string>();
  while (made.size < count) {
    const pairs = new Map<string, number>();
    for (const { parts, freq } of symbols) {
      for (let i = 0; i + 1 < parts.length; i++) {
        const key = `${parts[i]} ${parts[i + 1]}`;
        pairs.set(key, (pairs.get(key) ?? 0) + freq);
      }
    }
    let best: string | undefined;
    let bestFreq = 0;
    for (const [key, freq] of pairs) {
      if (freq > bestFreq || (freq === bestFreq && best !== undefined && key < best)) {
        best = key;
        bestFreq = freq;
      }
    }
    if (best === undefined) break;
    const [a, b] = best.split(' ');
    merges.push([a, b]);
    made.add(a + b);
    for (const word of symbols) {
      const out: string[] = [];
      for (let i = 0; i < word.parts.length; i++) {
        if (i + 1 < word.parts.length && word.parts[i] === a && word.parts[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(word.parts[i]);
      }
      word.parts = out;
    }
  }
  return merges;
}

let cached: string | undefined;

/** The text of the test model's tokenizer.json (built once, then reused). */
export function testTokenizerJson(): string {
  if (cached !== undefined) return cached;
  const byteChars = bytesToUnicode();
  const vocab: Record<string, number> = {};
  const add = (token: string) => {
    if (!(token in vocab)) vocab[token] = Object.keys(vocab).length;
  };
  SPECIAL_TOKENS.forEach(add);
  byteChars.forEach(add);
  const merges = learnMerges(CORPUS, byteChars, TEST_VOCAB_SIZE - Object.keys(vocab).length);
  for (const [a, b] of merges) add(a + b);
  if (Object.keys(vocab).length !== TEST_VOCAB_SIZE) {
    throw new Error(`test tokenizer: ${Object.keys(vocab).length} tokens, expected ${TEST_VOCAB_SIZE}`);
  }
  const special = (content: string, id: number) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const bos = SPECIAL_TOKENS[BOS_TOKEN_ID];
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  cached = JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL_TOKENS.map(special),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: bos, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: bos, type_id: 1 } },
        { Sequence: { id: 'B', type_id: 1 } },
      ],
      special_tokens: { [bos]: { id: bos, ids: [BOS_TOKEN_ID], tokens: [bos] } },
    },
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  });
  return cached;
}

/** The test model's tokenizer_config.json: special tokens, the chat template, no space clean-up. */
export function testTokenizerConfig(contextLength: number): Record<string, unknown> {
  return {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: SPECIAL_TOKENS[BOS_TOKEN_ID],
    eos_token: SPECIAL_TOKENS[EOS_TOKEN_ID],
    unk_token: SPECIAL_TOKENS[0],
    add_bos_token: true,
    add_eos_token: false,
    // Decoding gives back exactly the text that was encoded (no " ," → "," rewriting).
    clean_up_tokenization_spaces: false,
    model_max_length: contextLength,
    chat_template: CHAT_TEMPLATE,
  };
}
