"""rlvr-workbook: the helper library behind the workbook's notebooks.

Modules are named for what a researcher thinks in: ``data`` (benchmarks; ``docs/data.md``), ``generation``,
``grading``, ``evaluation`` (sample and grade), ``metrics``, ``models``, ``rl`` (objectives, methods, the TRL
trainer, experiments), ``papers`` (one module per paper; ``docs/papers/<paper>.md``), ``reporting`` and ``runner``.
"""

__version__ = "0.1.0"
