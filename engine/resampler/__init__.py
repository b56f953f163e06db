"""Streaming resampling around a model: ``interpolation="resample"`` and ``oversample``.

(Design notes and figures: filled in below.)
"""

from .design import MAX_PHASES, Plan, plan, rate_fraction  # noqa: F401
