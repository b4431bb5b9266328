"""The REST API: a thin FastAPI edge over the same FlixRec service the dashboard and the CLI use.

    app        create_app: middleware (gzip, CORS from Settings), the problem handlers, the routers
    routes     the endpoints under /v1, plus /healthz and /readyz
    deps       the shared service, the optional key, ETags tied to the build, ids, filters and pages
    schemas    request and response models (Pydantic) and their conversion from the core's objects
    problems   every error as an RFC 9457 problem response, translated in one place
    server     `python -m flixrec serve`: uvicorn with N workers

Read-only over the index, like the app; it serves a new build as soon as ingest publishes it.
"""

from flixrec.api.app import create_app

__all__ = ["create_app"]
