"""Distributed training backends (optional extras).

Importing this package imports no engine: `likewise.distributed.spark` needs the ``spark``
extra (pyspark and Java 17) and is imported only when asked for.
"""
