"""`python -m tests.mutation [--check] [--max-children N] [module ...]`: mutation testing of
the pure decision modules with mutmut 3, scored per module against a floor (`make mutation`).

It copies the app's `shared/` (and what the unit tests import) into `.mutation/`, writes a
mutmut config there (so the project's own pyproject stays untouched), runs only the unit
tests of those modules, and prints per module: mutants, killed, survivors by class, and the
score.

How it counts. score = killed / (mutants - not behaviour), where "not behaviour" is
- a message-text mutant: a survivor whose only change is to a string literal of prose (it has
  a space, e.g. a finding's summary or an error message); identifier-like strings (keys,
  statuses, kinds) always count, and so do all killed mutants;
- an equivalent mutant, listed by name in EQUIVALENT with the reason it cannot change
  behaviour (reviewed by hand);
- a mutant mutmut could not judge (no test ran it, or it timed out) is reported and counts
  as a survivor.
`--check` fails when any module's score is under its FLOORS entry.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"

# module file -> (the unit tests that judge it, the floor for --check)
MODULES = {
    "shared/landing/layout.py": (["tests/unit/test_landing.py",
                                  "tests/unit/test_mutation_gaps_landing.py"], 0.90),
    "shared/alerts/decide.py": (["tests/unit/test_alert_decide.py",
                                 "tests/unit/test_mutation_gaps_decide.py"], 0.90),
    "shared/adf/status.py": (["tests/unit/test_adf_status.py",
                              "tests/unit/test_mutation_gaps_status.py"], 0.90),
    "shared/orchestration/polling.py": (["tests/unit/test_entry_decisions.py",
                                         "tests/unit/test_mutation_gaps_polling.py"], 0.90),
    "shared/checks/stats.py": (["tests/unit/test_checks_stats.py", "tests/unit/test_checks.py"],
                               0.90),
    "shared/checks/drift.py": (["tests/unit/test_checks.py",
                                "tests/unit/test_checks_findings_exact.py",
                                "tests/unit/test_checks_regression.py"], 0.90),
    "shared/checks/data_checks.py": (["tests/unit/test_checks.py",
                                      "tests/unit/test_checks_findings_exact.py",
                                      "tests/unit/test_checks_regression.py"], 0.90),
    "shared/checks/contract.py": (["tests/unit/test_contract.py"], 0.90),
    "shared/checks/model_checks.py": (["tests/unit/test_checks.py",
                                       "tests/unit/test_checks_regression.py"], 0.90),
    "shared/runs/watch.py": (["tests/unit/test_watcher.py",
                              "tests/unit/test_mutation_gaps_watch.py"], 0.90),
    "shared/adf/budget.py": (["tests/unit/test_watcher.py",
                              "tests/unit/test_mutation_gaps_watch.py"], 0.90),
}
# What the judging tests import besides the app (copied, not run).
SUPPORT = ["tests/__init__.py", "tests/conftest.py", "tests/app_index.py",
           "tests/unit/__init__.py", "tests/unit/test_orchestrators.py"]
FLOORS = {m: floor for m, (_, floor) in MODULES.items()}

# Mutants that cannot change behaviour, by mutmut name, with the reason.
EQUIVALENT: dict[str, str] = {
    **{f"shared.runs.watch.x_look__mutmut_{n}": "zip(..., strict=True) over `pool.map` of the "
       "same items: the lengths are always equal" for n in (62, 65, 70, 120, 123, 128)},
    "shared.adf.budget.x_slowdown_factor__mutmut_3": "remaining == low gives low / low = 1 "
    "either way",
}

COPY = ["shared", "devstack", "training", "function_app.py", "functions", "contract"]
CONFIG = """[mutmut]
source_paths = shared
only_mutate =
{only}
pytest_add_cli_args_test_selection =
{tests}
pytest_add_cli_args =
    -p
    no:cacheprovider
    -q
also_copy =
    devstack
    training
    functions
    function_app.py
    contract
use_git_change_detection = false

[tool:pytest]
filterwarnings = ignore::DeprecationWarning
markers =
    slow: unused here
"""


def prepare(modules: list[str]) -> None:
    WORK.mkdir(exist_ok=True)
    for name in COPY:
        src, dst = ROOT / name, WORK / name
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif src.exists():
            shutil.copy2(src, dst)
    tests = sorted({t for m in modules for t in MODULES[m][0] if (ROOT / t).exists()})
    (WORK / "tests" / "unit").mkdir(parents=True, exist_ok=True)
    for rel in [*SUPPORT, *tests]:
        shutil.copy2(ROOT / rel, WORK / rel)
    config = CONFIG.format(only="\n".join(f"    {m}" for m in modules),
                           tests="\n".join(f"    {t}" for t in tests))
    cfg = WORK / "setup.cfg"
    if not cfg.exists() or cfg.read_text() != config:
        # other modules or tests: mutmut only regenerates changed files, so start afresh
        shutil.rmtree(WORK / "mutants", ignore_errors=True)
        cfg.write_text(config)


def baseline(modules: list[str]) -> None:
    """The judging tests must pass on the unmutated copy: if they cannot even import there,
    every mutant would "survive" and the table would blame the tests, not the copy."""
    tests = sorted({t for m in modules for t in MODULES[m][0]})
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-x", *tests], cwd=WORK, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit("the judging tests fail on the unmutated copy in .mutation/ "
                         "(a file they need is not copied: see SUPPORT)")


def mutmut(*args: str, check: bool = True) -> str:
    exe = Path(sys.executable).with_name("mutmut")
    proc = subprocess.run([str(exe), *args], cwd=WORK, capture_output=True, text=True)
    if check and proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"mutmut {' '.join(args)} failed ({proc.returncode})")
    return proc.stdout


def results(modules: list[str]) -> dict[str, str]:
    """mutant name -> status, read from mutmut's per-file results (`<file>.meta`), with
    mutmut's own exit-code vocabulary (much faster than `mutmut results`)."""
    from mutmut.stats import status_by_exit_code

    out = {}
    for m in modules:
        meta = WORK / "mutants" / (m + ".meta")
        if meta.exists():
            for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
                out[name] = status_by_exit_code[code]
    return out


def module_of(mutant: str, modules: list[str]) -> str | None:
    for m in modules:
        if mutant.startswith(m[:-3].replace("/", ".") + "."):
            return m
    return None


_STRING = re.compile(r"""(?:[rbfuRBFU]{0,2})("[^"\\]*(?:\\.[^"\\]*)*"|'[^'\\]*(?:\\.[^'\\]*)*')""")


def is_message_text(diff: str) -> bool:
    """Only string literals changed, and each changed literal is prose (has a space)."""
    minus = [ln[1:] for ln in diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    plus = [ln[1:] for ln in diff.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    if len(minus) != len(plus) or not minus:
        return False
    for a, b in zip(minus, plus, strict=True):
        sa, sb = _STRING.split(a), _STRING.split(b)
        if len(sa) != len(sb):
            return False
        # outside the literals nothing may change; the changed literals must be prose
        for i, (x, y) in enumerate(zip(sa, sb, strict=True)):
            if i % 2 == 0 and x != y:
                return False
            if i % 2 == 1 and x != y and " " not in x:
                return False
    return True


_SOURCES: dict[Path, dict[str, str]] = {}


def diff_of(mutant: str, module: str) -> str:
    """The mutant's change as a unified diff of its function against the original (what
    `mutmut show` prints, read straight from the mutated copy: one parse per module)."""
    path = WORK / "mutants" / module
    if path not in _SOURCES:
        text = path.read_text()
        lines = text.splitlines()
        _SOURCES[path] = {n.name: "\n".join(lines[n.lineno - 1:n.end_lineno])
                          for n in ast.walk(ast.parse(text))
                          if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    funcs = _SOURCES[path]
    name = mutant.rsplit(".", 1)[1]
    orig = name.rsplit("__mutmut_", 1)[0] + "__mutmut_orig"
    a = funcs.get(orig, "").replace(orig, "f").splitlines()
    b = funcs.get(name, "").replace(name, "f").splitlines()
    return "\n".join(difflib.unified_diff(a, b, lineterm=""))


def score(modules: list[str]) -> dict[str, dict]:
    table = {m: {"mutants": 0, "killed": 0, "message": 0, "equivalent": 0, "survived": [],
                 "unjudged": 0} for m in modules}
    for name, status in results(modules).items():
        m = module_of(name, modules)
        if m is None:
            continue
        row = table[m]
        row["mutants"] += 1
        if status == "killed":
            row["killed"] += 1
        elif name in EQUIVALENT:
            row["equivalent"] += 1
        elif status == "survived" and is_message_text(diff_of(name, m)):
            row["message"] += 1
        else:
            row["survived"].append(name)
            if status != "survived":
                row["unjudged"] += 1
    for row in table.values():
        behaviour = row["mutants"] - row["message"] - row["equivalent"]
        row["behaviour"] = behaviour
        row["score"] = row["killed"] / behaviour if behaviour else 1.0
    return table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.mutation")
    p.add_argument("modules", nargs="*", help=f"default: all of {list(MODULES)}")
    p.add_argument("--max-children", type=int, default=2)
    p.add_argument("--check", action="store_true", help="fail under a module's floor")
    p.add_argument("--json", type=Path, help="also write the table here")
    p.add_argument("--report-only", action="store_true", help="score the last run again")
    a = p.parse_args(argv)
    modules = a.modules or list(MODULES)
    unknown = [m for m in modules if m not in MODULES]
    if unknown:
        p.error(f"unknown modules {unknown}")
    if not a.report_only:
        prepare(modules)
        baseline(modules)
        mutmut("run", "--max-children", str(a.max_children), check=False)
    table = score(modules)
    print("| module | mutants | killed | message text | equivalent | survived | score | floor |")
    print("|---|---|---|---|---|---|---|---|")
    failed = []
    for m, row in table.items():
        ok = row["score"] >= FLOORS[m]
        failed += [] if ok else [m]
        print(f"| `{m}` | {row['mutants']} | {row['killed']} | {row['message']} | "
              f"{row['equivalent']} | {len(row['survived'])} | {row['score']:.1%} | "
              f"{FLOORS[m]:.0%} |")
    for row in table.values():
        for name in row["survived"]:
            print(f"survived: {name}", file=sys.stderr)
    if a.json:
        a.json.write_text(json.dumps(table, indent=2))
    if a.check and failed:
        print(f"under the floor: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

