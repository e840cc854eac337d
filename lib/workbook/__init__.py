"""rlvr-workbook: the helper library behind the workbook's notebooks.

Modules are named for what a researcher thinks in: ``data``, ``grading``, ``metrics``, ``models``,
``generation``, ``rl``, ``methods``, ``results``, ``runner``.
"""

__version__ = "0.1.0"
