"""Turn a ``LakehouseError`` into a one-line message on stderr and exit code 1."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import click
import typer
from rich.console import Console

from lakehouse.errors import ConfigError, LakehouseError

P = ParamSpec("P")
R = TypeVar("R")

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
logger = logging.getLogger(__name__)


def catch_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Run a command; on a LakehouseError print ``error: <message>`` and exit 1, with no traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            for problem in exc.problems:
                err_console.print(f"error: {problem}", markup=False)
            raise typer.Exit(1) from None
        except LakehouseError as exc:
            logger.debug("command failed", exc_info=True)
            err_console.print(f"error: {' '.join(str(exc).split())}", markup=False)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("interrupted", markup=False)
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, click.exceptions.ClickException):
            raise
        except Exception as exc:  # last resort: still one line, the traceback goes to the debug log
            logger.debug("unexpected error", exc_info=True)
            message = " ".join(str(exc).split()) or "no message"
            err_console.print(
                f"error: unexpected {type(exc).__name__}: {message} (--log-level DEBUG shows the traceback)",
                markup=False,
            )
            raise typer.Exit(1) from None

    return wrapper
