"""RL engine: RLVR objectives (pure torch), a method registry, a TRL trainer, probes, an experiment driver, cost plans
and a verl export.

Import the heavy parts explicitly: ``workbook.rl.trainer`` (pulls in TRL), ``workbook.rl.experiments``
(``run_one``/``run_grid`` → ``Results``), ``workbook.rl.probes`` (``EvalProbe``, the ``Probe`` base),
``workbook.rl.plan`` (GPU-hour plans without a GPU). The objectives and the registry import no TRL.
"""

from workbook.rl.methods import METHODS, Method, UnknownMethodError, get_method, register_method

__all__ = ["METHODS", "Method", "UnknownMethodError", "get_method", "register_method"]
