"""Registry credentials from Docker's credential store, through the real CLI against the real distribution
registry behind a token realm: `credsStore` and `credHelpers` run the real docker-credential-pass, `auths`
is read as `docker login` writes it, and the secret is in no lock, output or error. A broken config.json is
one line naming the file and key, exit 2, nothing written."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.containers.credentials import docker_config, pass_store
from tests.containers.registry import Registry, TokenServer, oci_layout, registry, token_server

SECRET = "s3cret-push"


@dataclass
class Tokened:
    registry: Registry
    tokens: TokenServer
    intent: Path


@pytest.fixture(scope="module")
def tokened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tokened]:
    tmp = tmp_path_factory.mktemp("tokened")
    with token_server(tmp, ("pusher", SECRET)) as tokens, registry(tmp / "registry", tokens) as reg:
        oci_layout(tmp / "layout", "1.0", "credentials")
        reg.push(tmp / "layout", "1.0", "team/private")
        intent = tmp / "image.toml"
        intent.write_text(
            'name = "creds"\n[universe]\ncutoff = "2025-01-01T00:00:00Z"\n'
            f'[[containers]]\nimage = "{reg.host}/team/private:1.0"\n'
        )
        yield Tokened(reg, tokens, intent)


def _update(tokened: Tokened, lock_cli, tmp_path: Path):
    """`lock update` of the fixture's intent into a fresh lock; the token server's record starts empty."""
    intent = tmp_path / "image.toml"
    intent.write_text(tokened.intent.read_text())
    tokened.tokens.requests.clear()
    return intent, lock_cli("update", str(intent))


def _sent_basic(tokened: Tokened) -> bool:
    expected = "Basic " + base64.b64encode(f"pusher:{SECRET}".encode()).decode()
    return bool(tokened.tokens.requests) and all(r["authorization"] == expected for r in tokened.tokens.requests)


@pytest.mark.parametrize("how", ["credsStore", "credHelpers"])
def test_the_real_credential_helper_answers_and_the_secret_goes_nowhere_else(
    tmp_path: Path, tokened: Tokened, lock_cli, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    host = tokened.registry.host
    with pass_store(tmp_path, {host: ("pusher", SECRET)}) as env:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        config = {"credsStore": "pass"} if how == "credsStore" else {"credHelpers": {host: "pass"}}
        docker_config(tmp_path / "docker", config)
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
        intent, run = _update(tokened, lock_cli, tmp_path)
        assert run.code == 0, run.err
        assert _sent_basic(tokened)  # the helper's secret went to the token realm as HTTP Basic
        lock = intent.with_suffix(".lock").read_text()
        assert SECRET not in lock + run.out + run.err and "pusher" not in lock
        generated = lock_cli("generate", str(intent.with_suffix(".lock")), "-o", str(tmp_path / "generated"))
        assert generated.code == 0, generated.err
        files = [p for p in (tmp_path / "generated").rglob("*") if p.is_file()]
        assert files and not [p for p in files if SECRET.encode() in p.read_bytes()]

        # The helper knows no login for this server: anonymous, as Docker goes on.
        docker_config(tmp_path / "docker", {"credHelpers": {"127.0.0.1:1": "pass"}, "credsStore": "pass"})
        monkeypatch.setenv("PASSWORD_STORE_DIR", str(tmp_path / "empty-store"))
        (tmp_path / "empty-store").mkdir()
        (tmp_path / "empty-store" / ".gpg-id").write_text("nobody\n")
        intent.with_suffix(".lock").unlink()
        _, anonymous = _update(tokened, lock_cli, tmp_path)
        assert anonymous.code == 0, anonymous.err
        assert tokened.tokens.requests and all(r["authorization"] == "" for r in tokened.tokens.requests)


def test_auths_as_docker_login_writes_them_with_a_scheme_in_the_key(
    tmp_path: Path, tokened: Tokened, lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = base64.b64encode(f"pusher:{SECRET}".encode()).decode()
    docker_config(tmp_path / "docker", {"auths": {f"https://{tokened.registry.host}/v2/": {"auth": auth}}})
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    intent, run = _update(tokened, lock_cli, tmp_path)
    assert run.code == 0, run.err
    assert _sent_basic(tokened)
    assert SECRET not in intent.with_suffix(".lock").read_text() + run.out + run.err


def test_wrong_credentials_from_the_store_fail_without_showing_them(
    tmp_path: Path, tokened: Tokened, lock_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "not-the-s3cret-42"
    with pass_store(tmp_path, {tokened.registry.host: ("pusher", wrong)}) as env:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        docker_config(tmp_path / "docker", {"credsStore": "pass"})
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
        intent, run = _update(tokened, lock_cli, tmp_path)
    assert run.code == 2 and run.err.count("\n") == 1, run.err
    assert "authentication failed" in run.err and wrong not in run.out + run.err
    assert not intent.with_suffix(".lock").exists()


@pytest.mark.parametrize(
    ("config", "key", "message"),
    [
        ("{not json", "", "not a readable Docker config.json (expected JSON)"),
        ("[]", "", "not a Docker config.json (expected a JSON object)"),
        ({"auths": ["x"]}, "auths", "expected an object of registry -> entry"),
        ({"credHelpers": "pass"}, "credHelpers", "expected an object of registry -> entry"),
        ({"credsStore": 7}, "credsStore", "expected the name of a credential helper"),
        ({"auths": {"HOST": {"auth": "cHVzaGVyczNjcmV0LXB1c2g="}}}, "auths.HOST.auth", "expected base64 of user:p"),
        ({"auths": {"HOST": "x"}}, "auths.HOST", "expected an object"),
        ({"credHelpers": {"HOST": "../../bin/sh"}}, "credHelpers.HOST", "is not a credential helper name"),
        ({"credHelpers": {"HOST": "imagelock-absent"}}, "credHelpers.HOST", "is not installed"),
    ],
)
def test_a_broken_config_json_is_one_line_exit_2_and_nothing_written(
    tmp_path: Path, tokened: Tokened, lock_cli, monkeypatch: pytest.MonkeyPatch, config: object, key: str, message: str
) -> None:
    host = tokened.registry.host
    if not isinstance(config, str):
        config = json.loads(json.dumps(config).replace("HOST", host))
    path = docker_config(tmp_path / "docker", config)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    intent, run = _update(tokened, lock_cli, tmp_path)
    assert run.code == 2, run.err
    where = f"{path}: {key.replace('HOST', host)}: " if key else f"{path}: "
    assert run.err.count("\n") == 1 and where in run.err and message in run.err, run.err
    assert "s3cret" not in run.err  # "cHVzaGVyczNjcmV0LXB1c2g=" is base64 of a colon-less pusher+secret
    assert not intent.with_suffix(".lock").exists()
