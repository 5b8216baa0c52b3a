"""``--help`` reads as prose at any terminal width: a docstring's lines are joined into paragraphs
that the terminal wraps (rich printed them as they were, cutting sentences in two at 80 columns),
while examples and lists keep their lines."""

from __future__ import annotations

from collections.abc import Iterator

import typer
from typer.testing import CliRunner

from lakehouse.cli.lazy import KEEP_LINE_STARTS, reflow
from lakehouse.cli.main import app

runner = CliRunner()


def test_reflow_joins_a_paragraphs_lines_and_keeps_examples_and_the_cut() -> None:
    text = """First line.

    A paragraph that goes on
    over two lines.

    Examples: `one`;
    `two`.
    \f
    Args:
        x: hidden from --help.
    """
    assert reflow(text) == (
        "First line.\n\nA paragraph that goes on over two lines.\n\nExamples: `one`;\n`two`.\n"
        "\f\nArgs:\n    x: hidden from --help."
    )


def _commands(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    ctx = typer.Context(command)  # type: ignore[arg-type]
    for name in getattr(command, "list_commands", lambda _ctx: [])(ctx):
        sub = command.get_command(ctx, name)  # type: ignore[attr-defined]
        yield (*path, name), sub
        yield from _commands(sub, (*path, name))


def test_every_commands_help_is_paragraphs_and_wraps_at_80_columns() -> None:
    root = typer.main.get_command(app)
    seen = 0
    for path, command in _commands(root):
        seen += 1
        for paragraph in (getattr(command, "help", None) or "").partition("\f")[0].split("\n\n"):
            lines = paragraph.split("\n")
            kept = paragraph.startswith("\b") or any(line.startswith(KEEP_LINE_STARTS) for line in lines[1:])
            assert len(lines) == 1 or kept, f"lakehouse {' '.join(path)} --help: {paragraph!r}"
    assert seen > 20

    result = runner.invoke(app, ["build", "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    prose = result.output.split("Usage:", 1)[1].split("╭", 1)[0].splitlines()[1:]
    for line, following in zip(prose, prose[1:], strict=False):
        # a line well short of the width ends a paragraph (a blank line follows), never half a sentence
        if line.strip() and following.strip():
            assert len(line.rstrip()) > 60, f"{line!r} then {following!r}"
