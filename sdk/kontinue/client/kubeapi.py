"""The one module that talks HTTP to the Kubernetes API (and the only one importing ``kubernetes``).

Configuration (kubeconfig with context, or in-cluster) comes from the ``kubernetes`` package;
requests go through one pooled ``urllib3`` connection manager shared by all threads, with JSON
bodies and no model (de)serialization, because every step of every workflow pays for this path.
API errors become the exception types below; a merge patch may carry a resourceVersion, which
the API server then enforces (409 Conflict when the object changed).
"""

from __future__ import annotations

import builtins
import copy
import json
import random
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

from kontinue.api import group
from kontinue.client import _decode

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
JSON = "application/json"
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json"
"""Accept header asking for only the object's metadata back (a PartialObjectMetadata), with
the whole object as the fallback of a server that cannot transform the answer."""


class ApiError(Exception):
    """The API server answered with an error."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


class NotFound(ApiError):  # noqa: N818 - named after the API status
    """404: the object does not exist."""


class Conflict(ApiError):  # noqa: N818
    """409: the object changed since the resourceVersion given (or already exists)."""


class AlreadyExists(Conflict):
    """409 AlreadyExists: create found an object with that name."""


class Forbidden(ApiError):  # noqa: N818
    """403: RBAC denies the request."""


class Invalid(ApiError):  # noqa: N818
    """422: the object failed validation."""


class TooLarge(ApiError):  # noqa: N818
    """413 (or an etcd size error): the object is too large to store."""


class Gone(ApiError):  # noqa: N818
    """410: a watch's resourceVersion is too old; list again."""


class ServerError(ApiError):
    """5xx or 429: the API server (or etcd behind it) could not serve the request now.

    The request may or may not have been applied; a retry after a pause is the answer.
    """


class Unreachable(Exception):  # noqa: N818
    """The API server cannot be reached, or the connection broke before the answer came.

    A write that ends like this may have been applied: re-read to find out.
    """


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` is one a later retry of the same request may not meet."""
    return isinstance(error, Unreachable | ServerError)


class Backoff:
    """Growing pauses with jitter between retries: ``first``, doubled up to ``cap`` seconds."""

    def __init__(self, first: float = 0.2, cap: float = 5.0) -> None:
        self._first = first
        self._cap = cap
        self._next = first
        self.attempts = 0

    def pause(self) -> float:
        """The next pause in seconds (0.5x to 1.5x the nominal value)."""
        value = self._next * random.uniform(0.5, 1.5)
        self._next = min(self._next * 2, self._cap)
        self.attempts += 1
        return value

    def sleep(self, stop: threading.Event | None = None) -> bool:
        """Wait the next pause; returns True when ``stop`` was set meanwhile."""
        pause = self.pause()
        if stop is not None:
            return stop.wait(pause)
        time.sleep(pause)
        return False

    def reset(self) -> None:
        """Start again from the first pause."""
        self._next = self._first
        self.attempts = 0


def _raise_for(status: int, data: bytes) -> None:
    try:
        payload = json.loads(data)
    except (ValueError, RecursionError):
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    reason = str(payload.get("reason") or "")
    message = str(payload.get("message") or data[:500].decode(errors="replace"))
    if status == 409 and reason == "AlreadyExists":
        raise AlreadyExists(status, reason, message)
    if status == 413 or "too large" in message.lower():
        raise TooLarge(status, reason, message)
    kinds: dict[int, type[ApiError]] = {
        404: NotFound,
        409: Conflict,
        403: Forbidden,
        422: Invalid,
        410: Gone,
        429: ServerError,
    }
    if status >= 500:
        raise ServerError(status, reason, message)
    raise kinds.get(status, ApiError)(status, reason, message)


@dataclass(frozen=True)
class Resource:
    """Where a resource kind lives in the API."""

    api_prefix: str
    plural: str

    def path(
        self, namespace: str | None, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The URL path of the collection, one object, or one of its subresources."""
        parts = [self.api_prefix]
        if namespace is not None:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name is not None:
            parts.append(name)
        if subresource is not None:
            parts.append(subresource)
        return "/".join(parts)


def _kontinue(plural: str) -> Resource:
    return Resource(f"/apis/{group.GROUP}/{group.VERSION}", plural)


EXECUTIONS = _kontinue(group.EXECUTION.plural)
SUSPENSIONS = _kontinue(group.SUSPENSION.plural)
SIGNALS = _kontinue(group.SIGNAL.plural)
SCHEDULED_EXECUTIONS = _kontinue(group.SCHEDULED_EXECUTION.plural)
FUNCTIONS = _kontinue(group.FUNCTION.plural)
ARCHIVED_EXECUTIONS = _kontinue(group.ARCHIVED_EXECUTION.plural)
LEASES = Resource("/apis/coordination.k8s.io/v1", "leases")
JOBS = Resource("/apis/batch/v1", "jobs")
PODS = Resource("/api/v1", "pods")
CONFIGMAPS = Resource("/api/v1", "configmaps")
EVENTS = Resource("/api/v1", "events")
SELF_SUBJECT_REVIEWS = Resource("/apis/authentication.k8s.io/v1", "selfsubjectreviews")
SELF_SUBJECT_ACCESS_REVIEWS = Resource("/apis/authorization.k8s.io/v1", "selfsubjectaccessreviews")


class Kube:
    """A thread-safe, pooled JSON client for one cluster.

    Args:
        kubeconfig: kubeconfig file (default: ``$KUBECONFIG`` or ``~/.kube/config``; in a pod,
            the in-cluster service account).
        context: kubeconfig context (default: the current one).
        pool_size: connections kept open to the API server.
        user_agent: User-Agent of every request (the API server's audit log records it).
    """

    def __init__(
        self,
        kubeconfig: str | None = None,
        context: str | None = None,
        *,
        pool_size: int = 64,
        user_agent: str = "kontinue",
    ) -> None:
        cfg = k8s_client.Configuration()
        self.default_namespace = "default"
        try:
            k8s_config.load_kube_config(
                config_file=kubeconfig, context=context, client_configuration=cfg
            )
            _, active = k8s_config.list_kube_config_contexts(config_file=kubeconfig)
            chosen = active
            if context:
                contexts, _ = k8s_config.list_kube_config_contexts(config_file=kubeconfig)
                chosen = next((c for c in contexts if c["name"] == context), active)
            self.default_namespace = (chosen or {}).get("context", {}).get("namespace") or "default"
        except (ConfigException, FileNotFoundError, TypeError) as exc:
            try:
                k8s_config.load_incluster_config(client_configuration=cfg)
            except ConfigException:
                raise Unreachable(f"no Kubernetes configuration found: {exc}") from exc
            try:
                with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as f:
                    self.default_namespace = f.read().strip() or "default"
            except OSError:
                pass
        self._cfg = cfg
        self._impersonation: tuple[tuple[str, str], ...] = ()
        self._bearer: str | None = None  # a user's token replacing this client's credentials
        self._token_pool: urllib3.PoolManager | None = None  # with_token's (no client cert)
        self.user_agent = user_agent
        self.error_observer: Callable[[str, int], None] | None = None
        """Told of every failed request: the HTTP method and status (0: unreachable)."""
        self.read_retries = 4
        """Times a GET is retried after a transient failure (about 3 s of pauses in all)."""
        self.trouble_at: float | None = None
        """When (``time.monotonic()``) a request last failed transiently (None: never)."""
        self.host = cfg.host.rstrip("/")
        self._lock = threading.Lock()
        self._pool = urllib3.PoolManager(
            num_pools=2,
            maxsize=pool_size,
            block=False,
            cert_reqs="CERT_REQUIRED" if cfg.verify_ssl else "CERT_NONE",
            ca_certs=cfg.ssl_ca_cert,
            cert_file=cfg.cert_file,
            key_file=cfg.key_file,
            assert_hostname=cfg.tls_server_name or None,
            retries=False,
        )

    def impersonating(self, user: str, groups: Sequence[str] = ()) -> Kube:
        """This client acting as ``user`` (and ``groups``) through Kubernetes impersonation.

        The returned client shares this one's connections; the API server authorizes each
        request as the impersonated user, so RBAC decides what it may do. The identity this
        client authenticates as needs the ``impersonate`` verb on users and groups.
        """
        view = copy.copy(self)
        view._impersonation = (("Impersonate-User", user),) + tuple(
            ("Impersonate-Group", g) for g in groups
        )
        return view

    def with_token(self, token: str) -> Kube:
        """This client authenticating with a user's bearer ``token`` instead of its own identity.

        Requests go through a connection pool of their own that presents no client certificate
        (the API server would authenticate the certificate first), with this client's server,
        CA and TLS settings; no impersonation. The API server authenticates the token and RBAC
        decides, as for ``kubectl --token``.
        """
        with self._lock:
            pool = self._token_pool
            if pool is None:
                pool = urllib3.PoolManager(
                    num_pools=2,
                    maxsize=16,
                    block=False,
                    cert_reqs="CERT_REQUIRED" if self._cfg.verify_ssl else "CERT_NONE",
                    ca_certs=self._cfg.ssl_ca_cert,
                    assert_hostname=self._cfg.tls_server_name or None,
                    retries=False,
                )
                self._token_pool = pool
        view = copy.copy(self)
        view._impersonation = ()
        view._bearer = f"Bearer {token}"
        view._pool = pool
        return view

    # -- plumbing -------------------------------------------------------------------------------

    def _headers(self, content_type: str | None, accept: str = JSON) -> Mapping[str, str]:
        headers = {"Accept": accept, "User-Agent": self.user_agent}
        if content_type:
            headers["Content-Type"] = content_type
        if self._bearer is not None:
            headers["Authorization"] = self._bearer
            return headers
        with self._lock:
            refresh = getattr(self._cfg, "refresh_api_key_hook", None)
            if refresh is not None:
                refresh(self._cfg)
            # kubernetes >= 35 keeps a kubeconfig's or a pod's token under "BearerToken"
            token = self._cfg.get_api_key_with_prefix("BearerToken", alias="authorization")
        if token:
            headers["Authorization"] = token
        if self._impersonation:
            merged = urllib3.HTTPHeaderDict(headers)
            for key, value in self._impersonation:
                merged.add(key, value)
            return merged
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        content_type: str | None = None,
        timeout: float = 30.0,
        raw: bool = False,
        retries: int | None = None,
        accept: str = JSON,
    ) -> Any:
        """One API request; returns the decoded JSON body or raises an :class:`ApiError`.

        With ``raw`` the body comes back as text (pod logs); ``accept`` is the Accept header
        (:data:`METADATA_ONLY`: only the object's metadata comes back). A transient failure (see
        :func:`is_transient`) is retried ``retries`` times with a growing pause; by default a
        GET is retried :attr:`read_retries` times and nothing else is, because only the caller
        of a write knows how to learn whether a lost answer hid a success.
        """
        url = self.host + path
        if params:
            query = {k: v for k, v in params.items() if v is not None and v != ""}
            if query:
                url += "?" + urllib.parse.urlencode(query)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            content_type = content_type or "application/json"
        if retries is None:
            retries = self.read_retries if method == "GET" else 0
        backoff = Backoff(first=0.2, cap=2.0)
        while True:
            try:
                return self._send(method, url, data, content_type, timeout, raw, accept)
            except (Unreachable, ServerError):
                if backoff.attempts >= retries:
                    raise
                backoff.sleep()

    def _send(
        self,
        method: str,
        url: str,
        data: bytes | None,
        content_type: str | None,
        timeout: float,
        raw: bool,
        accept: str = JSON,
    ) -> Any:
        try:
            response = self._pool.request(
                method,
                url,
                body=data,
                headers=self._headers(content_type, accept),
                timeout=urllib3.Timeout(connect=10, read=timeout),
            )
        except urllib3.exceptions.HTTPError as exc:
            self.trouble_at = time.monotonic()
            if self.error_observer is not None:
                self.error_observer(method, 0)
            raise Unreachable(f"cannot reach the Kubernetes API at {self.host}: {exc}") from exc
        if response.status >= 400:
            if response.status >= 500 or response.status == 429:
                self.trouble_at = time.monotonic()
            if self.error_observer is not None:
                self.error_observer(method, response.status)
            _raise_for(response.status, response.data)
        if raw:
            return response.data.decode(errors="replace")
        return _decode.loads(response.data) if response.data else None

    # -- objects -------------------------------------------------------------------------------

    def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        """GET one object."""
        result: dict[str, Any] = self.request("GET", resource.path(namespace, name))
        return result

    def get_or_none(
        self, resource: Resource, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """GET one object, or None when it does not exist."""
        try:
            return self.get(resource, namespace, name)
        except NotFound:
            return None

    def list(
        self,
        resource: Resource,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        """LIST a collection (one page when ``limit`` is given)."""
        params = {
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "limit": limit,
            "continue": continue_token,
        }
        result: dict[str, Any] = self.request("GET", resource.path(namespace), params=params)
        return result

    def create(
        self, resource: Resource, namespace: str | None, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """POST a new object."""
        result: dict[str, Any] = self.request("POST", resource.path(namespace), body=body)
        return result

    def merge_patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        patch: Mapping[str, Any],
        *,
        subresource: str | None = None,
        resource_version: str | None = None,
    ) -> dict[str, Any]:
        """JSON merge patch; with ``resource_version`` it only applies to that version."""
        body = dict(patch)
        if resource_version is not None:
            metadata = dict(body.get("metadata") or {})
            metadata["resourceVersion"] = resource_version
            body["metadata"] = metadata
        result: dict[str, Any] = self.request(
            "PATCH",
            resource.path(namespace, name, subresource),
            body=body,
            content_type=MERGE_PATCH,
        )
        return result

    def json_patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        operations: Sequence[Mapping[str, Any]],
        *,
        subresource: str | None = None,
        resource_version: str | None = None,
        metadata_only: bool = False,
    ) -> dict[str, Any]:
        """JSON patch (RFC 6902): unlike a merge patch it can store JSON nulls in values.

        With ``resource_version`` it only applies to that version (409 Conflict otherwise).
        With ``metadata_only`` the API server answers with the patched object's metadata
        alone (``kind: PartialObjectMetadata``), sparing it the encoding of the whole object
        and the client its decoding; a server that cannot do so answers with the object.
        """
        ops: builtins.list[Mapping[str, Any]] = list(operations)
        if resource_version is not None:
            ops.insert(
                0, {"op": "replace", "path": "/metadata/resourceVersion", "value": resource_version}
            )
        result: dict[str, Any] = self.request(
            "PATCH",
            resource.path(namespace, name, subresource),
            body=ops,
            content_type=JSON_PATCH,
            accept=METADATA_ONLY if metadata_only else JSON,
        )
        return result

    def apply(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        body: Mapping[str, Any],
        *,
        field_manager: str,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        """Server-side apply (forcing ownership of the fields given)."""
        result: dict[str, Any] = self.request(
            "PATCH",
            resource.path(namespace, name, subresource),
            body=body,
            content_type=APPLY_PATCH,
            params={"fieldManager": field_manager, "force": "true"},
        )
        return result

    def replace(
        self, resource: Resource, namespace: str | None, name: str, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """PUT an object (conditional on the resourceVersion it carries)."""
        result: dict[str, Any] = self.request("PUT", resource.path(namespace, name), body=body)
        return result

    def delete(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        *,
        propagation: str = "Background",
    ) -> None:
        """DELETE an object (missing is fine)."""
        try:
            self.request(
                "DELETE", resource.path(namespace, name), body={"propagationPolicy": propagation}
            )
        except NotFound:
            pass

    def pod_log(
        self, namespace: str, pod: str, *, container: str | None, tail_lines: int | None
    ) -> str:
        """What a pod's container printed (its last ``tail_lines`` lines; None: all)."""
        text: str = self.request(
            "GET",
            PODS.path(namespace, pod) + "/log",
            params={"container": container, "tailLines": tail_lines},
            raw=True,
        )
        return text

    def watch(
        self,
        resource: Resource,
        namespace: str | None,
        *,
        resource_version: str,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int = 300,
        on_open: Callable[[Any], None] | None = None,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Stream ``(type, object)`` watch events from ``resource_version`` (bookmarks included).

        ``on_open`` receives the streaming response once it is open; its ``shutdown()`` ends
        the stream from another thread.

        Raises:
            Gone: the resourceVersion is too old; list again.
        """
        params = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": timeout_seconds,
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
        }
        url = (
            self.host
            + resource.path(namespace)
            + "?"
            + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        )
        try:
            response = self._pool.request(
                "GET",
                url,
                headers=self._headers(None),
                preload_content=False,
                timeout=urllib3.Timeout(connect=10, read=timeout_seconds + 30),
            )
        except urllib3.exceptions.HTTPError as exc:
            self.trouble_at = time.monotonic()
            if self.error_observer is not None:
                self.error_observer("WATCH", 0)
            raise Unreachable(f"cannot reach the Kubernetes API at {self.host}: {exc}") from exc
        try:
            if on_open is not None:
                on_open(response)
            if response.status >= 400:
                if self.error_observer is not None:
                    self.error_observer("WATCH", response.status)
                _raise_for(response.status, response.read())
            buffer = b""
            for chunk in response.stream(64 * 1024, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = _decode.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        code = int(status.get("code") or 500)
                        _raise_for(code, json.dumps(status).encode())
                    yield event["type"], event["object"]
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise Unreachable(f"watch interrupted: {exc}") from exc
        finally:
            response.close()
            response.release_conn()
