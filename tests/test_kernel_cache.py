"""The kernel cache guard: numba's caches of every kernel module go when any kernel source changes.

numba invalidates a cached function only when its own file changes; the block kernel inlines
cells.py, fastmath.py and simd.py, so without the guard an edit there would keep running the old
compiled code.
"""

import os

from engine.kernels import _cache


def _layout(tmp_path, monkeypatch):
    package = tmp_path / "kernels"
    (package / "__pycache__").mkdir(parents=True)
    sources = [package / "cells.py", package / "block.py"]
    for path in sources:
        path.write_text(f"# {path.name}\n")
    monkeypatch.setattr(_cache, "SOURCES", [str(path) for path in sources])
    return package, sources


def _cache_file(package, name):
    path = package / "__pycache__" / name
    path.write_bytes(b"compiled")
    return path


def test_an_edit_to_any_kernel_source_drops_every_kernel_cache(tmp_path, monkeypatch):
    package, (cells, block) = _layout(tmp_path, monkeypatch)
    _cache.drop_stale_caches()  # first run: writes the stamp
    index = _cache_file(package, "block.process_block-40.py311.nbi")
    data = _cache_file(package, "block.process_block-40.py311.1.nbc")
    other = _cache_file(package, "unrelated.f-1.py311.nbi")
    _cache.drop_stale_caches()
    assert index.exists() and data.exists(), "unchanged sources must keep their caches"
    cells.write_text("# cells.py, edited\n")  # block.py itself is untouched
    _cache.drop_stale_caches()
    assert not index.exists() and not data.exists(), "block's cache outlived an edit of a module it inlines"
    assert other.exists(), "only the kernel modules' caches are dropped"


def test_the_guard_covers_every_kernel_module():
    names = {os.path.relpath(path, os.path.dirname(os.path.dirname(_cache.__file__))) for path in _cache.SOURCES}
    package = os.path.dirname(_cache.__file__)
    modules = {os.path.join("kernels", name) for name in os.listdir(package)
               if name.endswith(".py") and name not in ("__init__.py", "_cache.py")}
    assert modules <= names
    assert os.path.join("live", "mixer.py") in names
