#!/usr/bin/env python3
"""imagelock fact collector: what is installed on this machine (or a root filesystem).

ONE file, standard library only: it is copied to workers that have nothing but the
image's own Python (3.8 or newer) and run as `python3 collector.py [options]`. It
prints one JSON facts document on stdout and never writes anything, never opens a
network connection, and stops by its deadline (--timeout) whatever it is doing.

Facts gathered (each optional, each failure recorded under "errors" instead of
raised): OS release, kernel (`uname -r` when live; /lib/modules when --root), dpkg
packages from <root>/var/lib/dpkg/status, rpm packages (`rpm -qa` with each header's
sha256), the venv's distributions from *.dist-info/METADATA (and, with --deep, every installed file checked against the
RECORD hashes), the NVIDIA driver and CUDA versions (/proc/driver/nvidia/version,
nvidia-smi, modinfo, the driver's versioned libraries), model files (size; sha256
with --deep), the container images a runtime holds (`ctr -n k8s.io images ls`,
`docker image ls --digests`; live only) and the fingerprint bootstrap.sh writes to /etc/imagelock/.
"""

import argparse
import base64
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import time

FACTS_VERSION = 1
# rpm -qa as rows: name, [epoch:]version-release (as dnf prints it), arch, the header's sha256 digest
RPM_QUERY = "%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{SHA256HEADER}\\n"
RPM_DATABASES = ("/var/lib/rpm", "/usr/lib/sysimage/rpm")
FINGERPRINT_DIR = "etc/imagelock"
MAX_LISTED = 50  # per-distribution cap on listed mismatching files


class Deadline(Exception):
    pass


class Collector:
    def __init__(self, root, live, deep, timeout):
        self.root = root
        self.live = live
        self.deep = deep
        self.started = time.monotonic()
        self.deadline = self.started + timeout
        self.errors = []

    # --- helpers -------------------------------------------------------------------

    def path(self, absolute):
        return os.path.join(self.root, absolute.lstrip("/"))

    def left(self):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise Deadline()
        return remaining

    def error(self, where, message):
        self.errors.append({"where": where, "message": message})

    def run(self, argv):
        """A command's stdout, or None if absent/failing; never a shell, bounded by the deadline."""
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=min(10.0, self.left()), check=False)
        except FileNotFoundError:
            return None
        except subprocess.TimeoutExpired:
            self.error(argv[0], "timed out")
            return None
        except OSError as exc:
            self.error(argv[0], "cannot run: %s" % exc.__class__.__name__)
            return None
        if done.returncode != 0:
            return None
        return done.stdout.decode("utf-8", "replace")

    def sha256(self, path):
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while True:
                self.left()
                block = handle.read(1 << 20)
                if not block:
                    return digest.hexdigest()
                digest.update(block)

    # --- the facts -----------------------------------------------------------------

    def os_release(self):
        for candidate in ("etc/os-release", "usr/lib/os-release"):
            try:
                with open(os.path.join(self.root, candidate), encoding="utf-8") as handle:
                    text = handle.read()
            except OSError:
                continue
            out = {}
            for line in text.splitlines():
                key, sep, value = line.partition("=")
                if sep and key.strip() and not key.startswith("#"):
                    out[key.strip()] = value.strip().strip('"').strip("'")
            return out
        self.error("os_release", "no os-release file")
        return None

    def kernel(self):
        running = os.uname().release if self.live else None
        try:
            installed = sorted(n for n in os.listdir(self.path("/lib/modules"))
                               if os.path.isdir(os.path.join(self.path("/lib/modules"), n)))
        except OSError:
            installed = []
        return {"running": running, "installed": installed}

    def dpkg(self):
        status = self.path("/var/lib/dpkg/status")
        try:
            with open(status, "rb") as handle:
                data = handle.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.error("dpkg", "cannot read status: %s" % exc.__class__.__name__)
            return None
        packages = []
        for stanza in data.split("\n\n"):
            fields = {}
            for line in stanza.split("\n"):
                if line and not line[0].isspace():
                    key, sep, value = line.partition(":")
                    if sep and key in ("Package", "Version", "Architecture", "Status"):
                        fields[key] = value.strip()
            name = fields.get("Package")
            if not name:
                continue
            state = fields.get("Status", "").split()
            if len(state) != 3 or state[2] in ("not-installed", "config-files"):
                continue
            entry = [name, fields.get("Version", ""), fields.get("Architecture", "")]
            if state[2] != "installed":
                entry.append(state[2])  # half-installed, unpacked, ...: reported, never hidden
            packages.append(entry)
        packages.sort()
        return packages

    def rpm(self):
        """The rpm database (dnf, yum), where the machine has one: None where it has none."""
        found = [d for d in RPM_DATABASES if os.path.isdir(self.path(d))]
        if not found:
            return None
        argv = ["rpm", "--dbpath", found[0], "-qa", "--qf", RPM_QUERY]
        if not self.live:
            argv[1:1] = ["--root", self.root]
        out = self.run(argv)
        if out is None:
            self.error("rpm", "rpm -qa failed (or rpm is not installed) with an rpm database present")
            return None
        rows = []
        for line in out.splitlines():
            parts = line.split("\t")
            if len(parts) == 4 and parts[0] != "gpg-pubkey":  # gpg-pubkey: rpm's imported keys
                rows.append(parts)
        rows.sort()
        return rows

    def python(self, venv):
        base = self.path(venv)
        if not os.path.isdir(base):
            return {"venv": venv, "exists": False, "distributions": []}
        out = {"venv": venv, "exists": True, "version": None, "distributions": []}
        try:
            with open(os.path.join(base, "pyvenv.cfg"), encoding="utf-8") as handle:
                for line in handle:
                    key, sep, value = line.partition("=")
                    if sep and key.strip() in ("version", "version_info"):
                        out["version"] = value.strip()
        except OSError:
            pass
        sites = sorted(set(glob.glob(os.path.join(base, "lib*", "python*", "site-packages"))))
        for site in sites:
            real_site = os.path.realpath(site)
            if real_site in [os.path.realpath(s) for s in sites[:sites.index(site)]]:
                continue  # lib64 -> lib
            for info in sorted(glob.glob(os.path.join(site, "*.dist-info"))):
                self.left()
                dist = self.distribution(site, info)
                if dist:
                    dist["site"] = os.path.relpath(site, base)
                    out["distributions"].append(dist)
        return out

    def distribution(self, site, info):
        name = version = None
        try:
            with open(os.path.join(info, "METADATA"), encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if not line.strip():
                        break
                    key, sep, value = line.partition(":")
                    if key == "Name":
                        name = value.strip()
                    elif key == "Version":
                        version = value.strip()
        except OSError:
            self.error("python", "%s: no METADATA" % os.path.basename(info))
            return None
        if not name or not version:
            self.error("python", "%s: METADATA without Name/Version" % os.path.basename(info))
            return None
        dist = {"name": name, "version": version}
        if self.deep:
            dist["record"] = self.record(site, info)
        return dist

    def record(self, site, info):
        """Every file RECORD lists with a hash, checked: counts plus the first mismatches."""
        checked, changed, missing = 0, [], []
        try:
            with open(os.path.join(info, "RECORD"), encoding="utf-8", errors="replace") as handle:
                lines = handle.read().splitlines()
        except OSError:
            return {"error": "no RECORD"}
        for line in lines:
            parts = line.rsplit(",", 2)
            if len(parts) != 3 or not parts[1]:
                continue
            rel, hashspec = parts[0].strip('"'), parts[1]
            algo, _, expected = hashspec.partition("=")
            if algo not in ("sha256", "sha384", "sha512"):
                continue
            target = os.path.normpath(os.path.join(site, rel))
            try:
                digest = hashlib.new(algo)
                with open(target, "rb") as handle:
                    while True:
                        self.left()
                        block = handle.read(1 << 20)
                        if not block:
                            break
                        digest.update(block)
            except (FileNotFoundError, NotADirectoryError):
                if len(missing) < MAX_LISTED:
                    missing.append(rel)
                continue
            except OSError:
                if len(missing) < MAX_LISTED:
                    missing.append(rel)
                continue
            checked += 1
            actual = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
            if actual != expected.rstrip("="):
                if len(changed) < MAX_LISTED:
                    changed.append(rel)
        return {"checked": checked, "changed": changed, "missing": missing}

    def nvidia(self):
        out = {"driver_version": None, "cuda_version": None, "sources": {}}
        if self.live:
            try:
                with open("/proc/driver/nvidia/version", encoding="utf-8") as handle:
                    text = handle.read()
                version = proc_driver_version(text)
                if version:
                    out["sources"]["proc"] = version
            except OSError:
                pass
            smi = self.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
            if smi and smi.strip():
                out["sources"]["nvidia-smi"] = smi.strip().splitlines()[0].strip()
            banner = self.run(["nvidia-smi"])
            if banner:
                match = re.search(r"CUDA Version:\s*(\d+(?:\.\d+)+)", banner)
                if match:
                    out["cuda_driver_api"] = match.group(1)
            modinfo = self.run(["modinfo", "-F", "version", "nvidia"])
            if modinfo and modinfo.strip():
                out["sources"]["modinfo"] = modinfo.strip().splitlines()[0]
        # The runfile installs versioned libraries: libcuda.so.<driver>, libnvidia-ml.so.<driver>.
        libs = set()
        for pattern in ("usr/lib/x86_64-linux-gnu/libcuda.so.*.*", "usr/lib/aarch64-linux-gnu/libcuda.so.*.*",
                        "usr/lib64/libcuda.so.*.*", "usr/lib/libcuda.so.*.*",
                        "usr/lib/x86_64-linux-gnu/libnvidia-ml.so.*.*", "usr/lib64/libnvidia-ml.so.*.*"):
            for found in glob.glob(os.path.join(self.root, pattern)):
                match = re.search(r"\.so\.(\d+\.\d+(?:\.\d+)?)$", found)
                if match:
                    libs.add(match.group(1))
        if libs:
            out["sources"]["libraries"] = ",".join(sorted(libs))
        for key in ("proc", "nvidia-smi", "modinfo", "libraries"):
            if key in out["sources"]:
                out["driver_version"] = out["sources"][key].split(",")[0]
                break
        for candidate in ("usr/local/cuda/version.json",):
            try:
                with open(os.path.join(self.root, candidate), encoding="utf-8") as handle:
                    out["cuda_version"] = json.load(handle).get("cuda", {}).get("version")
            except (OSError, ValueError, AttributeError):
                pass
        return out

    def models(self, dests):
        out = []
        for dest in dests:
            base = self.path(dest)
            entry = {"dest": dest, "exists": os.path.isdir(base), "files": []}
            if entry["exists"]:
                for folder, dirs, files in os.walk(base):
                    dirs.sort()
                    for name in sorted(files):
                        self.left()
                        full = os.path.join(folder, name)
                        rel = os.path.relpath(full, base).replace(os.sep, "/")
                        try:
                            item = {"path": rel, "size": os.lstat(full).st_size}
                            if self.deep:
                                item["sha256"] = self.sha256(full)
                        except OSError as exc:
                            self.error("models", "%s: %s" % (rel, exc.__class__.__name__))
                            continue
                        entry["files"].append(item)
            out.append(entry)
        return out

    def files(self, paths):
        """Each placed file: there or not, its size and sha256 (always hashed: placing it is the point)."""
        out = []
        for path in paths:
            self.left()
            full = self.path(path)
            entry = {"path": path, "exists": os.path.isfile(full)}
            if entry["exists"]:
                try:
                    entry["size"] = os.lstat(full).st_size
                    entry["sha256"] = self.sha256(full)
                except OSError as exc:
                    self.error("files", "%s: %s" % (path, exc.__class__.__name__))
            out.append(entry)
        return out

    def containers(self, runtimes):
        """Per runtime, [reference, digest] of every image it holds (docker: [repository, digest]); None: not listed."""
        out = {}
        for runtime in runtimes:
            self.left()
            if runtime == "containerd":
                text = self.run(["ctr", "-n", "k8s.io", "images", "ls"])
                rows = None if text is None else [
                    [cols[0], cols[2]] for cols in (line.split() for line in text.splitlines()[1:]) if len(cols) >= 3]
            elif runtime == "docker":
                text = self.run(["docker", "image", "ls", "--digests", "--no-trunc",
                                 "--format", "{{.Repository}} {{.Digest}}"])
                rows = None if text is None else [
                    line.split() for line in text.splitlines() if len(line.split()) == 2]
            else:
                self.error("containers", "unknown runtime %s" % runtime)
                continue
            if rows is None:
                self.error("containers", "%s: its images could not be listed" % runtime)
            out[runtime] = rows
        return out

    def fingerprint(self):
        folder = self.path("/" + FINGERPRINT_DIR)
        out = {}
        try:
            with open(os.path.join(folder, "lock.digest"), encoding="utf-8") as handle:
                out["digest"] = handle.read().strip()
        except OSError:
            pass
        try:
            with open(os.path.join(folder, "lock.toml"), "rb") as handle:
                text = handle.read()
            out["lock_sha256"] = hashlib.sha256(text).hexdigest()
            for key in ("name", "digest"):
                match = re.search(r'^%s\s*=\s*"([^"]*)"' % key, text.decode("utf-8", "replace"), re.M)
                if match:
                    out["lock_" + key] = match.group(1)
        except OSError:
            pass
        return out or None


def proc_driver_version(text):
    """The driver version in /proc/driver/nvidia/version (proprietary and open kernel module wordings)."""
    match = re.search(r"Kernel Module\s+(?:for \S+\s+)?(\d+(?:\.\d+)+)", text)
    return match.group(1) if match else None


def fingerprint_lock(root):
    """The fingerprint lock as a table: tomllib's (3.11+), or, on an older image's Python, the keys planning reads."""
    with open(os.path.join(root, FINGERPRINT_DIR, "lock.toml"), "rb") as handle:
        data = handle.read()
    try:
        import tomllib
    except ImportError:
        return scan_lock(data.decode("utf-8", "replace"))
    return tomllib.loads(data.decode("utf-8"))


def scan_lock(text):
    """The keys planning reads ([python] venv, [[python.envs]] venv, [[models]] dest, [[containers]] runtime)."""
    table = {"python": {}, "models": [], "containers": []}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            header = line.split("#", 1)[0].strip()
            if header == "[python]":
                current = table["python"]
            elif header == "[[python.envs]]":
                current = {}
                table["python"].setdefault("envs", []).append(current)
            elif header in ("[[models]]", "[[containers]]"):
                current = {}
                table[header[2:-2]].append(current)
            else:
                current = None
            continue
        match = re.match(r'^(venv|dest|runtime)\s*=\s*"([^"\\]*)"', line)
        if current is not None and match:
            current.setdefault(match.group(1), match.group(2))
    return table


def planned_from_fingerprint(root):
    """Venv and model folders named by the fingerprint lock, when nothing was asked for."""
    venv, models = None, []
    try:
        table = fingerprint_lock(root)
        python = table.get("python") or {}
        venv = python.get("venv") or [e.get("venv") for e in python.get("envs") or [] if e.get("venv")] or None
        models = [m.get("dest") for m in table.get("models") or [] if m.get("dest")]
    except Exception:  # noqa: BLE001 - a missing or odd fingerprint just plans nothing
        pass
    return venv, models


def discovered_venvs(root):
    """The venvs a machine without a fingerprint holds where imagelock puts them: /opt/venvs/*, /opt/*."""
    found = []
    for pattern in ("opt/venvs/*/pyvenv.cfg", "opt/*/pyvenv.cfg"):
        for cfg in sorted(glob.glob(os.path.join(root, pattern))):
            venv = "/" + os.path.relpath(os.path.dirname(cfg), root).replace(os.sep, "/")
            if venv not in found:
                found.append(venv)
    return found


def runtimes_from_fingerprint(root):
    """The container runtimes the fingerprint lock pulls images into, when none were named."""
    try:
        table = fingerprint_lock(root)
        return sorted({c.get("runtime") for c in table.get("containers") or [] if c.get("runtime")})
    except Exception:  # noqa: BLE001 - a missing or odd fingerprint just lists nothing
        return []


def placed_from_fingerprint(root):
    """The files bootstrap.sh placed (it lists them in <fingerprint>/files), when none were named."""
    try:
        with open(os.path.join(root, FINGERPRINT_DIR, "files"), encoding="utf-8") as handle:
            return [line.strip() for line in handle if line.strip().startswith("/")]
    except OSError:
        return []


def collect(root="/", live=None, venv=None, models=(), deep=False, timeout=120.0, files=None, runtimes=None):
    live = (os.path.realpath(root) == "/") if live is None else live
    c = Collector(root, live, deep, timeout)
    if venv is None or not models:  # each planned on its own: naming model folders still lists the venv
        planned_venv, planned_models = planned_from_fingerprint(root)
        if venv is None:
            venv = planned_venv or discovered_venvs(root) or None
        if not models:
            models = planned_models
    if isinstance(venv, (list, tuple)) and len(venv) == 1:
        venv = venv[0]
    several = isinstance(venv, (list, tuple))
    if files is None:
        files = placed_from_fingerprint(root)
    if runtimes is None:
        runtimes = runtimes_from_fingerprint(root)
    facts = {"facts_version": FACTS_VERSION, "root": root, "live": live, "deep": deep,
             "hostname": os.uname().nodename if live else None, "complete": True}
    steps = [("os_release", c.os_release), ("kernel", c.kernel), ("dpkg", c.dpkg), ("rpm", c.rpm),
             ("python", (lambda: c.python(venv)) if venv and not several else (lambda: None)),
             ("python_envs", (lambda: [c.python(v) for v in venv]) if several else (lambda: None)),
             ("nvidia", c.nvidia), ("models", lambda: c.models(list(models))),
             ("files", lambda: c.files(list(files))),
             ("containers", (lambda: c.containers(list(runtimes))) if runtimes and live else (lambda: None)),
             ("fingerprint", c.fingerprint)]
    for key, step in steps:
        try:
            facts[key] = step()
        except Deadline:
            facts[key] = None
            facts["complete"] = False
            c.error(key, "deadline of %gs reached" % timeout)
            break
        except Exception as exc:  # noqa: BLE001 - one broken probe must not lose the others
            facts[key] = None
            c.error(key, "%s: %s" % (exc.__class__.__name__, exc))
    facts["errors"] = c.errors
    facts["elapsed_s"] = round(time.monotonic() - c.started, 3)
    return facts


def main(argv=None):
    parser = argparse.ArgumentParser(prog="collector.py", description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/", help="root filesystem to read (default: /, live)")
    parser.add_argument("--venv", action="append", default=None,
                        help="a venv to list (repeatable, one per Python env; default: the fingerprint lock's)")
    parser.add_argument("--models", action="append", default=[], metavar="DIR",
                        help="a model folder to list (repeatable; default: the fingerprint lock's)")
    parser.add_argument("--file", action="append", default=None, metavar="PATH", dest="files",
                        help="a placed file to hash (repeatable; default: those the fingerprint lists)")
    parser.add_argument("--containers", action="append", default=None, metavar="RUNTIME",
                        choices=("containerd", "docker"), dest="runtimes",
                        help="list this runtime's images (repeatable; default: those the fingerprint lock names)")
    parser.add_argument("--deep", action="store_true", help="hash model files and check RECORD hashes")
    parser.add_argument("--timeout", type=float, default=120.0, help="stop after this many seconds")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.root):
        print("collector.py: error: --root %s: not a directory" % args.root, file=sys.stderr)
        return 2
    facts = collect(args.root, None, args.venv, args.models, args.deep, args.timeout, args.files, args.runtimes)
    sys.stdout.write(json.dumps(facts, sort_keys=True, separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
