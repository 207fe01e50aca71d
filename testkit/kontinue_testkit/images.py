"""What a Dockerfile's image runs: its ENTRYPOINT, CMD, USER and ENV, without building it.

Stages built ``FROM`` an earlier stage inherit its configuration, as Docker does, so the image
of a Dockerfile whose last stage is ``FROM runtime`` has the ``runtime`` stage's entrypoint and
environment. Parsing is dockerfile-parse's; the stage chain is resolved here.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ImageConfig:
    """The configuration an image built from one stage gets."""

    stages: list[str] = field(default_factory=list)
    """The stage chain, from the first ``FROM`` to the target."""
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] | None = None
    cmd: list[str] | None = None
    user: str | None = None
    workdir: str | None = None


@dataclass
class _Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]]


def _stages(dockerfile: Path) -> list[_Stage]:
    from dockerfile_parse import DockerfileParser

    stages: list[_Stage] = []
    for item in DockerfileParser(path=str(dockerfile)).structure:
        instruction, value = item["instruction"], item["value"]
        if instruction == "FROM":
            words = value.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(_Stage(name=name, base=words[0], instructions=[]))
        elif stages and instruction != "COMMENT":
            stages[-1].instructions.append((instruction, value))
    return stages


def _env_pairs(value: str) -> dict[str, str]:
    words = shlex.split(value)
    if words and "=" not in words[0]:  # legacy form: ENV KEY value with spaces
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


def _expand(value: str, env: dict[str, str]) -> str:
    for key, current in env.items():
        value = value.replace(f"${{{key}}}", current).replace(f"${key}", current)
    return value


def image_config(dockerfile: Path, target: str | None = None) -> ImageConfig:
    """The configuration of the image ``docker build [--target target]`` would make."""
    stages = _stages(dockerfile)
    by_name = {s.name: s for s in stages}
    chain = [by_name[target] if target else stages[-1]]
    while chain[0].base in by_name:
        chain.insert(0, by_name[chain[0].base])
    config = ImageConfig(stages=[s.name for s in chain])
    for stage in chain:
        for instruction, value in stage.instructions:
            if instruction == "ENV":
                for key, raw in _env_pairs(value).items():
                    config.env[key] = _expand(raw, config.env)
            elif instruction == "ENTRYPOINT":
                config.entrypoint = json.loads(value)
                config.cmd = None  # Docker resets CMD when ENTRYPOINT is set
            elif instruction == "CMD":
                config.cmd = json.loads(value)
            elif instruction == "USER":
                config.user = value
            elif instruction == "WORKDIR":
                config.workdir = value
    return config
