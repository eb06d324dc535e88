"""The search page and JSON API of ``thinbridge serve``: a loaded bridge answering over HTTP.

``searcher`` holds a loaded bridge (and optionally an index) and answers checked requests with the
records ``thinbridge query --json`` prints, without any web framework; ``draw`` draws molecules
as SVG with RDKit (cached per molecule); ``app`` is the FastAPI application around them (the
page, ``/api/search``, ``/api/smiles``, ``/api/draw``, ``/api/health``, ``/api/info``, OpenAPI
docs); ``static/`` holds the page (HTML, CSS, JavaScript; no CDN). May import
:mod:`thinbridge.search` and below, and fastapi/starlette (lazily: importing this package loads
neither); not :mod:`thinbridge.cli`, which starts the server, nor :mod:`thinbridge.book`.
"""

from thinbridge._util.lazy import attach

__getattr__, __dir__, __all__ = attach(__name__, {
    "Searcher": "thinbridge.serve.searcher",
    "RequestError": "thinbridge.serve.searcher",
    "create_app": "thinbridge.serve.app",
})
