"""Command line: ``avpipe run | probe | schema | pipelines``.

Only argparse and the standard library load at start-up; each command imports what it needs,
so ``avpipe --help`` answers at once (no torch, no FFmpeg). Exit codes: 0 every input ok or
skipped, 1 at least one input failed (all were tried), 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__


def _formats(text: str) -> tuple[str, ...]:
    from .writers import WRITERS

    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in WRITERS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown format(s) {unknown}; available: {', '.join(WRITERS)}")
    return names


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avpipe", description="Audio-visual video understanding: one typed result per video.")
    parser.add_argument("--version", action="version", version=f"avpipe {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="process videos and folders of videos into DIR")
    run.add_argument("inputs", nargs="+", metavar="INPUT", help="video files or folders (searched recursively)")
    run.add_argument("--out", required=True, metavar="DIR", help="output folder: DIR/<video_id>/result.json and DIR/index.jsonl")
    run.add_argument("--pipeline", default="default", metavar="NAME|FILE", help="a shipped pipeline name or a TOML file (default: default)")
    run.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None, help="compute device for model stages")
    run.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (0: in this process, no isolation)")
    run.add_argument("--engine", choices=("local",), default="local", help="execution engine")
    run.add_argument("--formats", type=_formats, default=("json",), help="comma-separated output formats (default: json)")
    run.add_argument("--timeout", type=_positive_float, default=None, metavar="SECONDS",
                     help="time limit per video (default: 300 s + 3 s per second of media)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    probe = sub.add_parser("probe", help="print media facts of FILE as JSON")
    probe.add_argument("file", metavar="FILE")

    sub.add_parser("schema", help="print the JSON Schema of result.json")
    sub.add_parser("pipelines", help="list the shipped pipeline definitions")
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    import dataclasses

    from .errors import PipelineConfigError
    from .pipeline import load_pipeline
    from .runner import RunOptions, run_batch

    try:
        pipeline = load_pipeline(args.pipeline)
    except PipelineConfigError as exc:
        print(f"avpipe: {exc}", file=sys.stderr)
        return 2
    if args.device:
        pipeline = dataclasses.replace(pipeline, device=args.device)
    if args.workers < 0:
        print("avpipe: --workers must be 0 or more", file=sys.stderr)
        return 2
    run = RunOptions(workers=args.workers, timeout_s=args.timeout, formats=args.formats, progress=not args.quiet)
    summary = run_batch(args.inputs, args.out, pipeline, run)
    ok = [r for r in summary.records if r.status == "ok"]
    partial = sum(r.partial for r in ok)
    skipped = sum(r.status == "skipped" for r in summary.records)
    print(f"avpipe: {len(ok)} ok ({partial} partial), {skipped} skipped, {summary.failed} failed"
          f" -> {summary.index_path}", file=sys.stderr)
    for r in summary.records:
        if r.status == "error":
            print(f"  failed: {r.input}: {r.error.type}: {r.error.message}", file=sys.stderr)
    return summary.exit_code


def _cmd_probe(args: argparse.Namespace) -> int:
    from .errors import AvpipeError
    from .probe import probe

    try:
        info = probe(args.file)
    except AvpipeError as exc:
        print(json.dumps({"path": args.file, "error": {"type": type(exc).__name__, "message": exc.message}}))
        return 1
    print(info.model_dump_json(indent=2))
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from .schema import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def _cmd_pipelines(args: argparse.Namespace) -> int:
    from .pipeline import builtin_pipelines, load_pipeline

    for name in sorted(builtin_pipelines()):
        print(f"{name}: {' -> '.join(load_pipeline(name).stages)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"run": _cmd_run, "probe": _cmd_probe, "schema": _cmd_schema, "pipelines": _cmd_pipelines}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
