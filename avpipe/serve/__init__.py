"""``avpipe serve OUT``: a results folder as a local web app and a JSON API.

Read-only over the folder (another ``avpipe run`` may be writing into it: new videos appear on
the next reload), on FastAPI and uvicorn. Binds to loopback by default; any other address needs
a token (:func:`serve` makes one when none is given). See :mod:`.app` for the routes and the
safety rules, :mod:`.library` for what is read and served, :mod:`.pages` for the pages.
"""

from __future__ import annotations

import secrets
import socket
import threading
from pathlib import Path
from typing import Callable

from .app import is_loopback, make_app

__all__ = ["is_loopback", "make_app", "serve"]


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (``port`` 0: a free one), IPv6 when the address is."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(out: str | Path, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
          announce: Callable[[str], None] = print) -> None:
    """Serve ``out`` until interrupted. A non-loopback ``host`` always has a token: ``token``, or
    one generated here; ``announce`` gets the address to open (with the token in it, once)."""
    import uvicorn

    loopback = is_loopback(host)
    if not loopback and not token:
        token = secrets.token_urlsafe(24)
    sock = bind(host, port)
    shown = sock.getsockname()[0]
    shown = f"[{shown}]" if ":" in shown else shown
    where = f"http://{shown}:{sock.getsockname()[1]}/"
    app = make_app(out, token=token, loopback_only=loopback)
    announce(f"avpipe serve: {Path(out)} at {where}" + (f"?token={token}" if token else "")
             + (f"  (token: {token}; send it as 'Authorization: Bearer TOKEN')" if token else "") + "  (Ctrl-C stops)")
    threading.Thread(target=app.state.searcher.warm, name="avpipe-serve-warm", daemon=True).start()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    server.run(sockets=[sock])
