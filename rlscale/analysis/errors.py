"""The one error type of the analysis: a stage cannot be computed from the data it was given."""


class AnalysisError(Exception):
    """A stage of the analysis cannot run on this data; the message says why and what would fix it.

    The pipeline records the message, skips the stages that depend on this one and still writes
    everything else, so one missing piece never hides the rest of the report.
    """
