"""The subset of the Data Factory expression language the emulator understands.

Supported: `@pipeline().parameters.x`, `@pipeline().RunId` (and `Pipeline`, `DataFactory`,
`GroupId`, `TriggerTime`, `TriggerType`), `@activity('A').output...`, `@variables('v')`,
property access with `.name`, `?.name` (null when missing) and `['name']` / `[0]`, string/number/bool/null literals, the
functions in `FUNCTIONS`, whole-value expressions (`"@concat(...)"`), string interpolation
(`"x-@{pipeline().RunId}"`) and the `@@` escape. Anything else raises `ExpressionError`
naming the expression, which fails the activity (and the run) with that message.

Values in pipeline JSON that are expressions come either as `{"value": "@...", "type":
"Expression"}` or as plain strings starting with `@`; `evaluate_value` handles both,
recursively through dicts and lists.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ExpressionError(ValueError):
    """An expression is malformed or outside the supported subset; the message names it."""


@dataclass
class Scope:
    """What an expression can see while one pipeline run executes."""

    pipeline: dict[str, Any]  # RunId, Pipeline, DataFactory, GroupId, TriggerTime, TriggerType
    parameters: dict[str, Any]
    variables: dict[str, Any] = field(default_factory=dict)
    # name -> that activity's output; raises KeyError when it has not run
    activity_output: Callable[[str], Any] = field(default=None)  # type: ignore[assignment]

    def output_of(self, name: str) -> Any:
        if self.activity_output is None:
            raise KeyError(name)
        return self.activity_output(name)


# --- tokenizer ---------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<str>'(?:[^']|'')*')|"
    r"(?P<num>-?\d+(?:\.\d+)?)|"
    r"(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|"
    r"(?P<punct>\?\.|[().,\[\]])"
    r")"
)


def _tokens(text: str, source: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExpressionError(
                f"cannot parse expression '{source}' near {text[pos:pos + 20]!r}"
            )
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


# --- parser: builds a small tree of tuples ----------------------------------------------


class _Parser:
    def __init__(self, text: str, source: str):
        self.source = source
        self.toks = _tokens(text, source)
        self.i = 0

    def fail(self, what: str):
        raise ExpressionError(f"cannot parse expression '{self.source}': {what}")

    def peek(self, value: str | None = None):
        if self.i >= len(self.toks):
            return None
        tok = self.toks[self.i]
        if value is not None and tok[1] != value:
            return None
        return tok

    def take(self, value: str | None = None):
        tok = self.peek(value)
        if tok is None:
            self.fail(f"expected {value!r}" if value else "unexpected end")
        self.i += 1
        return tok

    def parse(self):
        node = self.expr()
        if self.i != len(self.toks):
            self.fail(f"unexpected {self.toks[self.i][1]!r}")
        return node

    def expr(self):
        kind, value = self.take()
        if kind == "str":
            node = ("lit", value[1:-1].replace("''", "'"))
        elif kind == "num":
            node = ("lit", float(value) if "." in value else int(value))
        elif kind == "ident" and value in ("true", "false", "null") and not self.peek("("):
            node = ("lit", {"true": True, "false": False, "null": None}[value])
        elif kind == "ident":
            self.take("(")
            args = []
            if not self.peek(")"):
                args.append(self.expr())
                while self.peek(","):
                    self.take(",")
                    args.append(self.expr())
            self.take(")")
            node = ("call", value, args)
        else:
            self.fail(f"unexpected {value!r}")
        while self.peek(".") or self.peek("?.") or self.peek("["):
            op = self.take()[1]
            if op in (".", "?."):
                kind, name = self.take()
                if kind != "ident":
                    self.fail(f"expected a property name after {op!r}, got {name!r}")
                node = ("get" if op == "." else "safe-get", node, ("lit", name))
            else:
                key = self.expr()
                self.take("]")
                node = ("get", node, key)
        return node


# --- evaluation --------------------------------------------------------------------------


def _cmp(op: Callable[[Any, Any], bool]):
    def f(a, b):
        if isinstance(a, bool) or isinstance(b, bool) or type(a) is not type(b):
            if not (isinstance(a, int | float) and isinstance(b, int | float)):
                raise TypeError(f"cannot compare {a!r} with {b!r}")
        return op(a, b)

    return f


def _to_int(v):
    if isinstance(v, bool):
        raise TypeError(f"int() of a boolean {v!r}")
    return int(v)


def _if(cond, a, b):
    if not isinstance(cond, bool):
        raise TypeError(f"if() needs a boolean condition, got {cond!r}")
    return a if cond else b


def _bool_args(name: str, fn):
    def f(*args):
        for a in args:
            if not isinstance(a, bool):
                raise TypeError(f"{name}() needs booleans, got {a!r}")
        return fn(*args)

    return f


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "concat": lambda *a: "".join(_to_text(x) for x in a),
    "equals": lambda a, b: a == b,
    "and": _bool_args("and", lambda *a: all(a)),
    "or": _bool_args("or", lambda *a: any(a)),
    "not": _bool_args("not", lambda a: not a),
    "greater": _cmp(lambda a, b: a > b),
    "greaterOrEquals": _cmp(lambda a, b: a >= b),
    "less": _cmp(lambda a, b: a < b),
    "lessOrEquals": _cmp(lambda a, b: a <= b),
    "if": _if,
    "string": lambda v: _to_text(v),
    "int": _to_int,
    "json": lambda v: json.loads(v) if isinstance(v, str) else v,
    "add": lambda a, b: a + b,
    "coalesce": lambda *a: next((x for x in a if x is not None), None),
    "empty": lambda v: v is None or len(v) == 0,
    "length": lambda v: len(v),
}
_SCOPE_FUNCTIONS = {"pipeline", "activity", "variables"}


def _to_text(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "True" if v else "False"  # ADF prints booleans capitalised in concat
    if v is None:
        return ""
    if isinstance(v, int | float):
        return str(v)
    return json.dumps(v, separators=(",", ":"))


def _get(container: Any, key: Any, source: str) -> Any:
    try:
        if isinstance(container, dict):
            if key in container:
                return container[key]
            # ADF property access is case-insensitive
            lowered = {str(k).lower(): k for k in container}
            if isinstance(key, str) and key.lower() in lowered:
                return container[lowered[key.lower()]]
            raise KeyError(key)
        if isinstance(container, list) and isinstance(key, int) and not isinstance(key, bool):
            return container[key]
        if isinstance(container, str) and isinstance(key, str):
            # an output that is JSON text can be navigated like ADF does for json outputs
            return _get(json.loads(container), key, source)
    except (KeyError, IndexError, ValueError):
        pass
    raise ExpressionError(
        f"expression '{source}' cannot be evaluated: property {key!r} does not exist "
        f"in {_short(container)}"
    )


def _short(v: Any) -> str:
    text = json.dumps(v, default=str)
    return text if len(text) <= 200 else text[:200] + "..."


def _eval(node, scope: Scope, source: str):
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "get":
        return _get(_eval(node[1], scope, source), _eval(node[2], scope, source), source)
    if kind == "safe-get":  # `a?.b`: null when `a` is null or has no property `b`
        container = _eval(node[1], scope, source)
        try:
            return None if container is None else _get(container, node[2][1], source)
        except ExpressionError:
            return None
    _, name, args = node
    if name in _SCOPE_FUNCTIONS:
        return _scope_call(name, [_eval(a, scope, source) for a in args], scope, source)
    fn = FUNCTIONS.get(name)
    if fn is None:
        raise ExpressionError(
            f"unsupported function '{name}' in expression '{source}' (the local emulator "
            f"supports: {', '.join(sorted(FUNCTIONS | dict.fromkeys(_SCOPE_FUNCTIONS)))})"
        )
    values = [_eval(a, scope, source) for a in args]
    try:
        return fn(*values)
    except ExpressionError:
        raise
    except (TypeError, ValueError) as exc:
        raise ExpressionError(f"expression '{source}' failed in {name}(): {exc}") from None


def _scope_call(name: str, args: list, scope: Scope, source: str):
    if name == "pipeline":
        if args:
            raise ExpressionError(f"pipeline() takes no arguments in expression '{source}'")
        return {**scope.pipeline, "parameters": scope.parameters}
    if len(args) != 1 or not isinstance(args[0], str):
        raise ExpressionError(f"{name}() needs one name in expression '{source}'")
    if name == "variables":
        if args[0] not in scope.variables:
            raise ExpressionError(
                f"expression '{source}' refers to variable '{args[0]}', which the pipeline "
                "does not declare"
            )
        return scope.variables[args[0]]
    try:
        return {"output": scope.output_of(args[0])}
    except KeyError:
        raise ExpressionError(
            f"expression '{source}' refers to activity '{args[0]}', which has not run "
            "(or does not exist) in this pipeline run"
        ) from None


def evaluate_expression(text: str, scope: Scope) -> Any:
    """Evaluate one expression without its leading `@` (e.g. `pipeline().RunId`)."""
    source = "@" + text
    return _eval(_Parser(text, source).parse(), scope, source)


def evaluate_string(s: str, scope: Scope) -> Any:
    """A string value from pipeline JSON: literal, `@expression`, or with `@{...}` parts."""
    if s.startswith("@@"):
        return s[1:]
    if "@{" in s:
        return _interpolate(s, scope)
    if s.startswith("@"):
        return evaluate_expression(s[1:], scope)
    return s


def _interpolate(s: str, scope: Scope) -> str:
    out, pos = [], 0
    while True:
        start = s.find("@{", pos)
        if start < 0:
            out.append(s[pos:])
            return "".join(out)
        end = _closing_brace(s, start + 2)
        if end < 0:
            raise ExpressionError(f"unterminated '@{{' in expression '{s}'")
        out.append(s[pos:start])
        out.append(_to_text(evaluate_expression(s[start + 2:end], scope)))
        pos = end + 1


def _closing_brace(s: str, i: int) -> int:
    in_str = False
    while i < len(s):
        c = s[i]
        if c == "'":
            in_str = not in_str
        elif c == "}" and not in_str:
            return i
        i += 1
    return -1


def evaluate_value(value: Any, scope: Scope) -> Any:
    """Evaluate every expression inside a JSON value (dicts, lists, strings)."""
    if isinstance(value, dict):
        if value.get("type") == "Expression" and isinstance(value.get("value"), str):
            return evaluate_string(value["value"], scope)
        return {k: evaluate_value(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate_value(v, scope) for v in value]
    if isinstance(value, str):
        return evaluate_string(value, scope)
    return value
