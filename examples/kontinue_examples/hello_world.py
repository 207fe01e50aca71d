"""hello-world: the first workflow of the kontinue documentation."""

from __future__ import annotations

from dataclasses import dataclass

import kontinue


@dataclass
class HelloWorldArgs:
    """Who to greet."""

    name: str = "World"


@kontinue.function("hello-world", display_name="Hello, World")
def hello_world(ktx: kontinue.ExecutionContext, args: HelloWorldArgs) -> str:
    """Greets someone: stores the greeting, then returns it."""
    greeting = kontinue.store(ktx, lambda: f"Hello, {args.name}!")
    kontinue.set_message(ktx, greeting)
    return greeting
