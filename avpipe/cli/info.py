"""``avpipe probe``, ``avpipe schema`` and ``avpipe pipelines``: the commands that print facts and
change nothing (a file's media facts, the result's JSON Schema, the shipped pipelines).
"""

from __future__ import annotations

import argparse

from .printing import emit, failure


def cmd_probe(args: argparse.Namespace) -> int:
    from ..errors import AvpipeError
    from ..probe import probe

    try:
        info = probe(args.file)
    except AvpipeError as exc:
        emit({"path": args.file, "error": failure(exc, exc.message)})
        return 1
    print(info.model_dump_json(indent=2))
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from ..schema import json_schema

    emit(json_schema(), indent=2)
    return 0


def cmd_pipelines(args: argparse.Namespace) -> int:
    from ..config import builtin_pipelines, load_pipeline

    for name in sorted(builtin_pipelines()):
        print(f"{name}: {' -> '.join(load_pipeline(name).stages)}")
    return 0
