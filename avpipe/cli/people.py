"""``avpipe people OUT``: the people of a results folder (:mod:`avpipe.people`), listed, named,
merged, split and forgotten. Listing first brings the index up to date with the results."""

from __future__ import annotations

import argparse

from .printing import emit, fail, rows, warn


def cmd_people(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import AvpipeError, OutputBusy
    from ..runner import folder_lock

    out = Path(args.out)
    if not out.is_dir():
        return fail(f"{args.out}: no such folder (give the --out folder of an `avpipe run`)", 2)
    edits = [e for e in (args.name, args.merge, args.split, args.forget) if e]
    if len(edits) > 1:
        return fail("give one of --name, --merge, --split and --forget at a time", 2)
    if args.split and len(args.split) not in (2, 3):
        return fail("--split PERSON VIDEO_ID [MEMBER]: the person, the video, and optionally 'face N' or SPEAKER_N", 2)
    from ..people import edit, update

    try:
        with folder_lock(out):
            counts = update(out)
            if args.name:
                emit(edit.name(out, *args.name), ensure_ascii=False)
            elif args.merge:
                emit(edit.merge(out, *args.merge), ensure_ascii=False)
            elif args.split:
                emit(edit.split(out, *args.split), ensure_ascii=False)
            elif args.forget:
                emit(edit.forget(out, args.forget), ensure_ascii=False)
            else:
                from ..people import load

                n = counts["videos"]
                warn(f"people index: {counts['people']} people in {n} video{'s' * (n != 1)} ({counts['read']} read, "
                     f"{counts['added']} members added, {counts['removed']} removed)")
                people = load(out)
                listed = people.summary()
                if people.forgotten:
                    warn(f"{len(people.forgotten)} members forgotten on request: their keys are kept, no vector")
                if args.json:
                    rows(listed, ensure_ascii=False)
                else:
                    for p in listed:
                        print(f"{p['id']:<10} {p['name'] or '-':<24} faces {p['faces']:>3}  voices {p['voices']:>3}  "
                              f"videos {len(p['videos']):>3}: {', '.join(p['videos'][:4])}"
                              f"{' ...' if len(p['videos']) > 4 else ''}")
    except OutputBusy as exc:
        return fail(exc, 2)
    except AvpipeError as exc:
        return fail(exc, 1)
    return 0


def add_parser(sub) -> None:
    """The ``people`` command's arguments."""
    pp = sub.add_parser("people", help="the people of an output folder: the same face and voice across videos",
                        description="List the people of an `avpipe run` output folder (the people index in "
                        "DIR/people/ is brought up to date first), or name, merge, split or forget one. "
                        "Names show in the results, subtitles, reports and search.")
    pp.add_argument("out", metavar="DIR", help="the --out folder of an `avpipe run`")
    pp.add_argument("--name", nargs=2, metavar=("PERSON", "NAME"), help='name a person ("" takes the name back)')
    pp.add_argument("--merge", nargs=2, metavar=("KEEP", "OTHER"), help="make OTHER part of KEEP")
    pp.add_argument("--split", nargs="+", metavar="ARG",
                    help="PERSON VIDEO_ID [MEMBER]: that video's part of PERSON (or only MEMBER: 'face 3', "
                    "SPEAKER_2) becomes a new person")
    pp.add_argument("--forget", metavar="PERSON",
                    help="remove a person's face and voice vectors and labels everywhere")
    pp.add_argument("--json", action="store_true", help="one JSON line per person, with its spans")
