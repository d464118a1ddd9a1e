"""The analysis's two error types: a bad recipe (the user's input), and a stage that cannot be
computed from the data it was given."""


class AnalysisError(Exception):
    """A stage of the analysis cannot run on this data; the message says why and what would fix it.

    The pipeline records the message, skips the stages that depend on this one and still writes
    everything else, so one missing piece never hides the rest of the report.
    """


class RecipeError(ValueError):
    """A bad key or value in an analysis recipe; the message names the file and the valid keys."""
