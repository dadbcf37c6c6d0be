"""Fleet audits through AWS Systems Manager Run Command (boto3).

One SendCommand of AWS-RunShellScript runs the standard-library collector with the
instance's own python3 (the source travels inside the command as a quoted
here-document, its options quoted with shlex), on instances named by id or by tag,
with MaxConcurrency and MaxErrors passed through. A facts document of a few hundred
packages is larger than the 24,000 characters SSM returns inline, so with
--s3-bucket the output is read from the keys SSM writes:
`<prefix>/<command-id>/<instance-id>/awsrunShellScript/0.awsrunShellScript/stdout`.
Invocations are polled with exponential backoff and full jitter until each is
terminal or its per-instance timeout has passed; an instance that never answers, a
failed or timed-out run, or unreadable facts is reported unreachable with its reason,
and every other instance is still compared.
"""

from __future__ import annotations

import random
import re
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from imagelock.drift.compare import Audit, LockIndex, audit_text, collector_args, collector_source
from imagelock.errors import InputError, UpstreamError
from imagelock.untrusted import MAX_BYTES

INLINE_LIMIT = 24_000  # characters of stdout GetCommandInvocation returns inline
DOCUMENT = "AWS-RunShellScript"
PLUGIN_DIR = "awsrunShellScript"
STEP_DIR = "0.awsrunShellScript"
TERMINAL = {
    "Success",
    "Failed",
    "Cancelled",
    "TimedOut",
    "Cancelling",
    "Undeliverable",
    "Terminated",
    "DeliveryTimedOut",
    "ExecutionTimedOut",
    "InvalidPlatform",
    "AccessDenied",
}
_INSTANCE = re.compile(r"^(i|mi)-[0-9a-f]{8,17}$")
_TAG = re.compile(r"^tag:([^=]{1,128})=(.+)$")
_HEREDOC = "IMAGELOCK_COLLECTOR_EOF"


@dataclass
class SsmOptions:
    target: str
    s3_bucket: str | None = None
    s3_prefix: str = "imagelock-drift"
    max_concurrency: str = "50"
    max_errors: str = "100%"
    instance_timeout: int = 600
    region: str | None = None
    deep: bool = False
    poll_base: float = 1.0
    poll_max: float = 30.0


def parse_target(spec: str) -> dict[str, Any]:
    """`i-0abc,i-0def` (instance ids) or `tag:Key=Value[,Value]` -> SendCommand arguments."""
    match = _TAG.match(spec)
    if match:
        values = [v for v in match.group(2).split(",") if v]
        return {"Targets": [{"Key": f"tag:{match.group(1)}", "Values": values}]}
    ids = [x.strip() for x in spec.split(",") if x.strip()]
    bad = [x for x in ids if not _INSTANCE.match(x)]
    if not ids or bad:
        raise InputError(
            None, "--ssm", f"expected instance ids (i-0123456789abcdef0,...) or tag:KEY=VALUE, found {spec!r}"
        )
    return {"InstanceIds": ids}


_CONCURRENCY = re.compile(r"^([1-9][0-9]*|[1-9][0-9]?%|100%)$")  # SSM's own patterns for the two rates
_ERRORS = re.compile(r"^([0-9]+|[0-9]{1,2}%|100%)$")


def check_rates(max_concurrency: str, max_errors: str) -> None:
    if not _CONCURRENCY.match(max_concurrency):
        raise InputError(
            None, "--max-concurrency", f"expected a count (10) or a percentage (10%), found {max_concurrency!r}"
        )
    if not _ERRORS.match(max_errors):
        raise InputError(None, "--max-errors", f"expected a count (0, 5) or a percentage (100%), found {max_errors!r}")


def command_script(index: LockIndex, deep: bool, timeout: int) -> str:
    """The shell script SSM runs: the collector fed to python3 on stdin, options quoted."""
    source = collector_source()
    if _HEREDOC in source:  # pragma: no cover - guarded so the here-document cannot end early
        raise AssertionError("collector source contains the here-document delimiter")
    args = " ".join(shlex.quote(a) for a in collector_args(index, deep, max(10, timeout - 15)))
    return f"python3 - {args} <<'{_HEREDOC}'\n{source}\n{_HEREDOC}\n"


def backoff_delays(base: float, cap: float, rng: random.Random) -> Any:
    """Full-jitter exponential backoff: uniform(0, min(cap, base * 2**n)), never below 0.2 s."""
    n = 0
    while True:
        yield max(0.2, rng.uniform(0, min(cap, base * (2**n))))
        n += 1


def output_key(prefix: str, command_id: str, instance_id: str, stream: str = "stdout") -> str:
    return "/".join(p for p in (prefix.strip("/"), command_id, instance_id, PLUGIN_DIR, STEP_DIR, stream) if p)


def _client_error(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    err = response.get("Error") or {}
    if err:
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".strip()
    return exc.__class__.__name__


def audit_fleet(
    index: LockIndex,
    options: SsmOptions,
    session: Any = None,
    on_sent: Callable[[str, list[str]], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> list[Audit]:
    """Send the collector to the fleet, wait, read every instance's facts, compare each."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    target = parse_target(options.target)
    check_rates(options.max_concurrency, options.max_errors)
    session = session or boto3.session.Session(region_name=options.region)
    try:
        ssm = session.client("ssm")
        s3 = session.client("s3") if options.s3_bucket else None
    except BotoCoreError as exc:  # NoRegionError, missing endpoint data, ...
        raise UpstreamError(f"ssm: {exc} (pass --region or set AWS_DEFAULT_REGION)") from None
    rng = rng or random.Random()
    request: dict[str, Any] = {
        **target,
        "DocumentName": DOCUMENT,
        "Comment": f"imagelock drift {index.image}"[:100],
        "Parameters": {
            "commands": [command_script(index, options.deep, options.instance_timeout)],
            "executionTimeout": [str(options.instance_timeout)],
        },
        "MaxConcurrency": options.max_concurrency,
        "MaxErrors": options.max_errors,
        "TimeoutSeconds": max(30, options.instance_timeout),
    }
    if options.s3_bucket:
        request["OutputS3BucketName"] = options.s3_bucket
        request["OutputS3KeyPrefix"] = options.s3_prefix
    try:
        command = ssm.send_command(**request)["Command"]
    except (ClientError, BotoCoreError) as exc:
        raise UpstreamError(f"ssm send-command: {_client_error(exc)}") from None
    command_id = command["CommandId"]
    # Asked by id: exactly those (an id SSM cannot reach is reported, not dropped). By tag: whoever SSM reached.
    instances = list(target.get("InstanceIds") or []) or _discover(
        ssm, command_id, sleep, backoff_delays(options.poll_base, options.poll_max, rng)
    )
    if on_sent:
        on_sent(command_id, instances)
    if not instances:
        raise UpstreamError(f"ssm: command {command_id} reached no instance for {options.target}")

    def fetch(instance: str) -> dict[str, Any] | None:
        try:
            return ssm.get_command_invocation(CommandId=command_id, InstanceId=instance)
        except ClientError as exc:
            if (exc.response.get("Error") or {}).get("Code") == "InvocationDoesNotExist":
                return None  # not delivered yet
            return {"Status": "Error", "imagelock_error": f"ssm: {_client_error(exc)}"}
        except BotoCoreError as exc:
            return {"Status": "Error", "imagelock_error": f"ssm: {exc.__class__.__name__}"}

    def finish(instance: str, inv: dict[str, Any]) -> Audit:
        if "imagelock_error" in inv:
            return Audit(instance, error=inv["imagelock_error"])
        return _finish(index, options, s3, command_id, instance, inv)

    results = poll(
        instances,
        fetch,
        finish,
        options.instance_timeout + 60,
        options.instance_timeout,
        backoff_delays(options.poll_base, options.poll_max, rng),
        sleep,
    )
    return [results[i] for i in instances]


def poll(
    instances: list[str],
    fetch: Callable[[str], dict[str, Any] | None],
    finish: Callable[[str, dict[str, Any]], Audit],
    wait_s: float,
    instance_timeout: int,
    delays: Any,
    sleep: Callable[[float], None],
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Audit]:
    """Ask about every pending instance, sleep a jittered backoff, again, until all are terminal or time is up."""
    pending = list(instances)
    results: dict[str, Audit] = {}
    deadline = clock() + wait_s  # delivery + execution
    while pending:
        still = []
        for instance in pending:
            inv = fetch(instance)
            if inv is not None and (inv.get("Status") in TERMINAL or "imagelock_error" in inv):
                results[instance] = finish(instance, inv)
            else:
                still.append(instance)
        pending = still
        if not pending:
            break
        if clock() > deadline:
            for instance in pending:
                results[instance] = Audit(
                    instance, error=f"no answer within {instance_timeout}s (per-instance timeout)"
                )
            break
        sleep(next(delays))
    return results


def _discover(ssm: Any, command_id: str, sleep: Callable[[float], None], delays: Any, attempts: int = 6) -> list[str]:
    """Instances a tag-targeted command reached: ListCommandInvocations (polled, as invocations appear while
    SSM dispatches), else the InstanceIds of ListCommands."""
    from botocore.exceptions import BotoCoreError, ClientError

    for _ in range(attempts):
        try:
            found: list[str] = []
            for page in ssm.get_paginator("list_command_invocations").paginate(CommandId=command_id):
                found += [inv["InstanceId"] for inv in page.get("CommandInvocations", [])]
        except (ClientError, BotoCoreError):
            break  # moto implements no ListCommandInvocations; ListCommands carries the ids there
        if found:
            return sorted(set(found))
        sleep(next(delays))
    try:
        commands = ssm.list_commands(CommandId=command_id).get("Commands") or []
    except (ClientError, BotoCoreError) as exc:
        raise UpstreamError(f"ssm list-commands: {_client_error(exc)}") from None
    return list(commands[0].get("InstanceIds") or []) if commands else []


def _finish(
    index: LockIndex, options: SsmOptions, s3: Any, command_id: str, instance: str, inv: dict[str, Any]
) -> Audit:
    status = inv.get("Status")
    if status != "Success":
        err = (inv.get("StandardErrorContent") or "").strip().splitlines()
        reason = f"collector {status}" + (
            f" (exit {inv.get('ResponseCode')})" if inv.get("ResponseCode", -1) >= 0 else ""
        )
        if err:
            reason += f": {err[-1][:200]}"
        return Audit(instance, error=reason)
    text = inv.get("StandardOutputContent") or ""
    if s3 is not None:
        key = output_key(options.s3_prefix, command_id, instance)
        try:
            # one byte past the limit is enough to refuse it (audit_text does): an answer is never read whole
            body = s3.get_object(Bucket=options.s3_bucket, Key=key)["Body"].read(MAX_BYTES + 1)
            text = body.decode("utf-8", "replace")
        except Exception as exc:  # noqa: BLE001 - botocore raises several classes here
            return Audit(
                instance, error=f"no collector output at s3://{options.s3_bucket}/{key} ({_client_error(exc)})"
            )
    elif len(text) >= INLINE_LIMIT:
        return Audit(
            instance,
            error=f"output truncated at SSM's inline limit ({INLINE_LIMIT} characters); "
            "pass --s3-bucket so SSM writes it to S3",
        )
    if not text.strip():
        return Audit(instance, error="collector printed nothing")
    return audit_text(index, text, instance)
