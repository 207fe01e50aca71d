"""Bad input for the fault campaign, generated with hypothesis and sent every way users send it.

Executions (raw manifests to the API server, the Client, ``kontinue execute``, the UI's start
form), Suspensions and ScheduledExecutions, with arguments nested up to 2,000 levels, too large
for etcd, of every JSON shape, and invalid or huge durations, counts and names. Each input must
be refused with a message that names what is wrong, or be accepted; an accepted execution must
then reach a terminal phase (the campaign checks it like its own). Anything else (a 500 from
the UI, a traceback from the CLI, a refusal that names nothing) is a problem the test reports.

Every generated execution carries a short overall timeout unless the input makes that field
itself invalid, so an accepted one ends even when no worker serves its function.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from kontinue import errors
from kontinue.client import Client, kubeapi
from kontinue.devcluster import LocalCluster
from kontinue_testkit.pytest_plugin import WorkerProcess, spawn_with_env

_counter = itertools.count()
SERVED = ["rel-steps", "rel-sleeper", "rel-approval", "rel-fails", "rel-retry"]
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


def _nested_text(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


# arguments as JSON text (a value too deep for json.dumps in this process still goes through)
_argument_texts = st.one_of(
    _json.map(json.dumps),
    st.integers(min_value=101, max_value=2000).map(_nested_text),
    st.integers(min_value=1_600_000, max_value=1_700_000).map(lambda n: json.dumps("x" * n)),
    st.just('{"n": "not a number"}'),
    st.just('{"n": 3, "pause": 0.01}'),
)
_durations = st.one_of(
    st.sampled_from(
        ["20s", "5s", "1h30m", "9999999d", "36501d", "-1s", "", "5", "1y", "0s", "1.5h", "2ms"]
    ),
    st.text(max_size=12),
)
_functions = st.one_of(
    st.sampled_from(SERVED),
    st.sampled_from(["no-such-function", "My_Func", "x" * 300, "", "rel steps", "rel-steps-"]),
    st.text(max_size=40),
)
_retries = st.one_of(st.none(), st.integers(min_value=-5, max_value=2000), st.text(max_size=4))
_groups = st.one_of(
    st.none(), st.sampled_from(["default", "Bad_Group", "x" * 70]), st.text(max_size=8)
)
_schedules = st.one_of(
    st.sampled_from(["* * * * *", "0 0 31 2 *", "61 * * * *", "@hourly", "*/5 * * * * *"]),
    st.text(max_size=15),
)
_zones = st.one_of(st.none(), st.sampled_from(["UTC", "Mars/Olympus", "Europe/Berlin"]))
_times = st.one_of(
    st.none(),
    st.sampled_from(["2000-01-01T00:00:00Z", "not-a-time", "9999-12-31T23:59:59Z"]),
    st.text(max_size=8),
)
_channels = st.sampled_from(["api", "client", "cli", "ui", "suspension", "schedule", "status"])


@st.composite
def _input(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "channel": draw(_channels),
        "function": draw(_functions),
        "arguments": draw(_argument_texts),
        "retries": draw(_retries),
        "backoff": draw(st.one_of(st.none(), _durations)),
        "overall": draw(st.one_of(st.none(), _durations)),
        "attempt": draw(st.one_of(st.none(), _durations)),
        "group": draw(_groups),
        "mutex": draw(st.one_of(st.none(), st.text(max_size=10))),
        "schedule": draw(_schedules),
        "zone": draw(_zones),
        "resume_at": draw(_times),
        "name": f"bad-{next(_counter)}",
        "claim": draw(st.integers(min_value=-3, max_value=3)),
    }  # fmt: skip


def _short_overall(text: str | None) -> str:
    """The overall timeout an execution gets: the generated one if it is invalid, else 20 s."""
    from kontinue.api import durations

    if text is None:
        return "20s"
    try:
        if durations.parse_duration(text).total_seconds() <= 30:
            return text
    except ValueError:
        return text  # an invalid one: what the API server must refuse
    return "20s"


def _names_what(message: str) -> bool:
    """Whether a refusal says what was wrong (a field, an option, the arguments, a limit)."""
    return bool(
        re.search(
            r"spec\.|metadata\.|status\.|--[a-z]|argument|payload|too large|nested|"
            r"duration|function|no worker|not JSON|must be|is required|invalid",
            message,
            re.IGNORECASE,
        )
    )


class BadInputs:
    """Generates and sends bad input; records what was accepted and what misbehaved."""

    def __init__(
        self, client: Client, cluster: LocalCluster, namespace: str, workdir: Path
    ) -> None:
        self.client = client
        self.cluster = cluster
        self.namespace = namespace
        self.workdir = workdir
        self.sent = 0
        self.refused = 0
        self.accepted: dict[str, float] = {}
        self.problems: list[str] = []
        self.ui: WorkerProcess | None = None
        self.ui_url = ""
        self._lock = threading.Lock()

    # -- the run -------------------------------------------------------------------------------

    def run(self, count: int, seconds: float) -> None:
        """Send ``count`` generated inputs spread over ``seconds``."""
        self._start_ui()
        pause = seconds / max(1, count)

        @settings(
            max_examples=count,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(_input())
        def send(example: dict[str, Any]) -> None:
            started = time.monotonic()
            self._send(example)
            time.sleep(max(0.0, pause - (time.monotonic() - started)))

        try:
            send()
        finally:
            if self.ui is not None:
                self.ui.stop(timeout=10)

    def _send(self, example: dict[str, Any]) -> None:
        self.sent += 1
        channel = example["channel"]
        try:
            getattr(self, f"_via_{channel}")(example)
        except (kubeapi.Unreachable, kubeapi.ServerError) as exc:
            # the API server is down for a fault right now: not an answer about the input
            if "too large" in str(exc).lower():
                self.refused += 1
            else:
                self.sent -= 1
        except Exception as exc:  # noqa: BLE001 - every unexpected outcome is reported
            self._problem(example, f"{type(exc).__name__}: {exc}"[:500])

    def _problem(self, example: dict[str, Any], what: str) -> None:
        shown = {
            k: (v[:80] + "..." if isinstance(v, str) and len(v) > 80 else v)
            for k, v in example.items()
        }
        with self._lock:
            self.problems.append(f"{example['channel']}: {what} for {shown}")

    def _refused(self, example: dict[str, Any], message: str) -> None:
        if _names_what(message):
            self.refused += 1
        else:
            self._problem(example, f"refused without saying what is wrong: {message[:300]}")

    def _accepted(self, name: str) -> None:
        with self._lock:
            self.accepted[name] = time.time()

    # -- executions ------------------------------------------------------------------------------

    def _spec_text(self, example: dict[str, Any]) -> str:
        spec: dict[str, Any] = {"function": example["function"]}
        retry: dict[str, Any] = {}
        if example["retries"] is not None:
            retry["retries"] = example["retries"]
        if example["backoff"] is not None:
            retry["backoff"] = example["backoff"]
        if retry:
            spec["retry"] = retry
        spec["timeout"] = {"overall": _short_overall(example["overall"])}
        if example["attempt"] is not None:
            spec["timeout"]["attempt"] = example["attempt"]
        if example["group"] is not None:
            spec["workerGroup"] = example["group"]
        if example["mutex"] is not None:
            spec["mutex"] = {"name": example["mutex"]}
        text = json.dumps(spec)
        return f'{text[:-1]}, "arguments": {example["arguments"]}}}'

    def _via_api(self, example: dict[str, Any]) -> None:
        body = (
            '{"apiVersion": "kontinue.cloud/v1alpha1", "kind": "Execution", "metadata": '
            f'{{"name": "{example["name"]}"}}, "spec": {self._spec_text(example)}}}'
        )
        status, answer = self._raw("POST", kubeapi.EXECUTIONS.path(self.namespace), body)
        if status == 201:
            self._accepted(example["name"])
        elif status in (400, 413, 422):
            self._refused(example, answer)
        elif status >= 500 and "too large" in answer.lower():
            self.refused += 1
        else:
            self._problem(example, f"API answered {status}: {answer[:300]}")

    def _via_client(self, example: dict[str, Any]) -> None:
        from kontinue import ExecuteOptions, RetryOptions, TimeoutOptions

        text = example["arguments"]
        depth = text.count('{"a":')
        arguments = _nested(depth) if depth > 100 else json.loads(text)
        try:
            retry = None
            if isinstance(example["retries"], int) or example["backoff"] is not None:
                retry = RetryOptions(
                    retries=example["retries"] if isinstance(example["retries"], int) else 0,
                    backoff=example["backoff"] or "5s",
                )
            options = ExecuteOptions(
                retry=retry,
                timeout=TimeoutOptions(overall=_short_overall(example["overall"])),
            )
            created = self.client.create_execution(example["function"], arguments, options)
        except (errors.KontinueError, ValueError, kubeapi.Invalid, kubeapi.TooLarge) as exc:
            self._refused(example, str(exc))
            return
        self._accepted(created["metadata"]["name"])

    def _via_cli(self, example: dict[str, Any]) -> None:
        command = [
            str(Path(sys.executable).parent / "kontinue"), "-n", self.namespace, "execute",
            example["function"] or "''", example["arguments"], "--no-check", "-o", "name",
            "--timeout", _short_overall(example["overall"]),
        ]  # fmt: skip
        if example["retries"] is not None:
            command += ["--retries", str(example["retries"])]
        if example["backoff"] is not None:
            command += ["--backoff", example["backoff"]]
        if any("\0" in part for part in command):  # no command line can hold a NUL byte
            self.sent -= 1
            return
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=60,
                env={"KUBECONFIG": str(self.cluster.kubeconfig), "PATH": "/usr/bin:/bin"},
                check=False,
            )
        except OSError as exc:  # an argument too long for the system: not the CLI's doing
            if "Argument list too long" in str(exc):
                self.sent -= 1
                return
            raise
        if "Traceback" in done.stderr:
            self._problem(example, f"the CLI crashed: {done.stderr[-800:]}")
        elif done.returncode == 0:
            self._accepted(done.stdout.strip().split("/")[-1])
        elif "cannot reach" in done.stderr or "InternalError" in done.stderr:
            self.sent -= 1  # a fault, not an answer
        else:
            self._refused(example, done.stderr)

    def _via_ui(self, example: dict[str, Any]) -> None:
        function = example["function"] if example["function"] in SERVED else "rel-steps"
        path = f"/start/{self.namespace}/default/{urllib.parse.quote(function)}"
        status, page = self._ui("GET", path)
        if status != 200:
            self._problem(example, f"the start form answered {status}")
            return
        token = _CSRF.search(page)
        fields = {
            "csrf_token": token.group(1) if token else "",
            "arguments": example["arguments"],
            "timeout": _short_overall(example["overall"]),
            "retries": "" if example["retries"] is None else str(example["retries"]),
        }
        status, page = self._ui("POST", path, fields)
        if status == 303:
            self._accepted(page.rstrip("/").split("/")[-1])
        elif status in (400, 413, 422):
            self.refused += 1
        elif status == 503:
            self.sent -= 1  # the API server is down for a fault
        else:
            self._problem(example, f"the UI answered {status}: {page[-500:]}")

    # -- other objects ---------------------------------------------------------------------------

    def _via_suspension(self, example: dict[str, Any]) -> None:
        spec = {} if example["resume_at"] is None else {"resumeAt": example["resume_at"]}
        body = json.dumps(
            {
                "apiVersion": "kontinue.cloud/v1alpha1",
                "kind": "Suspension",
                "metadata": {"name": example["name"]},
                "spec": spec,
            }
        )
        status, answer = self._raw("POST", kubeapi.SUSPENSIONS.path(self.namespace), body)
        if status in (400, 422):
            self._refused(example, answer)
        elif status != 201:
            self._problem(example, f"API answered {status}: {answer[:300]}")

    def _via_schedule(self, example: dict[str, Any]) -> None:
        spec: dict[str, Any] = {
            "schedule": example["schedule"],
            "function": example["function"],
            "suspend": True,  # its runs are not what is tested here
        }
        if example["zone"] is not None:
            spec["timeZone"] = example["zone"]
        body = json.dumps(
            {
                "apiVersion": "kontinue.cloud/v1alpha1",
                "kind": "ScheduledExecution",
                "metadata": {"name": example["name"]},
                "spec": spec,
            }
        )
        status, answer = self._raw("POST", kubeapi.SCHEDULED_EXECUTIONS.path(self.namespace), body)
        if status in (400, 422):
            self._refused(example, answer)
        elif status != 201:
            self._problem(example, f"API answered {status}: {answer[:300]}")

    def _via_status(self, example: dict[str, Any]) -> None:
        """A status patch a namespace user could send to a running execution (a lower claim)."""
        executions = self.client.kube.list(kubeapi.EXECUTIONS, self.namespace, limit=20)["items"]
        running = [e for e in executions if (e.get("status") or {}).get("claim")]
        if not running:
            self.sent -= 1
            return
        target = running[0]
        claim = int(target["status"]["claim"]) + example["claim"] - 3  # never above
        body = json.dumps({"status": {"claim": claim}})
        status, answer = self._raw(
            "PATCH",
            kubeapi.EXECUTIONS.path(self.namespace, target["metadata"]["name"], "status"),
            body,
            content_type=kubeapi.MERGE_PATCH,
        )
        if status in (400, 422):
            self._refused(example, answer)
        elif status == 200 and claim >= int(target["status"]["claim"]):
            pass  # an equal claim changes nothing
        elif status != 409:  # 409: it changed meanwhile, which is fine
            self._problem(example, f"a lower claim was answered {status}: {answer[:300]}")

    # -- transport -------------------------------------------------------------------------------

    def _raw(
        self, method: str, path: str, body: str, *, content_type: str = "application/json"
    ) -> tuple[int, str]:
        """One request with a body sent as is (JSON this process could not even encode)."""
        kube = self.client.kube
        try:
            response = kube._pool.request(  # noqa: SLF001 - the raw transport, on purpose
                method,
                kube.host + path,
                body=body.encode(),
                headers=kube._headers(content_type),  # noqa: SLF001
                timeout=30.0,
            )
        except Exception as exc:  # noqa: BLE001
            raise kubeapi.Unreachable(str(exc)) from exc
        text = response.data.decode(errors="replace")
        if response.status >= 500 and "too large" not in text.lower():
            raise kubeapi.ServerError(response.status, "", text[:300])
        return response.status, text

    def _start_ui(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        command = [
            sys.executable, "-m", "kontinue_ui", "--namespace", self.namespace,
            "--port", str(port), "--workers", "1", "--metrics-port", "0",
            "--anonymous-actions",  # on loopback, for this test alone
        ]  # fmt: skip
        env = {"KUBECONFIG": str(self.cluster.kubeconfig), "PATH": "/usr/bin:/bin"}
        self.ui = spawn_with_env(command, env, "ui", self.workdir / "ui.log")
        self.ui_url = f"http://127.0.0.1:{port}"
        self._cookies = CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self._cookies), _NoRedirect()
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self._ui("GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the UI did not start:\n{self.ui.log()}")

    def _ui(self, method: str, path: str, fields: dict[str, str] | None = None) -> tuple[int, str]:
        data = urllib.parse.urlencode(fields).encode() if fields is not None else None
        request = urllib.request.Request(self.ui_url + path, data=data, method=method)
        try:
            with self._opener.open(request, timeout=60) as answer:
                return answer.status, answer.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            if exc.code == 303:
                return 303, exc.headers.get("Location", "")
            return exc.code, exc.read().decode(errors="replace")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
