"""Model commands: ``slant train``, ``slant evaluate``, ``slant predict``, ``slant crossval``.

Thin wrappers over :mod:`models.train`, :mod:`models.evaluate`, :mod:`models.predict` and
:mod:`models.crossval`; torch and transformers are imported inside the command bodies.
"""

from __future__ import annotations

from pathlib import Path

import typer

from models.cli.app import app


def _fail(message: str, code: int = 2) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[red]error:[/red] {escape(message)}", markup=True)
    raise typer.Exit(code)


def _user_errors() -> tuple[type[BaseException], ...]:
    from annotate.labels import LabelConfigError
    from annotate.labelstudio.records import RecordFileError
    from models.base import ModelLoadError
    from models.data import DatasetLoadError
    from models.registry import UnknownModelError

    errors: list[type[BaseException]] = [ModelLoadError, DatasetLoadError, UnknownModelError, LabelConfigError,
                                         FileNotFoundError, FileExistsError, IsADirectoryError, RecordFileError]
    try:
        from annotate.newsmtsc import NewsMTSCError

        errors.append(NewsMTSCError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


#: Weight files that are pickles (loading one can run code); Slant loads safetensors only.
PICKLE_WEIGHTS = ("pytorch_model.bin", "tf_model.h5", "model.ckpt", "flax_model.msgpack")


def check_base_model(path: Path | None) -> None:
    """Refuse a ``--base-model`` folder that is missing or has no safetensors weights.

    A checkpoint with only pickle weights (``pytorch_model.bin``, ``*.pt``, ...) would be
    refused deep inside torch with a 70-line traceback; this names the folder and the fix.
    """
    if path is None:
        return
    if not path.is_dir():
        _fail(f"--base-model {path}: not a folder (a local Hugging Face checkpoint is a folder)")
    names = {p.name for p in path.iterdir()}
    if not (path / "config.json").is_file():
        _fail(f"--base-model {path}: no config.json; not a Hugging Face checkpoint folder")
    if not any(name.endswith(".safetensors") or name == "model.safetensors.index.json" for name in names):
        pickles = sorted(n for n in names if n in PICKLE_WEIGHTS or n.endswith((".bin", ".pt", ".pth", ".pkl")))
        found = f" it has {', '.join(pickles)}, which are pickles (loading them can run code)" if pickles else ""
        _fail(f"--base-model {path}: no .safetensors weights;{found or ' no weights at all'}. Slant loads "
              "safetensors only: convert the checkpoint where you trust it (save_pretrained(..., "
              "safe_serialization=True)) or use another one")


def _recipe(name: str | None):
    if name is None:
        return None
    from models.recipes import UnknownRecipeError, get_recipe

    try:
        return get_recipe(name)
    except UnknownRecipeError as exc:
        _fail(str(exc))


def _training_args(model: str = "transformer", *, recipe=None, **overrides):
    from dataclasses import replace

    from models.training_args import TrainingArguments

    given = sorted(k for k, v in overrides.items() if v is not None and k != "show_progress")
    if model == "baseline" and given:
        # The baseline is TF-IDF + logistic regression with balanced class weights; these
        # options fine-tune the transformer only.
        typer.secho(f"warning: the baseline ignores {', '.join('--' + k.replace('_', '-') for k in given)} "
                    "(transformer options)", fg=typer.colors.YELLOW, err=True)

    given_values = {key: value for key, value in overrides.items() if value is not None}
    try:  # the constructor validates the values
        if recipe is not None:
            return replace(recipe.args, **given_values)
        return TrainingArguments(**given_values)
    except ValueError as exc:
        _fail(str(exc))


def _write_json(path: Path, data: dict) -> None:
    from annotate.atomic import atomic_write_json

    atomic_write_json(path, data)


@app.command("train")
def train_command(
    dataset: Path = typer.Argument(..., help="A `slant dataset` folder (or NewsMTSC data) with train/validation/test."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory to save the trained model in."),
    model: str = typer.Option("transformer", "--model", "-m", help="transformer | baseline"),
    pretrain: Path | None = typer.Option(None, "--pretrain", help="Train on this dataset first (e.g. NewsMTSC)."),
    base_model: Path | None = typer.Option(None, "--base-model", help="Local HF checkpoint (default: packaged MiniLM)."),
    epochs: int | None = typer.Option(None, "--epochs"),
    learning_rate: float | None = typer.Option(None, "--lr"),
    batch_size: int | None = typer.Option(None, "--batch-size"),
    max_length: int | None = typer.Option(None, "--max-length"),
    patience: int | None = typer.Option(None, "--patience"),
    seed: int | None = typer.Option(None, "--seed"),
    threads: int | None = typer.Option(None, "--threads"),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Stop after N steps (smoke runs)."),
    class_weight: str | None = typer.Option(None, "--class-weight",
                                            help="none | balanced (weigh rare stances up; for small skewed data)."),
    pooling: str | None = typer.Option(None, "--pooling",
                                       help="cls | mean | mean+target: what the classification head reads."),
    layer_lr_decay: float | None = typer.Option(None, "--layer-lr-decay",
                                                help="Learning-rate factor per encoder layer below the top (1 = off)."),
    ema_decay: float | None = typer.Option(None, "--ema-decay",
                                           help="Select and save a moving average of the weights (0 = off)."),
    rdrop_alpha: float | None = typer.Option(None, "--rdrop-alpha",
                                             help="R-Drop: weight of the KL between two dropout passes (0 = off)."),
    recipe: str | None = typer.Option(None, "--recipe",
                                      help="Start from a named recipe (models/recipes.py: default, seeds-only, "
                                           "fine-tune-transfer); the options above override its values."),
    transfer: bool = typer.Option(False, "--transfer/--no-transfer",
                                  help="Also train on the shipped transfer data (NewsMTSC + topic stance; "
                                       "models/transfer_data) in the default mix (implied by a recipe that has one)."),
    in_domain_repeat: int | None = typer.Option(None, "--in-domain-repeat", min=1,
                                                help="With transfer: repeat the dataset's train split this many "
                                                     "times (default 3, or the recipe's)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Train a stance classifier, calibrate it on validation, score it on test, save it."""
    from models.train import train
    from models.transfer import TransferMix

    chosen = _recipe(recipe)
    mix = TransferMix() if transfer else (chosen.transfer if chosen else None)
    repeat = in_domain_repeat or (chosen.in_domain_repeat if chosen and chosen.transfer else 3)

    args = _training_args(model, recipe=chosen, epochs=epochs, learning_rate=learning_rate, batch_size=batch_size,
                          max_length=max_length,
                          patience=patience, seed=seed, threads=threads, max_steps=max_steps,
                          class_weight=class_weight, pooling=pooling, layer_lr_decay=layer_lr_decay,
                          ema_decay=ema_decay, rdrop_alpha=rdrop_alpha, show_progress=False if quiet else None)
    if model == "transformer":
        check_base_model(base_model)
    try:
        result = train(dataset, model=model, args=args, pretrain=pretrain, out=out,
                       base_model=str(base_model) if base_model else None,
                       transfer=mix, in_domain_repeat=repeat)
    except _user_errors() as exc:
        _fail(str(exc))
    except ValueError as exc:
        _fail(f"{dataset}: {exc}")
    line = f"saved {result.model.model_version} to {result.out} ({result.seconds:.0f} s)"
    if "test" in result.metrics:
        t = result.metrics["test"]
        line += f"; test macro-F1 {t['macro_f1']:.3f}, accuracy {t['accuracy']:.3f} (n={t['n']})"
    if "precision" in (result.metrics.get("relevance") or {}):
        r = result.metrics["relevance"]
        line += f"; engagement relevance precision {r['precision']:.3f}, recall {r['recall']:.3f} (n={r['n_test']})"
    typer.echo(line)


@app.command("evaluate")
def evaluate_command(
    dataset: Path = typer.Argument(..., help="A `slant dataset` folder (or NewsMTSC data)."),
    model: Path = typer.Option(..., "--model", "-m", help="Saved model directory."),
    split: str = typer.Option("test", "--split"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the full report as JSON here."),
    refit_temperature: bool = typer.Option(False, "--refit-temperature",
                                           help="Also fit a temperature on this dataset's validation split."),
    runtime: str | None = typer.Option(None, "--runtime", help="Transformer inference: fp32 (default) | int8 (faster; batch-dependent)."),
    save_error_profile: bool = typer.Option(
        False, "--save-error-profile",
        help="Save the model's errors on this split as its error_profile.json (reports correct for them)."),
) -> None:
    """Macro-F1, per-class P/R/F1, per-target F1, confusion matrix and calibration (ECE)."""
    from rich.console import Console
    from rich.table import Table

    from models.evaluate import evaluate

    try:
        report = evaluate(model, dataset, split=split, refit_temperature=refit_temperature, runtime=runtime,
                          save_error_profile=save_error_profile)
    except (*_user_errors(), ValueError) as exc:
        _fail(str(exc))
    console = Console()
    table = Table(title=f"{report['model_version']} on {dataset} [{split}] (n={report['n']})")
    for col in ("class", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="right" if col != "class" else "left")
    for label, v in report["per_class"].items():
        table.add_row(label, f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}", str(v["support"]))
    console.print(table)
    cal = report["calibration"]
    console.print(f"macro-F1 {report['macro_f1']:.3f}  accuracy {report['accuracy']:.3f}  "
                  f"ECE {cal['ece_before']:.3f} -> {cal['ece_after']:.3f} (T={cal['temperature']:.2f})")
    if "refit_temperature" in cal:
        console.print(f"refit on validation: T={cal['refit_temperature']:.2f}, ECE {cal['ece_refit']:.3f}, "
                      f"NLL {cal['nll_after']:.3f} -> {cal['nll_refit']:.3f}")
    elif "refit_skipped" in cal:
        console.print(f"no refit: {cal['refit_skipped']}")
    labels = report["confusion_matrix"]["labels"]
    console.print("confusion (rows true, columns predicted): " + ", ".join(labels))
    for label, row in zip(labels, report["confusion_matrix"]["matrix"]):
        console.print(f"  {label:>10} {row}")
    if "error_profile" in report:
        console.print(f"error profile ({report['n']} gold pairs of the {split} split) written to {report['error_profile']}")
    if out is not None:
        _write_json(out, report)
        console.print(f"wrote {out}")


@app.command("predict")
def predict_command(
    sentences: Path = typer.Argument(..., help="sentences.jsonl from `slant ingest`."),
    model: Path = typer.Option(..., "--model", "-m", help="Saved model directory."),
    out: Path = typer.Option(..., "--out", "-o", help="predictions.jsonl to write (atomically)."),
    runtime: str | None = typer.Option(None, "--runtime",
                                       help="Transformer inference: fp32 (default) | int8 (faster; batch-dependent)."),
    batch_size: int = typer.Option(1024, "--batch-size", min=1),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Stance of every sentence toward each actor it mentions and toward engagement."""
    from models.predict import predict

    if not sentences.is_file():
        _fail(f"{sentences}: no such file")
    try:
        summary = predict(sentences, model=model, out=out, runtime=runtime,
                          batch_size=batch_size, progress=not quiet)
    except (*_user_errors(), ValueError) as exc:
        _fail(str(exc))
    for message in summary.errors:
        typer.echo(f"warning: {message}", err=True)
    typer.echo(f"wrote {out}: {summary.pairs} predictions for {summary.sentences} sentences "
               f"({len(summary.errors)} input problem(s), lines skipped), model {summary.model_version}")


@app.command("crossval")
def crossval_command(
    dataset: Path = typer.Argument(..., help="A `slant dataset` folder; all splits are pooled."),
    model: str = typer.Option("baseline", "--model", "-m", help="baseline | transformer"),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write per-fold results as JSON here."),
    epochs: int | None = typer.Option(None, "--epochs"),
    base_model: Path | None = typer.Option(None, "--base-model"),
    threads: int | None = typer.Option(None, "--threads"),
    learning_rate: float | None = typer.Option(None, "--lr"),
    seed: int | None = typer.Option(None, "--seed"),
    class_weight: str | None = typer.Option(None, "--class-weight", help="none | balanced (as in `slant train`)."),
    pooling: str | None = typer.Option(None, "--pooling", help="cls | mean | mean+target (as in `slant train`)."),
    recipe: str | None = typer.Option(None, "--recipe", help="A named recipe, as in `slant train`."),
    transfer: bool = typer.Option(False, "--transfer/--no-transfer", help="Each fold also trains on the transfer data."),
    in_domain_repeat: int | None = typer.Option(None, "--in-domain-repeat", min=1, help="As in `slant train`."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    error_profile: Path | None = typer.Option(
        None, "--error-profile",
        help="Write the out-of-fold predictions as an error profile JSON (for `slant report --error-profile`)."),
) -> None:
    """Leave-one-article-out cross-validation: mean and per-fold macro-F1, article slant sign agreement."""
    from models.crossval import crossval
    from models.transfer import TransferMix

    chosen = _recipe(recipe)
    mix = TransferMix() if transfer else (chosen.transfer if chosen else None)
    repeat = in_domain_repeat or (chosen.in_domain_repeat if chosen and chosen.transfer else 3)

    for path, option in ((out, "--out"), (error_profile, "--error-profile")):
        if path is not None and path.is_dir():  # found out before the folds run, not after
            _fail(f"{path}: is a directory; {option} takes a JSON file path")
    args = _training_args(model, recipe=chosen, epochs=epochs, threads=threads, learning_rate=learning_rate, seed=seed,
                          class_weight=class_weight, pooling=pooling, show_progress=False if quiet else None)
    if model == "transformer":
        check_base_model(base_model)
    try:
        result = crossval(dataset, model=model, args=args, base_model=str(base_model) if base_model else None,
                          transfer=mix, in_domain_repeat=repeat)
    except _user_errors() as exc:
        _fail(str(exc))
    except ValueError as exc:
        _fail(f"{dataset}: {exc}")
    for fold in result.folds:
        typer.echo(f"{fold.article_id:<28} n={fold.n_test:<4} macro-F1 {fold.macro_f1:.3f}  accuracy {fold.accuracy:.3f}")
    typer.echo(f"{model}: mean macro-F1 {result.mean_macro_f1:.3f} ± {result.std_macro_f1:.3f} over {len(result.folds)} "
               f"articles; pooled macro-F1 {result.pooled_macro_f1:.3f}, accuracy {result.pooled_accuracy:.3f} "
               f"(training-majority baseline {result.majority_pooled_macro_f1:.3f})")
    signs = (result.sign_agreement or {}).get("overall") or {}
    if signs.get("cells"):
        typer.echo(f"article slant sign agreement: {signs['right']}/{signs['cells']} article x dimension cells "
                   f"({signs['agreement']:.3f})")
    if out is not None:
        _write_json(out, result.to_dict())
    if error_profile is not None:
        _write_json(error_profile, result.error_profile.to_dict())
        typer.echo(f"error profile (cross-validated, {len(result.folds)} folds) written to {error_profile}")


@app.command("average")
def average_command(
    models: list[Path] = typer.Argument(..., help="Saved transformer directories (same base, pooling and labels)."),
    out: Path = typer.Option(..., "--out", "-o", help="Directory to save the averaged model in."),
    calibrate_on: Path | None = typer.Option(None, "--calibrate-on",
                                             help="A dataset folder: fit the temperature on its validation split."),
) -> None:
    """Average the weights of several fine-tunes into one model (a "model soup")."""
    from models.weight_averaging import average_models

    try:
        model = average_models(models)
        if calibrate_on is not None:
            from models.calibration import calibrate
            from models.data import split_by_name
            from models.inputs import from_dataset

            X_val, y_val = from_dataset(split_by_name(calibrate_on, "validation"))
            model.metadata_["calibration"] = calibrate(model, X_val, y_val)
    except _user_errors() as exc:
        _fail(str(exc))
    model.save(out)
    typer.echo(f"saved {model.model_version} (average of {len(models)} models) to {out}")
