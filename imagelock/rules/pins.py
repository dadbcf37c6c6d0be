"""The Python layer as the intent pins it, for when it could not be resolved.

When the Python requirements conflict there is no locked Python layer, yet the
cross-layer rules still have something to say about what was asked for: a
`vllm==0.6.6.post1` pin cannot load a Qwen3 model whatever else resolves. This
view holds only the exact `==` pins of the intent (with the CUDA label of the
PyTorch index they are pinned to), so the rules judge the intent's own words,
and `lock update` reports those findings beside the Python conflicts.
"""

from __future__ import annotations

from packaging.utils import canonicalize_name

from imagelock.intent.python import PythonIntent
from imagelock.lock.model import PythonEnv, PythonLayer, PythonPackage, Wheel

UNRESOLVED = Wheel(filename="(not resolved)", url="", sha256="")


def exact_version(specs: list[tuple[str, str]]) -> str | None:
    """The version of a lone `==X` (or `===X`) pin; None for ranges and wildcards."""
    if len(specs) == 1 and specs[0][0] in ("==", "===") and not specs[0][1].endswith(".*"):
        return specs[0][1]
    return None


def pinned_layer(intent: PythonIntent) -> PythonLayer:
    """A Python layer of the intent's exact pins only (env by env, when it has envs), marked as not resolved."""
    if intent.envs:
        envs = []
        for env in intent.envs:
            one = _pinned(env)
            envs.append(
                PythonEnv(
                    name=env.name or "",
                    version=env.version,
                    platform=env.platform,
                    venv=env.venv,
                    packages=one.packages,
                )
            )
        return PythonLayer(engine="(pins)", envs=envs)
    return _pinned(intent)


def _pinned(intent: PythonIntent) -> PythonLayer:
    index_of = intent.index_of()
    packages = []
    for requirement in intent.requirements + intent.bootstrap:
        version = exact_version([(s.operator, s.version) for s in requirement.specifier])
        if version is None:
            continue
        name = canonicalize_name(requirement.name)
        index = index_of.get(name, "pypi")
        # PyTorch's CUDA index serves `2.6.0` as `2.6.0+cu124`: the pin resolves to the labelled build.
        if intent.torch and index == f"pytorch-{intent.torch.cuda}" and "+" not in version:
            version = f"{version}+{intent.torch.cuda}"
        packages.append(
            PythonPackage(
                name=name, version=version, index=index, requested=True, wheel=UNRESOLVED, original=str(requirement)
            )
        )
    return PythonLayer(
        version=intent.version, platform=intent.platform, venv=intent.venv, engine="(pins)", packages=packages
    )
