#!/usr/bin/env python3
"""Compares where two processes spend their CPU per call, from `perf script` output.

Usage: per-call-profile.py NAME CALLS SCRIPT_OUTPUT NAME CALLS SCRIPT_OUTPUT [THREAD_PREFIX]

Each SCRIPT_OUTPUT is `perf script -F comm,tid,ip,sym,dso` of one process's `perf record -g`;
CALLS is how many calls it served meanwhile. Only samples of threads whose name starts with
THREAD_PREFIX count (default "NIO-": the event loops). Prints samples per 1,000 calls: in all, in
the kernel and by library; then the kernel's and user space's functions (self time) with the most
samples in the first process beyond the second's.
"""
import collections
import re
import subprocess
import sys


def samples(path, prefix):
    """Each sample's stack, innermost frame first, as (symbol, library) pairs."""
    stacks, thread, frames = [], None, []
    with open(path, errors="replace") as lines:
        for line in lines:
            if not line.strip():
                if thread is not None and thread.startswith(prefix) and frames:
                    stacks.append(frames)
                thread, frames = None, []
            elif line[0] not in " \t":
                thread = line.split()[0]
            else:
                parts = line.strip().split(" ", 1)
                if len(parts) == 2:
                    match = re.match(r"(.*) \((.*)\)$", parts[1])
                    frames.append((match.group(1), match.group(2)) if match else (parts[1], "?"))
    if thread is not None and thread.startswith(prefix) and frames:
        stacks.append(frames)
    return stacks


def in_kernel(frame):
    return "kernel" in frame[1]


def library(frame):
    return "kernel" if in_kernel(frame) else frame[1].rsplit("/", 1)[-1]


def demangled(symbols):
    symbols = sorted(symbols)
    try:
        out = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(symbols),
                             capture_output=True, text=True, check=True).stdout.split("\n")
        return dict(zip(symbols, out))
    except (OSError, subprocess.CalledProcessError):
        return {}


def main(argv):
    if len(argv) not in (7, 8):
        sys.exit(__doc__)
    prefix = argv[7] if len(argv) == 8 else "NIO-"
    runs = []
    for name, calls, path in (argv[1:4], argv[4:7]):
        stacks = samples(path, prefix)
        runs.append((name, int(calls), stacks))
    per_k = lambda count, calls: 1000.0 * count / calls
    for name, calls, stacks in runs:
        kernel = sum(1 for s in stacks if in_kernel(s[0]))
        libraries = collections.Counter(library(s[0]) for s in stacks if not in_kernel(s[0]))
        print(f"{name}: {per_k(len(stacks), calls):.1f} samples per 1,000 calls "
              f"(kernel {per_k(kernel, calls):.1f}, user space {per_k(len(stacks) - kernel, calls):.1f}: "
              + ", ".join(f"{lib} {per_k(n, calls):.1f}" for lib, n in libraries.most_common(5)) + ")")
    (first, first_calls, first_stacks), (second, second_calls, second_stacks) = runs
    for label, kernel in (("kernel", True), ("user space", False)):
        a = collections.Counter(s[0][0] for s in first_stacks if in_kernel(s[0]) == kernel)
        b = collections.Counter(s[0][0] for s in second_stacks if in_kernel(s[0]) == kernel)
        names = demangled(set(a) | set(b)) if not kernel else {}
        extra = lambda sym: per_k(a[sym], first_calls) - per_k(b[sym], second_calls)
        total = sum(extra(sym) for sym in set(a) | set(b))
        print(f"\n{label}, self samples per 1,000 calls beyond {second}'s: {total:.1f} in all; the largest:")
        print(f"  {first:>8} {second:>8}")
        for sym in sorted(set(a) | set(b), key=extra, reverse=True)[:25]:
            print(f"  {per_k(a[sym], first_calls):8.2f} {per_k(b[sym], second_calls):8.2f}  "
                  f"{names.get(sym, sym)[:110]}")


if __name__ == "__main__":
    main(sys.argv)
