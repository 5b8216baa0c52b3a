"""Commands imported when they run: the root group of ``lakehouse`` loads a command's module only
when the command line names it (or the help lists it).

Every command module imports what its command needs (dbt for ``build``, the ORM for ``runs``...);
loading them all at start-up cost about a second before ``lakehouse query`` could run its SQL. This
is click's lazily loaded subcommands, with typer building each command from its function (or
sub-app) when it is first asked for. ``tests/cli/test_startup_imports.py`` checks what start-up and
``lakehouse query`` import.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:  # typer's own copy of click (the click package is another, slower import)
    from typer._click import Command, Context


@dataclass(frozen=True)
class LazyCommand:
    """A command of the root group, found by name in its module when it is first needed.

    Attributes:
        name: the command's name on the command line.
        module: the module that defines it, e.g. ``lakehouse.cli.query_cmd``.
        attr: the command's function in that module, or (``group``) its ``typer.Typer`` sub-app.
        group: whether ``attr`` is a sub-app (``lakehouse db upgrade``) rather than one command.
        context_attr: the module's attribute that holds the click context settings of a single
            command (``DBT_CONTEXT``: extra arguments allowed), if it has any.
    """

    name: str
    module: str
    attr: str
    group: bool = False
    context_attr: str | None = None

    def load(self) -> Command:
        """Import the module and build the click command as ``app.command``/``app.add_typer`` would."""
        module = importlib.import_module(self.module)
        target = getattr(module, self.attr)
        command: Command
        if self.group:
            command = typer.main.get_group(target)
        else:
            holder = typer.Typer(add_completion=False)
            settings: dict[str, Any] | None = (
                getattr(module, self.context_attr) if self.context_attr else None
            )
            holder.command(self.name, context_settings=settings)(target)
            command = typer.main.get_command(holder)
        command.name = self.name
        _reflow_help(command)
        return command


#: A paragraph with a line that starts like this keeps its line breaks (examples, lists).
KEEP_LINE_STARTS = ("`", "-", "*", " ", "\b")


def reflow(text: str) -> str:
    """``text`` (a command's docstring) with the lines of each paragraph joined, so the terminal
    wraps them at its width (rich prints a docstring's line breaks as they are, which cut sentences
    in two on a narrow terminal). A paragraph with a line that starts an example or a list item keeps
    its lines; what follows a form feed (typer's cut) is left alone."""
    shown, cut, rest = inspect.cleandoc(text).partition("\f")
    paragraphs = []
    for paragraph in shown.split("\n\n"):
        lines = paragraph.split("\n")
        if paragraph.startswith("\b") or any(line.startswith(KEEP_LINE_STARTS) for line in lines[1:]):
            paragraphs.append(paragraph)
        else:
            paragraphs.append(" ".join(line.strip() for line in lines))
    return "\n\n".join(paragraphs) + cut + rest


def _reflow_help(command: Command) -> None:
    if command.help:
        command.help = reflow(command.help)
    for sub in getattr(command, "commands", {}).values():
        _reflow_help(sub)


class LazyGroup(TyperGroup):
    """A typer group whose :attr:`lazy_commands` (set by a subclass) are loaded on first use."""

    lazy_commands: ClassVar[Mapping[str, LazyCommand]] = {}

    def list_commands(self, ctx: Context) -> list[str]:
        eager = super().list_commands(ctx)
        return [*eager, *(name for name in self.lazy_commands if name not in eager)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            self.commands[cmd_name] = self.lazy_commands[cmd_name].load()
        return super().get_command(ctx, cmd_name)
