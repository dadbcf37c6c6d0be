"""`lock why NAME`: the dependency paths from what the intent asked for to one package.

Like `nix why-depends`: a package is in the image because some requested
package depends on it, perhaps through others. Each layer with a dependency
graph (Python: `dependencies`, apt: `depends-on`) is searched from its
requested packages; the shortest paths come first.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from imagelock.errors import InputError, did_you_mean
from imagelock.lock.model import Lock

MAX_PATHS = 5


@dataclass
class Node:
    name: str
    version: str
    requested: bool
    original: str | None
    edges: list[str] = field(default_factory=list)


@dataclass
class Answer:
    layer: str
    name: str
    version: str
    requested: bool
    original: str | None
    paths: list[list[str]]  # a shortest path from each requested package to `name`, as "name version" steps
    total: int  # how many requested packages lead to it (only MAX_PATHS paths are kept)

    def lines(self) -> list[str]:
        head = f"{self.layer}: {self.name} {self.version}"
        out = [head]
        if self.requested:
            out.append(f"  asked for in the intent as {self.original or self.name}")
        for path in self.paths:
            out.append("  " + " -> ".join(path))
        if self.total > len(self.paths):
            out.append(f"  ... and {self.total - len(self.paths)} more requested packages lead to it")
        if not self.requested and not self.paths:
            out.append("  no requested package depends on it (a leftover?)")
        return out


def _graphs(lock: Lock) -> dict[str, dict[str, Node]]:
    graphs: dict[str, dict[str, Node]] = {}
    if lock.python:
        for env in lock.python.environments():  # each env its own graph, named `python.<env>` when several
            graphs[f"python.{env.name}" if lock.python.envs else "python"] = {
                canonicalize_name(p.name): Node(
                    p.name, p.version, p.requested, p.original, [canonicalize_name(d) for d in p.dependencies]
                )
                for p in env.packages
            }
    if lock.apt:
        graphs["apt"] = {
            p.name: Node(p.name, p.version, p.requested, p.original, list(p.depends_on)) for p in lock.apt.packages
        }
    return graphs


def _distances(graph: dict[str, Node], goal: str) -> dict[str, int]:
    """Steps from each node to `goal` along dependency edges (reverse breadth-first search)."""
    reverse: dict[str, list[str]] = {}
    for key, node in graph.items():
        for dep in node.edges:
            reverse.setdefault(dep, []).append(key)
    distance = {goal: 0}
    queue = deque([goal])
    while queue:
        here = queue.popleft()
        for parent in reverse.get(here, []):
            if parent not in distance:
                distance[parent] = distance[here] + 1
                queue.append(parent)
    return distance


def _paths(graph: dict[str, Node], goal: str) -> tuple[list[list[str]], int]:
    """Shortest paths from each requested package that reaches `goal`, shortest first.

    Only edges that bring the path one step closer are followed, so the search
    stays linear in the graph however many longer paths exist. Returns at most
    MAX_PATHS paths and the number of requested packages that lead to `goal`.
    """
    distance = _distances(graph, goal)
    roots = sorted(
        (k for k, n in graph.items() if n.requested and k != goal and k in distance), key=lambda k: (distance[k], k)
    )
    found: list[list[str]] = []
    for root in roots:
        path = [root]
        while path[-1] != goal:
            here = path[-1]
            path.append(min(d for d in graph[here].edges if distance.get(d) == distance[here] - 1))
        found.append(path)
    return found[:MAX_PATHS], len(found)


def why(lock: Lock, name: str, lock_path: str | Path) -> list[Answer]:
    """Every layer's answer for `name`; an InputError when no layer has it."""
    answers = []
    every: list[str] = []
    for layer, graph in _graphs(lock).items():
        key = canonicalize_name(name) if layer.split(".")[0] == "python" else name
        every += [node.name for node in graph.values()]
        node = graph.get(key)
        if node is None:
            continue
        paths, total = _paths(graph, key)
        steps = [[f"{graph[k].name} {graph[k].version}" for k in path] for path in paths]
        answers.append(Answer(layer, node.name, node.version, node.requested, node.original, steps, total))
    if not answers:
        raise InputError(lock_path, None, f"no package {name!r} in the lock{did_you_mean(name, every)}")
    return answers
