"""What every command shares: connection flags, the Client they build, clear errors.

The connection flags are accepted before or after the verb, as kubectl accepts them.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from kontinue import errors
from kontinue.api import durations
from kontinue.cli._render import clean
from kontinue.client import Client, kubeapi

F = TypeVar("F", bound=Callable[..., Any])

_PREFIX = "kontinue."


class UserError(click.ClickException):
    """An error the user can act on: one line, exit code 1, no traceback."""

    def show(self, file: Any = None) -> None:
        """Print ``kontinue: <message>`` on standard error."""
        click.echo(f"kontinue: {clean(self.message)}", err=True)  # it may quote cluster text


class DurationType(click.ParamType[str, Any]):
    """A duration option (``30s``, ``1h30m``, ``7d``; at most the CRDs' cap)."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Check the duration; a bad one fails naming the option."""
        try:
            durations.parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)
        return value


DURATION = DurationType()
"""The type of the CLI's duration options."""


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value not in (None, False, ()):
        ctx.meta[_PREFIX + str(param.name)] = value
    return value


def connection_options(command: F) -> F:
    """``-n/--namespace``, ``--context``, ``--kubeconfig`` on a group or a command."""
    options = [
        click.option(
            "-n", "--namespace", expose_value=False, callback=_remember,
            help="Namespace (default: the kubeconfig context's).",
        ),
        click.option("--context", expose_value=False, callback=_remember,
                     help="kubeconfig context to use."),
        click.option("--kubeconfig", expose_value=False, callback=_remember,
                     help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)."),
    ]  # fmt: skip
    for option in reversed(options):
        command = option(command)
    return command


def setting(name: str) -> Any:
    """A connection flag given anywhere on the command line (None if absent)."""
    return click.get_current_context().meta.get(_PREFIX + name)


def client() -> Client:
    """The Client for this invocation (built once)."""
    ctx = click.get_current_context()
    cached = ctx.meta.get(_PREFIX + "client")
    if isinstance(cached, Client):
        return cached
    try:
        made = Client(
            namespace=setting("namespace"),
            kubeconfig=setting("kubeconfig"),
            context=setting("context"),
        )
    except kubeapi.Unreachable as exc:
        raise UserError(f"{exc}") from exc
    ctx.meta[_PREFIX + "client"] = made
    return made


def fail(message: str) -> NoReturn:
    """Stop with one clear line and exit code 1."""
    raise UserError(message)


def json_value(text: str | None, what: str, *, plural: bool = False) -> Any:
    """``text`` read as JSON (None stays None); ``what`` names it in the error (``--data``)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{what} {'are' if plural else 'is'} not JSON: {exc.msg} at column {exc.colno}")
    except RecursionError:
        fail(f"{what} {'nest' if plural else 'nests'} too deeply (at most 100 levels)")


def _api_message(exc: kubeapi.ApiError, what: str) -> str:
    if isinstance(exc, kubeapi.NotFound):
        if "could not find the requested resource" in exc.message or "page not found" in (
            exc.message
        ):  # the kind itself is unknown to the server
            return (
                "the kontinue CRDs are not installed in this cluster "
                "(kubectl apply -f crds/, or helm install kontinue)"
            )
        return f"{what}: {exc.message}"
    if isinstance(exc, kubeapi.Forbidden):
        return f"forbidden: {exc.message}"
    if isinstance(exc, kubeapi.Invalid):
        return f"invalid: {exc.message}"
    return f"the Kubernetes API refused: {exc}"


def handles_errors(what: str) -> Callable[[F], F]:
    """Turn API and connection errors of a command into one clear line."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except kubeapi.Unreachable as exc:
                raise UserError(
                    f"{exc} (is the cluster running? `make cluster-up`, or pass --kubeconfig)"
                ) from exc
            except kubeapi.ApiError as exc:
                raise UserError(_api_message(exc, what)) from exc
            except errors.KontinueError as exc:  # refused before it reached the cluster
                raise UserError(str(exc)) from exc
            except KeyboardInterrupt:
                click.echo("", err=True)
                sys.exit(130)

        return wrapper  # type: ignore[return-value]

    return decorate
