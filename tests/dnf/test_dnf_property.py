"""Property: on random rpm repositories and base images, the closure is the one dnf computes (or both refuse).

Random dependency graphs (one or two versions per name, version relations of every kind, virtual provides,
missing names, Obsoletes and Conflicts, a base image with some versions installed, and a request by name,
name.arch, name-version-release or provide) are built as real signed rpms and repositories and resolved by
Debian's dnf 4.14 and by `lock update` (tests/dnf/universe.py).
Every run draws the same EXAMPLES universes (derandomized: a red build means a change broke something);
`DNF_PROPERTY_EXAMPLES=40` searches that many random ones instead. Each disagreement found belongs in
tests/dnf/test_dnf_agreement.py's FOUND as a named case.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.dnf.rpmrepo import Rpm, RpmKey
from tests.dnf.universe import Universe, resolve_both

NAMES = [f"pk{i}" for i in range(6)]
VIRTUALS = ["vir0", "vir1"]
OPS = ["", " >= 1.0", " >= 2.0", " < 2.0", " = 1.0-1", " > 1.0", " <= 2.0"]
SEARCH = os.environ.get("DNF_PROPERTY_EXAMPLES")
EXAMPLES = int(SEARCH or "6")


@st.composite
def universes(draw: st.DrawFn) -> Universe:
    rpms: list[Rpm] = []
    for name in NAMES:
        for version in draw(st.sampled_from([["1.0"], ["2.0"], ["1.0", "2.0"]])):
            rpm = Rpm(name, version)
            for _ in range(draw(st.integers(0, 2))):
                target = draw(st.sampled_from([*NAMES, *VIRTUALS, "nomissing"]))
                if target != name:
                    rpm.requires.append(target + (draw(st.sampled_from(OPS)) if target in NAMES else ""))
            if draw(st.integers(0, 3)) == 0:
                rpm.provides.append(draw(st.sampled_from(VIRTUALS)))
            if draw(st.integers(0, 6)) == 0:
                other = draw(st.sampled_from(NAMES))
                if other != name:
                    rpm.conflicts.append(other)
            if draw(st.integers(0, 8)) == 0:
                other = draw(st.sampled_from(NAMES))
                if other != name:
                    rpm.obsoletes.append(f"{other} < 2.0")
            rpms.append(rpm)
    versions = sorted({(r.name, r.version) for r in rpms})
    base = draw(st.lists(st.sampled_from(versions), max_size=3, unique_by=lambda v: v[0]))
    provided = sorted({v for r in rpms for v in r.provides})
    wanted = draw(
        st.lists(st.sampled_from(sorted({r.name for r in rpms}) + provided), min_size=1, max_size=3, unique=True)
    )
    return Universe(rpms, base, [draw(_spelling(want, versions)) for want in wanted])


def _spelling(want: str, versions: list[tuple[str, str]]) -> st.SearchStrategy[str]:
    """How `dnf install` may be asked for it: a name mostly, else name.arch or name-version-release (which
    take no obsoleters); a provide as it is."""
    if want in VIRTUALS:
        return st.just(want)
    forms = [want, want, f"{want}.noarch", *(f"{want}-{v}-1" for n, v in versions if n == want)]
    return st.sampled_from(forms)


@settings(
    max_examples=EXAMPLES,
    derandomize=SEARCH is None,
    database=None if SEARCH is None else settings.default.database,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(universe=universes())
def test_random_repositories_resolve_as_dnf_does(
    universe: Universe, rpm_key: RpmKey, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # under the run's base temp: the gpg-agent dnf starts in it is then one the session fixture stops
    folder = Path(tempfile.mkdtemp(prefix="dnf-property-", dir=tmp_path_factory.getbasetemp()))
    try:
        outcome = resolve_both(folder, universe, rpm_key)
        outcome.check(f"request {universe.request}, base {universe.base}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
