"""The Python layer's SBOM rows: `pkg:pypi/<name>@<version>`, the one wheel's sha256 and URL."""

from __future__ import annotations

from collections.abc import Iterator

from imagelock.lock.component import Component, Purl
from imagelock.lock.model import PythonLayer


def components(layer: PythonLayer) -> Iterator[Component]:
    """One row per package of every env (a package two envs hold is listed for each venv it is in), and one per
    build package its sdists are built with (`imagelock:role = build`: in no venv of the image)."""
    for env in layer.environments():
        default = {index.name for index in env.indexes if index.default}
        urls = {index.name: index.url for index in env.indexes}
        # keys: `<env>/<name>`, and `<env>/build/<name>` for the build packages, which depend only on each other
        built = [
            (p, (("imagelock:venv", env.venv), ("imagelock:role", "build")), f"{env.name}/build/")
            for p in env.build_packages
        ]
        rows = [*((p, (("imagelock:venv", env.venv),), f"{env.name}/") for p in env.packages), *built]
        for package, properties, scope in rows:
            qualifiers = [("file_name", package.wheel.filename)]
            if package.index not in default and package.index in urls:  # the purl spec's non-PyPI index
                qualifiers.append(("repository_url", urls[package.index]))
            yield Component(
                kind="library",
                name=package.name,
                version=package.version,
                # The purl spec's pypi name: lower case, `_` as `-` (PEP 503 without the `.` rule).
                purl=Purl(
                    "pypi",
                    package.name.lower().replace("_", "-"),
                    version=package.version,
                    qualifiers=tuple(qualifiers),
                ),
                sha256=package.wheel.sha256,
                urls=(package.wheel.url,),
                properties=properties,
                key=f"{scope}{package.name}",  # one venv's requirements never reach into another's
                depends_on=tuple(f"{scope}{name}" for name in package.dependencies),
            )
