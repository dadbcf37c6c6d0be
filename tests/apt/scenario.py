"""The packages of the signed test archive: each one exercises one rule of resolution."""

from __future__ import annotations

from tests.apt.aptrepo import Deb

D = Deb
KERNEL = "5.15.0-105.115"

# Two suites, like jammy and jammy-updates. Each package exercises one rule of resolution.
STABLE = [
    D(
        "app",
        "1.0",
        fields={
            "Pre-Depends": "pre",
            "Depends": "libfoo (>= 1.2), xen | yak, virt, zed:any, tool, data, vp (>= 1.5), realvirt",
        },
    ),
    D("pre", "1.0"),
    D("libfoo", "1.1", fields={"Multi-Arch": "same"}),
    D("yak", "1.0"),
    D("p1", "1.0", fields={"Provides": "virt"}),
    D("p2", "1.0", fields={"Provides": "virt", "Priority": "important"}),
    D("realvirt", "1.0"),
    D("p3", "1.0", fields={"Provides": "realvirt"}),
    D("zed", "1.0", fields={"Multi-Arch": "allowed"}),
    D("tool", "1.0", fields={"Multi-Arch": "foreign"}),
    D("data", "1.0", arch="all"),
    D("q0", "1.0", fields={"Provides": "vp"}),
    D("quux", "1.0", fields={"Provides": "vp (= 2.0)"}),
    D("bee", "1.0", fields={"Depends": "bx, bq"}),
    D("bx", "1.0", fields={"Depends": "bp | bq"}),
    D("bp", "1.0"),
    D("bq", "1.0"),
    D("cee", "1.0", fields={"Depends": "cdep (<< 2.0)"}),
    D("cdep", "2.1"),
    D("dee", "1.0", fields={"Depends": "old (= 1.0)"}),
    D("old", "1.0"),
    D("eel", "1.0", fields={"Depends": "fox"}),
    D("fox", "1.0", fields={"Depends": "eel"}),
    D("gnu", "1.0", fields={"Depends": "gmissing | yak, virt2"}),
    D("p4", "1.0", fields={"Provides": "virt2"}),
    D("wasp", "1.0", fields={"Depends": "mta"}),
    D("m2", "1.0", fields={"Provides": "mta"}),
    D("m1", "1.0", fields={"Provides": "mta"}),
    D("mz", "1.0", fields={"Provides": "mta2"}),
    D("mb", "1.0", fields={"Provides": "mta2"}),
    D("mtauser", "1.0", fields={"Depends": "mta2"}),
    D("ne", "1.0", fields={"Provides": "nta"}),
    D("nf", "1.0", fields={"Provides": "nta"}),
    D("aaa-first", "1.0", fields={"Depends": "nf"}),  # apt's cache meets nf here, before ne's stanza
    D("ntauser", "1.0", fields={"Depends": "nta"}),
    D("loop1", "1.0", fields={"Pre-Depends": "loop2"}),
    D("loop2", "1.0", fields={"Depends": "loop3"}),
    D("loop3", "1.0", fields={"Depends": "loop1"}),
    D("brk", "1.0", fields={"Breaks": "pre (<< 2.0)"}),
    D("cfl", "1.0", fields={"Depends": "virt2", "Conflicts": "virt2"}),  # conflicts with its dependency's provider
    D("selfish", "1.0", fields={"Provides": "mta3", "Conflicts": "mta3"}),  # the usual Provides+Conflicts pattern
    D("kmod-tool", "2.8.7-2ubuntu2", arch="all", fields={"Depends": "pre (>= 1.0~)"}),
    D("epochy", "1:0.9"),
    D("linux-image-5.15.0-101-generic", "5.15.0-101.111", fields={"Depends": "linux-modules-5.15.0-101-generic"}),
    D("linux-modules-5.15.0-101-generic", "5.15.0-101.111"),
    D("linux-headers-5.15.0-101-generic", "5.15.0-101.111"),
]
UPDATES = [
    D("ma", "1.0", fields={"Provides": "mta2"}),
    D("libfoo", "1.3", fields={"Multi-Arch": "same"}),
    D("old", "2.0"),
    D("kmod-tool", "2.8.7-2ubuntu2.2", arch="all", fields={"Depends": "pre (>= 1.0~), epochy (>= 1:0.5)"}),
    D("linux-image-5.15.0-105-generic", KERNEL, fields={"Depends": f"linux-modules-5.15.0-105-generic (= {KERNEL})"}),
    D("linux-modules-5.15.0-105-generic", KERNEL),
    D("linux-headers-5.15.0-105-generic", KERNEL, fields={"Depends": f"linux-headers-5.15.0-105 (= {KERNEL})"}),
    D("linux-headers-5.15.0-105-lowlatency", KERNEL, fields={"Depends": f"linux-headers-5.15.0-105 (= {KERNEL})"}),
    D("linux-headers-5.15.0-105", KERNEL, arch="all"),
    D("linux-image-5.15.0-105-lowlatency", KERNEL),
]
SUITES = {"stable": STABLE, "updates": UPDATES}
