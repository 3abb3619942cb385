"""HTTP trigger route templates (`items/{id:int}`, `{name?}`, `{*rest}`), matched the
way the Functions host (ASP.NET routing) does for the subset apps use."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import unquote

_PARAM = re.compile(r"^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(\?)?(?::([^}]*))?\}$")


def _check(constraint: str | None, value: str) -> bool:
    if not constraint:
        return True
    name, _, arg = constraint.partition("(")
    arg = arg.rstrip(")")
    try:
        if name in ("int", "long"):
            int(value)
        elif name in ("double", "float", "decimal"):
            float(value)
        elif name == "bool":
            return value.lower() in ("true", "false")
        elif name == "guid":
            uuid.UUID(value)
        elif name == "alpha":
            return value.isalpha()
        elif name == "minlength":
            return len(value) >= int(arg)
        elif name == "maxlength":
            return len(value) <= int(arg)
        elif name == "length":
            return len(value) == int(arg)
        elif name == "regex":
            return re.fullmatch(arg, value) is not None
    except ValueError:
        return False
    return True  # unknown constraints are not enforced


@dataclass(frozen=True)
class Segment:
    literal: str | None = None
    param: str | None = None
    optional: bool = False
    catch_all: bool = False
    constraint: str | None = None


@dataclass(frozen=True)
class Route:
    template: str
    segments: tuple[Segment, ...]

    @classmethod
    def parse(cls, template: str) -> Route:
        segs = []
        for raw in template.strip("/").split("/") if template.strip("/") else []:
            m = _PARAM.match(raw)
            if m:
                segs.append(Segment(param=m.group(2), catch_all=bool(m.group(1)),
                                    optional=bool(m.group(3)) or bool(m.group(1)),
                                    constraint=m.group(4)))
            else:
                segs.append(Segment(literal=raw.lower()))
        return cls(template, tuple(segs))

    @property
    def precedence(self) -> tuple[int, int]:
        """Literal segments win over parameters, catch-alls come last."""
        literals = sum(1 for s in self.segments if s.literal is not None)
        return (-literals, sum(1 for s in self.segments if s.catch_all))

    def match(self, path: str) -> dict[str, str] | None:
        parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
        params: dict[str, str] = {}
        for i, seg in enumerate(self.segments):
            if seg.catch_all:
                params[seg.param] = "/".join(parts[i:])
                return params
            if i >= len(parts):
                if seg.optional:
                    continue
                return None
            value = parts[i]
            if seg.literal is not None:
                if value.lower() != seg.literal:
                    return None
            else:
                if not _check(seg.constraint, value):
                    return None
                params[seg.param] = value
        return params if len(parts) <= len(self.segments) else None
