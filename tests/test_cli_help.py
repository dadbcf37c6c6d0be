"""`lock --help` and every subcommand's: a description, an example, one help line per option and the exit
status, found by walking the parser (a new subcommand without them fails here)."""

from __future__ import annotations

import argparse
import re

import pytest

from imagelock import cli_help
from imagelock.cli import build_parser, main

SUBCOMMANDS = cli_help.subcommands(build_parser())


def test_every_subcommand_is_described() -> None:
    assert set(SUBCOMMANDS) == set(cli_help.COMMANDS)  # a new subcommand gets its help here


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_a_subcommands_help_has_a_description_an_example_and_its_exit_status(name: str) -> None:
    sub = SUBCOMMANDS[name]
    text = sub.format_help()
    assert sub.description and len(sub.description) > 40
    assert sub.description.split()[0] in text
    examples = text.split("Examples:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert examples and all(line.startswith(f"  lock {name}") for line in examples), examples
    status = text.split("Exit status:\n", 1)[1].splitlines()[:3]
    assert [line.split()[0] for line in status] == ["0", "1", "2"]
    assert status[2].startswith("  2  could not answer")
    for action in sub._actions:
        if not isinstance(action, argparse._HelpAction):
            assert action.help, f"lock {name}: {'/'.join(action.option_strings) or action.dest} has no help line"


def test_no_names_what_no_means_for_the_commands_that_answer_no() -> None:
    assert "1  no: the locks differ" in SUBCOMMANDS["diff"].format_help()
    assert "1  no: some machine drifted" in SUBCOMMANDS["drift"].format_help()


def test_lock_help_lists_the_commands_an_example_and_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "Lock every layer of a GPU machine image." in out
    assert all(name in out for name in SUBCOMMANDS)
    assert re.search(r"^Examples:\n  lock ", out, re.M)
    assert re.search(r"^Exit status:\n  0  yes.*\n  1  no.*\n  2  could not answer", out, re.M)
