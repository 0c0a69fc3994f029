"""Serving the dashboard with uvicorn: in the foreground (``deepfuse ui``) or in a thread.

Example:
    >>> serve("runs", port=8765)  # doctest: +SKIP
    deepfuse ui: serving runs/ at http://127.0.0.1:8765/ (read-only; Ctrl+C stops)
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from deepfuse._utils.errors import UserError
from deepfuse._utils.optional import require
from deepfuse.ui.app import LOOPBACK_HOSTS, create_app

__all__ = ["BackgroundServer", "is_loopback", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, localhost).

    Example:
        >>> [is_loopback(h) for h in ["127.0.0.1", "localhost", "::1", "0.0.0.0", "10.0.0.2"]]
        [True, True, True, False, False]
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_runs_dir(runs_dir: str | os.PathLike) -> Path:
    root = Path(runs_dir)
    if not root.is_dir():
        raise UserError(
            f"The runs folder '{runs_dir}' does not exist. Pass the folder given to "
            "'deepfuse train --out' (default: runs/)."
        )
    return root


def _app_for(root: Path, host: str) -> Any:
    # Bound to a non-loopback address the server is reached under names we cannot know.
    hosts = LOOPBACK_HOSTS if is_loopback(host) else None
    return create_app(root, allowed_hosts=hosts)


def serve(
    runs_dir: str | os.PathLike, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT
) -> None:
    """Serve the dashboard of ``runs_dir`` until interrupted (blocking).

    Raises:
        UserError: ``runs_dir`` does not exist, the port is taken, or fastapi/uvicorn are missing.
    """
    root = _check_runs_dir(runs_dir)
    uvicorn = require("uvicorn", extra="ui", purpose="deepfuse ui")
    if not is_loopback(host):
        print(
            f"deepfuse ui: warning: listening on {host}, so other machines can read these runs "
            "(there is no login). Use the default 127.0.0.1 unless you mean it.",
            file=sys.stderr,
        )
    app = _app_for(root, host)
    sock = _bind(host, port)
    shown = f"[{host}]" if ":" in host else host
    print(
        f"deepfuse ui: serving {root}/ at http://{shown}:{sock.getsockname()[1]}/ "
        "(read-only; Ctrl+C stops)",
        flush=True,
    )
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise UserError(
            f"Cannot listen on {host}:{port}: {exc.strerror}. Pick another port with --port."
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class BackgroundServer:
    """The dashboard of ``runs_dir`` served from a thread, on a free port (tests, screenshots).

    Example:
        >>> with BackgroundServer("runs") as server:  # doctest: +SKIP
        ...     print(server.url)
        http://127.0.0.1:40123
    """

    def __init__(
        self,
        runs_dir: str | os.PathLike,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        poll_ms: int = 1500,
    ) -> None:
        self.root = _check_runs_dir(runs_dir)
        self.host = host
        self.port = port
        self.poll_ms = poll_ms
        self.url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> BackgroundServer:
        uvicorn = require("uvicorn", extra="ui", purpose="deepfuse ui")
        sock = _bind(self.host, self.port)
        self.url = f"http://{self.host}:{sock.getsockname()[1]}"
        hosts = LOOPBACK_HOSTS if is_loopback(self.host) else None
        app = create_app(self.root, allowed_hosts=hosts, poll_ms=self.poll_ms)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("The dashboard server did not start.")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
