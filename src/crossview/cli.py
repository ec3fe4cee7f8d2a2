"""The ``crossview`` command: one entry point, a subcommand per pipeline step.

Exit codes: 0 done, 1 failed, 2 bad input (a user's data or arguments). A user's mistake never
prints a traceback; set ``CROSSVIEW_DEBUG=1`` to see one anyway.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from crossview import __version__
from crossview.errors import BadInputError, CrossviewError, MissingExtraError

app = typer.Typer(
    name="crossview",
    help="Cross-view spatial reasoning for multimodal LLMs: scenes, questions, evaluation, models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"crossview {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Cross-view spatial reasoning for multimodal LLMs."""


@app.command()
def validate(
    paths: Annotated[
        list[Path],
        typer.Argument(help="Scene stores or scene folders to check.", show_default=False),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a machine-readable JSON report on stdout.")
    ] = False,
) -> None:
    """Check scene stores and report every problem with its file, record and field.

    Exits 0 when everything is valid and 2 when any problem is found.
    """
    from crossview.scene.validate import validate_paths

    report = validate_paths(paths)
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=1))
    else:
        for p in report.problems:
            typer.echo(str(p))
        typer.echo(report.summary())
    raise typer.Exit(0 if report.valid else 2)


def _register_commands() -> None:
    """Commands defined beside their step; their modules import only light dependencies."""
    from crossview.engine.audit_commands import audit_cmd
    from crossview.engine.commands import generate_cmd
    from crossview.engine.export_commands import export_cmd
    from crossview.eval import commands as eval_commands
    from crossview.model.commands import train_cmd
    from crossview.quickstart import quickstart_cmd
    from crossview.sources.adapters.commands import import_cmd
    from crossview.sources.sim import commands as sim_commands

    app.command("quickstart")(quickstart_cmd)
    app.command("sim")(sim_commands.sim)
    app.command("show")(sim_commands.show)
    app.command("import")(import_cmd)
    app.command("generate")(generate_cmd)
    app.command("audit")(audit_cmd)
    app.command("export")(export_cmd)
    app.command("eval")(eval_commands.eval_cmd)
    app.command("report")(eval_commands.report_cmd)
    app.command("compare")(eval_commands.compare_cmd)
    app.command("benchmarks")(eval_commands.benchmarks_cmd)
    app.command("suite")(eval_commands.suite_cmd)
    app.command("train")(train_cmd)


_register_commands()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code; CrossviewError becomes a message, not a traceback."""
    try:
        code = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("[red]aborted[/red]")
        return 130
    except BadInputError as exc:
        _report(exc)
        return 2
    except MissingExtraError as exc:
        _report(exc)
        return 1
    except CrossviewError as exc:
        _report(exc)
        return 1
    except Exception as exc:  # click's usage errors
        from click.exceptions import ClickException

        if isinstance(exc, ClickException):
            exc.show()
            return exc.exit_code
        raise
    return code if isinstance(code, int) else 0


def _report(exc: Exception) -> None:
    if os.environ.get("CROSSVIEW_DEBUG"):
        raise exc
    err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
