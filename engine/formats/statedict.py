"""A PyTorch ``state_dict`` dumped to JSON (RTNeural's "torch" path).

Nothing names the architecture: modules are inferred from key names and shapes and chained in
file order (see :func:`.common.parse_torch_modules`). No rate is stored; like GuitarML files
(also PyTorch-trained) such files get 44.1 kHz as the format default.
"""

from ..model import Model
from .common import parse_torch_modules

FORMAT = "torch-state-dict"
DEFAULT_SAMPLE_RATE = 44100.0


def looks_like(document):
    """Whether a parsed JSON document is a flat map of dotted PyTorch parameter names to arrays.

    Every key must be dotted and one value at least an array; the other values are checked when
    read, so that a ``null`` parameter is reported as such rather than as an unknown format.
    """
    return (isinstance(document, dict) and bool(document) and all("." in key for key in document)
            and any(isinstance(value, list) for value in document.values()))


def load(path, document):
    """Read a state_dict document into a Model whose input width is the first layer's.

    Parameters
    ----------
    path : str
        The file, for error messages.
    document : dict
        The parsed JSON.

    Returns
    -------
    Model

    Raises
    ------
    ModelFileError, UnsupportedModelError
        As :func:`.common.parse_torch_modules`.
    """
    layers = parse_torch_modules(path, document)
    return Model(
        layers=tuple(layers),
        input_size=layers[0].input_size,
        sample_rate=DEFAULT_SAMPLE_RATE,
        sample_rate_source="format-default",
        format=FORMAT,
        path=path,
    )
