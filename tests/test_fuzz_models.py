"""Fuzz: seeded mutants of the project's own model files either load and run, or are refused.

Each mutant starts from one of the project's model files (models/, tests/fixtures/torch/) or one
of the minimal documents of test_failures.py, and changes it once: a key deleted, duplicated or
renamed, a value replaced by another JSON type (null, true, a string, a huge integer, 1e308, a
negative number, nested lists, nesting thousands deep), a matrix with a row dropped, added or
shortened, two arrays swapped, weights scaled up, a declared size made absurd, or the text
truncated at a random byte, bytes flipped or junk inserted. Every mutant must either load and
run to finite output (``Processor(model, 48000).process`` of 256 samples) or raise an
EngineError; any other exception, a load slower than TIME_LIMIT, or memory growing without
bound fails the test and names the mutation (re-create one with ``mutants(SEED)``).

Measured on the 2-core development machine (shared): 400 mutants in ~3 s, peak memory +~10 MB.
"""

import copy
import json
import math
import random
import re
import resource
import signal
import time
import warnings
from collections import Counter, namedtuple

import numpy as np
import pytest

import engine
from conftest import REPO
from engine import StabilityWarning
from test_failures import BUILDERS

SEED = 20240909
COUNT = 400
#: Seconds one mutant may take to load and run (the slowest takes well under one).
TIME_LIMIT = 10
#: How much the process's peak memory may grow over the whole run (a 64 MiB file is the most any mutant can make).
MAX_RSS_GROWTH_MB = 400

PROJECT_FILES = (
    "models/overdrive_lstm20.json",
    "models/lstm40/tone_stack.json",
    "models/lstm40/crunch_amp_cab.json",
    "models/lstm40/transistor_fuzz.json",
    "tests/fixtures/torch/gru_1x8_in1_skip0.guitarml.json",
    "tests/fixtures/torch/lstm_2x16_in1_skip0.nam",
    "tests/fixtures/torch/gru_2x16_in2_skip0.aidax.json",
    "tests/fixtures/torch/lstm_3x8_in1_skip0.state_dict.json",
)

SIGNAL = (0.5 * np.sin(2 * np.pi * 220 * np.arange(256) / 48000)).astype(np.float32)

# Values a mutation may put anywhere: every JSON type, and numbers at every edge.
VALUES = (None, True, False, "", "text", "48000", "1e999", 0, -1, 1, 3, 2 ** 64, 10 ** 400, -(10 ** 400), 1e308, -1e308,
          5e-324, 3.5e38, math.nan, math.inf, -math.inf, 0.5, [], [[]], {}, {"x": 1}, [1, 2, 3], [[0.1, 0.2], [0.3]],
          [[[[[[[[[[[[[[[[[[[[0.5]]]]]]]]]]]]]]]]]]]])
#: Keys that declare a size: set to absurd values, they must be refused by the engine's limits.
SIZE_KEYS = ("hidden_size", "num_layers", "input_size", "output_size", "shape", "in_shape")
ABSURD = (10 ** 9, 10 ** 18, 10 ** 300, 1e308, 513, 65, 4097, 9)

Mutant = namedtuple("Mutant", "label content")
Result = namedtuple("Result", "label outcome detail")


def _bases():
    bases = [(name, (REPO / name).read_text(encoding="utf-8")) for name in PROJECT_FILES]
    bases += [(f"<minimal {name}>", json.dumps(build())) for name, build in BUILDERS.items()]
    return bases


def _walk(doc, rng):
    """A random walk down from the root: the (container, key) steps taken, the last one the target."""
    steps, node = [], doc
    while isinstance(node, (dict, list)) and node:
        key = rng.choice(list(node)) if isinstance(node, dict) else rng.randrange(len(node))
        steps.append((node, key))
        node = node[key]
        if rng.random() < 0.3:
            break
    return steps


def _where(steps):
    return "/".join(str(key) for _, key in steps) or "(root)"


def _rename(key, rng):
    if isinstance(key, int):
        return key
    return rng.choice((key + "0", key[:-1], key.upper(), "x" + key, key.replace("0", "1"), key.replace("_l0", "_l00"),
                       key.replace("weight", "bias"), key.replace("ih", "hh"), key.rpartition(".")[2], ""))


def _scale(node, factor):
    if isinstance(node, list):
        return [_scale(item, factor) for item in node]
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return node * factor
    return node


# -- mutations of the parsed document: each returns (description, new document) or None if it cannot apply

def m_delete(doc, rng):
    steps = _walk(doc, rng)
    if not steps:
        return None
    container, key = steps[-1]
    del container[key]
    return f"delete {_where(steps)}", doc


def m_duplicate(doc, rng):
    steps = _walk(doc, rng)
    if not steps:
        return None
    container, key = steps[-1]
    if isinstance(container, dict):
        container[_rename(key, rng)] = copy.deepcopy(container[key])
    else:
        container.insert(key, copy.deepcopy(container[key]))
    return f"duplicate {_where(steps)}", doc


def m_rename(doc, rng):
    steps = [step for step in _walk(doc, rng) if isinstance(step[0], dict)]
    if not steps:
        return None
    container, key = steps[-1]
    new = _rename(key, rng)
    container[new] = container.pop(key)
    return f"rename {_where(steps)} to {new!r}", doc


def m_retype(doc, rng):
    steps = _walk(doc, rng)
    if not steps:
        return None
    container, key = steps[-1]
    value = copy.deepcopy(rng.choice(VALUES))
    container[key] = value
    return f"set {_where(steps)} = {json.dumps(value)[:40]}", doc


def m_reshape(doc, rng):
    """Drop, add or shorten a row of a matrix (or an element of a vector)."""
    steps = [step for step in _walk(doc, rng) if isinstance(step[0], list)]
    if not steps:
        return None
    container, key = steps[-1]
    how = rng.choice(("drop", "add", "shorten"))
    if how == "drop":
        del container[key]
    elif how == "add":
        container.append(copy.deepcopy(container[key]))
    elif isinstance(container[key], list) and container[key]:
        container[key] = container[key][:-1]
    else:
        container[key] = [container[key]]
    return f"{how} row {_where(steps)}", doc


def m_swap(doc, rng):
    steps = [step for step in _walk(doc, rng) if len(step[0]) >= 2]
    if not steps:
        return None
    container, key = steps[-1]
    other = rng.choice([k for k in (list(container) if isinstance(container, dict) else range(len(container))) if k != key])
    container[key], container[other] = container[other], container[key]
    return f"swap {_where(steps)} with {other}", doc


def m_scale(doc, rng):
    """Valid but extreme weights: every number below a node multiplied by a large factor."""
    steps = _walk(doc, rng)
    if not steps:
        return None
    container, key = steps[-1]
    factor = rng.choice((-1.0, 10.0, 1e4, 1e12, 1e30, 1e37))
    container[key] = _scale(container[key], factor)
    return f"scale {_where(steps)} by {factor:g}", doc


def m_absurd_size(doc, rng):
    found = []

    def collect(node):
        if isinstance(node, dict):
            found.extend((node, key) for key in node if key in SIZE_KEYS)
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)
    collect(doc)
    if not found:
        return None
    container, key = rng.choice(found)
    size = rng.choice(ABSURD)
    if isinstance(container[key], list) and container[key]:
        container[key][-1] = size
    else:
        container[key] = size
    return f"declare {key} = {size:g}", doc


DOC_MUTATIONS = (m_delete, m_duplicate, m_rename, m_retype, m_retype, m_reshape, m_swap, m_scale, m_absurd_size)

_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def _random_number(text, rng):
    numbers = list(_NUMBER.finditer(text))
    return rng.choice(numbers) if numbers else None


# -- mutations of the text: each returns (description, bytes)

def t_truncate(text, rng):
    cut = rng.randrange(1, len(text.encode()))
    return f"truncate at byte {cut}", text.encode()[:cut]


def t_flip(text, rng):
    data = bytearray(text.encode())
    positions = [rng.randrange(len(data)) for _ in range(rng.randint(1, 4))]
    for position in positions:
        data[position] ^= 1 << rng.randrange(8)
    return f"flip bits at bytes {positions}", bytes(data)


def t_deep(text, rng):
    number = _random_number(text, rng)
    depth = rng.choice((50, 500, 5000, 100000))
    if number is None:
        return f"replace with nesting {depth} deep", ("[" * depth + "]" * depth).encode()
    new = text[:number.start()] + "[" * depth + "1" + "]" * depth + text[number.end():]
    return f"nest the number at char {number.start()} {depth} deep", new.encode()


def t_bigint(text, rng):
    number = _random_number(text, rng)
    digits = rng.choice((40, 400, 5000))
    if number is None:
        return f"replace with a {digits}-digit integer", ("9" * digits).encode()
    return (f"replace the number at char {number.start()} by a {digits}-digit integer",
            (text[:number.start()] + "9" * digits + text[number.end():]).encode())


def t_junk(text, rng):
    data = text.encode()
    position = rng.randrange(len(data))
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    return f"insert {junk!r} at byte {position}", data[:position] + junk + data[position:]


TEXT_MUTATIONS = (t_truncate, t_flip, t_flip, t_deep, t_bigint, t_junk)


def mutants(seed=SEED, count=COUNT):
    """The seeded mutants: ``count`` (label, bytes) pairs; the label names the base file and the mutation."""
    rng = random.Random(seed)
    bases = _bases()
    parsed = {name: json.loads(text) for name, text in bases}
    made = []
    while len(made) < count:
        name, text = rng.choice(bases)
        if rng.random() < 0.65:
            mutation = rng.choice(DOC_MUTATIONS)
            result = mutation(copy.deepcopy(parsed[name]), rng)
            if result is None:
                continue
            description, doc = result
            if rng.random() < 0.25 and isinstance(doc, (dict, list)):  # a second change on top of the first
                second = rng.choice(DOC_MUTATIONS)(doc, rng)
                if second is not None:
                    description, doc = f"{description} + {second[0]}", second[1]
            content = json.dumps(doc).encode()
        else:
            mutation = rng.choice(TEXT_MUTATIONS)
            description, content = mutation(text, rng)
        made.append(Mutant(f"#{len(made)} {name}: {mutation.__name__[2:]}: {description}", content))
    return made


class Hang(Exception):
    """A mutant that took longer than TIME_LIMIT."""


def _on_alarm(signum, frame):
    raise Hang(f"still running after {TIME_LIMIT} s")


def _try(mutant, path):
    """Load and run one mutant: (outcome, detail) with outcome in refused, finite, non-finite, crash."""
    path.write_bytes(mutant.content)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model = engine.load_model(path)
                output = engine.Processor(model, 48000).process(SIGNAL)
            except engine.EngineError as exc:
                if "\n" in str(exc):
                    return "crash", f"a message of several lines: {exc!r}"
                return "refused", type(exc).__name__
        odd = [w for w in caught if not issubclass(w.category, StabilityWarning)]
        if odd:
            return "crash", f"warning {odd[0].category.__name__}: {odd[0].message}"
        if not np.all(np.isfinite(output)):
            return "non-finite", model.describe()
        return "finite", model.describe()
    except Exception as exc:  # noqa: BLE001 - any other exception is what this test looks for
        return "crash", f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Every mutant's outcome, with the run's time and peak-memory growth."""
    path = tmp_path_factory.mktemp("fuzz") / "mutant.json"
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    try:
        outcomes = [Result(mutant.label, *_try(mutant, path)) for mutant in mutants()]
    finally:
        signal.signal(signal.SIGALRM, previous)
    seconds = time.perf_counter() - start
    growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024  # ru_maxrss is in KiB
    print(f"\nfuzz: {len(outcomes)} mutants in {seconds:.1f} s, peak RSS grew {growth_mb:.0f} MB; "
          f"{dict(Counter(result.outcome for result in outcomes))}")
    return outcomes, seconds, growth_mb


def test_every_mutant_runs_or_is_refused_with_an_engine_error(results):
    outcomes, _, growth_mb = results
    crashes = [f"{result.label} -> {result.detail}" for result in outcomes if result.outcome == "crash"]
    assert not crashes, f"{len(crashes)} mutant(s) crashed:\n" + "\n".join(crashes[:30])
    assert growth_mb < MAX_RSS_GROWTH_MB


def test_every_loaded_mutant_gives_finite_output(results):
    outcomes, _, _ = results
    non_finite = [f"{result.label} ({result.detail})" for result in outcomes if result.outcome == "non-finite"]
    assert not non_finite, f"{len(non_finite)} mutant(s) gave NaN/Inf:\n" + "\n".join(non_finite)


def test_the_mutants_exercise_both_outcomes(results):
    """A fuzz run where (nearly) everything is refused, or everything loads, tests little."""
    outcomes, _, _ = results
    counts = Counter(result.outcome for result in outcomes)
    assert len(outcomes) == COUNT
    assert counts["refused"] >= COUNT // 2 and counts["finite"] + counts["non-finite"] >= COUNT // 8, counts
    kinds = Counter(result.label.split(": ")[1] for result in outcomes)
    assert len(kinds) == len(set(DOC_MUTATIONS) | set(TEXT_MUTATIONS)), kinds
