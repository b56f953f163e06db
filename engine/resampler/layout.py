"""The resampler pair's int64 table (``rs``): where each counter and setting lives. No numba here.

``rs`` holds two stage blocks (the way in, outer → inner rate, at IN; the way back, inner →
outer, at BACK), each STAGE_FIELDS long, then the pair's own fields. The kernels read the
settings and advance the counters; engine.resampler.pair writes the settings at prepare and
clears the counters at reset.
"""

# Fields of one stage block (offsets from the block's start).
S_UP = 0        # U: zero-stuffing factor = number of filter phases
S_DOWN = 1      # V: keep every V-th sample of the zero-stuffed, filtered stream
S_TAPS = 2      # taps per phase, a whole number of 16-lane vectors (zero-padded)
S_SPAN = 3      # history length per channel (a power of two ≥ S_TAPS); the buffer holds it twice
S_AHEAD = 4     # counter: high-rate index of the next output minus that of the next input (see kernels)
S_WRITE = 5     # counter: the history slot the next input is written to
STAGE_FIELDS = 8

IN = 0                       # the stage outer rate → inner (model) rate
BACK = STAGE_FIELDS          # the stage inner rate → outer rate
R_FIFO_MASK = 2 * STAGE_FIELDS      # the output queue's length − 1 (a power of two)
R_FIFO_READ = R_FIFO_MASK + 1       # counter: outputs delivered since reset
R_FIFO_WRITE = R_FIFO_MASK + 2      # counter: outputs made since reset
R_CHUNK = R_FIFO_MASK + 3           # the most outer samples one model call covers (the inner buffers' size)
R_INNER = R_FIFO_MASK + 4           # counter: inner (model-rate) samples the model ran on in the last call
R_LEAD = R_FIFO_MASK + 5            # the way in's delay D in inner samples (design.Plan.inner_delay)
R_SKIP = R_FIFO_MASK + 6            # counter: leading inner samples still to pass over (D at reset, then 0)
RS_SIZE = R_FIFO_MASK + 8

#: Fields reset() clears (the counters; R_SKIP is set to R_LEAD); the others are settings.
COUNTERS = (IN + S_AHEAD, IN + S_WRITE, BACK + S_AHEAD, BACK + S_WRITE, R_FIFO_READ, R_FIFO_WRITE, R_INNER)
