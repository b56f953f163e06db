"""The resampler pair's arrays: allocated once from a Plan (prepare), cleared in place (reset)."""

import numpy as np

from ..packing import aligned_zeros
from . import layout
from .design import history_span
from .kernels import reset_pair

#: The most outer frames one model call covers: the inner buffers hold this many frames' worth,
#: whatever the Processor's max_block_size (longer blocks run as several chunks, with the same
#: result).
CHUNK_FRAMES = 1024


class ResamplerPair:
    """The state of one resampler pair (engine.resampler.design.Plan) for ``channels`` channels.

    Parameters
    ----------
    plan : Plan
    channels : int

    Attributes
    ----------
    plan : Plan
    latency : int
        The round trip's delay in outer samples (plan.latency).
    arguments : tuple
        (rs, table_in, table_back, hist_in, hist_back, queue, inner_x, inner_y): what
        engine.resampler.kernels.resampled_block takes between (x, y) and the model's arrays.
    """

    def __init__(self, plan, channels):
        self.plan = plan
        self.channels = channels
        self.latency = plan.latency
        p, q = plan.fraction.numerator, plan.fraction.denominator
        rs = np.zeros(layout.RS_SIZE, np.int64)
        spans = []
        for base, stage in ((layout.IN, plan.into), (layout.BACK, plan.back)):
            span = history_span(stage.taps)
            spans.append(span)
            rs[base + layout.S_UP] = stage.up
            rs[base + layout.S_DOWN] = stage.down
            rs[base + layout.S_TAPS] = stage.taps
            rs[base + layout.S_SPAN] = span
        # Between chunks the queue holds at most ⌈P/Q⌉ + 1 frames; during one it gains a chunk's.
        queue_frames = 1 << int(np.ceil(np.log2(CHUNK_FRAMES + -(-p // q) + 2)))
        rs[layout.R_FIFO_MASK] = queue_frames - 1
        rs[layout.R_CHUNK] = CHUNK_FRAMES
        rs[layout.R_LEAD] = plan.inner_delay
        inner_frames = -(-CHUNK_FRAMES * q // p) + 2
        self.rs = rs
        self._table_in = aligned_zeros(plan.into.table.shape)
        self._table_in[:] = plan.into.table
        self._table_back = aligned_zeros(plan.back.table.shape)
        self._table_back[:] = plan.back.table
        self._hist_in = aligned_zeros(channels * 2 * spans[0])
        self._hist_back = aligned_zeros(channels * 2 * spans[1])
        self._queue = aligned_zeros(queue_frames * channels)
        self._inner_x = aligned_zeros(inner_frames * channels)
        self._inner_y = aligned_zeros(inner_frames * channels)
        self.arguments = (self.rs, self._table_in, self._table_back, self._hist_in, self._hist_back, self._queue,
                          self._inner_x, self._inner_y)

    def reset(self):
        """Silence before the first sample: histories, queue and counters cleared, in place (no allocation)."""
        reset_pair(self.rs, self._hist_in, self._hist_back, self._queue)  # the live chain's reset runs the same

    def inner_frames(self, frames):
        """How many inner (model-rate) frames the model will run on for the next ``frames`` outer frames.

        The way in makes an inner frame each time ``ahead`` goes below 0: over n inputs that is
        the least m with ahead − n·U + m·V ≥ 0; the leading frames still to pass over (R_SKIP)
        do not reach the model.
        """
        up = int(self.rs[layout.IN + layout.S_UP])
        down = int(self.rs[layout.IN + layout.S_DOWN])
        ahead = int(self.rs[layout.IN + layout.S_AHEAD])
        made = max(0, -((ahead - frames * up) // down))
        return max(0, made - int(self.rs[layout.R_SKIP]))

    @property
    def last_inner_frames(self):
        """The inner frames the model ran on in the last kernel call."""
        return int(self.rs[layout.R_INNER])
