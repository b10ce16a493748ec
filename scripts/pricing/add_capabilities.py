#!/usr/bin/env python3
"""Adds each model's capabilities (the `supports` member) to the shipped price catalog from LiteLLM's data.

Usage:
    python3 -m venv /tmp/llvenv && /tmp/llvenv/bin/pip download litellm==1.110.2 --no-deps -d /tmp/llwheel
    unzip -o /tmp/llwheel/litellm-1.110.2-*.whl litellm/model_prices_and_context_window_backup.json -d /tmp/llx
    python3 scripts/pricing/add_capabilities.py /tmp/llx/litellm/model_prices_and_context_window_backup.json

For every entry of Sources/MeterrPricing/Resources/catalog.json the LiteLLM key is read from the `source` of the
entry's newest version: the word after " key ", or else the word after a leading "LiteLLM " (older sources are
written "LiteLLM gpt-5-mini, flex …"). A key that is missing is tried once more with the provider's prefix added or
removed (`embed-v5.0-pro` is `cohere/embed-v5.0-pro` in the file). The key's `litellm_provider` must be the entry's
provider: Bedrock's copy of a Claude model says nothing about Anthropic's API. LiteLLM's flags map as
`supports_function_calling` → tools, `supports_vision` → vision, `supports_response_schema` → json_schema; a flag
LiteLLM does not set stays unknown (absent), and an entry without a usable key gets no `supports` member. An existing
`supports` member is replaced, so the script can be run again after a LiteLLM update.

The catalog is rewritten the way meterr's OrderedJSONWriter writes it (four-space indentation, members in order,
a final newline); the script refuses to write if the file it read would not come back byte for byte.
"""

import hashlib
import json
import sys
from pathlib import Path

CATALOG = Path(__file__).resolve().parents[2] / "Sources/MeterrPricing/Resources/catalog.json"
# LiteLLM 1.110.2's litellm/model_prices_and_context_window_backup.json, the file the catalog's sources cite.
EXPECTED_SHA256 = "8943af58bf9f979c6a4bef815687117ffa341e462a41faed9be17b5c33d3dcc2"
FLAGS = [
    ("tools", "supports_function_calling"),
    ("vision", "supports_vision"),
    ("json_schema", "supports_response_schema"),
]
# LiteLLM provider names per meterr provider (as LiteLLM.provider(litellm:) maps them in Swift).
PROVIDERS = {
    "openai": {"openai", "text-completion-openai"},
    "azure": {"azure", "azure_text"},
    "anthropic": {"anthropic"},
    "gemini": {"gemini"},
    "mistral": {"mistral"},
    "cohere": {"cohere", "cohere_chat"},
}
# The members written before `supports`, in the writer's order; `supports` goes after the last one present.
BEFORE_SUPPORTS = ["provider", "model", "aliases", "mode", "max_input_tokens", "max_output_tokens"]


def write(value) -> str:
    """The text meterr's OrderedJSONWriter writes for a value read with member order kept."""
    return json.dumps(value, indent=4, ensure_ascii=False) + "\n"


def cited_key(source: str):
    if " key " in source:
        words = source.split(" key ", 1)[1].split()
    elif source.startswith("LiteLLM "):
        words = source[len("LiteLLM ") :].split()
    else:
        return None
    return words[0].rstrip(",;") if words else None


def litellm_entry(entry, litellm):
    """The LiteLLM key and entry the catalog entry's newest version cites, or (reason, None)."""
    newest = max(entry["versions"], key=lambda version: version["effective_from"])
    key = cited_key(newest.get("source", ""))
    if key is None:
        return "no LiteLLM key in the source", None
    provider = entry["provider"]
    candidates = [key, key[len(provider) + 1 :] if key.startswith(provider + "/") else provider + "/" + key]
    for candidate in candidates:
        found = litellm.get(candidate)
        if not isinstance(found, dict):
            continue
        if found.get("litellm_provider") not in PROVIDERS[provider]:
            return f"{candidate} is a {found.get('litellm_provider')} entry, not {provider}", None
        return candidate, found
    return f"{key} is not in the LiteLLM file", None


def supports(found) -> dict:
    flags = {}
    for name, flag in FLAGS:
        if flag not in found:
            continue
        if not isinstance(found[flag], bool):
            raise SystemExit(f"{flag} is {found[flag]!r}, not a boolean")
        flags[name] = found[flag]
    return flags


def with_supports(entry: dict, flags: dict) -> dict:
    members = [(name, value) for name, value in entry.items() if name != "supports"]
    if not flags:
        return dict(members)
    position = max(index for index, (name, _) in enumerate(members) if name in BEFORE_SUPPORTS) + 1
    return dict(members[:position] + [("supports", flags)] + members[position:])


def main() -> None:
    if len(sys.argv) not in (2, 3):
        raise SystemExit("usage: add_capabilities.py LITELLM_JSON [CATALOG_JSON]")
    litellm_bytes = Path(sys.argv[1]).read_bytes()
    digest = hashlib.sha256(litellm_bytes).hexdigest()
    if digest != EXPECTED_SHA256:
        print(f"note: {sys.argv[1]} is not LiteLLM 1.110.2's file (sha256 {digest})", file=sys.stderr)
    litellm = json.loads(litellm_bytes)
    catalog_path = Path(sys.argv[2]) if len(sys.argv) == 3 else CATALOG
    text = catalog_path.read_text(encoding="utf-8")
    catalog = json.loads(text)
    if write(catalog) != text:
        raise SystemExit(f"{catalog_path} is not in OrderedJSONWriter's layout; refusing to rewrite it")

    counts = {name: {True: 0, False: 0} for name, _ in FLAGS}
    unresolved = []
    models = []
    for entry in catalog["models"]:
        key, found = litellm_entry(entry, litellm)
        flags = supports(found) if found is not None else {}
        if found is None:
            unresolved.append(f"{entry['provider']}/{entry['model']}: {key}")
        for name, value in flags.items():
            counts[name][value] += 1
        models.append(with_supports(entry, flags))
    catalog["models"] = models
    catalog_path.write_text(write(catalog), encoding="utf-8")

    total = len(models)
    for name, _ in FLAGS:
        yes, no = counts[name][True], counts[name][False]
        print(f"{name}: {yes} true, {no} false, {total - yes - no} unknown (of {total})")
    print(f"without a LiteLLM entry ({len(unresolved)}):")
    for line in unresolved:
        print("  " + line)


if __name__ == "__main__":
    main()
