"""models-manifest.json, requirements.txt with hashes, and pylock.toml (PEP 751): one of each per Python env."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import tomli_w

from imagelock.build.values import COMMIT, INTERPRETER, MACHINE, MODEL_REPO, Values
from imagelock.lock.model import DEFAULT_ENV, Lock, PythonEnv


def models_manifest(lock: Lock, values: Values) -> str:
    """The seed's manifest format: one object per baked file, {repo, path, sha256, size, hf_revision}.

    A file the lock holds without a hash has `"sha256": null, "size": null`: the manifest claims only
    what the lock pins (the build measures such a file into /var/lib/imagelock/measured.json)."""
    rows = []
    for i, model in enumerate(lock.models):
        key = f"models[{i}]"
        repo = values.match(model.repo, MODEL_REPO, f"{key}.repo", "a model repo id like owner/name")
        commit = values.match(model.commit, COMMIT, f"{key}.commit", "a 40-hex commit")
        for j, item in enumerate(model.files):
            fkey = f"{key}.files[{j}]"
            rows.append(
                {
                    "repo": repo,
                    "path": values.rel_path(item.path, f"{fkey}.path"),
                    "sha256": None if item.sha256 is None else values.sha256(item.sha256, f"{fkey}.sha256"),
                    "size": None if item.sha256 is None else values.size(item.size, f"{fkey}.size"),
                    "hf_revision": commit,
                }
            )
    rows.sort(key=lambda r: (r["repo"], r["path"]))
    return json.dumps(rows, indent=2) + "\n"


def python_envs(lock: Lock) -> list[tuple[str, PythonEnv]]:
    """Each Python env with the lock key it is read from (`python`, or `python.envs[i]`), in the lock's order."""
    if not lock.python:
        return []
    if not lock.python.envs:
        return [("python", lock.python.environments()[0])]
    return [(f"python.envs[{i}]", env) for i, env in enumerate(lock.python.envs)]


def env_files(lock: Lock) -> dict[str, tuple[str, str]]:
    """Env name -> (its requirements file, its PEP 751 file): `requirements.txt` and `pylock.toml` for the one env
    of a plain [python]; `requirements-<name>.txt` and `pylock.<name>.toml` (PEP 751's name) for each of several."""
    if not lock.python or not lock.python.envs:
        return {DEFAULT_ENV: ("requirements.txt", "pylock.toml")}
    return {e.name: (f"requirements-{e.name}.txt", f"pylock.{e.name}.toml") for e in lock.python.envs}


def _packages(env: PythonEnv, where: str, values: Values, build: bool = False) -> list[dict[str, Any]]:
    """One env's Python packages (or, with `build`, the wheels its sdists are built with), validated, by name."""
    field = "build-packages" if build else "packages"
    out = []
    for i, p in enumerate(env.build_packages if build else env.packages):
        key = f"{where}.{field}[{i}]"
        name, version = values.python_name(p.name, f"{key}.name"), values.python_version(p.version, f"{key}.version")
        out.append(
            {
                "name": name,
                "version": version,
                "index": values.text(p.index, f"{key}.index"),
                "filename": (values.wheel_file if build else values.dist_file)(
                    p.wheel.filename, name, version, f"{key}.wheel.filename"
                ),
                "sdist": p.is_sdist,
                "url": values.url(p.wheel.url, f"{key}.wheel.url"),
                "sha256": values.sha256(p.wheel.sha256, f"{key}.wheel.sha256"),
                "size": values.size(p.wheel.size, f"{key}.wheel.size", optional=True),
                "upload_time": _timestamp(p.wheel.upload_time, f"{key}.wheel.upload-time", values),
                "dependencies": sorted(values.python_name(d, f"{key}.dependencies") for d in p.dependencies),
            }
        )
    return sorted(out, key=lambda p: p["name"])


def _timestamp(value: str | None, key: str, values: Values) -> dt.datetime | None:
    if value is None:
        return None
    values.text(value, key)
    try:
        stamp = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise values.fail(key, f"{value!r} is not an RFC 3339 timestamp") from None
    if stamp.tzinfo is None:
        raise values.fail(key, f"{value!r} has no time zone")
    return stamp.astimezone(dt.UTC)


def _index_urls(env: PythonEnv, where: str, values: Values) -> dict[str, str]:
    """Index name -> URL ("" for the installer's default index)."""
    return {ix.name: values.url(ix.url, f"{where}.indexes.{ix.name}.url") if ix.url else "" for ix in env.indexes}


def _env(lock: Lock, name: str | None) -> tuple[str, PythonEnv] | None:
    """The env a file is rendered for: the named one, or the one env of a plain [python]."""
    for where, env in python_envs(lock):
        if name is None or env.name == name:
            return where, env
    return None


def requirements_txt(lock: Lock, values: Values, env_name: str | None = None) -> str:
    """requirements.txt for one env (the only one of a plain [python], else the named one)."""
    found = _env(lock, env_name)
    name = env_files(lock).get(env_name or DEFAULT_ENV, ("requirements.txt", ""))[0]
    lines = [
        f"# {name} for image {lock.image_name()}: generated by `lock generate`; do not edit.",
        "# Every package is pinned to the one wheel the lock chose, by its sha256. Install with:",
        f"#   pip install --require-hashes --no-deps --only-binary :all: -r {name}",
    ]
    if found:
        where, env = found
        version = values.match(env.version, INTERPRETER, f"{where}.version", "a Python version")
        target = f"# for Python {version} on {values.text(env.platform, f'{where}.platform')}"
        if env_name is not None:
            target += f", the venv {values.abs_path(env.venv, f'{where}.venv')} (env {env_name})"
        lines.append(target)
        for url in sorted({u for u in _index_urls(env, where, values).values() if u}):
            lines.append(f"--extra-index-url {url}")
        packages = _packages(env, where, values)
        sdists = [p["name"] for p in packages if p["sdist"]]
        if sdists:
            lines[2] = lines[2].replace(" -r ", f" --no-binary {','.join(sdists)} --no-build-isolation -r ")
            lines.append(
                f"# {', '.join(sdists)}: locked as source distributions (allow-sdist); build them with no network "
                "after installing these build packages (hash-checked, --no-deps) where pip runs:"
            )
            lines += [
                f"#   {b['name']}=={b['version']} --hash=sha256:{b['sha256']}"
                for b in _packages(env, where, values, True)
            ]
        for p in packages:
            lines.append(f"# {p['filename']}")
            lines.append(f"{p['name']}=={p['version']} --hash=sha256:{p['sha256']}")
    return "\n".join(lines) + "\n"


def _environment(platform: str, values: Values) -> str:
    """`x86_64-manylinux_2_35` -> a PEP 508 marker for that target."""
    machine = values.match(
        platform.split("-", 1)[0], MACHINE, "python.platform", "a platform like x86_64-manylinux_2_35"
    )
    return f"sys_platform == 'linux' and platform_machine == '{machine}'"


def pylock_toml(lock: Lock, values: Values, env_name: str | None = None) -> str:
    """PEP 751 lock file for one env of the Python layer (one wheel per package: the target's)."""
    table: dict[str, Any] = {"lock-version": "1.0"}
    packages: list[dict[str, Any]] = []
    found = _env(lock, env_name)
    if found:
        where, env = found
        version = values.match(env.version, INTERPRETER, f"{where}.version", "a Python version like 3.11")
        table["environments"] = [_environment(env.platform, values)]
        table["requires-python"] = f"=={version}.*"
        indexes = _index_urls(env, where, values)
        for p in _packages(env, where, values):
            entry: dict[str, Any] = {"name": p["name"], "version": p["version"]}
            if indexes.get(p["index"]):
                entry["index"] = indexes[p["index"]]
            if p["dependencies"]:
                entry["dependencies"] = [{"name": d} for d in p["dependencies"]]
            wheel: dict[str, Any] = {"name": p["filename"]}
            if p["upload_time"] is not None:
                wheel["upload-time"] = p["upload_time"]
            wheel["url"] = p["url"]
            if p["size"] is not None:
                wheel["size"] = p["size"]
            wheel["hashes"] = {"sha256": p["sha256"]}
            if p["sdist"]:
                entry["sdist"] = wheel  # PEP 751 `packages.sdist`: the same keys as a wheel's
            else:
                entry["wheels"] = [wheel]
            packages.append(entry)
    table["created-by"] = "imagelock"
    table["packages"] = packages
    tool: dict[str, Any] = {"image": lock.image_name(), "lock-digest": lock.digest()}
    if found and found[1].build_packages:
        # What the sdists are built with (PEP 751 has no place for build requirements): pinned like packages.
        tool["build-packages"] = [
            {"name": b["name"], "version": b["version"], "url": b["url"], "hashes": {"sha256": b["sha256"]}}
            for b in _packages(found[1], found[0], values, True)
        ]
    if env_name is not None and found:
        tool["env"] = env_name
        tool["venv"] = found[1].venv
    table["tool"] = {"imagelock": tool}
    name = env_files(lock).get(env_name or DEFAULT_ENV, ("", "pylock.toml"))[1]
    header = f"# {name} (PEP 751) for image {lock.image_name()}: generated by `lock generate`; do not edit.\n"
    return header + tomli_w.dumps(table)
