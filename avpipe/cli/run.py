"""``avpipe run``: videos and folders of videos into an output folder, through :mod:`avpipe.runner`
(or Ray Data), then its search index.

The checks that can fail before any output is made come first, each a usage error (exit 2): the
pipeline, its models on this machine, the device, the inputs and the output folder. The batch's
own exit code follows (0 every input ok or skipped, 1 one failed); a stop signal gives 128 + its
number, Ctrl-C 130, with what was finished kept.
"""

from __future__ import annotations

import argparse

from .common import pipeline_or_none, shipped_pipelines
from .printing import fail, note, warn
from .search import print_index_counts


def cmd_run(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from ..runner import RunOptions, run_batch

    pipeline = pipeline_or_none(args.pipeline)
    if pipeline is None:
        return 2
    if args.device:
        pipeline = dataclasses.replace(pipeline, device=args.device)
    from ..config import missing_models

    missing = missing_models(pipeline)
    if missing:  # before any output is made: a half-equipped machine fails at once, not per video
        profile = f"--profile {pipeline.name}" if pipeline.name in shipped_pipelines() else " ".join(missing)
        return fail(f"pipeline {pipeline.name!r} needs models that are not on this machine: {', '.join(missing)}; "
                    f"run `avpipe models fetch {profile}` where a network is reachable", 2)
    from ..config import model_runtimes
    from ..device import check_device
    from ..errors import PipelineConfigError

    try:  # cuda asked for and absent fails here; auto without a GPU says so once the batch ran
        device_note = check_device(pipeline.device, model_runtimes(pipeline))
    except PipelineConfigError as exc:
        return fail(exc, 2)
    if args.workers < 0:
        return fail("--workers must be 0 or more", 2)
    inputs = list(args.inputs)
    if args.manifest:
        try:
            lines = Path(args.manifest).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            return fail(f"cannot read the manifest: {exc}", 2)
        inputs += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not inputs:
        return fail("no inputs (give INPUT... or --manifest FILE)", 2)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return fail(f"--out {args.out} exists and is not a folder", 2)
    run = RunOptions(workers=args.workers, timeout_s=args.timeout, formats=args.formats, progress=not args.quiet,
                     shard=args.shard, resume=not args.force, log_stderr=args.log_json)
    search = args.shard is None and not args.no_index
    from ..errors import NoInputs, OutputBusy

    try:
        if args.engine == "ray":
            from ..engines.ray import run_batch_ray

            summary = run_batch_ray(inputs, args.out, pipeline, run, search=search)
        else:
            summary = run_batch(inputs, args.out, pipeline, run, search=search)
    except (NoInputs, OutputBusy) as exc:
        return fail(exc, 2)
    except KeyboardInterrupt as exc:
        from ..errors import Stopped

        how = f"stopped by {exc}" if isinstance(exc, Stopped) else "interrupted"
        warn(f"{how}; the finished results in {args.out} are kept and listed in its index: "
             "run the same command again to go on from there")
        return 128 + exc.signum if isinstance(exc, Stopped) else 130
    if device_note:
        warn(device_note)
    if summary.people_error:
        warn(f"people index not updated: {summary.people_error}")
    elif summary.people is not None:
        p = summary.people
        warn(f"people index: {p['people']} people in {p['videos']} video{'s' * (p['videos'] != 1)} "
             f"({p['added']} members added, {p['removed']} removed, {p['labelled']} results labelled); "
             f"`avpipe people {args.out}` lists them")
    if args.shard is not None:
        warn("sharded run: the search index is left to `avpipe index DIR` once every shard is done")
    elif summary.search_error:
        warn(f"search index not updated: {summary.search_error}")
    elif summary.search is not None:
        print_index_counts(summary.search)
    ok = [r for r in summary.records if r.status == "ok"]
    partial = sum(r.partial for r in ok)
    skipped = sum(r.status == "skipped" for r in summary.records)
    warn(f"{len(ok)} ok ({partial} partial), {skipped} skipped, {summary.failed} failed -> {summary.index_path}")
    for r in summary.records:
        if r.status == "error":
            note(f"  failed: {r.input}: {r.error.type}: {r.error.message}")
    if summary.unreadable:
        warn(f"{summary.unreadable} place{'s' * (summary.unreadable != 1)} in the inputs could not be read, "
             "so their videos are missing (the `discover` lines above and in log.jsonl)")
    return summary.exit_code
