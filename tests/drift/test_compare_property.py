"""Property: the set-based comparison finds exactly what a plain per-package reference finds."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from imagelock.drift.compare import LockIndex, compare
from imagelock.drift.synthetic import facts_for
from imagelock.lock.model import AptLayer, AptPackage, Lock, Universe

NAMES = st.lists(st.sampled_from([f"pkg{i}" for i in range(30)]), min_size=1, max_size=20, unique=True)


def lock_with(names: list[str]) -> Lock:
    lock = Lock(name="p", intent_sha256="0" * 64, universe=Universe(cutoff="2025-01-01T00:00:00Z", source="intent"))
    lock.apt = AptLayer(
        archive="http://deb.debian.org/debian",
        keyring_sha256="0" * 64,
        packages=[
            AptPackage(
                name=n,
                version=f"1.{i}",
                arch="all" if i % 3 == 0 else "amd64",
                filename="f",
                sha256="0" * 64,
                size=1,
                suite="bookworm",
            )
            for i, n in enumerate(names)
        ],
    )
    return lock


def reference(lock: Lock, rows: list[list[str]], strict: bool) -> set[tuple[str, str, str, str | None]]:
    """One package at a time, the obvious way."""
    out = set()
    installed = {(r[0], r[2]): r[1] for r in rows if len(r) == 3}
    half = {(r[0], r[2]) for r in rows if len(r) == 4}
    locked = {(p.name, p.arch): p.version for p in lock.apt.packages}
    names = {p.name for p in lock.apt.packages}
    for (name, arch), version in locked.items():
        if (name, arch) in half:
            out.add(("not-installed", name, arch, version))
        elif (name, arch) not in installed:
            out.add(("missing", name, arch, version))
        elif installed[(name, arch)] != version:
            out.add(("changed-version", name, arch, version))
    for name, arch in installed:
        if (name, arch) not in locked and (strict or name in names):
            out.add(("extra", name, arch, None))
    if strict:
        out |= {("not-installed", n, a, None) for n, a in half if (n, a) not in locked}
    return out


@settings(max_examples=300, deadline=None)
@given(names=NAMES, data=st.data(), strict=st.booleans())
def test_set_based_comparison_equals_the_reference(names, data, strict) -> None:
    lock = lock_with(names)
    rows = facts_for(lock)["dpkg"]
    rows += [[f"base{i}", "9.9", "amd64"] for i in range(data.draw(st.integers(0, 5)))]
    for row in list(rows):
        action = data.draw(st.sampled_from(["keep", "keep", "bump", "remove", "other-arch", "half"]))
        if action == "bump":
            row[1] += "+1"
        elif action == "remove":
            rows.remove(row)
        elif action == "other-arch":
            rows.append([row[0], row[1], data.draw(st.sampled_from(["i386", "arm64"]))])  # a foreign arch
        elif action == "half":
            row.append("half-configured")
    index = LockIndex(lock, strict_apt=strict)
    got = set()
    for f in compare(index, {"facts_version": 1, "dpkg": rows, "fingerprint": {"digest": index.digest}}):
        name, _, arch = f.subject.partition(":")  # name alone means: the arch the lock has for it
        arch = arch or next((p.arch for p in lock.apt.packages if p.name == name), "amd64")
        got.add((f.kind, name, arch, f.expected))
    assert got == reference(lock, rows, strict)
