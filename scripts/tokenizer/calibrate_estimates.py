#!/usr/bin/env python3
"""Calibrate TokenEstimate's Anthropic factor and measure its error.

Anthropic publishes no local tokenizer for Claude 3+; the only one it ever shipped is the legacy Claude tokenizer
(`anthropic/tokenizer.json` inside the `anthropic` PyPI wheel up to 0.3x, loaded with HF `tokenizers`). This
script fits estimate = ceil(factor * o200k_count) against it on the fixture languages, code and prose, and prints
the per-text error, then fits the two-term formula TokenEstimate ships (a * o200k + b * non-ASCII scalars).
It therefore measures the error against the legacy tokenizer only.

    .venv/bin/pip download anthropic==0.34.2 --no-deps -d /tmp/anth   # then unzip anthropic/tokenizer.json
    .venv/bin/pip install tokenizers
    .venv/bin/python scripts/tokenizer/calibrate_estimates.py /tmp/anth/claude_tokenizer.json [bench files...]
"""
import base64
import json
import math
import os
import sys

import tiktoken
from tokenizers import Tokenizer

sys.path.insert(0, os.path.dirname(__file__))
from make_fixtures import SAMPLES, load_encodings  # noqa: E402


def main():
    claude = Tokenizer.from_file(sys.argv[1])
    encs, _ = load_encodings()
    o200k = encs["o200k_base"]
    texts = dict(SAMPLES)
    for path in sys.argv[2:]:
        texts[os.path.basename(path)] = open(path, encoding="utf-8").read()[:400_000]
    rows = []
    for name, text in texts.items():
        c = len(claude.encode(text, add_special_tokens=False).ids)
        o = len(o200k.encode_ordinary(text))
        rows.append((name, c, o))
    # Fit the factor on total counts of the samples (each text weighted by its o200k size).
    factor = sum(c for _, c, _ in rows) / sum(o for _, _, o in rows)
    median_ratio = sorted(c / o for _, c, o in rows)[len(rows) // 2]
    print(f"pooled factor {factor:.3f}, median per-text ratio {median_ratio:.3f}")
    for f in (round(factor, 2), round(median_ratio, 2)):
        errs = []
        for name, c, o in rows:
            est = math.ceil(f * o)
            errs.append((name, c, est, (est - c) / c))
        mae = sum(abs(e) for *_, e in errs) / len(errs)
        print(f"factor {f}: mean |error| {mae:.1%}, worst {max(errs, key=lambda x: abs(x[3]))}")
    for name, c, o in rows:
        print(f"  {name:20} claude-legacy {c:7}  o200k {o:7}  ratio {c / o:.3f}")


def fit_two_terms(claude_path):
    """estimate = a * o200k + b * non-ASCII scalars, least squares on relative error (each text counts once)."""
    claude = Tokenizer.from_file(claude_path)
    encs, _ = load_encodings()
    o200k = encs["o200k_base"]
    rows = []
    for name, text in SAMPLES.items():
        c = len(claude.encode(text, add_special_tokens=False).ids)
        o = len(o200k.encode_ordinary(text))
        n = sum(1 for ch in text if ord(ch) >= 0x80)
        rows.append((name, c, o, n))
    best = None
    for a100 in range(90, 131):
        for b100 in range(0, 151, 2):
            a, b = a100 / 100, b100 / 100
            err = sum(abs(math.ceil(a * o + b * n) - c) / c for _, c, o, n in rows) / len(rows)
            if best is None or err < best[0]:
                best = (err, a, b)
    err, a, b = best
    print(f"two-term fit: a={a} b={b} mean |error| {err:.1%}")
    for name, c, o, n in rows:
        est = math.ceil(a * o + b * n)
        print(f"  {name:20} claude-legacy {c:5} estimate {est:5} error {(est - c) / c:+.0%}")


if __name__ == "__main__":
    main()
    # The shipped estimator: ceil(a * o200k + b * non-ASCII scalars); prints the fit and the error per text.
    fit_two_terms(sys.argv[1])
