#!/usr/bin/env python3
"""Write the benchmark corpora to artifacts/bench/ (not committed):

- prose.txt: English prose, the Python documentation topics shipped with CPython (pydoc_data), 0.47 MB.
- code.txt: ~8 MB of Python source from the virtualenv's site-packages (sorted, deterministic).
- unicode-mix.txt: a stress mix, never repeated: the golden fixture texts once (20+ scripts, code, JSON, random
  Unicode) plus freshly generated random-Unicode and random-word strings (make_fixtures.py generators, other
  seeds), ~1 MB. Long runs of rare characters make this byte-pair-merge heavy.
"""
import base64
import glob
import json
import os
import sys

import pydoc_data.topics

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
OUT = os.path.join(ROOT, "artifacts", "bench")


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "prose.txt"), "w", newline="") as fh:
        fh.write("\n\n".join(pydoc_data.topics.topics.values()))
    site = os.path.join(sys.prefix, "lib")
    code, size = [], 0
    for path in sorted(glob.glob(os.path.join(site, "**", "*.py"), recursive=True)):
        try:
            text = open(path, encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue
        code.append(text)
        size += len(text)
        if size > 8_000_000:
            break
    with open(os.path.join(OUT, "code.txt"), "w", newline="") as fh:
        fh.write("".join(code))
    rows = [json.loads(line) for line in open(os.path.join(ROOT, "Tests/MeterrTokenizerTests/Fixtures/golden.jsonl"))]
    multi = "\n".join(
        base64.b64decode(r["b64"]).decode() for r in rows if r["kind"] == "text" and not r["name"].startswith("long")
    )
    sys.path.insert(0, os.path.dirname(__file__))
    import random

    from make_fixtures import random_unicode_cases, random_word_cases

    rnd = random.Random(424242)
    extra = list(random_unicode_cases(rnd, 2500).values()) + list(random_word_cases(rnd, 2500).values())
    rnd.shuffle(extra)
    with open(os.path.join(OUT, "unicode-mix.txt"), "w", newline="") as fh:
        fh.write(multi + "\n" + "\n".join(extra))
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)))


if __name__ == "__main__":
    main()
