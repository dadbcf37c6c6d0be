"""`sbom.cdx.json`: a CycloneDX document, valid by cyclonedx-python-lib's own validator, with one component per
locked thing of every layer (counted here against the lock), each with its purl, hashes and source, and no
claim the lock does not hold."""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

from imagelock import domains
from imagelock.build import sbom
from imagelock.domains.contract import Domain
from imagelock.lock.artifact import Artifact
from imagelock.lock.diff import Item
from imagelock.lock.model import PlainFile
from tests.generate.sbom_sample import DIGEST, SHA, other_layers, small_lock

ROOT = Path(__file__).resolve().parents[2]
SEED_LOCK = ROOT / "locks" / "seed.lock"


def _valid(text: str) -> dict[str, Any]:
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text, all_errors=True)
    assert errors is None, [str(e) for e in errors]  # type: ignore[union-attr]
    document: dict[str, Any] = json.loads(text)
    return document


def _walk(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for c in components:
        out.append(c)
        out += _walk(c.get("components", []))
    return out


def _layer(component: dict[str, Any]) -> str:
    return next(p["value"] for p in component["properties"] if p["name"] == "imagelock:layer")


def _sha256(component: dict[str, Any]) -> str | None:
    found = [h["content"] for h in component.get("hashes", []) if h["alg"] == "SHA-256"]
    return found[0] if found else None


def _source(component: dict[str, Any]) -> str:
    (ref,) = [r for r in component["externalReferences"] if r["type"] == "distribution"]
    url: str = ref["url"]
    return url


def test_the_seed_sbom_validates_and_lists_every_locked_item(tmp_path: Path, lock_cli) -> None:
    result = lock_cli("generate", str(SEED_LOCK), "-o", str(tmp_path))
    assert result.code == 0, result.err
    document = _valid((tmp_path / "sbom.cdx.json").read_text(encoding="utf-8"))
    lock, _ = domains.read_lock(SEED_LOCK)
    assert lock.python and lock.apt and lock.kernel and lock.nvidia and lock.models and lock.base

    everything = _walk(document["components"])
    per_layer = Counter(_layer(c) for c in everything)
    model_files = sum(len(m.files) for m in lock.models)
    assert per_layer == {
        "python": len(lock.python.packages),
        "apt": len(lock.apt.packages),
        "nvidia": 1,
        "models": len(lock.models) + model_files,
        "base": len(lock.base.amis),
    }
    # Counted again from the lock's own TOML, past the model classes: every package, runfile, model, file, AMI.
    table = tomllib.loads(SEED_LOCK.read_text(encoding="utf-8"))
    counted = len(table["python"]["packages"]) + len(table["apt"]["packages"]) + 1 + len(table["base"]["amis"])
    counted += sum(1 + len(m["files"]) for m in table["models"])
    assert len(everything) == counted == 324
    assert len({c["bom-ref"] for c in everything}) == len(everything)

    by_purl = {PackageURL.from_string(c["purl"]).to_string(): c for c in everything}
    # Every python package: pkg:pypi, its one wheel's sha256 and URL.
    for p in lock.python.packages:
        (row,) = [c for c in everything if c["purl"].startswith(f"pkg:pypi/{p.name.lower().replace('_', '-')}@")]
        assert row["version"] == p.version and _sha256(row) == p.wheel.sha256 and _source(row) == p.wheel.url
    # Every apt package, the kernel's parts among them: pkg:deb with the vendor and the distro.
    debs = {PackageURL.from_string(c["purl"]).name: c for c in everything if c["purl"].startswith("pkg:deb/")}
    for deb in lock.apt.packages:
        row = debs[deb.name]
        purl = PackageURL.from_string(row["purl"])
        assert (purl.namespace, purl.version) == ("ubuntu", deb.version)
        assert purl.qualifiers == {"arch": deb.arch, "distro": "jammy"}
        assert _sha256(row) == deb.sha256 and _source(row).endswith("/" + deb.filename)
    assert set(lock.kernel.packages) <= set(debs)
    # The runfile: pkg:generic, NVIDIA's sha256 and md5, its download URL.
    (runfile,) = [c for c in everything if _layer(c) == "nvidia"]
    assert runfile["purl"].startswith(f"pkg:generic/nvidia/{lock.nvidia.runfile}@{lock.nvidia.driver_version}?")
    assert {h["alg"]: h["content"] for h in runfile["hashes"]} == {
        "SHA-256": lock.nvidia.sha256,
        "MD5": lock.nvidia.md5,
    }
    assert _source(runfile) == lock.nvidia.url
    # Each model at its commit (pkg:huggingface), each file a part; a file locked without a hash gets none.
    for model in lock.models:
        row = by_purl[f"pkg:huggingface/{model.repo}@{model.commit}"]
        assert row["type"] == "machine-learning-model"
        files = {PackageURL.from_string(c["purl"]).qualifiers["file_name"]: c for c in row["components"]}
        assert set(files) == {f.path for f in model.files}
        for f in model.files:
            assert _sha256(files[f.path]) == f.sha256
            if f.sha256 is None:
                assert "hashes" not in files[f.path] and "checksum" not in files[f.path]["purl"]
            assert _source(files[f.path]).endswith(f"/resolve/{model.commit}/{f.path}")
    assert any(f.sha256 is None for m in lock.models for f in m.files)  # the seed holds such files
    # The base image: pkg:generic per region, and no hash (the lock holds none).
    (ami,) = [c for c in everything if _layer(c) == "base"]
    assert PackageURL.from_string(ami["purl"]).version == lock.base.amis[0].id and "hashes" not in ami
    # The image itself is the document's subject, named by the lock's digest.
    subject = document["metadata"]["component"]
    assert subject["bom-ref"] == lock.image_name()
    assert {"name": "imagelock:digest", "value": lock.digest()} in subject["properties"]
    _graph_is_the_locks(document, everything, table)


def _graph_is_the_locks(document: dict[str, Any], everything: list[dict[str, Any]], table: dict[str, Any]) -> None:
    """`dependencies`: the image on every component; each wheel on its recorded requirements, each .deb on what
    its `depends-on` chose; nothing else. Counted against the lock's own TOML."""
    graph = {d["ref"]: set(d.get("dependsOn", [])) for d in document["dependencies"]}
    refs = {c["bom-ref"] for c in everything}
    assert graph.pop(document["metadata"]["component"]["bom-ref"]) == {c["bom-ref"] for c in document["components"]}
    assert set(graph) <= refs and all(targets <= refs for targets in graph.values())

    def named(layer: str, ref: str) -> str:
        return PackageURL.from_string(ref.removeprefix(f"{layer}:")).name

    wheels = {
        (named("python", ref), named("python", target))
        for ref, targets in graph.items()
        if ref.startswith("python:")
        for target in targets
    }
    recorded = {(p["name"], d) for p in table["python"]["packages"] for d in p.get("dependencies", [])}
    assert wheels == {(a.lower().replace("_", "-"), b.lower().replace("_", "-")) for a, b in recorded}
    assert len(wheels) == sum(len(p.get("dependencies", [])) for p in table["python"]["packages"]) == 242
    debs = {
        (named("apt", ref), named("apt", target))
        for ref, targets in graph.items()
        if ref.startswith("apt:")
        for target in targets
    }
    depends = {(p["name"], d.split(":")[0]) for p in table["apt"]["packages"] for d in p.get("depends-on", [])}
    assert debs == depends and len(debs) == 597
    assert not any(ref.startswith(("nvidia:", "models:", "base:")) and graph[ref] for ref in graph)


def test_files_containers_and_rpms_get_their_own_purls() -> None:
    lock = small_lock()
    other_layers(lock)
    everything = _walk(_valid(sbom.render(lock))["components"])
    rows = {_layer(c): c for c in everything if _layer(c) in ("files", "containers", "dnf")}
    assert PackageURL.from_string(rows["files"]["purl"]).to_dict() == {
        "type": "generic",
        "namespace": None,
        "name": "tool-1.2.tar.gz",
        "version": None,
        "qualifiers": {"checksum": f"sha256:{SHA}", "download_url": "https://example.com/tools/tool-1.2.tar.gz"},
        "subpath": None,
    }
    assert _sha256(rows["files"]) == SHA and _source(rows["files"]) == "https://example.com/tools/tool-1.2.tar.gz"
    oci = PackageURL.from_string(rows["containers"]["purl"])
    assert (oci.type, oci.name, oci.version) == ("oci", "tritonserver", DIGEST)
    assert oci.qualifiers == {"repository_url": "nvcr.io/nvidia/Tritonserver", "tag": "24.01"}
    assert _sha256(rows["containers"]) == "b" * 64
    assert _source(rows["containers"]) == f"https://nvcr.io/v2/nvidia/Tritonserver/manifests/{DIGEST}"
    rpm = PackageURL.from_string(rows["dnf"]["purl"])
    assert (rpm.type, rpm.namespace, rpm.name, rpm.version) == ("rpm", "amzn", "gcc14", "14.2.1-7.amzn2023")
    assert rpm.qualifiers == {"arch": "x86_64", "epoch": "1", "distro": "amzn-2023.6"}
    assert _source(rows["dnf"]) == "https://cdn.amazonlinux.com/al2023/core/mirrors/2023.6/x86_64/Packages/gcc14.rpm"


def test_a_new_domain_gets_sbom_rows_from_its_artifacts_without_being_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """The contract's default: one pkg:generic row per artifact, hash and URL as locked, no hash where none is."""

    def artifacts(layer: list[str]) -> list[Artifact]:
        return [
            Artifact("toy", "hashed.bin", ("https://toys.example/hashed.bin",), SHA, 3, dest="/opt/hashed.bin"),
            Artifact("toy", "measured.bin", ("https://toys.example/measured.bin",), "", None, unhashed=True),
        ]

    toy = Domain("toy", list[str], lambda s, p: s, "x:y", lambda layer: "", lambda layer: [Item("t", "1")], artifacts)
    monkeypatch.setattr(domains, "DOMAINS", (*domains.DOMAINS, toy))
    lock = small_lock()
    lock.layers["toy"] = ["anything"]
    rows = {c["name"]: c for c in _walk(_valid(sbom.render(lock))["components"]) if _layer(c) == "toy"}
    assert set(rows) == {"hashed.bin", "measured.bin"}
    assert rows["hashed.bin"]["purl"] == (
        f"pkg:generic/hashed.bin?checksum=sha256:{SHA}&download_url=https://toys.example/hashed.bin"
    )
    assert (
        _sha256(rows["hashed.bin"]) == SHA
        and {"name": "imagelock:dest", "value": "/opt/hashed.bin"} in rows["hashed.bin"]["properties"]
    )
    assert "hashes" not in rows["measured.bin"] and "checksum" not in rows["measured.bin"]["purl"]
    assert _source(rows["measured.bin"]) == "https://toys.example/measured.bin"


def test_the_sbom_is_a_function_of_the_lock_alone() -> None:
    """Same lock, same bytes (serial number from the digest, timestamp the universe's cutoff)."""
    lock, _ = domains.read_lock(SEED_LOCK)
    first = sbom.render(lock)
    assert sbom.render(domains.read_lock(SEED_LOCK)[0]) == first
    document = json.loads(first)
    assert document["metadata"]["timestamp"].startswith(lock.universe.cutoff.removesuffix("Z"))
    lock.nvidia.install_flags = ["--silent"]  # another lock: another serial number
    assert json.loads(sbom.render(lock))["serialNumber"] != document["serialNumber"]


def test_a_url_that_is_no_valid_uri_is_escaped_not_refused() -> None:
    """A lone `%`, a second `#`, spaces and non-ASCII in a locked URL: the SBOM still validates, same address."""
    lock = small_lock()
    url = "https://example.com/a b/é%{x}#one#two"
    lock.layers["files"] = [PlainFile(url, "/opt/x", SHA, 1)]
    (row,) = _walk(_valid(sbom.render(lock))["components"])
    assert _source(row) == "https://example.com/a%20b/%C3%A9%25%7Bx%7D#one%23two"
    assert PackageURL.from_string(row["purl"]).qualifiers["download_url"] == url
