"""``avpipe serve OUT``: the results folder as a local web app and JSON API (:mod:`avpipe.serve`)."""

from __future__ import annotations

import argparse

from .printing import fail


def cmd_serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    out = Path(args.out)
    if not out.is_dir():
        return fail(f"{args.out}: no such folder (give the --out folder of an `avpipe run`)", 2)
    if args.token is not None and len(args.token) < 8:
        return fail("--token: give at least 8 characters (or leave it out: one is made for a non-loopback --host)", 2)
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        return fail(f"avpipe serve needs FastAPI and uvicorn ({exc}); reinstall avpipe (`make .venv/.installed`)", 1)
    from ..serve import serve

    try:
        serve(out, host=args.host, port=args.port, token=args.token, announce=lambda line: print(line, flush=True))
    except OSError as exc:  # the port is taken, the address is not this machine's
        return fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", 1)
    return 0
