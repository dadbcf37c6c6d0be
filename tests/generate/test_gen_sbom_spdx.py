"""`sbom.spdx.json`: an SPDX 2.3 document that the SPDX project's own library (spdx-tools) parses and validates,
with one package per locked thing (counted against the lock) and the same purls, hashes, sources and dependency
edges as the `sbom.cdx.json` written beside it, whatever the names it is given."""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from imagelock import domains
from imagelock.build import sbom, sbom_spdx
from imagelock.lock.model import PlainFile
from tests.generate.sbom_sample import DIGEST, SHA, other_layers, small_lock

ROOT = Path(__file__).resolve().parents[2]
SEED_LOCK = ROOT / "locks" / "seed.lock"
EKS_LOCK = ROOT / "locks" / "eks.lock"
PCLUSTER_LOCK = ROOT / "locks" / "pcluster.lock"
SPDX_ID = re.compile(r"SPDXRef-[A-Za-z0-9.-]+")


def _valid(path: Path) -> dict[str, Any]:
    """The document as spdx-tools reads it, with no validation message; then as plain JSON."""
    messages = validate_full_spdx_document(parse_file(str(path)))
    assert messages == [], [m.validation_message for m in messages]
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def _valid_text(tmp_path: Path, text: str) -> dict[str, Any]:
    path = tmp_path / "sbom.spdx.json"
    path.write_text(text, encoding="utf-8")
    return _valid(path)


def _purl(package: dict[str, Any]) -> str:
    (ref,) = package["externalRefs"]
    assert (ref["referenceCategory"], ref["referenceType"]) == ("PACKAGE-MANAGER", "purl")
    locator: str = ref["referenceLocator"]
    return locator


def _sha256(package: dict[str, Any]) -> str | None:
    found = [c["checksumValue"] for c in package.get("checksums", []) if c["algorithm"] == "SHA256"]
    return found[0] if found else None


def _edges(document: dict[str, Any], kind: str) -> list[tuple[str, str]]:
    return [
        (r["spdxElementId"], r["relatedSpdxElement"])
        for r in document["relationships"]
        if r["relationshipType"] == kind
    ]


def _walk(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for c in components:
        out += [c, *_walk(c.get("components", []))]
    return out


def _same_as_cyclonedx(spdx: dict[str, Any], cdx: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Both documents of one run say the same: every CycloneDX component is one SPDX package with its purl,
    name, version, sha256 and source, and the same dependency edges. The packages by SPDXID."""
    packages = {p["SPDXID"]: p for p in spdx["packages"]}
    assert len(packages) == len(spdx["packages"])  # SPDXIDs are unique
    assert all(SPDX_ID.fullmatch(i) for i in packages)
    image = packages.pop("SPDXRef-image")
    assert _edges(spdx, "DESCRIBES") == [("SPDXRef-DOCUMENT", "SPDXRef-image")]
    assert (image["name"], image["versionInfo"]) == (cdx["metadata"]["component"]["name"],
                                                     cdx["metadata"]["component"]["version"])  # fmt: skip

    everything = _walk(cdx["components"])
    assert len(packages) == len(everything)
    by_purl = {_purl(p): p for p in packages.values()}
    assert len(by_purl) == len(packages)  # one package per purl, as in CycloneDX
    for c in everything:
        p = by_purl[c["purl"]]
        assert (p["name"], p.get("versionInfo")) == (c["name"], c.get("version"))
        cdx_sha = [h["content"] for h in c.get("hashes", []) if h["alg"] == "SHA-256"]
        assert _sha256(p) == (cdx_sha[0] if cdx_sha else None)
        sources = [r["url"] for r in c.get("externalReferences", []) if r["type"] == "distribution"]
        if p["downloadLocation"] != "NOASSERTION":
            assert [p["downloadLocation"]] == sources
        else:
            assert not any(s.startswith(("http://", "https://")) for s in sources)

    # The graph: the image on every top-level component; each component on what CycloneDX says it needs.
    purl_of = {i: _purl(p) for i, p in packages.items()}
    by_ref = {c["bom-ref"]: c["purl"] for c in everything}
    top = {c["purl"] for c in cdx["components"]}
    depends = _edges(spdx, "DEPENDS_ON")
    assert sorted(purl_of[b] for a, b in depends if a == "SPDXRef-image") == sorted(top)
    cdx_edges = {
        (by_ref[d["ref"]], by_ref[t]) for d in cdx["dependencies"] if d["ref"] in by_ref for t in d.get("dependsOn", [])
    }
    rows = [(purl_of[a], purl_of[b]) for a, b in depends if a != "SPDXRef-image"]
    assert len(rows) == len(set(rows)) and set(rows) == cdx_edges
    # A part (a model's file) is CONTAINed by the component it is nested in, and by nothing else.
    nested = {(c["purl"], part["purl"]) for c in everything for part in c.get("components", [])}
    assert {(purl_of[a], purl_of[b]) for a, b in _edges(spdx, "CONTAINS")} == nested
    return packages


def test_the_seed_spdx_validates_and_lists_every_locked_item(tmp_path: Path, lock_cli) -> None:
    result = lock_cli("generate", str(SEED_LOCK), "-o", str(tmp_path))
    assert result.code == 0, result.err
    spdx = _valid(tmp_path / "sbom.spdx.json")
    cdx = json.loads((tmp_path / "sbom.cdx.json").read_text(encoding="utf-8"))
    packages = _same_as_cyclonedx(spdx, cdx)

    # Counted from the lock's own TOML: every package, the runfile, every model and its files, every AMI.
    table = tomllib.loads(SEED_LOCK.read_text(encoding="utf-8"))
    model_files = sum(len(m["files"]) for m in table["models"])
    counted = len(table["python"]["packages"]) + len(table["apt"]["packages"]) + 1 + len(table["base"]["amis"])
    counted += len(table["models"]) + model_files
    assert len(packages) == counted == 324
    layers = Counter(re.search(r"imagelock:layer: (\S+)", p["comment"])[1] for p in packages.values())  # type: ignore[index]
    assert layers == {
        "python": len(table["python"]["packages"]),
        "apt": len(table["apt"]["packages"]),
        "nvidia": 1,
        "models": len(table["models"]) + model_files,
        "base": len(table["base"]["amis"]),
    }
    # The edges the lock records: 242 between wheels, 597 between .debs; the image on its 316 top-level rows.
    depends = _edges(spdx, "DEPENDS_ON")
    assert len([e for e in depends if e[0] == "SPDXRef-image"]) == counted - model_files == 316
    assert len(depends) - 316 == 242 + 597
    assert len(_edges(spdx, "CONTAINS")) == model_files
    # What the lock holds and nothing more: the runfile's two hashes, no hash and no URL for the AMI.
    (runfile,) = [p for p in packages.values() if p["primaryPackagePurpose"] == "OTHER" and "nvidia" in p["SPDXID"]]
    assert {c["algorithm"] for c in runfile["checksums"]} == {"SHA256", "MD5"}
    (ami,) = [p for p in packages.values() if "imagelock:layer: base" in p["comment"]]
    assert "checksums" not in ami and ami["downloadLocation"] == "NOASSERTION"
    assert not any("license" in key.lower() or key == "supplier" for p in spdx["packages"] for key in p)


def test_container_images_and_variant_files_validate_and_match_cyclonedx(tmp_path: Path, lock_cli) -> None:
    """locks/eks.lock (container images beside apt) and a variant of locks/pcluster.lock (placed files)."""
    assert lock_cli("generate", str(EKS_LOCK), "-o", str(tmp_path / "eks")).code == 0
    eks = _valid(tmp_path / "eks" / "sbom.spdx.json")
    packages = _same_as_cyclonedx(eks, json.loads((tmp_path / "eks" / "sbom.cdx.json").read_text(encoding="utf-8")))
    table = tomllib.loads(EKS_LOCK.read_text(encoding="utf-8"))
    assert len(packages) == len(table["containers"]) + len(table["apt"]["packages"])
    containers = [p for p in packages.values() if p["primaryPackagePurpose"] == "CONTAINER"]
    assert len(containers) == len(table["containers"]) == 6
    assert sorted(_sha256(p) for p in containers) == sorted(c["digest"].removeprefix("sha256:")
                                                            for c in table["containers"])  # fmt: skip
    assert all(_purl(p).startswith("pkg:oci/") for p in containers)

    assert lock_cli("generate", str(PCLUSTER_LOCK), "-o", str(tmp_path / "pc")).code == 0
    for variant in ("cpu", "gpu"):
        spdx = _valid(tmp_path / "pc" / variant / "sbom.spdx.json")
        _same_as_cyclonedx(spdx, json.loads((tmp_path / "pc" / variant / "sbom.cdx.json").read_text(encoding="utf-8")))


def test_files_containers_and_rpms_are_packages_with_their_purls(tmp_path: Path) -> None:
    lock = small_lock()
    other_layers(lock)
    spdx = _valid_text(tmp_path, sbom_spdx.render(lock))
    _same_as_cyclonedx(spdx, json.loads(sbom.render(lock)))
    rows = {re.search(r"imagelock:layer: (\S+)", p["comment"])[1]: p for p in spdx["packages"][1:]}  # type: ignore[index]
    assert rows["files"]["downloadLocation"] == "https://example.com/tools/tool-1.2.tar.gz"
    assert rows["files"]["checksums"] == [{"algorithm": "SHA256", "checksumValue": SHA}]
    assert rows["files"]["primaryPackagePurpose"] == "FILE"
    assert rows["containers"]["primaryPackagePurpose"] == "CONTAINER"
    assert _sha256(rows["containers"]) == DIGEST.removeprefix("sha256:")
    assert rows["dnf"]["SPDXID"] == "SPDXRef-dnf-gcc14-1-14.2.1-7.amzn2023"  # the version is 1:14.2.1-7.amzn2023
    assert _purl(rows["dnf"]) == "pkg:rpm/amzn/gcc14@14.2.1-7.amzn2023?arch=x86_64&distro=amzn-2023.6&epoch=1"
    assert rows["dnf"]["downloadLocation"] == (
        "https://cdn.amazonlinux.com/al2023/core/mirrors/2023.6/x86_64/Packages/gcc14.rpm"
    )


def test_the_spdx_is_a_function_of_the_lock_alone() -> None:
    """Same lock, same bytes: the namespace comes from the lock's digest, `created` is the universe's cutoff."""
    lock, _ = domains.read_lock(SEED_LOCK)
    first = sbom_spdx.render(lock)
    assert sbom_spdx.render(domains.read_lock(SEED_LOCK)[0]) == first
    document = json.loads(first)
    assert document["creationInfo"]["created"] == lock.universe.cutoff == "2025-05-01T00:00:00Z"
    assert document["documentNamespace"].startswith("urn:uuid:")
    # Not the CycloneDX serial: two documents, two identifiers.
    assert document["documentNamespace"] != json.loads(sbom.render(lock))["serialNumber"]
    lock.nvidia.install_flags = ["--silent"]  # another lock: another namespace
    assert json.loads(sbom_spdx.render(lock))["documentNamespace"] != document["documentNamespace"]


def test_hostile_names_keep_the_json_and_the_spdx_ids_valid(tmp_path: Path) -> None:
    """Quotes, a newline, `$()`, backslashes, non-ASCII and names that are alike once cleaned (`tool_1`,
    `tool 1`, `tool-1` and `tool-1-2`): every SPDXID valid and unique, every name kept as it was."""
    lock = small_lock()
    names = ["tool_1", "tool 1", "tool-1", "tool-1-2", 'q"uo\\te\n$(id)`x`', "é{}#%.tar", "ＳＰＤＸ"]
    lock.layers["files"] = [PlainFile(f"https://example.com/dl/{n}", f"/opt/f{i}", SHA, 1) for i, n in enumerate(names)]
    text = sbom_spdx.render(lock)
    spdx = _valid_text(tmp_path, text)
    packages = _same_as_cyclonedx(spdx, json.loads(sbom.render(lock)))
    # A repeat gets -2, -3 ... and never an ID another row holds: `tool-1-2` is a name, so `tool-1` gets -3.
    assert {p["name"]: i for i, p in packages.items()} == {
        "é{}#%.tar": "SPDXRef-files------.tar",
        "ＳＰＤＸ": "SPDXRef-files-----",
        'q"uo\\te\n$(id)`x`': "SPDXRef-files-q-uo-te---id--x-",
        "tool 1": "SPDXRef-files-tool-1",
        "tool-1-2": "SPDXRef-files-tool-1-2",
        "tool-1": "SPDXRef-files-tool-1-3",
        "tool_1": "SPDXRef-files-tool-1-4",
    }
    lock.layers["files"].reverse()  # and which row gets which ID does not depend on the lock's order
    assert sbom_spdx.render(lock) == text
    assert sorted(p["name"] for p in packages.values()) == sorted(names)  # every name kept as it was
    assert all(" " not in p["downloadLocation"] and "\n" not in p["downloadLocation"] for p in packages.values())
