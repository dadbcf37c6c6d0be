"""Packer plugins: the template `lock generate` writes pins each one to exactly one version."""

from __future__ import annotations

import pytest
from findings_support import SEED_LOCK, seed_lock

from imagelock.build import findings


def _template(plugins: str) -> str:
    return f'packer {{\n  required_version = ">= 1.7.0"\n  required_plugins {{\n{plugins}\n  }}\n}}\n'


def test_the_seed_template_pins_every_plugin() -> None:
    from imagelock.build import generate

    template = generate.render(seed_lock(), SEED_LOCK.read_text(), SEED_LOCK)["image.pkr.hcl"]
    assert "required_plugins" in template
    assert findings.findings(seed_lock(), SEED_LOCK) == []


@pytest.mark.parametrize(
    ("version", "pinned"),
    [
        ('"= 1.3.3"', True),
        ('"1.3.3"', True),
        ('"=1.3"', True),
        ('"v1.2.0"', True),
        ('">= 1.2.0"', False),
        ('"~> 1.3"', False),
        ('">= 1.2, < 2.0"', False),
        ('"!= 1.3.2"', False),
        (None, False),
    ],
)
def test_only_one_exact_version_pins_a_plugin(version: str | None, pinned: bool) -> None:
    line = f"\n      version = {version}" if version else ""
    text = _template(f'    amazon = {{\n      source  = "github.com/hashicorp/amazon"{line}\n    }}')
    found = findings.unpinned_plugins(text)
    if pinned:
        assert found == []
        return
    [finding] = found
    assert (finding.kind, finding.subject) == ("not reproducible", "packer plugin amazon (github.com/hashicorp/amazon)")
    said = f"version {version.strip(chr(34))!r}" if version else "no version"
    assert finding.what.startswith(f"image.pkr.hcl declares it with {said}, so `packer init` takes")


def test_every_plugin_of_every_block_is_judged_and_comments_are_not() -> None:
    text = _template(
        '    # docker = { source = "github.com/hashicorp/docker", version = ">= 1.0" }\n'
        '    amazon = { source = "github.com/hashicorp/amazon", version = "= 1.3.3" }\n'
        '    ansible = { source = "github.com/hashicorp/ansible", version = "~> 1" }'
    )
    text += _template('    qemu = {\n      source = "github.com/hashicorp/qemu"\n    }')
    assert [f.subject for f in findings.unpinned_plugins(text)] == [
        "packer plugin ansible (github.com/hashicorp/ansible)",
        "packer plugin qemu (github.com/hashicorp/qemu)",
    ]
