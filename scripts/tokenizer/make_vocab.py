#!/usr/bin/env python3
"""Write the vocabulary resources of MeterrTokenizer from the PyPI packages.

- cl100k_base / o200k_base: decompressed from bpe-openai's `bpe_openai/data/*.tiktoken.gz`, checked against the
  official SHA-256 from tiktoken_ext/openai_public.py (the Swift loader checks the same hash at load).
- tekken_240911: the BPE part of mistral-common's `tekken_240911.json` (the first default_vocab_size -
  default_num_special_tokens ranks, exactly what mistral-common's Tekkenizer loads) re-written in `.tiktoken`
  format (base64 + rank per line): 2.3 MB instead of 19 MB of JSON. Its SHA-256 is printed for EncodingSpec.swift.
"""
import base64
import gzip
import hashlib
import json
import os

import bpe_openai
import mistral_common

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "Sources", "MeterrTokenizer", "Resources")
OFFICIAL = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}


def main():
    data_dir = os.path.join(os.path.dirname(bpe_openai.__file__), "data")
    for name, sha in OFFICIAL.items():
        raw = gzip.open(os.path.join(data_dir, f"{name}.tiktoken.gz")).read()
        assert hashlib.sha256(raw).hexdigest() == sha, name
        with open(os.path.join(OUT, f"{name}.tiktoken"), "wb") as fh:
            fh.write(raw)
        print(name, len(raw), sha)
    path = os.path.join(os.path.dirname(mistral_common.__file__), "data", "tekken_240911.json")
    model = json.load(open(path))
    cfg = model["config"]
    inner = cfg["default_vocab_size"] - cfg["default_num_special_tokens"]
    lines = []
    for rank, tok in enumerate(model["vocab"][:inner]):
        assert tok["rank"] == rank
        b = base64.b64decode(tok["token_bytes"])
        lines.append(base64.b64encode(b) + b" " + str(rank).encode() + b"\n")
    raw = b"".join(lines)
    with open(os.path.join(OUT, "tekken_240911.tiktoken"), "wb") as fh:
        fh.write(raw)
    print("tekken_240911", inner, len(raw), hashlib.sha256(raw).hexdigest(), cfg["pattern"])


if __name__ == "__main__":
    main()
