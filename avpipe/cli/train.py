"""``avpipe train text-emotion | align``: train the heads that ship with avpipe
(:mod:`avpipe.understand.text_emotion`, :mod:`avpipe.understand.align`).

Progress goes to stderr line by line; the trained head's card or report is one JSON document on
stdout. The default data are under ``shared/data`` beside the checkout (:func:`~.common.shared_data`).
"""

from __future__ import annotations

import argparse

from .common import shared_data, with_flags
from .printing import emit, fail, note


def cmd_train(args: argparse.Namespace) -> int:
    from pathlib import Path

    if args.train_command == "align":
        from ..understand.align import AlignOptions, result_folders, train_align

        try:
            report = train_align(result_folders(args.results), Path(args.out),
                                 with_flags(AlignOptions(), epochs=args.epochs, lr=args.lr), log=note)
        except ValueError as exc:
            return fail(exc, 1)
        emit(report)
        return 0

    from ..understand.text_emotion import TrainOptions, train, weights_dir

    options = with_flags(TrainOptions(), epochs=args.epochs, seeds=args.seeds, limit=args.limit)
    card = train(Path(args.data or shared_data("goemotions_ekman")),
                 Path(args.calibration or shared_data("meld", "dev_sent_emo.csv")),
                 Path(args.out) if args.out else weights_dir(), options, log=note)
    emit(card)
    return 0
