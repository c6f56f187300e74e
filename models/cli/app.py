"""The one Typer app every command module registers on."""

import typer

app = typer.Typer(
    name="slant",
    help="Slant: bias and stance annotation for news, from articles to per-source slant reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
