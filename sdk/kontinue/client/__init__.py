"""Talking to kontinue on a cluster: create, watch, wait for, resume and cancel executions."""

from kontinue.client._client import Client, ExecutionHandle, SuspensionNotWaiting, WaitTimeout
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
    "Informer",
    "Invalid",
    "Kube",
    "NotFound",
    "Outcome",
    "Result",
    "Selection",
    "ServerError",
    "TooLarge",
    "Unreachable",
    "SuspensionNotWaiting",
    "WaitTimeout",
]
