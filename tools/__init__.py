"""The project's development tools (export from PyTorch, fixtures, circuit simulation, synthesis,
training). Scripts, run as ``python tools/NAME.py``; the tests import them as ``tools.NAME``.
"""
