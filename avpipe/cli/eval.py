"""``avpipe eval asr | shots | speakers | faces | objects | sounds | search | text-emotion``: quality
against references.

Each command reads its reference (a usage error, exit 2, when it is missing or malformed), calls
the evaluation of its domain package (:mod:`avpipe.evaluate` for speech and speakers,
:mod:`avpipe.shots.evaluate`, :mod:`avpipe.vision.evaluate`, :mod:`avpipe.sounds.evaluate`,
:mod:`avpipe.search.evaluate`, :mod:`avpipe.understand.text_emotion`) and prints what it returns
through :mod:`.printing`: JSON on stdout (a line per input as it is scored, then the summary),
the figures for a person on stderr. No scoring happens here. An input that cannot be scored is
an error line and exit 1; the others are still scored.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .common import pipeline_or_none, shared_data, with_flags
from .printing import Column, emit, f1_text, fail, note, rows, table, warn

if TYPE_CHECKING:
    from ..options import PipelineOptions


class _Unusable(Exception):
    """A usage error that has been printed: the command ends with exit code 2."""


def _pipeline(name: str) -> PipelineOptions:
    """The pipeline ``--pipeline`` names; :class:`_Unusable` after printing why it is not one."""
    pipeline = pipeline_or_none(name)
    if pipeline is None:
        raise _Unusable
    return pipeline


def _pipeline_and_reference(args: argparse.Namespace, read: Callable[[str], object]) -> tuple[PipelineOptions, Any]:
    """The pipeline named by ``--pipeline`` and the reference ``read`` from ``--ref``;
    :class:`_Unusable` after printing why either is unusable."""
    pipeline = _pipeline(args.pipeline)
    try:
        return pipeline, read(args.ref)
    except (OSError, ValueError) as exc:  # a missing or malformed reference
        warn(exc)
        raise _Unusable from exc


def _exit_code(scored: list[dict]) -> int:
    """1 where a row is an input's error line, else 0."""
    return 1 if any("error" in row for row in scored) else 0


def cmd_eval(args: argparse.Namespace) -> int:
    what = {"asr": _eval_asr, "shots": _eval_shots, "speakers": _eval_speakers, "faces": _eval_images,
            "objects": _eval_images, "sounds": _eval_sounds, "search": _eval_search,
            "text-emotion": _eval_text_emotion, "summary": _eval_talks, "chapters": _eval_talks,
            "people": _eval_people, "labels": _eval_labels}[args.eval_command]
    try:
        return what(args)
    except _Unusable:
        return 2


def _eval_asr(args: argparse.Namespace) -> int:
    """``avpipe eval asr MEDIA...``: a JSON line per input, then the pooled WER on stderr."""
    from ..device import resolve_device
    from ..evaluate import asr_total, evaluate_asr_files

    if args.set:
        return _eval_asr_set(args)
    if not args.inputs:
        return fail("give media files or --set MANIFEST", 2)
    if args.ref and len(args.ref) != len(args.inputs):
        return fail("give one --ref per input, or none", 2)
    pipeline = _pipeline(args.pipeline)
    options = with_flags(pipeline.speech, backend=args.backend, model=args.model)
    device = resolve_device(args.device or pipeline.device, options.backend)
    scored = rows(evaluate_asr_files(args.inputs, args.ref, options, device))
    total = asr_total(scored)
    if total:
        note(f"avpipe eval asr: WER {total['wer']:.4f} over {total['reference_words']} reference words "
             f"({options.backend}, {options.model})")
    return _exit_code(scored)


#: ``avpipe eval asr --set``'s table per language, on stderr.
ASR_TABLE = (Column("language", 8, align="<"), Column("items", 5, "d"), Column("metric", 6),
             Column("error", 7, ".3f"), Column("language id", 11, ".2f"))


def _eval_asr_set(args: argparse.Namespace) -> int:
    """``avpipe eval asr --set``: one JSON line per item, then a table per language on stderr."""
    import dataclasses

    from ..device import resolve_device
    from ..evaluate import asr_table, evaluate_asr_set, read_asr_set

    pipeline = _pipeline(args.pipeline)
    try:
        items = read_asr_set(args.set, args.split)
    except ValueError as exc:
        return fail(exc, 2)
    runs = {"avpipe": with_flags(pipeline.speech, backend=args.backend, model=args.model)}
    if args.baseline:
        runs["baseline (tiny.en, as English)"] = dataclasses.replace(pipeline.speech, model="tiny.en", language="en")
    for name, options in runs.items():
        scored = evaluate_asr_set(items, options, resolve_device(args.device or pipeline.device, options.backend))
        rows(({"run": name, **row} for row in scored), ensure_ascii=False)
        note(f"{name}: {args.set} ({args.split}, {len(scored)} items)")
        table(ASR_TABLE, ([t["language"], t["items"], t["metric"], t["error_rate"], t["language_id"]]
                          for t in asr_table(scored)), indent="  ")
        for row in scored:
            if row.get("parts"):
                note(f"  {row['file']}: parts " + ", ".join(f"{p['language']} {p['metric']} {p['wer']:.3f}"
                                                            for p in row["parts"])
                     + f"; language right for {row['language_seconds_ok']:.0%} of the speech; switch found "
                     f"{row['switch_error_s']} s from the true one")
    return 0


#: ``avpipe eval summary``'s and ``eval chapters``' tables, on stderr.
SUMMARY_TABLE = (Column("system", 30, align="<"), Column("ROUGE-1", 7, ".3f"), Column("ROUGE-2", 7, ".3f"),
                 Column("ROUGE-L", 7, ".3f"))
CHAPTERS_TABLE = (Column("system", 30, align="<"), Column("P@60", 6, ".3f"), Column("R@60", 6, ".3f"),
                  Column("F1@30", 6, ".3f"), Column("F1@60", 6, ".3f"), Column("Pk", 6, ".3f"),
                  Column("WinDiff", 7, ".3f"), Column("count±2", 7, ".2f"))


def _eval_talks(args: argparse.Namespace) -> int:
    """``avpipe eval summary`` / ``eval chapters``: one JSON line per talk, then the table."""
    from ..understand.evaluate import (chapters_table, evaluate_chapters_set, evaluate_summary_set, read_talk_set,
                                       summary_table)

    pipeline = _pipeline(args.pipeline)
    try:
        talks = read_talk_set(args.set, None if args.split == "all" else args.split)
    except (OSError, ValueError, KeyError) as exc:
        return fail(f"{args.set}: cannot be read as a set of talks: {exc}", 2)
    if not talks:
        return fail(f"{args.set}: no talks in split {args.split!r}", 2)
    if args.eval_command == "summary":
        scored = rows(evaluate_summary_set(talks, pipeline.summary), ensure_ascii=False)
        note(f"summary: {args.set} ({args.split}, {len(scored)} talks; ROUGE F1 at the reference's length, "
             f"mean {sum(r['budget'] for r in scored) / len(scored):.0f} words; avpipe's own length: mean "
             f"{sum(r['own_words'] for r in scored) / len(scored):.0f} words, least {min(r['own_words'] for r in scored)})")
        table(SUMMARY_TABLE, summary_table(scored), indent="  ")
    else:
        scored = rows(evaluate_chapters_set(talks, pipeline.summary), ensure_ascii=False)
        mean = {k: sum(r[k] for r in scored) / len(scored) for k in ("topics", "chapters")}
        note(f"chapters: {args.set} ({args.split}, {len(scored)} talks; mean {mean['topics']:.1f} topics, avpipe "
             f"{mean['chapters']:.1f} chapters)")
        table(CHAPTERS_TABLE, chapters_table(scored), indent="  ")
    return 0


def _eval_shots(args: argparse.Namespace) -> int:
    """``avpipe eval shots``: the summary (and with ``--details`` each video) as JSON, F1 per kind
    on stderr, then one line for the run: the detector, P/R/F1 of all boundaries and of cuts at
    ±0.5 s, and the seconds it took. ``--backend`` is one of avpipe's backends or an external
    baseline (:data:`avpipe.shots.evaluate.BASELINES`: ``pyscenedetect``, which decodes the file
    itself); one detector per run."""
    from ..device import resolve_device
    from ..shots.evaluate import BASELINES, evaluate_shots, read_reference

    pipeline, reference = _pipeline_and_reference(args, read_reference)
    baseline = args.backend if args.backend in BASELINES else None
    options = pipeline.shots if baseline else with_flags(pipeline.shots, backend=args.backend)
    device = resolve_device(args.device or pipeline.device, "torch") if options.backend == "transnetv2" else "cpu"
    from pathlib import Path

    inputs = args.inputs
    if args.split:  # the reference's lines of that split only (a file not in it is still an error below)
        inputs = [p for p in inputs if (reference.get(Path(p).name, {}).get("split") or args.split) == args.split]
        if not inputs:
            return fail(ValueError(f"no input is in the reference's {args.split!r} split"), 2)
    try:
        report = evaluate_shots(inputs, reference, options, device, baseline=baseline)
    except Exception as exc:  # noqa: BLE001 - a missing file or an undecodable one: one line
        return fail(exc, 1)
    if args.details:
        rows(report["videos"])
    summary = report["summary"]
    emit(summary)
    for name in ("0.5s", "1frame"):
        note(f"tolerance {name}: " + "; ".join(f"{kind} {f1_text(r)}, {r['found']}/{r['true']} found, {r['false']} false)"
                                               for kind, r in summary[name].items()))
    every, cuts = summary["0.5s"]["all"], summary["0.5s"].get("cut")
    note(f"{summary['backend']}: all P/R/F1 {every['precision']:.3f} / {every['recall']:.3f} / {every['f1']:.3f}"
         + (f", cuts {cuts['precision']:.3f} / {cuts['recall']:.3f} / {cuts['f1']:.3f}" if cuts else "")
         + f" (±0.5 s); {summary['seconds']:.1f} s for {summary['media_seconds']:.1f} s of footage "
         f"({summary['x_real_time']}x real time)")
    for kind, r in summary["footage"].items():
        note(f"  {kind} ({r['videos']} videos): all {f1_text(r['all'])})"
             + (f", cuts {f1_text(r['cut'])}, {r['cut']['found']}/{r['cut']['true']} found)" if "cut" in r else "")
             + f"; {r['quiet_false']} false in {r['quiet_minutes']:.2f} min of quiet spans")
    return 0


def _eval_images(args: argparse.Namespace) -> int:
    """``avpipe eval faces`` and ``avpipe eval objects``: a report per detector, as JSON and a line on stderr."""
    from pathlib import Path

    from ..device import resolve_device
    from ..vision.evaluate import evaluate_vision, read_reference, unlisted

    key = args.eval_command
    pipeline, reference = _pipeline_and_reference(args, lambda path: read_reference(path, key))
    images = [Path(p) for p in args.inputs]
    unknown = unlisted(images, reference)
    if unknown:
        return fail(f"not in {args.ref}: {', '.join(unknown)}", 2)
    try:
        device = resolve_device(args.device or pipeline.device, "torch") if key == "objects" else "cpu"
        reports = evaluate_vision(key, images, reference, pipeline.vision, detector=getattr(args, "detector", None),
                                  min_score=args.min_score, device=device)
    except Exception as exc:  # noqa: BLE001 - an unreadable image or a missing model: one line
        return fail(exc, 1)
    for report in reports:
        per_image = report.pop("per_image")
        if args.details:
            rows(per_image)
        emit(report)
        note(f"avpipe eval {key}: {report.get('detector') or report['backend']}: precision {report['precision']:.3f} "
             f"recall {report['recall']:.3f} F1 {report['f1']:.3f} ({report['tp']} right, {report['fp']} false, "
             f"{report['fn']} missed)")
    return 0


def _eval_sounds(args: argparse.Namespace) -> int:
    """``avpipe eval sounds``: a JSON line per input, then the per-class summary (JSON, and F1 on stderr)."""
    from ..device import resolve_device
    from ..sounds.evaluate import evaluate_sounds, read_labels, sounds_summary

    pipeline, reference = _pipeline_and_reference(args, read_labels)
    audio = with_flags(pipeline.audio, tagger=args.tagger)
    device = resolve_device(args.device or pipeline.device, "torch")
    scored = rows(evaluate_sounds(args.inputs, reference, audio, pipeline.speech, device),
                  hide=() if args.details else ("found", "truth"))
    summary = sounds_summary(scored)
    emit({"tagger": audio.tagger, "classes": summary})
    note("avpipe eval sounds: " + "; ".join(f"{label} {f1_text(r)})" for label, r in summary.items() if r["tp"] + r["fn"]))
    return _exit_code(scored)


def _eval_speakers(args: argparse.Namespace) -> int:
    """``avpipe eval speakers``: a JSON line per input, then the pooled DER (JSON, and a line on stderr)."""
    import dataclasses

    from ..evaluate import evaluate_speakers, pool_speakers, read_turns

    pipeline, reference = _pipeline_and_reference(args, read_turns)
    options = pipeline.speakers if args.count is None else dataclasses.replace(pipeline.speakers, count=args.count)
    scored = rows(evaluate_speakers(args.inputs, reference, pipeline.speech, options, args.device or pipeline.device))
    total = pool_speakers(scored)
    if total is not None:
        emit(total.as_dict())
        note(f"avpipe eval speakers: DER {total.der:.4f} over {total.scored_speech:.1f} s of scored speech "
             f"(missed {total.missed:.1f} s, false alarm {total.false_alarm:.1f} s, "
             f"confusion {total.confusion:.1f} s)")
        counted = [r for r in scored if "speakers_found" in r]
        near = sum(abs(r["speakers_found"] - r["speakers"]) <= 1 for r in counted)
        exact = sum(r["speakers_found"] == r["speakers"] for r in counted)
        note(f"avpipe eval speakers: speaker count right in {exact} of {len(counted)}, within one in {near}")
    return _exit_code(scored)


def _eval_search(args: argparse.Namespace) -> int:
    """``avpipe eval search``: recall@k as JSON (and with ``--details`` each query's rank)."""
    from ..errors import AvpipeError
    from ..search.evaluate import evaluate_search, read_queries

    try:
        queries = read_queries(args.queries)
    except (OSError, ValueError) as exc:  # a missing or malformed set is a usage error
        return fail(exc, 2)
    try:
        report = evaluate_search(args.index, queries)
    except (AvpipeError, OSError) as exc:
        return fail(exc, 1)
    if args.details:
        rows(report["queries"], ensure_ascii=False)
    emit(report["summary"])
    return 0


def _eval_labels(args: argparse.Namespace) -> int:
    """``avpipe eval labels``: the summary as JSON (each photo's row first with ``--details``)
    and one line on stderr."""
    from ..device import resolve_device
    from ..vision.labels_eval import evaluate_labels, read_labels

    try:
        items = read_labels(args.reference, args.split)
    except (OSError, ValueError) as exc:
        return fail(exc, 2)
    if not items:
        return fail(f"{args.reference}: no photos" + (f" in the split {args.split!r}" if args.split else ""), 2)
    pipeline = _pipeline(args.pipeline)
    try:
        report = evaluate_labels(items, pipeline.vision, resolve_device(args.device or pipeline.device, "torch"))
    except Exception as exc:  # noqa: BLE001 - an unreadable photo or a missing model: one line
        return fail(exc, 1)
    if args.details:
        rows(report["rows"], ensure_ascii=False)
    s = report["summary"]
    emit(s)
    if s["scored"]:
        def said(way: str) -> str:
            d = s[f"said_{way}"]
            return f"{d['right']} right, {d['general']} general, {d['wrong']} wrong, {d['silent']} silent"

        note(f"avpipe eval labels: {s['scored']} photos: top-1 {s['top1']:.3f}, top-5 {s['top5']:.3f}; said: "
             f"top label {said('top1')}; sure top label {said('top1_sure')}; concept {said('concept')}")
    return 0


def _eval_text_emotion(args: argparse.Namespace) -> int:
    """``avpipe eval text-emotion``: the report as JSON, weighted F1 and the confusion matrix on stderr."""
    from pathlib import Path

    from ..understand.text_emotion import TextEmotion, evaluate
    from ..vision.text import load_text

    data = Path(args.data or shared_data("meld", "test_sent_emo.csv"))
    if not data.is_file():
        return fail(f"no such file: {data}", 2)
    report = evaluate(data, TextEmotion(load_text(), Path(args.weights) if args.weights else None))
    emit({"data": str(data), **report})
    width = max(len(n) for n in report["labels"])
    note(f"weighted F1 {report['weighted_f1']:.4f} on {report['rows']} utterances; confusion (rows: truth):")
    table([Column("", width), *(Column(n[:5], 5, "d") for n in report["labels"])],
          ([name, *row] for name, row in zip(report["labels"], report["confusion"])))
    return 0


def _eval_people(args: argparse.Namespace) -> int:
    """``avpipe eval people``: the face report per split and the voice report, as JSON lines, and
    a line each on stderr."""
    from ..device import resolve_device
    from ..people.evaluate import evaluate_faces, evaluate_voices

    if not args.faces and not args.voices:
        return fail("give --faces FILE, --voices FILE or both", 2)
    if args.faces:
        for split in ([args.split] if args.split else ["dev", "test"]):
            report = evaluate_faces(args.faces, split)
            emit({"faces": report}, ensure_ascii=False)
            if "clustering" in report:
                ours = next(iter(report["clustering"].values()))
                v = report["verification"]
                note(f"faces {split}: {report['photos']} photos of {report['people']} people; B-cubed F1 "
                     f"{ours['f1']:.3f}, {report['people_merged']} clusters with two people; TAR {v['tar_at_threshold']} "
                     f"at FAR {v['far_at_threshold']} (threshold {report['threshold']}), TAR@FAR1% {v['tar_at_far_1%']}")
    if args.voices:
        report = evaluate_voices(args.voices, resolve_device(args.device, "torch"))
        emit({"voices": report}, ensure_ascii=False)
        for split, r in report["splits"].items():
            ours, base = r["avpipe (GE2E)"], r["mean log-mel baseline"]
            note(f"voices {split}: {r['items']} recordings of {r['speakers']} speakers, {r['pairs']['same']} same / "
                 f"{r['pairs']['different']} different pairs; accuracy {ours['accuracy']:.3f} (same matched "
                 f"{ours['same_voice_matched']}, different apart {ours['different_kept_apart']}); baseline "
                 f"{base['accuracy']:.3f}")
    return 0
