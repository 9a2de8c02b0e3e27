"""One module per suite; each defines ``SUITE``, ``DESCRIPTION`` and ``run(ctx) -> list[Row]``."""
