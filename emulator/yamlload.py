"""Bounded YAML loading for scenario files: C loader, size/depth/alias limits, duplicate keys refused.

A scenario file is untrusted text. Plain `yaml.safe_load` is slow (pure Python), accepts
duplicate keys (the last one silently wins), recurses once per nesting level (a RecursionError
traceback at ~1,000 levels) and builds alias trees whose *expanded* size is exponential in the
file size (a 300-byte "billion laughs" file), which anything that walks the result — validation,
an error message — then expands. `load_yaml` refuses each of these with one located line.
"""
from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode

try:  # libyaml: ~10x faster than the pure-Python loader and parser
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

# A large scenario (100,000 device positions) is ~2 MB of YAML; 4 MiB leaves room without letting
# a file make the loader spend minutes and gigabytes (libyaml builds ~1 Python object per value).
MAX_BYTES = 4 << 20
# Scenario files nest a few levels (sections, lists of sites, distributions); 64 is far beyond any.
MAX_DEPTH = 64
# Nodes after alias expansion (every *alias counts at the full size of its anchor's subtree).
MAX_NODES = 1_000_000


class YamlLimitError(ValueError):
    """The YAML text breaks one of the loader's limits or rules; `where` is "line L, column C"."""

    def __init__(self, where: str, message: str):
        super().__init__(where, message)
        self.where, self.message = where, message

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


def _where(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _prescan(text: str) -> None:
    """Depth and expanded size from the event stream (libyaml parses without recursion)."""
    stack: list[list] = []  # [expanded node count so far, anchor] per open collection
    sizes: dict[str, int] = {}  # anchor -> expanded size of its node
    total = 0
    for ev in yaml.parse(text, Loader=_BaseLoader):
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            stack.append([1, ev.anchor])
            if len(stack) > MAX_DEPTH:
                raise YamlLimitError(_where(ev.start_mark), f"nested more than {MAX_DEPTH} levels deep")
            continue
        if isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            n, anchor = stack.pop()
            if anchor is not None:
                sizes[anchor] = n
        elif isinstance(ev, yaml.ScalarEvent):
            n = 1
            if ev.anchor is not None:
                sizes[ev.anchor] = 1
        elif isinstance(ev, yaml.AliasEvent):
            n = sizes.get(ev.anchor, 1)  # an undefined alias is reported by the composer
        else:
            continue
        if stack:
            stack[-1][0] += n
        else:
            total += n
        if (stack[0][0] if stack else total) > MAX_NODES:
            raise YamlLimitError(_where(ev.start_mark),
                                 f"expands to more than {MAX_NODES:,} values (aliases counted in full); "
                                 "is this an alias bomb?")


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader that refuses duplicate mapping keys, naming both lines."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                # `<<` merge keys may repeat and are overridden by explicit keys by design.
                if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                try:
                    key = self.construct_object(key_node, deep=True)
                    hash(key)
                except (TypeError, yaml.YAMLError):
                    continue  # the base constructor reports unhashable keys
                first = seen.setdefault(key, key_node)
                if first is not key_node:
                    raise YamlLimitError(
                        _where(key_node.start_mark),
                        f"duplicate key {str(key)[:40]!r} (first set at line {first.start_mark.line + 1})",
                    )
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """YAML text → Python data, or YamlLimitError (over a limit, duplicate key) / yaml.YAMLError.

    Limits: MAX_BYTES of text, MAX_DEPTH levels of nesting, MAX_NODES values after alias
    expansion. Time and memory are linear in the text size.
    """
    size = len(text.encode("utf-8", errors="surrogatepass")) if len(text) * 4 > MAX_BYTES else len(text)
    if size > MAX_BYTES:
        raise YamlLimitError("", f"{size / 2**20:.1f} MiB of YAML is over the {MAX_BYTES >> 20} MiB limit")
    _prescan(text)
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except (ValueError, OverflowError) as exc:  # e.g. an integer of 5,000 digits (int() refuses it)
        if isinstance(exc, YamlLimitError):
            raise
        raise YamlLimitError("", f"cannot read a value: {exc}"[:200]) from None
    finally:
        loader.dispose()
