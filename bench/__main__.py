"""`python -m bench [--short] [name ...]`: run the benchmarks in bench/ and print one table.

Each module `bench/bench_<name>.py` exposes `run(short: bool) -> list[Row]`. `--short` makes
each run small enough for CI (it checks they work; the README table comes from a full run).
"""
from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    return sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules([str(HERE)])
                  if m.name.startswith("bench_"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {discover()})")
    p.add_argument("--short", action="store_true", help="small sizes, to check they run")
    p.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = p.parse_args(argv)
    rows, failed = [], []
    for name in args.names or discover():
        mod = importlib.import_module(f"bench.bench_{name}")
        print(f"running {name} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        try:
            rows.extend(mod.run(short=args.short))
            print(f"{name}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        except Exception as exc:  # one broken benchmark must not hide the others
            failed.append(name)
            print(f"benchmark {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in rows], indent=2))
    return 1 if failed else 0


def print_table(rows) -> None:
    head = ("bench", "case", "value", "ratio", "goal", "met")
    lines = [head] + [
        (r.bench, r.case, r.value, "" if r.ratio is None else f"{r.ratio:.2f}x", r.goal,
         "" if r.ok is None else ("yes" if r.ok else "no"))
        for r in rows
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for line in lines[1:]:
        print("| " + " | ".join(line) + " |")


if __name__ == "__main__":
    sys.exit(main())
