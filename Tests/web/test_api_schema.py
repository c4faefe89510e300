"""schemathesis against the running API, for each role with that role's token: every documented
operation, with generated parameters and bodies, answers as the OpenAPI document says (status
codes, content type, headers and body schema) and never with a server error."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stack import ROLES, Stack, make

CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
    "response_schema_conformance",
])


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Stack]:
    # A stack of its own: the fuzzing halts, flattens and fails logins (which lock its address out
    # for a while), none of which the other tests should inherit.
    s = make(int(os.environ.get("WEB_TEST_PG_PORT", "55436")) + 1)
    try:
        s.start()
        s.feed(count=20_000, rate=20_000)
        yield s
    finally:
        s.stop()


def run_schemathesis(stack: Stack, token: str | None, out: Path) -> subprocess.CompletedProcess[str]:
    cli = Path(sys.executable).parent / "schemathesis"
    arguments = [str(cli), "run", f"{stack.base}/api/v1/openapi.json", "--checks", CHECKS, "--max-examples", "25",
                 "--seed", "1", "--exclude-operation-id", "logout", "--request-timeout", "30",
                 "--report", "junit", "--report-dir", str(out)]
    if token:
        arguments += ["--header", f"Authorization: Bearer {token}"]
    return subprocess.run(arguments, capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("role", ["admin", "trader", "investor", "anonymous"])
def test_every_operation_answers_as_the_document_says(fuzzed: Stack, role: str, tmp_path: Path) -> None:
    name = next((n for n, r in ROLES.items() if r == role), None)
    token = fuzzed.tokens[name] if name else None
    result = run_schemathesis(fuzzed, token, tmp_path)
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "passed" in result.stdout
