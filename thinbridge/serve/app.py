"""The FastAPI application: the page, the JSON API beside it, and one-line errors for everything.

Routes: ``/`` (the page, ``static/index.html``, with its CSS and JavaScript), ``/api/search``,
``/api/smiles``, ``/api/draw``, ``/api/health``, ``/api/info``, and FastAPI's ``/openapi.json``
and ``/docs`` (Swagger UI served from the pinned ``swagger-ui-bundle`` package, not FastAPI's
default CDN, so it works offline too). The page's three files and the docs' assets are read
once, when the application is made: no request reads a file. Every error is JSON ``{"error": "one line", "status": N}``; a request the
:class:`~thinbridge.serve.searcher.Searcher` refuses is a 4xx with its message, and a bug is a
500 whose traceback goes to the server's log, never to the client. The search endpoints are
plain functions, which Starlette runs on its thread pool, except the text search, which awaits
its query's batch on the event loop (:mod:`thinbridge.serve.batcher`); the searcher is warmed
before the first request, so they only read shared state.
"""

import logging
from importlib import resources
from pathlib import Path

from thinbridge._util.jsonio import dumps
from thinbridge.serve.searcher import RequestError, Searcher

#: the page's files: URL path -> (file under static/, media type)
ASSETS = {"/": ("index.html", "text/html; charset=utf-8"),
          "/serve.css": ("serve.css", "text/css; charset=utf-8"),
          "/serve.js": ("serve.js", "text/javascript; charset=utf-8")}
#: the docs page's assets, from swagger-ui-bundle: URL path -> (file, media type)
DOCS_ASSETS = {"/docs-assets/swagger-ui-bundle.js": ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
               "/docs-assets/swagger-ui.css": ("swagger-ui.css", "text/css; charset=utf-8"),
               "/docs-assets/favicon-32x32.png": ("favicon-32x32.png", "image/png")}
#: the page loads nothing from anywhere else (and runs no inline script)
PAGE_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
            "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
log = logging.getLogger("thinbridge.serve")

_DESCRIPTION = """Search a trained thin bridge: molecules for a mechanism text (`/api/search`), the
run's mechanism texts for a molecule (`/api/smiles`). The hits are the records that
`thinbridge query --json` prints. Errors are `{"error": "one line", "status": N}`."""


def _json(obj, status: int = 200, headers: dict | None = None):
    from starlette.responses import Response

    return Response(dumps(obj, indent=None), status_code=status, media_type="application/json",
                    headers=headers)


def _error(message: str, status: int):
    return _json({"error": message, "status": status}, status)


def create_app(searcher: Searcher):
    """The application around a loaded, warmed :class:`Searcher`."""
    from fastapi import FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException
    from starlette.responses import Response

    from thinbridge import __version__

    import swagger_ui_bundle
    from fastapi.openapi.docs import get_swagger_ui_html

    app = FastAPI(title="thinbridge search", version=__version__, description=_DESCRIPTION, redoc_url=None,
                  docs_url=None)
    pages = {path: (resources.files("thinbridge.serve").joinpath("static", name).read_bytes(), media)
             for path, (name, media) in ASSETS.items()}
    docs = Path(swagger_ui_bundle.swagger_ui_path)
    pages.update({path: ((docs / name).read_bytes(), media) for path, (name, media) in DOCS_ASSETS.items()})

    @app.exception_handler(RequestError)
    async def refused(request: Request, e: RequestError):
        return _error(e.message, e.status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException):
        message = {404: f"no such page: {request.url.path[:80]}",
                   405: f"{request.method} is not allowed here; use GET"}.get(e.status_code, str(e.detail))
        return _error(message, e.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, e: RequestValidationError):
        first = (e.errors() or [{}])[0]
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "query")
        return _error(f"bad parameter {where}: {first.get('msg', 'invalid')}", 400)

    @app.exception_handler(Exception)
    async def bug(request: Request, e: Exception):
        log.exception("error answering %s", request.url.path)
        return _error(f"internal error ({type(e).__name__}); the server's log has the details", 500)

    def page(path: str):
        body, media = pages[path]
        headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
        if path == "/":
            headers["Content-Security-Policy"] = PAGE_CSP
        return Response(body, media_type=media, headers=headers)

    for path in (*ASSETS, *DOCS_ASSETS):
        app.add_api_route(path, (lambda p: lambda: page(p))(path), methods=["GET"], include_in_schema=False)

    @app.get("/docs", include_in_schema=False)
    def api_docs():
        js, css, icon = DOCS_ASSETS
        return get_swagger_ui_html(openapi_url=app.openapi_url, title="thinbridge search: the API",
                                   swagger_js_url=js, swagger_css_url=css, swagger_favicon_url=icon)

    @app.get("/api/health", summary="Is the server up?")
    def health():
        return _json(searcher.health())

    @app.get("/api/info", summary="The loaded bridge, what it searches, and the limits")
    def info():
        return _json(searcher.info())

    @app.get("/api/search", summary="Molecules for a mechanism text")
    async def search(request: Request,
               q: str | None = Query(None, description="a mechanism text, e.g. HMG-CoA reductase inhibitor"),
               k: str | None = Query(None, description="number of hits, 1-50 (default 10)")):
        return _json(await searcher.search_text_async(request.query_params))

    @app.get("/api/smiles", summary="Mechanism texts for a molecule")
    def smiles(request: Request,
               s: str | None = Query(None, description="a SMILES, e.g. CC(=O)Oc1ccccc1C(=O)O"),
               k: str | None = Query(None, description="number of hits, 1-50 (default 10)")):
        return _json(searcher.search_smiles(request.query_params))

    @app.get("/api/draw", summary="A molecule drawn by RDKit, as SVG")
    def draw(request: Request, smiles: str | None = Query(None, description="a SMILES")):
        return Response(searcher.draw(request.query_params), media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

    return app
