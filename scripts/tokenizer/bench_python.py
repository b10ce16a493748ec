#!/usr/bin/env python3
"""Throughput of tiktoken and bpe-openai (PyPI) on one file, printed like meterr-tokenizer-bench.

    bench_python.py FILE [--encoding o200k_base|cl100k_base] [--repeat N]

tiktoken: encode_ordinary (one thread) and encode_ordinary_batch over ~64 KB chunks of whole lines with one
thread per core (parallel; chunk edges may change a few ids, which does not matter for speed).
bpe-openai: the Rust backend's encode and count directly (bpe_openai._bindings), one thread.
"""
import gzip
import hashlib
import os
import sys
import tempfile
import time

import bpe_openai
from bpe_openai import _bindings
import tiktoken

URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}


def tiktoken_encoding(name):
    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        cache = tempfile.mkdtemp(prefix="tiktoken-cache-")
        data_dir = os.path.join(os.path.dirname(bpe_openai.__file__), "data")
        for n, url in URLS.items():
            raw = gzip.open(os.path.join(data_dir, f"{n}.tiktoken.gz")).read()
            with open(os.path.join(cache, hashlib.sha1(url.encode()).hexdigest()), "wb") as fh:
                fh.write(raw)
        os.environ["TIKTOKEN_CACHE_DIR"] = cache
    return tiktoken.get_encoding(name)


def best(fn, repeat):
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main():
    args = sys.argv[1:]
    encodings = ["o200k_base", "cl100k_base"]
    repeat = 3
    path = None
    while args:
        a = args.pop(0)
        if a == "--encoding":
            encodings = [args.pop(0)]
        elif a == "--repeat":
            repeat = int(args.pop(0))
        else:
            path = a
    text = open(path, encoding="utf-8", newline="").read()  # no newline translation: same bytes as Swift
    mb = len(text.encode()) / 1e6
    cores = os.cpu_count()
    # Chunks of whole lines, ~64 KB each, for the thread-pool batch API.
    chunks, current, size = [], [], 0
    for line in text.splitlines(keepends=True):
        current.append(line)
        size += len(line)
        if size >= 65536:
            chunks.append("".join(current))
            current, size = [], 0
    if current:
        chunks.append("".join(current))
    for name in encodings:
        enc = tiktoken_encoding(name)
        t, ids = best(lambda: enc.encode_ordinary(text), repeat)
        print(f"{name:12} tiktoken        encode          {mb / t:8.1f} MB/s  {len(ids)} tokens")
        t, batch = best(lambda: enc.encode_ordinary_batch(chunks, num_threads=cores), repeat)
        print(f"{name:12} tiktoken        batch x{cores:<2}       {mb / t:8.1f} MB/s  {sum(map(len, batch))} tokens")
        bpe = _bindings.tokenizer_for_encoding(name)
        t, ids = best(lambda: bpe.encode(text), repeat)
        print(f"{name:12} bpe-openai      encode          {mb / t:8.1f} MB/s  {len(ids)} tokens")
        t, n = best(lambda: bpe.count(text), repeat)
        print(f"{name:12} bpe-openai      count           {mb / t:8.1f} MB/s  {n} tokens")


if __name__ == "__main__":
    main()
