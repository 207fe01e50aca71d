"""Who a visitor is, what the UI does on their behalf, and the read-only guard.

Each request gets a :class:`Viewer` before any view runs (:func:`install`):

- auth ``none``: an anonymous viewer; reads use the UI's own identity, and actions are refused
  unless anonymous actions were configured (then they run with the UI's own rights too).
  Identity headers are ignored.
- auth ``proxy``: the request must carry the proxy's shared secret (compared in constant time),
  else 401 and nothing else runs; the user and groups the proxy names are then impersonated for
  every API request made for this visitor, reads included. ``system:`` users and groups are
  refused (403): no header can make the UI act as a node, a controller or ``system:masters``.
- auth ``token``: the request must carry ``Authorization: Bearer <token>`` (else 401); every
  API request for this visitor is made with that token, and the user it names (a
  SelfSubjectReview, cached for a minute) is who the pages show and resumes record.

The executions list is served from the watch-fed cache (the UI's identity); for an
authenticated viewer it shows only the namespaces where that viewer may list executions (a
SelfSubjectAccessReview per namespace, cached for :data:`DECISION_TTL` seconds), and a page of
an execution the viewer may not read answers 403, as the API server does.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from flask import Flask, abort, g, request

from kontinue.api import group
from kontinue.client import Client, Kube, kubeapi
from kontinue_ui.settings import AuthMode
from kontinue_ui.state import ui_state

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OPEN_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "static"})
"""Endpoints served to anyone (probes, CSS and scripts): they show nothing of the cluster."""
RESERVED_PREFIX = "system:"
MAX_NAME_LENGTH = 512
DECISION_TTL = 15.0
"""Seconds an authorization answer (may this viewer list executions in N?) is reused."""
IDENTITY_TTL = 60.0
"""Seconds the user a bearer token names is reused before the API server is asked again."""
_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Viewer:
    """The visitor of one request and the API client acting for them."""

    name: str | None
    """The user name (None: nobody is authenticated)."""
    groups: tuple[str, ...]
    kube: Kube
    """Every API request made for this visitor goes through this client."""
    key: str
    """Identifies the visitor's identity in the authorization cache."""

    @property
    def authenticated(self) -> bool:
        """True when an auth mode says who this is."""
        return self.name is not None


class _TtlCache:
    """A small thread-safe cache whose entries expire (least recently stored dropped first)."""

    def __init__(self, ttl: float, size: int = _CACHE_SIZE) -> None:
        self._ttl = ttl
        self._size = size
        self._items: OrderedDict[object, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object) -> object | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] < time.monotonic():
                return None
            return found[1]

    def put(self, key: object, value: object) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self._ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


_decisions = _TtlCache(DECISION_TTL)
_identities = _TtlCache(IDENTITY_TTL)


def _refuse_reserved(kind: str, value: str) -> None:
    if value.startswith(RESERVED_PREFIX):
        abort(
            403,
            f"{kind} {value!r} is not accepted from the auth proxy: names starting with "
            f"{RESERVED_PREFIX} belong to Kubernetes itself",
        )
    if len(value) > MAX_NAME_LENGTH:
        abort(400, f"the {kind} the auth proxy named is longer than {MAX_NAME_LENGTH} characters")


def _proxy_viewer() -> Viewer:
    state = ui_state()
    settings = state.settings
    presented = request.headers.get(settings.proxy_secret_header, "")
    if not hmac.compare_digest(presented.encode(), settings.proxy_secret.encode()):
        abort(
            401,
            "not signed in: this UI only serves requests through its authenticating proxy",
        )
    user = request.headers.get(settings.user_header, "").strip()
    if not user:
        abort(401, f"not signed in: the auth proxy named no user ({settings.user_header})")
    _refuse_reserved("user", user)
    raw = request.headers.get(settings.groups_header, "")
    named = sorted({name.strip() for name in raw.split(",")} - {""})
    for name in named:
        _refuse_reserved("group", name)
    allowed = settings.proxy_groups
    ordered = tuple(n for n in named if allowed is None or n in allowed)
    return Viewer(
        user, ordered, state.kube.impersonating(user, ordered), f"proxy:{user}:{','.join(ordered)}"
    )


def _token_viewer() -> Viewer:
    state = ui_state()
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        abort(401, "not signed in: this UI needs the user's bearer token (Authorization header)")
    digest = hashlib.sha256(token.encode()).hexdigest()
    kube = state.kube.with_token(token)
    known = _identities.get(digest)
    if isinstance(known, tuple):
        name, groups = known
    else:
        try:
            review = kube.create(
                kubeapi.SELF_SUBJECT_REVIEWS,
                None,
                {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
            )
        except kubeapi.ApiError as exc:
            if exc.status == 401:
                abort(401, "not signed in: the API server does not accept this token")
            raise
        info = (review.get("status") or {}).get("userInfo") or {}
        name, groups = str(info.get("username") or ""), tuple(info.get("groups") or ())
        if not name:
            abort(401, "not signed in: the token names no user")
        _identities.put(digest, (name, groups))
    return Viewer(str(name), tuple(groups), kube, f"token:{digest}")


def current_viewer() -> Viewer:
    """The visitor of the current request (set before the view runs)."""
    viewer: Viewer | None = g.get("viewer")
    if viewer is None:  # outside the request hooks (an error page rendered early)
        state = ui_state()
        return Viewer(None, (), state.kube, "anonymous")
    return viewer


def current_user() -> str | None:
    """The authenticated user's name, for the page header."""
    return current_viewer().name


def viewer_client() -> Client:
    """A client acting (and reading) for the current visitor."""
    return Client(kube=current_viewer().kube)


def acting_client() -> Client:
    """A client for a state-changing action (the read-only guard ran before)."""
    if not ui_state().settings.actions_enabled:  # the guard refuses first; never act anyway
        abort(403, "this UI is read-only: actions are turned off")
    return viewer_client()


def actor_name() -> str:
    """Who resumed a suspension, as recorded in ``status.resumedBy``.

    The authenticated user; with anonymous actions, the user the UI itself authenticates as.
    Either way the name the API server sees making the request.
    """
    viewer = current_viewer()
    if viewer.name is not None:
        return viewer.name
    return ui_state().own_user()


def may(verb: str, resource: str, namespace: str, *, name: str | None = None) -> bool:
    """Whether the current visitor may ``verb`` kontinue ``resource`` in ``namespace``.

    Always True for an anonymous visitor (the UI's own rights apply; the API server decides).
    ``namespace`` "" asks about every namespace at once.
    """
    viewer = current_viewer()
    if not viewer.authenticated:
        return True
    key = (viewer.key, verb, resource, namespace, name)
    known = _decisions.get(key)
    if isinstance(known, bool):
        return known
    attributes: dict[str, str] = {"verb": verb, "group": group.GROUP, "resource": resource}
    if namespace:
        attributes["namespace"] = namespace
    if name:
        attributes["name"] = name
    review = viewer.kube.create(
        kubeapi.SELF_SUBJECT_ACCESS_REVIEWS,
        None,
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes},
        },
    )
    allowed = bool((review.get("status") or {}).get("allowed"))
    _decisions.put(key, allowed)
    return allowed


def require(verb: str, resource: str, namespace: str, *, name: str | None = None) -> None:
    """Answer 403 unless the current visitor may ``verb`` ``resource`` in ``namespace``."""
    if not may(verb, resource, namespace, name=name):
        who = current_viewer().name
        target = f"{resource} {name!r}" if name else resource
        abort(
            403,
            f'User "{who}" cannot {verb} {target} in the namespace "{namespace}" '
            "(this UI shows only what you may read in Kubernetes)",
        )


def visible_namespaces(candidates: Iterable[str]) -> set[str] | None:
    """The namespaces among ``candidates`` whose executions the visitor may list.

    None means every namespace (an anonymous visitor, or one who may list cluster-wide).
    """
    viewer = current_viewer()
    if not viewer.authenticated:
        return None
    state = ui_state()
    if state.namespaces is None and may("list", group.EXECUTION.plural, ""):
        return None
    return {ns for ns in set(candidates) if may("list", group.EXECUTION.plural, ns)}


def install(app: Flask) -> None:
    """Authenticate every request, then refuse mutations when actions are off.

    Runs before CSRF protection, so a forged or anonymous request is refused (401, or 403 for a
    read-only UI) before anything else reads the form.
    """

    @app.before_request
    def _authenticate() -> None:
        if request.endpoint in OPEN_ENDPOINTS:
            return
        settings = ui_state().settings
        if settings.auth == AuthMode.PROXY:
            g.viewer = _proxy_viewer()
        elif settings.auth == AuthMode.TOKEN:
            g.viewer = _token_viewer()
        else:
            g.viewer = Viewer(None, (), ui_state().kube, "anonymous")
        if request.method not in SAFE_METHODS and not settings.actions_enabled:
            abort(
                403,
                "this UI is read-only: actions are turned off"
                + (
                    " (configure an authentication mode to enable them)"
                    if settings.auth == AuthMode.NONE and not settings.read_only
                    else ""
                ),
            )
