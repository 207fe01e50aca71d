"""The JSON payload a visitor types into a form (a resume's, an event's)."""

from __future__ import annotations

import json
from typing import Any

from flask import flash, request

from kontinue.api import nesting


def form_payload(field: str = "data") -> tuple[bool, Any]:
    """The JSON value of form field ``field`` (None when it is empty).

    Returns ``(False, None)`` after flashing why, when it is not JSON or nests too deeply.
    """
    text = request.form.get(field, "").strip()
    if not text:
        return True, None
    try:
        payload = json.loads(text)
        nesting.check_depth(payload, "The payload")
    except json.JSONDecodeError as exc:
        flash(f"The payload is not JSON: {exc.msg} (column {exc.colno}).", "error")
        return False, None
    except (RecursionError, nesting.TooDeep):
        flash(f"The payload nests too deeply (at most {nesting.MAX_VALUE_DEPTH} levels).", "error")
        return False, None
    return True, payload
