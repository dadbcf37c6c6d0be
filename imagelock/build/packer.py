"""image.pkr.hcl: a Packer HCL2 template that builds the lock's image on EC2.

No lookup happens at build time: the source AMI per region comes from the lock's
base layer, the image name from the lock's digest, and the machine is changed
only by bootstrap.sh, which checks every byte against the lock.
"""

from __future__ import annotations

import math

from imagelock import domains
from imagelock.build import hardware
from imagelock.build.values import AMI, COMMIT, DEVICE, DRIVER, KERNEL, MODEL_REPO, REGION, Values, hcl
from imagelock.domains.base import facts
from imagelock.domains.dnf import kernel_devel
from imagelock.hashing import sha256_bytes
from imagelock.lock.model import Lock

# The amazon plugin, pinned exactly (`packer init` fetches this version and no other).
AMAZON_PLUGIN_VERSION = "1.3.3"
AMAZON_PLUGIN_SOURCE = "github.com/hashicorp/amazon"
PACKER_REQUIRED = ">= 1.7.0"  # first release with `required_plugins`
# The login of the official cloud images, by OS family: Debian's admin, Ubuntu's ubuntu, Amazon Linux's
# ec2-user (seed 001's Packer template logs into its AL2, ParallelCluster, EKS and DLAMI bases as ec2-user).
SSH_USERNAME = {"debian": "admin", "ubuntu": "ubuntu", "amazon-linux": "ec2-user"}
DEFAULT_ROOT_DEVICE = "/dev/sda1"
# The root device when the lock records none: Amazon Linux images boot from /dev/xvda (the public DLAMI
# describe-images records in tests/fixtures/aws-dlami, and seed 001's `device_name = "/dev/xvda"`).
ROOT_DEVICE = {"amazon-linux": "/dev/xvda"}
BASE_VOLUME_GIB = 20  # the OS, apt caches during the build, headroom
UNKNOWN_BYTES = 1 << 30  # files without a recorded size (PyTorch wheels, model files not hashed yet)
GIB = 1 << 30

REMOTE_SCRIPT = "/tmp/imagelock-bootstrap.sh"
REMOTE_LOCK = "/tmp/imagelock-lock.toml"
EXECUTE = "chmod +x {{ .Path }}; {{ .Vars }} sudo -E bash '{{ .Path }}'"  # .Vars: environment_vars
MIRROR_ENV = 'environment_vars = ["IMAGELOCK_MIRROR=${var.mirror}"]'

Block = list[str]  # the lines of one block of the template
Ami = tuple[str, str, str]  # region, AMI id, root device


def os_family(lock: Lock) -> str:
    """`ubuntu`, `debian` or `amazon-linux`: what the base image runs, as its catalog name or its AMIs' names
    and descriptions state it (imagelock.domains.base.facts); Ubuntu when nothing says."""
    if lock.base is None:
        return "ubuntu"
    stated = facts.os_of(lock.base)
    if stated:
        return stated.split()[0]
    first = lock.base.image.split()[0].lower() if lock.base.image.split() else "ubuntu"
    return first if first in SSH_USERNAME else "ubuntu"


def ssh_username(lock: Lock) -> str:
    """The base image's default login (`packer build -var ssh_username=…` overrides it)."""
    return SSH_USERNAME[os_family(lock)]


def artifact_bytes(lock: Lock) -> int:
    """Everything bootstrap.sh downloads, in bytes, read through the domain list (a file of unknown
    size, such as a PyTorch wheel or a model file not hashed yet, counts as 1 GiB)."""
    return sum(a.size if a.size is not None else UNKNOWN_BYTES for a in domains.artifacts(lock))


def volume_gib(lock: Lock) -> int:
    """Root volume: the base plus three times the downloads (unpacked wheels and drivers grow)."""
    return BASE_VOLUME_GIB + math.ceil(3 * artifact_bytes(lock) / GIB)


def _tags(lock: Lock, values: Values, models_manifest: str) -> list[tuple[str, str]]:
    tags = [
        ("Name", lock.image_name()),
        ("Image", lock.image_name()),
        ("LockDigest", lock.digest()),
    ]
    if lock.models:  # models-manifest.json is written for a lock that bakes models
        tags.append(("ModelsManifestSha256", sha256_bytes(models_manifest.encode())))
    if lock.nvidia:
        tags.append(
            ("Driver", values.match(lock.nvidia.driver_version, DRIVER, "nvidia.driver-version", "a driver version"))
        )
        tags.append(("Cuda", values.match(lock.nvidia.cuda_version, DRIVER, "nvidia.cuda-version", "a CUDA version")))
    if lock.kernel:
        tags.append(("Kernel", values.match(lock.kernel.version, KERNEL, "kernel.version", "a kernel release")))
    if lock.python:
        # Each version any env locks (two envs may hold two torches), space-separated, as tag values allow.
        versions: dict[str, set[str]] = {}
        for p in lock.python.all_packages:
            versions.setdefault(p.name, set()).add(p.version)
        for name, tag in (("torch", "Torch"), ("vllm", "Vllm")):
            if name in versions:
                checked = [values.python_version(v, f"python.packages.{name}.version") for v in sorted(versions[name])]
                tags.append((tag, " ".join(checked)))
    models = []
    for i, model in enumerate(lock.models):
        repo = values.match(model.repo, MODEL_REPO, f"models[{i}].repo", "a model repo id like owner/name")
        models.append((f"Model:{repo}", values.match(model.commit, COMMIT, f"models[{i}].commit", "a 40-hex commit")))
    return tags + sorted(models)


def render(lock: Lock, values: Values, models_manifest: str) -> str:
    """The template: its blocks in order, one blank line between them (as `packer fmt` writes it)."""
    values.lock_name(lock.name)
    amis = _amis(lock, values)
    tags = _tags(lock, values, models_manifest)  # every value validated before anything is written
    image = lock.image_name()
    blocks = [
        _preamble(image),
        _packer(),
        *_variables(lock, amis),
        _locals(image, amis, " --booted" if _reboots(lock) else ""),
        _source(lock, image, tags),
        _build(lock, image),
    ]
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"


def _amis(lock: Lock, values: Values) -> list[Ami]:
    """The base layer's AMIs, sorted: at most one per region."""
    amis: list[Ami] = []
    default_device = ROOT_DEVICE.get(os_family(lock), DEFAULT_ROOT_DEVICE)
    if lock.base:
        for i, ami in enumerate(lock.base.amis):
            amis.append(
                (
                    values.match(ami.region, REGION, f"base.amis[{i}].region", "an AWS region"),
                    values.match(ami.id, AMI, f"base.amis[{i}].id", "an AMI id"),
                    values.match(
                        ami.root_device or default_device,
                        DEVICE,
                        f"base.amis[{i}].root-device",
                        "a device like /dev/sda1",
                    ),
                )
            )
    amis.sort()
    if len({region for region, _, _ in amis}) != len(amis):
        raise values.fail("base.amis", "locks more than one AMI for a region")
    if lock.base and not amis:
        raise values.fail("base.amis", "the base layer locks no AMI")
    return amis


def _nested(blocks: list[Block]) -> Block:
    """Blocks inside another block: indented, each after a blank line."""
    return [line for block in blocks for line in ("", *("  " + text for text in block))]


def _preamble(image: str) -> Block:
    return [
        f"# image.pkr.hcl for image {image}: generated by `lock generate`; do not edit.",
        "# Build from this directory:  packer init . && packer build .",
        "# Every change to the machine is made by bootstrap.sh, which checks each download against lock.toml.",
    ]


def _packer() -> Block:
    """The Packer and plugin versions the template needs, the plugin pinned exactly."""
    return [
        "packer {",
        f"  required_version = {hcl(PACKER_REQUIRED)}",
        "  required_plugins {",
        "    amazon = {",
        f"      source  = {hcl(AMAZON_PLUGIN_SOURCE)}",
        f"      version = {hcl('= ' + AMAZON_PLUGIN_VERSION)}",
        "    }",
        "  }",
        "}",
    ]


def _variable(name: str, kind: str, default: str | None = None, description: str | None = None) -> Block:
    """One input variable, its attributes aligned; default is HCL already, description plain text."""
    attributes = [("type", kind)]
    if default is not None:
        attributes.append(("default", default))
    if description is not None:
        attributes.append(("description", hcl(description)))
    width = max(len(key) for key, _ in attributes)
    return [f"variable {hcl(name)} {{", *(f"  {key.ljust(width)} = {value}" for key, value in attributes), "}"]


def _variables(lock: Lock, amis: list[Ami]) -> list[Block]:
    """What `packer build -var` may change: region, builder, smoke tests, mirror, login (and the AMI when unlocked)."""
    out = [
        _variable(
            "region",
            "string",
            hcl(amis[0][0]) if amis else None,
            "The region to build in: one the lock has a base AMI for.",
        ),
        _variable(
            "instance_type",
            "string",
            hcl(hardware.builder_instance_type(lock)),
            "The builder: a GPU instance, so the smoke tests can talk to the driver."
            if hardware.needs_gpu(lock)
            else "The builder: a general-purpose instance (the lock installs no accelerator software).",
        ),
        _variable(
            "smoke_tests",
            "bool",
            "true",
            "Run bootstrap.sh --smoke (driver query, torch CUDA, vLLM import, tokenizer load)."
            if hardware.needs_gpu(lock)
            else "Run bootstrap.sh --smoke (torch, vLLM import, tokenizer load, as the lock installs them).",
        ),
        _variable(
            "mirror",
            "string",
            hcl(""),
            "IMAGELOCK_MIRROR for bootstrap.sh (empty: the [mirror] url of the lock): every artifact is read "
            "from <mirror>/sha256/<sha256> first, and still checked.",
        ),
        _variable("ssh_username", "string", hcl(ssh_username(lock))),
    ]
    if not amis:
        out.append(
            _variable(
                "source_ami",
                "string",
                None,
                "The lock has no base layer: the AMI to start from (lock the base image to pin it).",
            )
        )
    return out


def _locals(image: str, amis: list[Ami], booted: str) -> Block:
    """The image name, the source AMI and root device (per region when locked), the bootstrap command
    (`booted`: " --booted" after the reboot into a locked kernel, which bootstrap.sh then checks)."""
    out = ["locals {"]
    if amis:
        width = max(len(hcl(r)) for r, _, _ in amis)
        out.append("  source_amis = {")
        out += [f"    {hcl(region).ljust(width)} = {hcl(ami_id)}" for region, ami_id, _ in amis]
        out.append("  }")
        out.append("  root_devices = {")
        out += [f"    {hcl(region).ljust(width)} = {hcl(device)}" for region, _, device in amis]
        out.append("  }")
        out.append("")
        source_ami, root_device = "local.source_amis[var.region]", "local.root_devices[var.region]"
    else:
        source_ami, root_device = "var.source_ami", hcl(DEFAULT_ROOT_DEVICE)
    return [
        *out,
        f"  image_name  = {hcl(image)}",
        f"  source_ami  = {source_ami}",
        f"  root_device = {root_device}",
        f'  bootstrap   = "bash {REMOTE_SCRIPT} --lock {REMOTE_LOCK}{booted}' + '${var.smoke_tests ? " --smoke" : ""}"',
        "}",
    ]


def _source(lock: Lock, image: str, tags: list[tuple[str, str]]) -> Block:
    """The EC2 builder: IMDSv2 only, a gp3 root volume sized for the downloads, the image tagged."""
    return [
        'source "amazon-ebs" "image" {',
        "  region          = var.region",
        "  source_ami      = local.source_ami",
        "  instance_type   = var.instance_type",
        "  ssh_username    = var.ssh_username",
        "  ami_name        = local.image_name",
        f"  ami_description = {hcl('imagelock image ' + image + ' (lock ' + lock.digest() + ')')}",
        '  imds_support    = "v2.0"',
        *_nested(
            [
                [
                    "metadata_options {",
                    '  http_endpoint               = "enabled"',
                    '  http_tokens                 = "required"',
                    "  http_put_response_hop_limit = 1",
                    "}",
                ],
                [
                    "launch_block_device_mappings {",
                    "  device_name           = local.root_device",
                    f"  volume_size           = {volume_gib(lock)}",
                    '  volume_type           = "gp3"',
                    "  iops                  = 3000",
                    "  throughput            = 125",
                    "  delete_on_termination = true",
                    "}",
                ],
                _image_tags(tags),
                ["run_tags = {", f"  Name = {hcl('imagelock-build-' + image)}", "}"],
            ]
        ),
        "}",
    ]


def _image_tags(tags: list[tuple[str, str]]) -> Block:
    """The image's tags, keys aligned; the source AMI comes from the region chosen at build time."""
    width = max(len(hcl(k)) for k, _ in tags)
    return [
        "tags = {",
        *(f"  {hcl(key).ljust(width)} = {hcl(value)}" for key, value in tags),
        '  "SourceAmi"'.ljust(width + 2) + " = local.source_ami",
        "}",
    ]


def _reboots(lock: Lock) -> bool:
    """The build installs a kernel, the [kernel] layer's or one the [dnf] layer locks (which the distribution
    makes the default, as Fedora's family does; `--booted` checks it runs), and boots it before a driver or
    DKMS module is built against it."""
    return bool(lock.kernel) or (lock.dnf is not None and kernel_devel.installs_kernel(lock.dnf.packages))


def _build(lock: Lock, image: str) -> Block:
    """Upload the script and the lock, run the script (rebooting into a locked kernel), clean up, record."""
    steps = [_upload("bootstrap.sh", REMOTE_SCRIPT), _upload("lock.toml", REMOTE_LOCK)]
    reboots = _reboots(lock)
    if lock.apt or reboots:
        steps.append(
            _shell(
                [
                    f"execute_command  = {hcl(EXECUTE)}",
                    MIRROR_ENV,
                    f"inline           = [{hcl(f'bash {REMOTE_SCRIPT} --lock {REMOTE_LOCK} --system-only')}]",
                ]
            )
        )
    if reboots:
        steps.append(
            [
                "# The locked kernel is installed and GRUB's default: boot into it before the driver builds",
                "# against it (bootstrap.sh --booted stops unless `uname -r` then names the locked kernel).",
                *_shell(
                    [
                        f"execute_command   = {hcl(EXECUTE)}",
                        'inline            = ["shutdown -r now"]',
                        "expect_disconnect = true",
                    ]
                ),
            ]
        )
    steps.append(
        _shell(
            [
                f"execute_command  = {hcl(EXECUTE)}",
                MIRROR_ENV,
                *(['pause_before     = "30s"'] if reboots else []),  # sshd back after the reboot
                "inline           = [local.bootstrap]",
            ]
        )
    )
    steps.append(
        _shell(
            [
                f"execute_command = {hcl(EXECUTE)}",
                f"inline          = [{hcl('rm -f ' + REMOTE_SCRIPT + ' ' + REMOTE_LOCK)}]",
            ]
        )
    )
    steps.append(_manifest(image, lock.digest()))
    return ["build {", '  name    = "imagelock"', '  sources = ["source.amazon-ebs.image"]', *_nested(steps), "}"]


def _upload(name: str, destination: str) -> Block:
    """A file provisioner: one generated file, from beside the template to the builder."""
    return [
        'provisioner "file" {',
        f'  source      = "${{path.root}}/{name}"',
        f"  destination = {hcl(destination)}",
        "}",
    ]


def _shell(attributes: list[str]) -> Block:
    """A shell provisioner; its attributes come aligned, as each differs in which ones it sets."""
    return ['provisioner "shell" {', *("  " + line for line in attributes), "}"]


def _manifest(image: str, digest: str) -> Block:
    """packer-manifest.json, which names the AMI built and the lock it was built from."""
    return [
        'post-processor "manifest" {',
        '  output     = "packer-manifest.json"',
        "  strip_path = true",
        "  custom_data = {",
        f"    image       = {hcl(image)}",
        f"    lock_digest = {hcl(digest)}",
        "  }",
        "}",
    ]
