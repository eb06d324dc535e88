"""``thinbridge serve``: the search page and its JSON API for a run (and an index), over HTTP."""
from __future__ import annotations

import socket
import sys
import time

from thinbridge._util.errors import UserError
from thinbridge.cli.common import number

LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: uvicorn's h11 refuses a request line longer than its buffer with a bare 400; this lets a long
#: query through to the application, which answers with the limit in words
MAX_REQUEST_BYTES = 256 * 1024


def add_subparser(sub):
    s = sub.add_parser(
        "serve", help="a search page and JSON API for a run (molecules for a text, texts for a SMILES)",
        description="Load a run's bridge (and an index) once and serve a search page and a JSON API: "
                    "/api/search?q=TEXT&k=K, /api/smiles?s=SMILES&k=K (the records `thinbridge query "
                    "--json` prints), /api/health, OpenAPI docs at /docs. Ctrl-C or SIGTERM stops it.")
    s.add_argument("run", help="run folder written by `thinbridge train`")
    s.add_argument("--index", default=None, help="search this index (built with `thinbridge index`) instead of "
                                                 "the run's molecules")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 opens the page "
                        "to the network, with a warning)")
    s.add_argument("--port", type=number(int, 0), default=8000, help="port (default: 8000; 0: any free port)")
    s.add_argument("--data", default=None, help="prepared data folder (default: the one recorded in the run)")
    s.add_argument("--cache", default=None, help="feature cache folder (default: DATA/cache)")
    s.add_argument("--batch", type=number(int, 1), default=4,
                   help="encode up to this many text queries that arrive together in one pass of the text model "
                        "(default: 4; 1: every query alone, the bits of `thinbridge query`)")
    s.add_argument("--access-log", action="store_true", help="log every request on stderr")
    s.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    s.set_defaults(func=run)


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, made before the bridge loads so a taken port fails at once."""
    if port > 65535:
        raise UserError(f"argument --port: must be at most 65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise UserError(f"cannot listen on {host!r}: {e.strerror} (give an address such as 127.0.0.1)") from None
    family, _, _, _, addr = infos[0]
    # proto IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets that
    # say they are TCP; without it every answer waited ~40 ms for the client's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port}: {e.strerror or e}; choose another port with --port") \
            from None
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
    return f"http://{f'[{shown}]' if ':' in shown and not shown.startswith('[') else shown}:{port}/"


def run(a) -> int:
    sock = _listen(a.host, a.port)  # before the bridge loads: a taken port fails at once
    try:
        host, port = a.host, sock.getsockname()[1]
        if host not in LOOPBACK:
            print(f"thinbridge serve: warning: listening on {host}: anyone who can reach this machine on port "
                  f"{port} can use the page and the API (no password, no TLS); the default, 127.0.0.1, keeps it "
                  "to this machine", file=sys.stderr, flush=True)
        return _serve(a, sock, host, port)
    finally:
        sock.close()


def _serve(a, sock: socket.socket, host: str, port: int) -> int:
    import uvicorn

    from thinbridge.serve.app import create_app
    from thinbridge.serve.searcher import Searcher

    print(f"thinbridge serve: loading {a.run}" + (f" and index {a.index}" if a.index else "") + " ...",
          file=sys.stderr, flush=True)
    searcher = Searcher.load(a.run, a.index, a.data, a.cache, show_progress=not a.quiet, batch=a.batch)
    info = searcher.info()
    what = info["searched"]
    print(f"thinbridge serve: {what['molecules']:,} molecules ({what['name']}) loaded in {searcher.loaded_s:.1f} s",
          file=sys.stderr, flush=True)
    if searcher.smiles_error:
        print(f"thinbridge serve: note: {searcher.smiles_error}", file=sys.stderr, flush=True)
    config = uvicorn.Config(create_app(searcher), log_level="info" if a.access_log else "warning",
                            access_log=a.access_log, h11_max_incomplete_event_size=MAX_REQUEST_BYTES,
                            timeout_graceful_shutdown=3, lifespan="off", server_header=False)
    server = _make_server(config)
    url = _url(host, port)
    print(f"thinbridge serve: the search page is at {url} (API docs: {url}docs); Ctrl-C stops it", flush=True)
    if host in ("0.0.0.0", "::", ""):
        print(f"thinbridge serve: from other machines: http://{socket.gethostname()}:{port}/", flush=True)
    t = time.monotonic()
    server.run(sockets=[sock])
    if not server.started:
        raise UserError("the server did not start; the lines above say why")
    why = {2: "Ctrl-C", 15: "SIGTERM"}.get(server.stopped_by, "shut down")
    print(f"thinbridge serve: stopped ({why}) after {time.monotonic() - t:.0f} s", file=sys.stderr, flush=True)
    return 0


def _make_server(config):
    """A uvicorn server (the class is made here: uvicorn is imported only when serving)."""
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, stopped by SIGINT/SIGTERM without raising the signal again on the way
        out (uvicorn re-raises it, which would end ``thinbridge`` as interrupted, status 130)."""

        stopped_by = None

        def handle_exit(self, sig, frame):
            self.stopped_by = sig
            if self.should_exit and sig == 2:
                self.force_exit = True
            else:
                self.should_exit = True

    return Server(config)
