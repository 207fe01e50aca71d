"""Talking to kontinue on a cluster: create, watch, wait for, resume, signal, cancel, retry."""

from kontinue.client._client import Client, ExecutionHandle, SuspensionNotWaiting
from kontinue.client._recovery import ForkRefused, RetryRefused
from kontinue.client._signals import SignalRejected, SignalSent
from kontinue.client._timeouts import WaitTimeout
from kontinue.client.bulk import BulkReport, Outcome, Result, Selection
from kontinue.client.informer import Informer
from kontinue.client.kubeapi import (
    AlreadyExists,
    ApiError,
    Conflict,
    Forbidden,
    Invalid,
    Kube,
    NotFound,
    ServerError,
    TooLarge,
    Unreachable,
)

__all__ = [
    "AlreadyExists",
    "ApiError",
    "BulkReport",
    "Client",
    "Conflict",
    "ExecutionHandle",
    "Forbidden",
    "ForkRefused",
    "Informer",
    "Invalid",
    "Kube",
    "NotFound",
    "Outcome",
    "Result",
    "RetryRefused",
    "Selection",
    "ServerError",
    "SignalRejected",
    "SignalSent",
    "TooLarge",
    "Unreachable",
    "SuspensionNotWaiting",
    "WaitTimeout",
]
