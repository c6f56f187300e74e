"""The model behind the ML backend: predictions, and retraining in a background thread.

:class:`BackendService` holds the model in use. Predictions read the current model
reference once per request, so a retraining that finishes mid-request never mixes two
models in one answer. Retraining fetches the project's annotated tasks from Label Studio
(through ``label-studio-sdk``), fits a fresh model of the same kind on a thread, saves it,
and then swaps the reference under a lock: predictions never wait for training, and the
``model_version`` on every prediction names the model that made it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from annotate.redaction import redact
from models.backend.tasks import predict_tasks, training_pairs_from_tasks

log = logging.getLogger(__name__)

#: Webhook actions that count as "new labels"; START_TRAINING always trains.
ANNOTATION_EVENTS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATION_DELETED")
START_TRAINING = "START_TRAINING"


class TrainingDataError(RuntimeError):
    """Too few usable labels (or only one class) to train on."""


class ProjectConfigError(ValueError):
    """A project's label config lacks Slant's controls or has other stance labels than the model."""


class SetupRefusedError(ValueError):
    """``/setup`` named a Label Studio host this backend is not allowed to use."""


class TrainingQueueFullError(RuntimeError):
    """As many training jobs wait as the settings allow."""


#: Finished jobs kept for ``/job_status`` (the table would otherwise grow forever).
KEPT_FINISHED_JOBS = 100


def origin_of(url: str) -> str:
    """``scheme://host:port/path`` in one spelling (lower case, default port explicit, no
    trailing slash, loopback names as 127.0.0.1), for comparing Label Studio URLs; ``""`` for
    what is not an http(s) URL."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(str(url).strip())
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        return ""
    host = parts.hostname.lower()
    if host in ("localhost", "::1") or host.startswith("127."):
        host = "127.0.0.1"  # one machine: Label Studio names itself localhost, `labelstudio start` 127.0.0.1
    return f"{parts.scheme.lower()}://{host}:{port}{parts.path.rstrip('/')}"


def check_project_config(schema: Any, classes: Sequence[str], *, project: str) -> None:
    """Refuse a project whose label config (``schema`` XML, as Label Studio sends it to
    ``/setup`` and ``/predict``) the model's predictions cannot fill: the config must
    have Slant's controls, and its stance choices must be the model's ``classes``, in
    order. A missing or empty ``schema`` is not checked (older servers do not send it), nor
    is a config without any control (a new project's ``<View></View>``).

    Raises:
        ProjectConfigError: naming the project and what differs.
    """
    if not schema:
        return
    where = f"project {project or '?'} label config"
    if not isinstance(schema, str):
        raise ProjectConfigError(f"{where}: expected the config XML as a string, got {type(schema).__name__}")
    stance = _stance_choices(schema, where)
    if stance is not None and stance != tuple(classes):
        raise ProjectConfigError(f"{where}: stance choices {list(stance)} differ from the model's "
                                 f"labels {list(classes)}")


@lru_cache(maxsize=32)
def _stance_choices(schema: str, where: str) -> tuple[str, ...] | None:
    """The config's stance choices, or ``None`` for a config without any control (every
    control names its ``toName``). Cached: ``/predict`` sends the same config with every
    request, and it is parsed once."""
    import xml.etree.ElementTree as ET

    from annotate.labels import LabelConfigError, parse_label_config

    try:
        if not any("toName" in element.attrib for element in ET.fromstring(schema).iter()):
            return None  # a new project's blank config: labels may come later
    except ET.ParseError:
        pass  # parse_label_config's error names the problem
    try:
        return tuple(parse_label_config(schema, origin=where).stance)
    except LabelConfigError as exc:
        raise ProjectConfigError(f"{exc}; this backend predicts Slant's label config (label_config.xml)") from None


@dataclass
class RetrainSettings:
    """When and how the backend retrains.

    Attributes:
        retrain_every: start a retraining after this many annotation webhooks
            (ANNOTATION_CREATED/UPDATED/DELETED) since the last one; 0 = only on START_TRAINING.
        min_pairs: fewest labeled (sentence, target) pairs to train on.
        save_dir: where retrained models are saved, one subdirectory per model_version
            (``None`` keeps them in memory only).
        base_inputs / base_labels: extra training pairs always included (e.g. the model's
            original training set), so a few project labels refine rather than replace it.
        max_queued_jobs: training jobs that may wait behind the running one; a request
            beyond that is refused (HTTP 429) instead of queueing without limit.
        keep_models: retrained model folders kept under ``save_dir`` (the newest ones, and
            always the one being served); older ones are deleted. 0 keeps them all.
        allowed_hosts: Label Studio URLs a ``/setup`` call may point the backend at, besides
            the connection it was started with; the ``hostname`` and ``access_token`` of a
            ``/setup`` naming any other host are ignored (with a warning), so a caller cannot
            make the backend send requests, or a token, elsewhere.
    """

    retrain_every: int = 10
    min_pairs: int = 10
    save_dir: Path | None = None
    base_inputs: Sequence[Any] = ()
    base_labels: Sequence[str] = ()
    max_queued_jobs: int = 2
    keep_models: int = 3
    allowed_hosts: Sequence[str] = ()


@dataclass
class TrainingJob:
    """One retraining run; ``status`` is queued | running | done | failed | skipped."""

    job_id: str
    project: str
    reason: str
    status: str = "queued"
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    model_version: str | None = None
    n_pairs: int = 0
    message: str = ""
    fetches: bool = True  # False: trains on the tasks it was given (a /train payload), fetches nothing

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Connection:
    """Where to fetch a project's tasks: a Label Studio URL and an API token (never logged)."""

    url: str
    api_key: str = field(repr=False)


def fresh_estimator(model: Any, model_dir: str | Path | None) -> Any:
    """An unfitted model of the same kind and settings as ``model``.

    The transformer continues from the checkpoint in use (its saved directory), so a few
    hundred project labels adapt it instead of starting from the base model; sklearn-like
    models are rebuilt with the constructor arguments they store (``get_params()`` if they
    have it).
    """
    kind = getattr(model, "kind", "")
    if kind == "transformer":
        from models.training_args import TrainingArguments
        from models.transformer import TransformerStanceClassifier

        # The served model's own arguments, as `load()` read them (it keeps an old model's cls
        # head); a model fitted here without arguments used the defaults with its own head.
        base = model.args if model.args is not None else TrainingArguments(pooling=model.pooling_)
        args = dataclasses.replace(base, show_progress=False)
        return TransformerStanceClassifier(base_model=model_dir or model.metadata_.get("base_model"), args=args,
                                           runtime=getattr(model, "runtime", "fp32"))
    if hasattr(model, "get_params"):
        return type(model)(**model.get_params())
    # sklearn's convention without sklearn's base class: constructor arguments are stored
    # under their own names, so read them back from the fitted model.
    import inspect

    params = {name: getattr(model, name) for name, p in inspect.signature(type(model)).parameters.items()
              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and hasattr(model, name)}
    return type(model)(**params)


def fetch_project_tasks(connection: Connection, project_id: int) -> list[dict[str, Any]]:
    """Every task of a Label Studio project with its annotations (SDK ``tasks.list(fields="all")``)."""
    from label_studio_sdk import LabelStudio

    client = LabelStudio(base_url=connection.url, api_key=connection.api_key)
    tasks = []
    for task in client.tasks.list(project=project_id, fields="all"):
        data = task.model_dump() if hasattr(task, "model_dump") else dict(task)
        tasks.append(data)
    return tasks


class BackendService:
    """The model in use, its predictions and its retraining.

    Args:
        model: a fitted :class:`models.base.StanceClassifier`.
        model_dir: the directory it was loaded from (the transformer continues from it).
        settings: :class:`RetrainSettings`.
        connection: Label Studio URL and token for fetching annotations; when ``None``, the
            ``hostname`` and ``access_token`` Label Studio sends to ``/setup`` are used.
        fetch_tasks: ``(connection, project_id) -> tasks``; defaults to :func:`fetch_project_tasks`.
        make_estimator: ``(model, model_dir) -> unfitted model``; defaults to :func:`fresh_estimator`.
    """

    def __init__(self, model: Any, *, model_dir: str | Path | None = None, settings: RetrainSettings | None = None,
                 connection: Connection | None = None,
                 fetch_tasks: Callable[[Connection, int], list[dict[str, Any]]] = fetch_project_tasks,
                 make_estimator: Callable[[Any, str | Path | None], Any] = fresh_estimator) -> None:
        self._model = model
        self._model_dir = Path(model_dir) if model_dir else None
        self.settings = settings or RetrainSettings()
        self._connection = connection
        self._setup_connections: dict[str, Connection] = {}
        self._refused_setup_hosts: dict[str, str] = {}  # project -> host /setup named but may not be used
        self._fetch_tasks = fetch_tasks
        self._make_estimator = make_estimator
        self._lock = threading.Lock()  # guards the model swap, the job table and counters
        # One worker thread runs the jobs one at a time, in the order they were started: a
        # plain lock would let a later /train payload finish first and an older one win.
        self._job_queue: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None
        self._events_since_training: dict[str, int] = {}
        self.jobs: dict[str, TrainingJob] = {}
        self.versions: list[str] = [model.model_version]

    # -- the model in use -----------------------------------------------------------------
    @property
    def model(self) -> Any:
        return self._model

    @property
    def model_version(self) -> str:
        return self._model.model_version

    def predict(self, tasks: Sequence[Mapping[str, Any]], *, label_config: Any = None,
                project: Any = None) -> list[dict[str, Any]]:
        """One Label Studio prediction per task (see :func:`models.backend.tasks.predict_tasks`).

        Raises :class:`ProjectConfigError` when ``label_config`` (the project's, if sent)
        is not one these predictions fit.
        """
        model = self._model  # one model for the whole request, even if a swap happens meanwhile
        check_project_config(label_config, model.classes_, project=project_id_of(project))
        return predict_tasks(model, tasks)

    # -- Label Studio calls ---------------------------------------------------------------
    def setup(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``/setup``: check the project's label config (``schema``) against the model,
        remember how to reach this project's server, and answer the model version.

        Raises :class:`ProjectConfigError` for a config the model's predictions cannot fill
        (Label Studio then shows the error instead of connecting the backend).
        """
        project = project_id_of(payload.get("project"))
        check_project_config(payload.get("schema"), self._model.classes_, project=project)
        hostname, token = payload.get("hostname"), payload.get("access_token")
        if project and hostname and token:
            origin = origin_of(hostname) if isinstance(hostname, str) else ""
            if not origin or origin not in self.allowed_origins():
                # Answered as usual (Label Studio connects), but the backend will not fetch
                # from there: a /setup call may not send the backend, or a token, elsewhere.
                from annotate.redaction import url_without_credentials

                shown = url_without_credentials(hostname) if isinstance(hostname, str) else type(hostname).__name__
                allowed = ", ".join(sorted(self.allowed_origins())) or "none"
                self._refused_setup_hosts[project] = shown
                log.warning("project %s: /setup names Label Studio at %r, which this backend may not fetch from "
                            "(allowed: %s); ignored. Start `slant serve` with --allow-label-studio URL to allow it",
                            project, shown, allowed)
                return {"model_version": self.model_version}
            from annotate.redaction import SecretFormatError, clean_secret

            try:
                token = clean_secret(token if isinstance(token, str) else "", origin=f"/setup of project {project}",
                                     what="access_token")
            except SecretFormatError as exc:
                raise SetupRefusedError(str(exc)) from None
            self._setup_connections[project] = Connection(str(hostname).rstrip("/"), token)
        return {"model_version": self.model_version}

    def allowed_origins(self) -> set[str]:
        """Label Studio origins ``/setup`` may name: the configured connection's and the allowed hosts."""
        urls = [*self.settings.allowed_hosts, *([self._connection.url] if self._connection else [])]
        return {origin for origin in map(origin_of, urls) if origin}

    def webhook(self, action: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``/webhook``: count annotation events, start retraining when due or asked."""
        project = project_id_of(payload.get("project"))
        if action == START_TRAINING:
            job = self.start_training(project, reason=action)
            return {"job": job.job_id, "status": job.status}
        if action in ANNOTATION_EVENTS:
            with self._lock:
                count = self._events_since_training.get(project, 0) + 1
                self._events_since_training[project] = count
            every = self.settings.retrain_every
            if every > 0 and count >= every:
                try:
                    job = self.start_training(project, reason=f"{count} annotation events")
                except TrainingQueueFullError as exc:  # counted; a later event tries again
                    return {"status": "recorded", "events_since_training": count, "training": str(exc)}
                return {"job": job.job_id, "status": job.status}
            return {"status": "recorded", "events_since_training": count}
        return {"status": "ignored"}

    # -- training -------------------------------------------------------------------------
    def start_training(self, project: str, *, reason: str, tasks: Iterable[Mapping[str, Any]] | None = None) -> TrainingJob:
        """Start a retraining on a background thread and return its job at once.

        ``tasks`` (annotated tasks, as Label Studio's ``/train`` call sends them) skips the
        fetch. Jobs run one at a time in the order they were started; a fetching job that is
        still queued absorbs later fetching requests for its project (it fetches the
        annotations as they are when it starts).
        """
        # Materialise the payload first: a payload that is not a list must fail this call,
        # not leave a job "queued" that no thread will ever run.
        task_list = list(tasks) if tasks is not None else None
        with self._lock:
            if tasks is None:
                for queued in self.jobs.values():
                    if queued.project == project and queued.status == "queued" and queued.fetches:
                        return queued  # it will fetch the newest annotations when it starts
            waiting = sum(job.status == "queued" for job in self.jobs.values())
            if waiting >= self.settings.max_queued_jobs:
                raise TrainingQueueFullError(f"{waiting} training job(s) already wait (the most allowed); "
                                             "try again when /is_training says the queue has room")
            self._forget_old_jobs()
            job = TrainingJob(job_id=uuid.uuid4().hex[:12], project=project, reason=reason, fetches=tasks is None)
            self.jobs[job.job_id] = job
            self._events_since_training[project] = 0
            self._job_queue.put((job, task_list))
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="slant-retrain", daemon=True)
                self._worker.start()
        return job

    def _forget_old_jobs(self) -> None:
        finished = [job_id for job_id, job in self.jobs.items() if job.status not in ("queued", "running")]
        for job_id in finished[:max(0, len(finished) - KEPT_FINISHED_JOBS + 1)]:
            del self.jobs[job_id]

    def _work(self) -> None:
        while True:  # a daemon thread: it ends with the process
            job, tasks = self._job_queue.get()
            self._run_job(job, tasks)

    def is_training(self) -> bool:
        return any(job.status in ("queued", "running") for job in list(self.jobs.values()))

    def wait_idle(self, timeout: float = 120.0) -> bool:
        """Block until no training is queued or running (tests, shutdown); ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        while self.is_training():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _connection_for(self, project: str) -> Connection:
        connection = self._connection or self._setup_connections.get(project)
        if connection is None:
            refused = self._refused_setup_hosts.get(project)
            hint = (f"; /setup named {refused!r}, which is not allowed (--allow-label-studio {refused})" if refused
                    else ", or let Label Studio call /setup")
            raise RuntimeError(
                f"project {project}: no Label Studio connection to fetch annotations; set LABEL_STUDIO_URL and "
                f"LABEL_STUDIO_API_KEY (or start the local server) before `slant serve`{hint}"
            )
        return connection

    def _run_job(self, job: TrainingJob, tasks: list[dict[str, Any]] | None) -> None:
        job.status = "running"
        job.started_at = time.time()
        try:
            if tasks is None:
                if not job.project:
                    raise RuntimeError("no project id in the request: cannot fetch its annotations")
                tasks = self._fetch_tasks(self._connection_for(job.project), int(job.project))
            new_model, n_pairs = self.train_on_tasks(tasks)
            job.n_pairs = n_pairs
            self._install(new_model)
            job.model_version = new_model.model_version
            job.status = "done"
            job.message = f"trained on {n_pairs} pairs; now serving {job.model_version}"
            log.info("job %s: %s", job.job_id, job.message)
        except TrainingDataError as exc:
            job.status, job.message = "skipped", redact(exc)
            log.info("job %s skipped: %s", job.job_id, job.message)
        except Exception as exc:  # a failed retraining must not take the server down
            # /job_status and /is_training show this text: an HTTP error can quote a header.
            job.status, job.message = "failed", redact(f"{type(exc).__name__}: {exc}")
            log.error("job %s failed: %s", job.job_id, job.message)
            log.debug("job %s failed", job.job_id, exc_info=True)
        finally:
            job.finished_at = time.time()

    def train_on_tasks(self, tasks: Iterable[Mapping[str, Any]]) -> tuple[Any, int]:
        """Fit a fresh model on the annotated tasks (plus the base pairs); does not install it."""
        inputs, labels, counts = training_pairs_from_tasks(tasks)
        # The minimum is of the project's own labels: base data alone is no reason to retrain.
        if len(inputs) < self.settings.min_pairs:
            raise TrainingDataError(f"{len(inputs)} labeled pairs in the project ({counts}); "
                                    f"need at least {self.settings.min_pairs}")
        inputs = list(self.settings.base_inputs) + inputs
        labels = list(self.settings.base_labels) + labels
        if len(set(labels)) < 2:
            raise TrainingDataError(f"all {len(labels)} labeled pairs have the same label {labels[0]!r}; need two classes")
        estimator = self._make_estimator(self._model, self._model_dir)
        t0 = time.perf_counter()
        fitted = estimator.fit(inputs, labels)
        log.info("retrained %s on %d pairs in %.1fs (%s)", type(fitted).__name__, len(inputs), time.perf_counter() - t0, counts)
        return fitted, len(inputs)

    def _install(self, new_model: Any) -> None:
        directory = self._save(new_model)
        with self._lock:
            self._model = new_model
            if directory is not None:
                self._model_dir = directory
            if new_model.model_version not in self.versions:
                self.versions.append(new_model.model_version)
        if directory is not None:
            for removed in prune_saved_models(directory.parent, keep=self.settings.keep_models, in_use=directory):
                log.info("deleted the retrained model %s (keeping the newest %d)", removed, self.settings.keep_models)

    def _save(self, model: Any) -> Path | None:
        if self.settings.save_dir is None:
            return None
        root = Path(self.settings.save_dir)
        root.mkdir(parents=True, exist_ok=True)
        final = root / safe_dir_name(model.model_version)
        if final.exists():
            return final  # same weights already saved
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".saving-"))
        try:
            model.save(tmp)
            os.replace(tmp, final)  # a directory appears whole or not at all
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def status(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "versions": list(self.versions),
            "training": self.is_training(),
            "jobs": [job.to_dict() for job in list(self.jobs.values())[-20:]],
        }


def prune_saved_models(root: Path, *, keep: int, in_use: Path | None = None) -> list[Path]:
    """Delete all but the ``keep`` newest model folders under ``root``; returns those deleted.

    Only folders holding a saved Slant model (``slant_model.json``) count and are deleted;
    ``in_use`` is never deleted. ``keep`` 0 keeps everything. Newest by the model file's
    modification time.
    """
    from models.base import META_FILE

    if keep <= 0 or not root.is_dir():
        return []
    saved = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
             and (p / META_FILE).is_file()]
    saved.sort(key=lambda p: (p / META_FILE).stat().st_mtime, reverse=True)
    doomed = [p for p in saved[keep:] if in_use is None or p.resolve() != Path(in_use).resolve()]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return doomed


def project_id_of(value: Any) -> str:
    """Project id from what Label Studio sends: ``"3.1712345678"`` (id.created_at), ``{"id": 3}`` or ``3``."""
    if isinstance(value, Mapping):
        value = value.get("id")
    if value is None:
        return ""
    return str(value).split(".", 1)[0]


def safe_dir_name(version: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in version)
