"""The test repositories: each package is there for a rule of dnf's that the closure must follow."""

from __future__ import annotations

from tests.dnf.rpmrepo import Rpm

RELEASEVER = "2023.6.20241212"
BASEARCH = "x86_64"

CORE = [
    Rpm("app", "1.0", requires=["lib >= 2", "tool"]),
    Rpm("lib", "1.0"),
    Rpm("lib", "2.0"),
    Rpm("tool", "1.0", requires=["virt-x"]),
    Rpm("provider-a", "1.0", provides=["virt-x"]),
    Rpm("provider-b", "1.0", provides=["virt-x"]),
    # a base-image package that pins the old lib: upgrading lib upgrades it too
    Rpm("base-app", "1.0", requires=["lib = 1.0-1"]),
    Rpm("base-app", "1.1", requires=["lib >= 2"]),
    Rpm("gcc14", "14.2.1", arch="x86_64", requires=["libgcc14 = 14.2.1-1", "binutils"]),
    Rpm("libgcc14", "14.2.1", arch="x86_64"),
    Rpm("binutils", "2.41", arch="x86_64"),
    # installonly: installed beside the base image's version, never over it
    Rpm("kernel-devel", "6.1.1", arch="x86_64", provides=["installonlypkg(kernel)"]),
    Rpm("kernel-devel", "6.1.2", arch="x86_64", provides=["installonlypkg(kernel)"]),
    Rpm("newthing", "2.0", obsoletes=["oldthing < 2"], provides=["oldthing = 2.0"]),
    Rpm("oldthing", "1.0"),
    Rpm("epochy", "2.0"),
    Rpm("epochy", "1.0", epoch=1),
    Rpm("rec-user", "1.0", recommends=["rec-dep"]),
    Rpm("rec-dep", "1.0"),
    Rpm("dup", "1.0"),
    Rpm("needs-missing", "1.0", requires=["nowhere >= 1"]),
]
EXTRA = [
    Rpm("extra-tool", "1.0", requires=["lib", "extra-lib"]),
    Rpm("extra-lib", "3.0", arch="x86_64"),
    Rpm("dup", "1.0"),
]
# What the base image has installed (rpm database only), by (name, version).
BASE = [("lib", "1.0"), ("base-app", "1.0"), ("oldthing", "1.0"), ("kernel-devel", "6.1.1")]
