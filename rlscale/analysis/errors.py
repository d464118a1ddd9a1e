"""The analysis's two error types, a bad recipe (the user's input) and a stage that cannot be
computed from the data it was given, and `attempt`, which records the second as a message."""

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class AnalysisError(Exception):
    """A stage of the analysis cannot run on this data; the message says why and what would fix it.

    The pipeline records the message, skips the stages that depend on this one and still writes
    everything else, so one missing piece never hides the rest of the report.
    """


class RecipeError(ValueError):
    """A bad key or value in an analysis recipe; the message names the file and the valid keys."""


def attempt(stage: str, function: Callable[..., T], *args: Any) -> tuple[T | None, tuple[str, ...]]:
    """(function(*args), no message), or on AnalysisError (None, ("stage: why",))."""
    try:
        return function(*args), ()
    except AnalysisError as error:
        return None, (f"{stage}: {error}",)
