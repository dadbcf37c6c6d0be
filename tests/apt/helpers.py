"""Write intents for the test archive and run `lock update` the way users do."""

from __future__ import annotations

import json
from pathlib import Path

import tomli_w

from imagelock import cli


def write_intent(
    folder: Path,
    url: str,
    keyring_path: Path | None,
    packages: list[str],
    *,
    suites: tuple[str, ...] = ("stable", "updates"),
    kernel: dict | None = None,
    cutoff: str = "2024-04-15T00:00:00Z",
    **apt: object,
) -> Path:
    table: dict[str, object] = {
        "archive": url,
        "suites": list(suites),
        "components": ["main"],
        "architectures": ["amd64"],
        "packages": packages,
    }
    if keyring_path is not None:
        table["keyring"] = str(keyring_path)
    table.update({k.replace("_", "-"): v for k, v in apt.items()})
    intent: dict[str, object] = {"name": "test", "universe": {"cutoff": cutoff}, "apt": table}
    if kernel is not None:
        intent["kernel"] = kernel
    path = folder / "image.toml"
    path.write_text(tomli_w.dumps(intent))
    return path


def lock_update(intent: Path, capsys, *extra: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    """The real CLI entry point; returns (exit code, stdout, stderr)."""
    code = cli.main(["update", str(intent), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def locked(intent: Path) -> dict[str, dict]:
    import tomllib

    table = tomllib.loads(intent.with_suffix(".lock").read_text())
    return {p["name"]: p for p in table["apt"]["packages"]}


def as_json(value: object) -> str:
    return json.dumps(value, sort_keys=True)
