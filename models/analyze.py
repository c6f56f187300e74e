"""``slant analyze``: your own articles in, a slant report out, no Label Studio.

ingest -> predict with the default model -> report. The default model is the one the main job
trains (``models.recipes`` "default" on the seeds' gold labels, which ship in the repository);
the first call builds it (about two minutes on 2 cores) and keeps it under
``$SLANT_HOME/models/default-<key>``, the key a digest of the recipe, the gold labels and the
transfer data, so a changed recipe or gold builds a new one and nothing stale is reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: The built-in corpus and its gold labels (the default model's in-domain data).
SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@dataclass
class AnalyzeResult:
    """What :func:`analyze` wrote and found."""

    out: Path
    report_html: Path
    model: Path
    model_version: str
    articles: int
    sentences: int
    pairs: int
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))


def default_model_key(*, recipe: str = "default", seeds: Path = SEEDS) -> str:
    """12 hex digits naming the default model by what it is trained from."""
    from models.recipes import get_recipe
    from models.transfer import TRANSFER_DIR

    chosen = get_recipe(recipe)
    digest = hashlib.sha256(repr((chosen.args.to_dict(), chosen.transfer, chosen.in_domain_repeat)).encode())
    for path in [seeds / "gold" / "export.json", *sorted(TRANSFER_DIR.glob("*.jsonl"))]:
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]


def default_model(*, recipe: str = "default", seeds: Path = SEEDS, home: Path | None = None,
                  say: Callable[[str], None] = log.info) -> Path:
    """The folder of the default model, built first if this machine has none for this key."""
    from annotate.labelstudio.server import slant_home

    home = Path(home) if home is not None else slant_home()
    folder = home / "models" / f"{recipe}-{default_model_key(recipe=recipe, seeds=seeds)}"
    if (folder / "slant_model.json").is_file():
        return folder
    say(f"building the default model ({recipe} recipe, once per machine) into {folder} ...")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{folder.name}.tmp-") as tmp:
        build_model_from_gold(seeds, Path(tmp), recipe=recipe)
        try:
            os.replace(Path(tmp) / "model", folder)  # atomic: a killed build leaves no half model
        except OSError:
            if not (folder / "slant_model.json").is_file():  # not another process winning the race
                raise
    return folder


def build_model_from_gold(seeds: Path, work: Path, *, recipe: str = "default") -> Path:
    """Ingest ``seeds``, read its gold export, build the dataset and train ``recipe`` into ``work/model``."""
    from annotate.adjudication import adjudicate
    from annotate.corpus import ingest_paths, load_manifest
    from annotate.dataset import build_dataset, relevance_rows, save_dataset
    from annotate.labelstudio.pull import pull_from_file
    from models.recipes import get_recipe
    from models.train import train

    chosen = get_recipe(recipe)
    ingested = ingest_paths([seeds])
    records = pull_from_file(seeds / "gold" / "export.json").records
    adjudicated = adjudicate(records)
    manifest = seeds / "manifest.toml"
    meta = load_manifest(manifest) if manifest.is_file() else None
    dataset = build_dataset(adjudicated, sentences=ingested.records, manifest=meta)
    by_id = {r.sentence_id: r for r in ingested.records}
    data = save_dataset(dataset, work / "data", provenance={"annotations": [str(seeds / "gold" / "export.json")]},
                        relevance=relevance_rows(adjudicated, dataset=dataset, sentences=by_id))
    train(data, model="transformer", args=chosen.args, transfer=chosen.transfer,
          in_domain_repeat=chosen.in_domain_repeat, out=work / "model")
    return work / "model"


def analyze(paths: Iterable[str | Path] | str | Path, *, out: str | Path, model: str | Path | None = None,
            manifest: str | Path | None = None, say: Callable[[str], None] = log.info) -> AnalyzeResult:
    """Ingest ``paths`` (files or folders of articles), predict every (sentence, target) with
    ``model`` (default: :func:`default_model`) and write the report to ``out``.

    ``out`` receives ``sentences.jsonl``, ``predictions.jsonl`` and ``report/``. Without
    ``manifest``, a single folder's own ``manifest.toml``/``.csv`` is used, as ``slant ingest`` does. Articles that
    cannot be read are listed in ``errors``; the others are analysed.
    """
    from annotate.corpus import ingest_paths, load_manifest, write_jsonl
    from annotate.corpus.manifest import find_manifest
    from annotate.report import make_report
    from models.predict import predict

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is not a folder; choose another --out")
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    meta = load_manifest(manifest) if manifest is not None else None
    ingested = ingest_paths(paths, manifest=meta, progress=True)  # without one, it reads each folder's own
    if manifest is None:  # the report needs that manifest too (titles, sources, dates)
        found = [m for m in (find_manifest(Path(p)) for p in paths if Path(p).is_dir()) if m is not None]
        manifest = found[0] if len(found) == 1 else None
    errors = [str(e) for e in ingested.errors]
    if not ingested.records:
        raise ValueError(f"{', '.join(map(str, paths))}: no article could be read" + (f": {errors[0]}" if errors else ""))
    model_dir = Path(model) if model is not None else default_model(say=say)
    out.mkdir(parents=True, exist_ok=True)
    sentences = out / "sentences.jsonl"
    write_jsonl(sentences, ingested.records)
    summary = predict(sentences, model=model_dir, out=out / "predictions.jsonl", progress=True)
    profile = model_dir / "error_profile.json"  # the model's measured errors: the report corrects for them
    report = make_report(sentences=sentences, predictions=out / "predictions.jsonl", manifest=manifest,
                         out_dir=out / "report", error_profile=profile if profile.is_file() else None)
    return AnalyzeResult(out=out, report_html=report.paths.html, model=model_dir, model_version=summary.model_version,
                         articles=len(ingested.articles), sentences=len(ingested.records), pairs=summary.pairs,
                         errors=errors + summary.errors)


__all__ = ["AnalyzeResult", "analyze", "build_model_from_gold", "default_model", "default_model_key"]
