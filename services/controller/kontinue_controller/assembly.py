"""How the controller is put together: the parts, the duties that receive them, the router.

The parts are the view of the objects (:class:`~kontinue_controller.view.ObjectView`), the
timers (:class:`~kontinue_controller.timers.Timers`), the writes
(:class:`~kontinue_controller.writes.Writes`), the API client and the functions' defaults. Each
duty receives the parts it uses; the :class:`~kontinue_controller.timekeeping.Timekeeper`
routes the watch events to them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from kontinue.client import kubeapi
from kontinue_controller.admission import Admission
from kontinue_controller.cancellation import Cancellation
from kontinue_controller.function_defaults import FunctionDefaults
from kontinue_controller.parent_close import ParentClose
from kontinue_controller.retention import Retention
from kontinue_controller.retrying import Retrying
from kontinue_controller.schedules import Scheduler
from kontinue_controller.takeover import Takeover
from kontinue_controller.timekeeping import Duties, Timekeeper
from kontinue_controller.timeouts import Timeouts
from kontinue_controller.timers import Timers
from kontinue_controller.view import ObjectView
from kontinue_controller.wakeups import Wakeups
from kontinue_controller.writes import Writes


def assemble(
    kube: kubeapi.Kube,
    stop: threading.Event,
    *,
    identity: str,
    leading: Callable[[], bool] = lambda: True,
) -> Timekeeper:
    """The controller's parts and duties, behind the router that feeds them events.

    ``leading`` says whether this replica leads now: timers fire only while it does.
    """
    view = ObjectView()
    timers = Timers(stop, leading=leading)
    writes = Writes(kube, identity=identity)
    cancellation = Cancellation(kube, view, timers, writes)
    duties = Duties(
        wakeups=Wakeups(kube, view, timers, writes),
        admission=Admission(view, timers, writes),
        cancellation=cancellation,
        timeouts=Timeouts(
            kube,
            view,
            timers,
            writes,
            defaults=FunctionDefaults(),
            cancellation=cancellation,
        ),
        retention=Retention(kube, timers, writes),
        scheduler=Scheduler(kube, timers, writes),
        takeover=Takeover(kube, timers, writes),
        parent_close=ParentClose(kube, view, timers, writes),
        retrying=Retrying(kube, timers, writes),
    )
    return Timekeeper(view, timers, duties)
