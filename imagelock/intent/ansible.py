"""The `[ansible]` intent section: which Ansible variable takes which locked value, per role.

    [ansible]
    order = ["base", "nvidia_driver"]              # the play's order (default: the order of the tables below)

    [ansible.vars]                                 # read by several roles: group_vars/all.yml
    cuda_version = "nvidia.cuda-version"

    [ansible.roles.base]                           # a role with no pins is still a role of the play

    [ansible.roles.nvidia_driver]                  # this role's variables: roles/nvidia_driver/defaults/main.yml
    nvidia_driver_version = "nvidia.driver-version"

    [ansible.variants.cpu]                         # the roles a variant's playbook runs (default: all)
    roles = ["base"]

Each value is a lock path (imagelock.lock.paths): its grammar is checked here, and what it names is
checked against the lock by `lock update` and `lock generate` (imagelock.build.ansible.check).
A variable is declared once: one that several roles read belongs in `[ansible.vars]`, since Ansible
does not keep one role's defaults from another's in a play. docs/ansible.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imagelock.errors import InputError
from imagelock.intent.fields import check_keys, string_list
from imagelock.lock import paths
from imagelock.lock.paths import LockPath, PathError

KEYS = ("order", "vars", "roles", "variants")
# An Ansible variable name (letters, digits, '_', not starting with a digit) and a role directory name
# under roles/ (no '.', so never a collection's FQCN, never a path outside roles/).
VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
ROLE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,127}")
VARIANT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
# Names Ansible itself sets or reserves: a role variable by one of these names would be shadowed or shadow it.
RESERVED = frozenset(
    {"hostvars", "groups", "group_names", "inventory_hostname", "environment", "omit", "play_hosts", "role_name"}
)


@dataclass
class Mapping:
    """One variable: where in the intent it is declared and the lock path it takes its value from."""

    variable: str
    path: LockPath
    key: str  # as errors name it: ansible.roles.nvidia_driver.nvidia_driver_version


@dataclass
class AnsibleIntent:
    order: list[str]  # every role, in the play's order
    roles: dict[str, list[Mapping]]  # role -> its variables
    shared: list[Mapping] = field(default_factory=list)  # [ansible.vars]
    variants: dict[str, list[str]] = field(default_factory=dict)  # variant -> its roles, in order

    def mappings(self) -> list[Mapping]:
        return [*self.shared, *(m for role in self.order for m in self.roles[role])]

    def roles_of(self, variant: str) -> list[str]:
        """The roles a variant's playbook runs: those the intent lists for it, else every role."""
        return self.variants.get(variant, self.order)


def parse(table: Any, path: Path) -> AnsibleIntent:
    where = "ansible"
    check_keys(table, KEYS, path, where)
    seen: dict[str, str] = {}  # variable -> where it is declared
    shared = _variables(table.get("vars", {}), path, f"{where}.vars", seen)
    roles: dict[str, list[Mapping]] = {}
    for role, variables in _table(table, "roles", path, where).items():
        _name(role, ROLE, path, f"{where}.roles.{role}", "a role directory name (letters, digits, '_', '-')")
        roles[role] = _variables(variables, path, f"{where}.roles.{role}", seen)
    if not roles and not shared:
        raise InputError(path, where, "expected [ansible.roles.<role>] tables (or [ansible.vars])")
    order = _roles(table, "order", roles, path, where)
    if order is None:
        order = list(roles)
    elif set(order) != set(roles):
        missing = ", ".join(r for r in roles if r not in order)
        raise InputError(path, f"{where}.order", f"lists the play's order of every role; it leaves out: {missing}")
    variants: dict[str, list[str]] = {}
    for variant, entry in _table(table, "variants", path, where).items():
        here = f"{where}.variants.{variant}"
        _name(variant, VARIANT, path, here, "a variant name (lower-case letters, digits, '-')")
        check_keys(entry, ("roles",), path, here)
        variants[variant] = _roles(entry, "roles", roles, path, here) or []
    return AnsibleIntent(order=order, roles=roles, shared=shared, variants=variants)


def _table(table: dict[str, Any], key: str, path: Path, where: str) -> dict[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise InputError(path, f"{where}.{key}", f"expected tables [{where}.{key}.<name>]")
    return value


def _roles(
    table: dict[str, Any], key: str, roles: dict[str, list[Mapping]], path: Path, where: str
) -> list[str] | None:
    """A list of declared roles, each once."""
    chosen = string_list(table, key, path, where)
    if chosen is None:
        return None
    for i, role in enumerate(chosen):
        if role not in roles:
            raise InputError(path, f"{where}.{key}[{i}]", f"no table [ansible.roles.{role}] declares the role {role!r}")
        if role in chosen[:i]:
            raise InputError(path, f"{where}.{key}[{i}]", f"names the role {role!r} twice")
    return chosen


def _variables(table: Any, path: Path, where: str, seen: dict[str, str]) -> list[Mapping]:
    if not isinstance(table, dict):
        raise InputError(path, where, 'expected a table of variable = "lock path"')
    out = []
    for variable, text in table.items():
        here = f"{where}.{variable}"
        _name(variable, VARIABLE, path, here, "an Ansible variable name (letters, digits, '_')")
        if variable in RESERVED:
            raise InputError(path, here, "a name Ansible sets itself; choose another")
        if variable in seen:
            raise InputError(
                path,
                here,
                f"already declared as {seen[variable]}; a variable several roles read is declared once, "
                "in [ansible.vars]",
            )
        seen[variable] = here
        if not isinstance(text, str):
            raise InputError(path, here, f'expected a lock path such as "nvidia.driver-version", found {text!r}')
        try:
            out.append(Mapping(variable, paths.parse(text), here))
        except PathError as error:
            raise InputError(path, here, str(error)) from None
    return out


def _name(name: str, grammar: re.Pattern[str], path: Path, where: str, what: str) -> None:
    if not grammar.fullmatch(name):
        raise InputError(path, where, f"expected {what}, found {name!r}")
