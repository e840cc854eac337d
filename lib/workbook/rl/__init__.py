"""RL engine: RLVR objectives (pure torch), a method registry, a TRL trainer and a verl export.

Import the trainer explicitly (``from workbook.rl.trainer import ...``): it pulls in TRL; the objectives do not.
"""

from workbook.rl.methods import METHODS, Method, UnknownMethodError, get_method, register_method

__all__ = ["METHODS", "Method", "UnknownMethodError", "get_method", "register_method"]
