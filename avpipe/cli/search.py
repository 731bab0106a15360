"""``avpipe search``, ``avpipe index`` and ``avpipe ask``: the commands over an output folder's
search index and its results (:mod:`avpipe.search`).

``search`` prints one JSON line per moment and repairs a damaged index from the results (under
the folder's lock) before asking again; ``index`` builds or updates it, ``--prune`` first
removing result folders no record names; ``ask`` answers a question about one result with
timestamped evidence. :func:`print_index_counts` is also what ``avpipe run`` prints once its
batch has updated the index.
"""

from __future__ import annotations

import argparse

from .printing import emit, fail, rows, warn


def print_index_counts(counts: dict) -> None:
    """What an index update did, one line on stderr."""
    repaired = f", {counts['repaired']} repaired (damaged shards remade)" if counts.get("repaired") else ""
    warn(f"search index: {counts['added']} added, {counts['updated']} updated, "
         f"{counts['removed']} removed, {counts['kept']} unchanged{repaired}")


def update_index(out: str, quiet: bool = False) -> dict | None:
    """Update DIR/search/ (``avpipe index DIR``, and a repair before a search); a failure is reported."""
    from ..search import update_index as update

    try:
        counts = update(out)
    except Exception as exc:  # noqa: BLE001 - the results themselves are complete
        warn(f"search index not updated: {type(exc).__name__}: {exc}")
        return None
    if not quiet:
        print_index_counts(counts)
    return counts


def cmd_search(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import AvpipeError, BadQuery, IndexDamaged
    from ..search import search

    if sum(x is not None for x in (args.query, args.image, args.face)) != 1:
        return fail("give a QUERY, --image PATH or --face PATH (one of them)", 2)
    index = Path(args.index)
    if not index.is_dir():
        return fail(f"--index {args.index}: no such folder", 2)
    if args.face is not None:
        from ..people.find import by_face

        out = index.parent if index.name == "search" else index
        try:
            moments = by_face(out, args.face, k=args.k)
        except BadQuery as exc:
            return fail(exc, 2)
        except (AvpipeError, OSError) as exc:
            return fail(exc, 1)
        if not moments:
            warn("no one in the people index looks like the face in that photo")
        rows((m.as_dict() for m in moments), ensure_ascii=False)
        return 0

    def find():
        return search(index, text=args.query, image=args.image, k=args.k, modality=args.modality)

    try:
        try:
            moments = find()
        except IndexDamaged as exc:  # repaired from the results, holding the folder's lock, then asked again
            from ..errors import OutputBusy
            from ..runner import folder_lock

            out = index.parent if index.name == "search" else index
            try:
                with folder_lock(out):
                    repaired = update_index(str(out), quiet=True)
            except OutputBusy:
                return fail(f"{exc}; not repaired now: another avpipe process is writing into {out} "
                            "and updates the index when it ends; search again then", 1)
            if repaired is None:
                return fail(f"{exc}; `avpipe index {out}` could not repair it", 1)
            warn(f"the search index was damaged ({exc}); repaired it from the results in {out}")
            moments = find()
    except BadQuery as exc:
        return fail(exc, 2)
    except (AvpipeError, OSError) as exc:
        return fail(exc, 1)
    if args.query is not None:  # a person's name finds where they are seen and heard
        from ..people.find import named_first

        moments = named_first(index.parent if index.name == "search" else index, args.query, moments, args.k)
    rows((m.as_dict() for m in moments), ensure_ascii=False)
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from pathlib import Path

    out = Path(args.out)
    if not out.is_dir():
        return fail(f"{args.out}: no such folder", 2)
    if not any(out.glob("*/result.json")) and not (out / "search").is_dir():
        return fail(f"{args.out} holds no results (give the --out folder of an `avpipe run`)", 2)
    from ..errors import AvpipeError, OutputBusy
    from ..runner import folder_lock

    try:
        with folder_lock(out):
            if args.prune:
                from ..search.results import prune_unlisted

                for folder in prune_unlisted(out):
                    warn(f"removed {folder} (no record of its index names it)")
            return 0 if update_index(args.out) is not None else 1
    except OutputBusy as exc:
        return fail(exc, 2)
    except AvpipeError as exc:  # --prune of a folder whose index.jsonl is damaged
        return fail(exc, 1)


def cmd_ask(args: argparse.Namespace) -> int:
    from ..errors import AvpipeError, DamagedResult
    from ..search import ask

    if not args.question.strip():
        return fail("the question is empty", 2)
    try:
        from ..device import resolve_device
        from ..search.ask import read_result

        vlm = args.vlm
        if vlm is None and not args.retrieval and not args.model:  # the VLM that captioned this video
            made = read_result(args.result).stages.get("captions")
            vlm = made.model if made is not None and made.status == "ok" else None
        if args.retrieval:
            vlm, args.model = None, None
        answer = ask(args.result, args.question, k=args.k, model=args.model, vlm=vlm,
                     device=resolve_device(args.device, "torch"))
    except DamagedResult as exc:
        return fail(exc, 2)
    except AvpipeError as exc:
        return fail(exc, 1)
    emit(answer.as_dict(), ensure_ascii=False, indent=1)
    return 0
