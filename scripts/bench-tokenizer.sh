#!/usr/bin/env bash
# Throughput of MeterrTokenizer beside tiktoken and bpe-openai (PyPI) on the same files, one after the other.
#
#   scripts/bench-tokenizer.sh [FILE...]     (default: artifacts/bench/{prose,code,unicode-mix}.txt)
#
# Needs python3 with venv; installs tiktoken and bpe-openai into .venv (gitignored) on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
REPEAT=${REPEAT:-5}
if [ ! -x "$VENV/bin/python" ]; then python3 -m venv "$VENV"; fi
"$VENV/bin/python" -c "import tiktoken, bpe_openai" 2>/dev/null || "$VENV/bin/pip" install -q tiktoken bpe-openai
swift build -c release --product meterr-tokenizer-bench >&2
BIN="$(swift build -c release --show-bin-path)/meterr-tokenizer-bench"
if [ $# -eq 0 ]; then
    [ -f artifacts/bench/unicode-mix.txt ] || "$VENV/bin/python" scripts/tokenizer/make_bench_corpus.py >&2
    set -- artifacts/bench/prose.txt artifacts/bench/code.txt artifacts/bench/unicode-mix.txt
fi
for f in "$@"; do
    echo "== $f"
    "$BIN" "$f" --repeat "$REPEAT"
    "$VENV/bin/python" scripts/tokenizer/bench_python.py "$f" --repeat 3
done
