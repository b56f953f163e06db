"""Model file formats: detection from content, and one reader per format."""

import os

from ..errors import ArgumentError, ModelFileError
from ..model import quote, validate_model
from ..rates import check_sample_rate
from . import guitarml, nam, rtneural, statedict
from .common import read_json, unsupported

#: Readers in detection order; each has ``looks_like(document)`` and ``load(path, document)``.
READERS = (nam, guitarml, rtneural, statedict)

SUPPORTED = ("GuitarML SimpleRNN JSON, NeuralAmpModeler .nam (LSTM), RTNeural/Keras or AIDA-X JSON, "
             "or a PyTorch state_dict as JSON")


#: The longest error message about a model file; longer ones keep their start and end. Messages
#: quote keys and values of an untrusted file, and the loaders bound what they quote, but a key
#: of megabytes must not become a message of megabytes either.
MAX_MESSAGE_CHARS = 600

_JSON_TYPES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def _refuse_other_networks(path, document):
    """Recognise well-known non-recurrent networks so their error says what they are."""
    if not isinstance(document, dict):
        return
    for where in (document, document.get("model_data")):
        if isinstance(where, dict) and {"residual_channels", "dilations"} <= set(where):
            unsupported(path, "a WaveNet model (keys residual_channels, dilations)", "LSTM and GRU models")
        if isinstance(where, dict) and "conv1d" in where and "lstm" in where:
            unsupported(path, "a Conv1D+LSTM model (keys conv1d, lstm)", "LSTM and GRU models without convolutions")


def load_model(path, sample_rate=None):
    """Load a trained LSTM/GRU model from any supported file, detected from its content.

    Parameters
    ----------
    path : str or os.PathLike
        The model file.
    sample_rate : float, optional
        The rate (Hz) the model was trained at. Always wins over the file's value or the
        format's default; the returned model records which one was used.

    Returns
    -------
    Model
        With ``sample_rate`` and ``sample_rate_source`` in {"file", "format-default", "user"}.

    Raises
    ------
    ArgumentError
        If ``path`` is not a str or os.PathLike.
    ModelFileError
        If the file is missing, not a regular file, over ``engine.model.MAX_MODEL_FILE_BYTES``,
        not JSON, of no known format, or inconsistent. Every message is one line of at most
        ``MAX_MESSAGE_CHARS`` characters.
    UnsupportedModelError
        If the file is a known but unsupported architecture (WaveNet, conv nets, …), or larger
        than the engine's size limits (``engine.model.LIMITS``).
    SampleRateError
        If ``sample_rate`` or the file's stored rate is not a positive number.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentError(f"path must be a model file path (str or os.PathLike), got {type(path).__name__}")
    path = os.fspath(path)
    user_rate = None if sample_rate is None else check_sample_rate(sample_rate, f"{path}: sample_rate argument")
    try:
        model = _load(path)
    except ModelFileError as exc:
        message = str(exc)
        if len(message) <= MAX_MESSAGE_CHARS:
            raise
        cut = (MAX_MESSAGE_CHARS - 3) // 2
        raise type(exc)(f"{message[:cut]} … {message[-cut:]}") from None
    if user_rate is not None:
        model = model.with_sample_rate(user_rate, "user")
    return model


def _load(path):
    document = read_json(path)
    _refuse_other_networks(path, document)
    for reader in READERS:
        if reader.looks_like(document):
            return validate_model(reader.load(path, document))
    found = (f"top-level keys {', '.join(quote(key)[1:-1] for key in list(document)[:6])}"
             if isinstance(document, dict) and document
             else "an empty JSON object" if isinstance(document, dict)
             else f"a JSON {_JSON_TYPES.get(type(document), type(document).__name__)}")
    raise ModelFileError(f"{path}: unknown model format ({found}); expected {SUPPORTED}")
