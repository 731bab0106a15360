"""The pooled figures of the ``avpipe eval`` commands (domain functions over per-input rows) and
the one table printer of ``avpipe/cli/printing.py``: no media, no models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avpipe.cli.printing import Column, rows, table
from avpipe.evaluate import asr_table, asr_total, each_input, error_row, pool_speakers
from avpipe.sounds.evaluate import sounds_summary
from avpipe.vision.evaluate import unlisted

ERROR = error_row("bad.mp4", FileNotFoundError("bad.mp4: gone"))


def _asr(language: str, s: int, d: int, i: int, words: int, ok: bool = True) -> dict:
    return {"language": language, "metric": "wer", "substitutions": s, "deletions": d, "insertions": i,
            "reference_words": words, "language_ok": ok}


def test_each_input_scores_in_order_and_turns_a_failure_into_its_error_row():
    def score(path: Path, ref: int) -> dict:
        if ref < 0:
            raise RuntimeError("cannot")
        return {"ref": ref, "name": path.name}

    got = list(each_input(["a/x.mp4", "y.mp4", "z.mp4"], {"x.mp4": 1, "z.mp4": -1}, score))
    assert got == [{"input": "a/x.mp4", "ref": 1, "name": "x.mp4"},
                   {"input": "y.mp4", "error": {"type": "ValueError", "message": "y.mp4: not in the reference file"}},
                   {"input": "z.mp4", "error": {"type": "RuntimeError", "message": "cannot"}}]


def test_asr_total_pools_errors_over_words_and_leaves_error_rows_out():
    assert asr_total([_asr("en", 1, 0, 1, 10), ERROR, _asr("en", 0, 1, 0, 20)]) == {"wer": 3 / 30, "reference_words": 30}
    assert asr_total([ERROR]) is None
    table_rows = asr_table([_asr("en", 1, 0, 1, 10), _asr("en", 0, 1, 0, 20, ok=False), _asr("de", 0, 0, 0, 0)])
    assert table_rows == [{"language": "de", "items": 1, "metric": "wer", "error_rate": None, "language_id": 1.0},
                          {"language": "en", "items": 2, "metric": "wer", "error_rate": 0.1, "language_id": 0.5}]


def test_pool_speakers_sums_the_seconds_and_rounds_only_its_json():
    first = {"missed": 1.25, "false_alarm": 0.5, "confusion": 0.0, "scored_speech": 10.0}
    second = {"missed": 0.0, "false_alarm": 0.25, "confusion": 1.0, "scored_speech": 5.05}
    total = pool_speakers([first, ERROR, second])
    assert total.scored_speech == 10.0 + 5.05 and total.der == (1.25 + 0.75 + 1.0) / (10.0 + 5.05)
    assert total.as_dict() == {"der": round(3.0 / 15.05, 4), "missed": 1.25, "false_alarm": 0.75, "confusion": 1.0,
                               "scored_speech": 15.05}
    assert pool_speakers([ERROR, {**first, "scored_speech": 0.0}]) is None


def test_sounds_summary_pools_window_counts_per_class_in_name_order():
    a = {"counts": {"speech": {"tp": 3, "fp": 1, "fn": 0}, "music": {"tp": 0, "fp": 0, "fn": 2}}}
    b = {"counts": {"speech": {"tp": 1, "fp": 0, "fn": 1}}}
    summary = sounds_summary([a, ERROR, b])
    assert list(summary) == ["music", "speech"]
    assert summary["speech"] == {"tp": 4, "fp": 1, "fn": 1, "precision": 0.8, "recall": 0.8, "f1": 0.8}
    assert summary["music"]["recall"] == 0.0


def test_unlisted_names_the_images_a_reference_lacks():
    assert unlisted([Path("a/x.png"), Path("y.png")], {"x.png": {}}) == ["y.png"]


def test_the_table_printer_aligns_as_the_eval_tables_always_did(capsys):
    """The ASR set table and the text-emotion confusion matrix, against the f-strings they were
    printed with before the printer (their readers parse the columns)."""
    columns = (Column("language", 8, align="<"), Column("items", 5, "d"), Column("metric", 6),
               Column("error", 7, ".3f"), Column("language id", 11, ".2f"))
    values = [["en", 12, "wer", 0.0834, 0.9166], ["ja", 3, "cer", None, 1.0]]
    table(columns, values, indent="  ")
    expected = [f"  {'language':8} {'items':>5} {'metric':>6} {'error':>7} {'language id':>11}"]
    for language, items, metric, error, language_id in values:
        rate = "-" if error is None else f"{error:.3f}"
        expected.append(f"  {language:8} {items:5d} {metric:>6} {rate:>7} {language_id:11.2f}")
    assert capsys.readouterr().err.splitlines() == expected

    labels, confusion = ["anger", "surprise"], [[127, 3], [38, 1071]]
    width = max(len(n) for n in labels)
    table([Column("", width), *(Column(n[:5], 5, "d") for n in labels)],
          ([name, *row] for name, row in zip(labels, confusion)))
    expected = [" " * (width + 1) + " ".join(f"{n[:5]:>5}" for n in labels)]
    expected += [f"{name:>{width}} " + " ".join(f"{v:5d}" for v in row) for name, row in zip(labels, confusion)]
    assert capsys.readouterr().err.splitlines() == expected


@pytest.mark.parametrize("hide", [(), ("found",)])
def test_rows_prints_each_row_as_it_comes_and_returns_them_whole(capsys, hide):
    given = [{"input": "a", "found": [1]}, {"input": "b", "found": []}]
    assert rows(iter(given), hide=hide) == given
    shown = [{k: v for k, v in r.items() if k not in hide} for r in given]
    assert capsys.readouterr().out.splitlines() == [json.dumps(r) for r in shown]
