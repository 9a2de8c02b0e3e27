"""likewise's benchmark suite: likewise beside its peers on the same splits and metric code.

Never collected by pytest (``testpaths = ["tests"]``). Run ``python -m benchmarks.run --help``;
see ``benchmarks/README.md``.
"""
