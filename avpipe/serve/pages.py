"""The pages of ``avpipe serve``, rendered on the server from the same Jinja2 environment as the
HTML reports (autoescaping on): the library, the search page, a video page (the report's layout
with a player that plays the original through ``/media``), and a page for a problem.

The video page extends ``report.html.j2``: one layout for the report a batch writes and the page
the server shows, with the thumbnails as URLs instead of data URIs, the script and style from
``/static`` (the app's Content-Security-Policy allows no inline script), and the subtitles as a
``<track>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..schema import Result
    from .library import Original


def render(page: str, **context) -> str:
    """The page ``templates/serve/<page>.html.j2`` filled with ``context``."""
    from ..report import _env

    return _env().get_template(f"serve/{page}.html.j2").render(**context)


def video_context(result: "Result", folder: Path, video_id: str, original: "Original") -> dict:
    """What the video page shows: the report's context (:func:`avpipe.report.report_context`)
    with URLs of this app, the player's source or why there is none, and the subtitle tracks."""
    from ..report import report_context
    from .library import files_url, media_url

    def url(path: Path) -> str | None:
        try:
            return files_url(video_id, path.relative_to(folder))
        except ValueError:
            return None

    context = report_context(result, folder, image_src=url)
    language = result.transcript.language or ""
    tracks = []
    for vtt in sorted(folder.glob("transcript*.vtt")):
        code = vtt.name[len("transcript."):-len(".vtt")]
        if code and code != language:  # transcript.<language>.vtt is transcript.vtt again
            tracks.append({"src": url(vtt), "lang": code, "label": f"{code} (translation)" if code == "en" else code})
        elif not code:
            tracks.insert(0, {"src": url(vtt), "lang": language or "und", "label": language or "transcript"})
    stages = [f"{name}: {info.status}" for name, info in result.stages.items() if info.status != "ok"]
    context.update(video_id=video_id, media_url=media_url(video_id) if original.path else "",
                   media_problem=original.problem or "", tracks=tracks, stage_problems=stages,
                   duration=context["duration_json"], inline_style=False)
    return context
