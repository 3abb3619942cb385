"""Imports point one way: `function_app` -> `functions` -> `shared` feature packages ->
base modules (`settings`, `storage`, ...) -> SDKs. Read from the source (every import,
including the lazy ones inside functions), so a cycle or an upward import fails here."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Rank of each part of the app: a module may import its own part and lower ranks only.
RANKS = {
    "shared.errors": 0, "shared.retry_after": 0, "shared.json_body": 0.5, "shared.telemetry": 0,
    "shared.pools": 0, "shared.settings": 1,
    "shared.identity": 2, "shared.storage": 3, "shared.markers": 4,
    "shared.checks": 5, "shared.adf": 5, "shared.alerts": 5, "shared.landing": 5,
    "shared.reporting": 5,  # below runs: finish_run calls it
    "shared.feeds": 5.5,  # the feeds file: reads checks' Profile and landing's kinds
    "shared.api_models": 6, "shared.runs": 6, "shared.secrets": 6,
    "shared.monitoring": 7, "shared.openapi": 7,
    "shared.orchestration": 8, "shared.dashboard": 8,
    "shared.services": 9,
    "functions": 10, "function_app": 11,
}
OUTSIDE_THE_APP = ("devstack", "training", "tests", "bench")


def part_of(module: str) -> str | None:
    for part in sorted(RANKS, key=len, reverse=True):
        if module == part or module.startswith(part + "."):
            return part
    return None


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def app_modules() -> dict[str, Path]:
    files = [ROOT / "function_app.py", *ROOT.glob("functions/**/*.py"),
             *ROOT.glob("shared/**/*.py")]
    # `shared/__init__.py` holds only the package's docstring: not a part of its own.
    return {module_name(p): p for p in files if module_name(p) != "shared"}


def imports_of(path: Path, known: set[str]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import module` depends on the module; `from pkg import name` on pkg.
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known
                     else node.module for a in node.names]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in OUTSIDE_THE_APP:
                found.add(name)
            while name and name not in known:  # `from pkg import module` or a symbol
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def graph() -> dict[str, set[str]]:
    mods = app_modules()
    return {m: imports_of(p, set(mods)) - {m} for m, p in mods.items()}


def test_every_app_module_belongs_to_a_ranked_part():
    assert [m for m in app_modules() if part_of(m) is None] == []


def test_nothing_imports_upward_or_outside_the_app():
    bad = []
    for mod, deps in graph().items():
        for dep in deps:
            if dep.split(".")[0] in OUTSIDE_THE_APP:
                bad.append(f"{mod} imports {dep} (outside the app)")
            elif (part_of(dep) != part_of(mod)
                  and RANKS[part_of(dep)] >= RANKS[part_of(mod)]):
                bad.append(f"{mod} imports {dep} ({part_of(dep)} is not below {part_of(mod)})")
    assert bad == []


def test_there_is_no_import_cycle():
    g = graph()
    cycles, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for dep in sorted(g.get(node, ())):
            if state.get(dep) == "open":
                cycles.append(" -> ".join(path[path.index(dep):] + [dep]))
            elif dep not in state and dep in g:
                visit(dep, path + [dep])
        state[node] = "done"

    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_the_checker_sees_an_upward_import(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("def f():\n    from functions.http_util import error\n")
    assert "functions.http_util" in imports_of(bad, set(app_modules()))


def test_settings_are_looked_up_in_the_entry_layer_only():
    """Services are handed down: below `functions/` only the wiring reads the settings."""
    readers = [m for m, p in app_modules().items()
               if "get_settings" in p.read_text()
               and part_of(m) not in ("functions", "shared.settings", "shared.services")]
    assert readers == []


def test_conditional_blob_writes_live_in_the_storage_helper_only():
    """One blob-state helper: `storage.BlobState` is the only module that writes with an etag
    condition (its read-modify-write loop and claim-once); no module writes its own loop."""
    writers = [m for m, p in app_modules().items()
               if any(word in p.read_text() for word in ("MatchConditions", "match_condition", "etag=",
                                                          "if_match", "if_none_match"))]
    assert writers == ["shared.storage"]
