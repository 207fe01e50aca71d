"""Talking to kontinue on a cluster: create, watch, wait for, resume, signal, cancel executions."""

from kontinue.client._client import Client, ExecutionHandle, SuspensionNotWaiting, WaitTimeout
from kontinue.client._signals import SignalRejected, SignalSent
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
    "Client",
    "Conflict",
    "ExecutionHandle",
    "Forbidden",
    "Informer",
    "Invalid",
    "Kube",
    "NotFound",
    "ServerError",
    "SignalRejected",
    "SignalSent",
    "TooLarge",
    "Unreachable",
    "SuspensionNotWaiting",
    "WaitTimeout",
]
