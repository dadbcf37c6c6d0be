"""`lock check --online` for container images against the real distribution registry on loopback: a tag that
moved is a note (exit 0, the lock keeps its digest), a locked digest the registry no longer serves is gone
(exit 1), a registry that answers nothing is exit 2."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from tests.containers.registry import oci_layout, registry


def _locked(tmp_path: Path, host: str, lock_cli) -> Path:
    intent = tmp_path / "image.toml"
    intent.write_text(
        f'name = "online"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n[[containers]]\nimage = "{host}/team/app:1.0"\n'
    )
    assert lock_cli("update", str(intent)).code == 0
    return intent.with_suffix(".lock")


def test_a_moved_tag_is_a_note_and_a_digest_no_longer_served_is_gone(tmp_path: Path, lock_cli) -> None:
    with registry(tmp_path / "registry") as reg:
        built = oci_layout(tmp_path / "first", "1.0", "first")
        reg.push(tmp_path / "first", "1.0", "team/app")
        lock = _locked(tmp_path, reg.host, lock_cli)
        before = lock.read_bytes()
        image = f"container {reg.host}/team/app:1.0"

        fine = lock_cli("check", "--online", "--lock", str(lock))
        assert fine.code == 0, fine.out + fine.err
        assert (
            f"{lock}: online: all 0 artifacts and 1 container images are fetchable from at least one source" in fine.out
        )

        moved = oci_layout(tmp_path / "second", "1.0", "second")
        reg.push(tmp_path / "second", "1.0", "team/app")
        noted = lock_cli("check", "--online", "--lock", str(lock))
        assert noted.code == 0, noted.out + noted.err
        assert (
            f"{lock}: online: note: {image}: tag 1.0 now names {moved.index}; the lock keeps {built.index} "
            "until `lock update --refresh containers`"
        ) in noted.out

        # The registry deletes the locked amd64 manifest (distribution's DELETE by digest): gone, exit 1.
        amd64 = built.manifests["linux/amd64"]
        request = urllib.request.Request(f"http://{reg.host}/v2/team/app/manifests/{amd64}", method="DELETE")
        assert urllib.request.urlopen(request, timeout=10).status == 202  # noqa: S310 - loopback
        gone = lock_cli("check", "--online", "--lock", str(lock), "--json")
        assert gone.code == 1, gone.out + gone.err
        report = json.loads(gone.out)
        assert report["ok"] is False and report["online"]["gone"] == [image]
        human = lock_cli("check", "--online", "--lock", str(lock))
        assert human.code == 1
        assert f"{lock}: online: 0 of 0 artifacts and 1 of 1 container images are gone from every source" in human.out
        assert f"{lock}: gone: {image}: {reg.host}/team/app no longer serves: manifest {amd64}" in human.out
        assert lock.read_bytes() == before

        host = reg.host
    # The registry is down: no answer at all says nothing about the images (exit 2).
    down = lock_cli("check", "--online", "--lock", str(lock))
    assert down.code == 2 and "no source answered at all (0 artifacts and 1 container images)" in down.err, down.err
    assert host in lock.read_text() and lock.read_bytes() == before
