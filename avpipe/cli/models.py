"""``avpipe models list | fetch | convert | verify``: the model registry (:mod:`avpipe.models`) on
the command line, one JSON line per model.

``fetch`` takes names and/or a shipped pipeline's ``--profile``; ``verify`` checks bundled
weights against their sha256 (exit 1 when one does not match); a model that cannot be fetched,
converted or checked is an error line of its own and exit 1.
"""

from __future__ import annotations

import argparse

from .printing import emit, fail, failure


def cmd_models(args: argparse.Namespace) -> int:
    from ..errors import AvpipeError
    from ..models import REGISTRY, fetch, resolve, status, verify

    if args.models_command == "list":
        for spec in REGISTRY.values():
            emit({"model": spec.name, "status": status(spec), "format": spec.format,
                  "hub": spec.hub, "transformers": spec.hf_transformers, "about": spec.description})
        return 0
    if args.models_command == "convert":
        from pathlib import Path

        from ..speech.convert import write_openai_checkpoint, write_transformers_folder

        try:
            write = write_openai_checkpoint if args.to == "openai" else write_transformers_folder
            emit({"model": args.name, "to": args.to, "path": str(write(resolve(args.name), Path(args.out)))})
            return 0
        except AvpipeError as exc:
            emit({"model": args.name, "error": failure(exc)})
            return 1
    names = args.names or [n for n, spec in REGISTRY.items() if spec.bundled]
    if args.models_command == "fetch":
        from ..config import builtin_pipelines, profile_models

        if args.profile and args.profile not in builtin_pipelines():
            return fail(f"unknown profile {args.profile!r}; known: {', '.join(sorted(builtin_pipelines()))}", 2)
        names = list(dict.fromkeys([*args.names, *(profile_models(args.profile) if args.profile else ())]))
        if not names:
            return fail("name models or a --profile", 2)
    code = 0
    for name in names:
        try:
            if args.models_command == "fetch":
                emit({"model": name, "path": str(fetch(name))})
            else:
                facts = verify(name)
                emit(facts)
                code = code or (0 if facts["ok"] in (True, None) else 1)
        except (AvpipeError, KeyError) as exc:
            emit({"model": name, "error": failure(exc)})
            code = 1
    return code
