#!/usr/bin/env python3
"""Differential fuzzing: random texts through `meterr tokens encode --jsonl` vs tiktoken / mistral-common.

    .venv/bin/python scripts/tokenizer/fuzz_compare.py METERR_BINARY [COUNT] [SEED]

METERR_BINARY is anything that accepts `tokens encode --jsonl --encoding NAME -` (the meterr CLI).
Prints the number of mismatches per encoding and the first few mismatching texts; exits 1 on any mismatch.
"""
import json
import random
import subprocess
import sys

sys.path.insert(0, __import__("os").path.dirname(__file__))
from make_fixtures import load_encodings, random_unicode_cases, random_word_cases  # noqa: E402


def main():
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    rnd = random.Random(seed)
    texts = list(random_unicode_cases(rnd, count // 2).values()) + list(random_word_cases(rnd, count // 2).values())
    # Also every pair of "interesting" characters, which stresses alternative ordering.
    specials = [" ", "  ", "\n", "\r", "\t", "\u00a0", "\u3000", "'", "s", "S", "ſ", "a", "A", "1", "½", "!", "/",
                "\u0301", "é", "中", "ǅ", "ʰ", "🙂", "\u200d", "_", "-", "'s", "'RE", "'ll"]
    texts += [a + b + c for a in specials for b in specials for c in specials]
    encs, tek = load_encodings()
    payload = "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()
    failed = False
    for name in ["o200k_base", "cl100k_base", "tekken"]:
        out = subprocess.run([binary, "tokens", "encode", "--jsonl", "--encoding", name, "-"], input=payload,
                             capture_output=True, check=True).stdout.decode().splitlines()
        bad = []
        for text, line in zip(texts, out):
            want = tek.encode(text, bos=False, eos=False) if name == "tekken" else encs[name].encode_ordinary(text)
            if json.loads(line)["ids"] != want:
                bad.append(text)
        assert len(out) == len(texts), (len(out), len(texts))
        print(f"{name}: {len(texts)} texts, {len(bad)} mismatches")
        for t in bad[:5]:
            print("   ", repr(t))
        failed |= bool(bad)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
