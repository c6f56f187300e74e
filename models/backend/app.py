"""Label Studio's ML backend protocol over HTTP (starlette), as Label Studio 1.23.2 calls it.

Routes and payloads follow ``label_studio/ml/api_connector.py`` of the server and
``label_studio_ml/api.py`` of HumanSignal's label-studio-ml-backend:

- ``GET /health`` (and ``GET /``): ``{"status": "UP", "model_class", "model_version"}``.
- ``POST /setup`` ``{project: "<id>.<created_ts>", schema, hostname, access_token, extra_params}``
  -> ``{"model_version"}``. Label Studio calls it before every prediction round and takes
  the version it answers as the backend's current one. A ``schema`` without Slant's
  controls, or with other stance choices than the model's, is a 400 naming the difference
  (so is such a ``label_config`` on ``/predict``).
- ``POST /predict`` ``{tasks: [...], project, label_config, params}`` -> ``{"results": [one
  prediction per task, in order], "model_version"}``; each prediction is
  ``{result, score, model_version}``.
- ``POST /webhook`` ``{action, project: {...}, ...}``: ANNOTATION_CREATED / UPDATED / DELETED are
  counted towards a retraining, START_TRAINING (what the server's "Start training" sends)
  starts one -> 201 ``{"result", "status": "ok"}``; other actions -> 200 ``{"status": "Unknown event"}``.
- ``POST /train`` ``{annotations: [annotated tasks], project}``: the older training call
  (servers with the START_TRAINING webhook flag off) -> 201 ``{"job"}``; 400 with no annotations.
- ``GET /versions`` -> ``{"versions": [...]}``, ``POST /job_status`` ``{job}``, ``GET /is_training``,
  ``GET /metrics``, ``POST /validate``.

Every route but ``/health`` requires the backend's credentials (:mod:`models.backend.auth`):
without them a request is a 401 and reaches no route. Error bodies are redacted
(:func:`annotate.redaction.redact`), and a body nested too deeply or larger than
:data:`MAX_BODY_BYTES` is a 400 / 413, not a 500.

Predictions run in starlette's thread pool, so a slow batch never blocks ``/health`` or a
webhook; training runs on its own thread, so no request waits for it.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from annotate.redaction import redact
from models.backend.auth import Credentials, RequireAuth
from models.backend.service import (
    ANNOTATION_EVENTS,
    START_TRAINING,
    BackendService,
    ProjectConfigError,
    SetupRefusedError,
    TrainingQueueFullError,
    project_id_of,
)
from models.backend.tasks import TaskDataError

log = logging.getLogger(__name__)

WEBHOOK_ACTIONS = (*ANNOTATION_EVENTS, START_TRAINING)
#: Largest request body read (a /train call with thousands of annotated tasks fits).
MAX_BODY_BYTES = 64 * 1024 * 1024


def create_app(service: BackendService, *, credentials: Credentials) -> Starlette:
    """The ASGI app serving ``service`` (run it with uvicorn); every route but ``/health``
    requires ``credentials``."""

    async def body(request: Request) -> dict[str, Any]:
        size = 0
        chunks = []
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise BodyTooLarge(f"request body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB")
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"request body is not JSON: {exc}") from None
        except RecursionError:
            raise BadRequest("request body is JSON nested too deeply") from None
        if not isinstance(data, dict):
            raise BadRequest(f"request body must be a JSON object, got {type(data).__name__}")
        return data

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "UP", "model_class": type(service.model).__name__,
                             "model_version": service.model_version})

    async def setup(request: Request) -> JSONResponse:
        return JSONResponse(service.setup(await body(request)))

    async def predict(request: Request) -> JSONResponse:
        data = await body(request)
        tasks = data.get("tasks")
        if not isinstance(tasks, list):
            raise BadRequest("'tasks' must be a list of Label Studio tasks")
        results = await run_in_threadpool(service.predict, tasks, label_config=data.get("label_config"),
                                          project=data.get("project"))
        return JSONResponse({"results": results, "model_version": service.model_version})

    async def webhook(request: Request) -> JSONResponse:
        data = await body(request)
        action = data.pop("action", None)
        if action not in WEBHOOK_ACTIONS:
            return JSONResponse({"status": "Unknown event"}, status_code=200)
        result = service.webhook(action, data)
        return JSONResponse({"result": result, "status": "ok"}, status_code=201)

    async def train(request: Request) -> JSONResponse:
        data = await body(request)
        annotations = data.get("annotations")
        if not annotations:
            return JSONResponse("No annotations found.", status_code=400)
        if not isinstance(annotations, list):
            return JSONResponse({"error": f"'annotations' must be a list of annotated tasks, "
                                          f"not {type(annotations).__name__}"}, status_code=400)
        job = service.start_training(project_id_of(data.get("project")), reason="/train", tasks=annotations)
        return JSONResponse({"job": job.job_id}, status_code=201)

    async def versions(request: Request) -> JSONResponse:
        return JSONResponse({"versions": list(service.versions), "model_version": service.model_version})

    async def job_status(request: Request) -> JSONResponse:
        data = await body(request)
        job = service.jobs.get(str(data.get("job", "")))
        if job is None:
            return JSONResponse({"error": f"no job {data.get('job')!r}"}, status_code=404)
        return JSONResponse(job.to_dict())

    async def is_training(request: Request) -> JSONResponse:
        return JSONResponse({"is_training": service.is_training(), **service.status()})

    async def metrics(request: Request) -> JSONResponse:
        return JSONResponse({})

    async def validate(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    def error_response(status: int):
        async def respond(request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse({"error": redact(exc), "status": "error"}, status_code=status)
        return respond

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse({"error": redact(f"{type(exc).__name__}: {exc}"), "status": "error"}, status_code=500)

    routes = [
        Route("/", health, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        Route("/setup", setup, methods=["POST"]),
        Route("/predict", predict, methods=["POST"]),
        Route("/webhook", webhook, methods=["POST"]),
        Route("/train", train, methods=["POST"]),
        Route("/versions", versions, methods=["GET"]),
        Route("/job_status", job_status, methods=["POST"]),
        Route("/is_training", is_training, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/validate", validate, methods=["POST"]),
    ]
    bad_request = error_response(400)
    handlers = {BadRequest: bad_request, TaskDataError: bad_request, ProjectConfigError: bad_request,
                BodyTooLarge: error_response(413), SetupRefusedError: error_response(403),
                TrainingQueueFullError: error_response(429), Exception: server_error}
    return Starlette(routes=routes, exception_handlers=handlers,
                     middleware=[Middleware(RequireAuth, credentials=credentials)])


class BadRequest(ValueError):
    """The request is not what the protocol expects (answered with 400)."""


class BodyTooLarge(ValueError):
    """The request body is over :data:`MAX_BODY_BYTES` (answered with 413)."""
