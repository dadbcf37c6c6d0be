"""`--ssm` against moto in server mode: real HTTP SSM, EC2 and S3 endpoints.

moto's SendCommand records the command, resolves tag targets through its EC2
instances and reports every invocation "Success" at once, but runs nothing and
writes no output. So each test acts as the SSM agent would: right after
SendCommand (the `on_sent` hook) it writes each instance's stdout to the S3 key
the agent uses. Fan-out, target resolution, S3 output reading, per-instance
errors and the fleet summary are then exercised for real over HTTP.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess

import boto3
import pytest
from moto.server import ThreadedMotoServer

from imagelock.drift.compare import LockIndex
from imagelock.drift.fleet_ssm import (
    INLINE_LIMIT,
    SsmOptions,
    audit_fleet,
    backoff_delays,
    command_script,
    output_key,
    parse_target,
)
from imagelock.drift.report import text_report
from imagelock.drift.synthetic import facts_for
from imagelock.lock import codec as lockfile

from .drifthelpers import seed_like_lock

SECRET = "imagelock-test-secret-do-not-print"
BUCKET = "fleet-audits"


@pytest.fixture(scope="module")
def moto_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIMAGELOCKTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    # moto answers ListCommandInvocations with a 500 (not implemented); one retry instead of botocore's four
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    session = boto3.session.Session()
    s3 = session.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    ec2 = session.client("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]

    def launch(count: int, role: str) -> list[str]:
        out = ec2.run_instances(
            ImageId=image,
            MinCount=count,
            MaxCount=count,
            InstanceType="g5.xlarge",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Role", "Value": role}]}],
        )
        return [i["InstanceId"] for i in out["Instances"]]

    yield session, s3, launch
    for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
    s3.delete_bucket(Bucket=BUCKET)


@pytest.fixture(scope="module")
def index() -> LockIndex:
    return LockIndex(seed_like_lock())


def agent_writing(s3, outputs: dict[str, str | None], prefix: str = "imagelock-drift"):
    """The SSM agent's part: each instance's stdout at <prefix>/<command>/<instance>/awsrunShellScript/..."""
    seen = {}

    def on_sent(command_id: str, instances: list[str]) -> None:
        seen["command"], seen["instances"] = command_id, instances
        for instance in instances:
            text = outputs.get(instance)
            if text is not None:
                s3.put_object(Bucket=BUCKET, Key=output_key(prefix, command_id, instance), Body=text.encode())

    return on_sent, seen


def test_tag_targeted_fleet_through_s3(aws, index: LockIndex) -> None:
    session, s3, launch = aws
    workers = launch(4, "gpu-worker")
    launch(2, "head")  # not targeted
    clean = json.dumps(facts_for(index.lock, "w0", base_packages=600))
    assert len(clean) > INLINE_LIMIT  # the reason outputs go through S3
    drifted = facts_for(index.lock, "w1", base_packages=600)
    next(r for r in drifted["dpkg"] if r[0] == "dkms")[1] = "2.8.7-2ubuntu2.3"
    outputs = {workers[0]: clean, workers[1]: json.dumps(drifted), workers[2]: "Traceback (most recent call last):"}
    on_sent, seen = agent_writing(s3, outputs)
    audits = audit_fleet(
        index,
        SsmOptions(
            target="tag:Role=gpu-worker", s3_bucket=BUCKET, max_concurrency="10%", max_errors="2", instance_timeout=120
        ),
        session=session,
        on_sent=on_sent,
        sleep=lambda s: None,
    )
    assert sorted(seen["instances"]) == sorted(workers)
    by = {a.target: a for a in audits}
    assert by[workers[0]].status == "clean"
    assert [(f.subject, f.expected, f.actual) for f in by[workers[1]].findings] == [
        ("dkms", "2.8.7-2ubuntu2.2", "2.8.7-2ubuntu2.3")
    ]
    assert (
        by[workers[2]].error
        == "not valid JSON (Expecting value at line 1); expected a facts document from `lock collect`"
    )
    key = output_key("imagelock-drift", seen["command"], workers[3])
    assert by[workers[3]].error.startswith(f"no collector output at s3://{BUCKET}/{key} (NoSuchKey")
    report = text_report(audits, index.image)
    assert f"fleet: 4 machines: 1 clean, 1 drifted, 2 unreachable, against {index.image}" in report
    assert SECRET not in report and "AKIAIMAGELOCKTEST" not in report
    command = session.client("ssm").list_commands(CommandId=seen["command"])["Commands"][0]
    assert (command["MaxConcurrency"], command["MaxErrors"], command["DocumentName"]) == (
        "10%",
        "2",
        "AWS-RunShellScript",
    )
    assert command["OutputS3BucketName"] == BUCKET
    assert command["Parameters"]["executionTimeout"] == ["120"]
    assert command["Parameters"]["commands"][0].startswith(
        "python3 - --timeout 105 --venv /opt/venvs/ai --models /workspace/models/qwen <<'IMAGELOCK_COLLECTOR_EOF'\n"
    )


def test_the_command_script_runs_the_collector_as_the_agent_would(aws, index: LockIndex) -> None:
    """The agent's part played for real: the script SSM received, run by bash here, its stdout put to S3."""
    session, s3, launch = aws
    (worker,) = launch(1, "script")
    ssm = session.client("ssm")

    def agent(command_id: str, instances: list[str]) -> None:
        params = ssm.list_commands(CommandId=command_id)["Commands"][0]["Parameters"]
        done = subprocess.run(["bash", "-c", params["commands"][0]], capture_output=True, timeout=120, check=True)
        s3.put_object(Bucket=BUCKET, Key=output_key("imagelock-drift", command_id, instances[0]), Body=done.stdout)

    (result,) = audit_fleet(
        index,
        SsmOptions(target="tag:Role=script", s3_bucket=BUCKET, instance_timeout=120),
        session=session,
        on_sent=agent,
        sleep=lambda s: None,
    )
    # This machine is not a seed worker: its real facts drift from the seed lock, layer by layer.
    assert result.status == "drifted", result.error
    found = {(f.layer, f.kind, f.subject) for f in result.findings}
    assert {("image", "missing", "fingerprint"), ("apt", "missing", "dkms"), ("python", "missing", "venv")} <= found


def test_instance_ids_and_inline_output(aws, index: LockIndex) -> None:
    session, s3, launch = aws
    ids = launch(2, "solo")
    audits = audit_fleet(index, SsmOptions(target=",".join(ids)), session=session, sleep=lambda s: None)
    # moto delivers no stdout inline: each instance is unreachable with the reason, none is dropped
    assert [(a.target, a.error) for a in audits] == [(i, "collector printed nothing") for i in ids]


def test_cli_ssm_reports_every_instance_and_exits_2(aws, index: LockIndex, lock_cli, tmp_path) -> None:
    session, s3, launch = aws
    ids = launch(3, "cli")
    lock_path = tmp_path / "seed.lock"
    lock_path.write_text(lockfile.dumps(index.lock))
    run = lock_cli(
        "drift",
        str(lock_path),
        "--ssm",
        "tag:Role=cli",
        "--s3-bucket",
        BUCKET,
        "--format",
        "json",
        "--max-concurrency",
        "5",
        "--timeout",
        "60",
    )
    assert run.code == 2
    data = json.loads(run.out)
    assert data["summary"] == {"machines": 3, "clean": 0, "drifted": 0, "unreachable": 3}
    assert sorted(m["target"] for m in data["machines"]) == sorted(ids)
    assert all(
        m["error"].startswith(f"no collector output at s3://{BUCKET}/imagelock-drift/") for m in data["machines"]
    )
    assert SECRET not in run.out + run.err
    sent = session.client("ssm").list_commands()["Commands"][-1]
    assert (sent["MaxConcurrency"], sent["MaxErrors"], sent["Targets"]) == (
        "5",
        "100%",
        [{"Key": "tag:Role", "Values": ["cli"]}],
    )


def test_unreachable_endpoint_is_exit_2_with_the_reason(lock_cli, tmp_path, monkeypatch, index) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIMAGELOCKTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    lock_path = tmp_path / "seed.lock"
    lock_path.write_text(lockfile.dumps(index.lock))
    run = lock_cli("drift", str(lock_path), "--ssm", "i-0123456789abcdef0")
    assert run.code == 2
    assert run.err.startswith("lock: error: ssm send-command: EndpointConnectionError")
    assert SECRET not in run.err and run.out == ""


def test_backoff_grows_with_full_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    gen = backoff_delays(1.0, 30.0, rng)
    delays = [next(gen) for _ in range(40)]
    assert all(0.2 <= d <= 30.0 for d in delays)
    assert max(delays[:3]) <= 4.0 and max(delays[10:]) > 10.0  # grows, then jitters under the cap
    above_floor = [d for d in delays if d > 0.2]
    assert len(set(above_floor)) == len(above_floor) > 30  # jittered: no two pollers wake in step


def test_targets_and_script_quoting(index: LockIndex) -> None:
    assert parse_target("tag:Role=gpu-worker,spot") == {
        "Targets": [{"Key": "tag:Role", "Values": ["gpu-worker", "spot"]}]
    }
    assert parse_target("i-0123456789abcdef0,mi-0123456789abcdef0") == {
        "InstanceIds": ["i-0123456789abcdef0", "mi-0123456789abcdef0"]
    }
    hostile = seed_like_lock()
    hostile.python.venv = "/opt/v; rm -rf / #"
    script = command_script(LockIndex(hostile), deep=True, timeout=60)
    assert script.splitlines()[0] == (
        "python3 - --timeout 45 --venv '/opt/v; rm -rf / #' --models "
        "/workspace/models/qwen --deep <<'IMAGELOCK_COLLECTOR_EOF'"
    )


def test_polling_waits_with_backoff_until_terminal_or_timeout() -> None:
    """The polling loop on a scripted sequence of GetCommandInvocation answers (moto answers Success at once)."""
    from imagelock.drift.compare import Audit
    from imagelock.drift.fleet_ssm import poll

    now = [0.0]
    answers = {
        "i-a": iter([{"Status": "Pending"}, {"Status": "InProgress"}, {"Status": "InProgress"}, {"Status": "Success"}]),
        "i-b": iter([None] * 100),  # never delivered
        "i-c": iter([{"Status": "Failed"}]),
    }
    asked: list[str] = []
    slept: list[float] = []

    def fetch(instance):
        asked.append(instance)
        return next(answers[instance])

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    results = poll(
        ["i-a", "i-b", "i-c"],
        fetch,
        lambda i, inv: Audit(i, error=None if inv["Status"] == "Success" else inv["Status"]),
        wait_s=60,
        instance_timeout=30,
        delays=backoff_delays(1.0, 8.0, random.Random(3)),
        sleep=sleep,
        clock=lambda: now[0],
    )
    assert results["i-a"].status == "clean" and results["i-c"].error == "Failed"
    assert results["i-b"].error == "no answer within 30s (per-instance timeout)"
    assert asked.count("i-c") == 1 and asked.count("i-a") == 4  # terminal instances are not asked again
    assert now[0] > 60 and all(0.2 <= s <= 8.0 for s in slept)
