"""Reporting: run directories, reported claims and verdicts, the results summary and the static site.

- :mod:`workbook.reporting.run_dir`  ``RunDir``: metrics.json, provenance.json, figures, tables of one run;
- :mod:`workbook.reporting.claims`   ``reported/<paper>.yaml`` and the reported-vs-reproduced table;
- :mod:`workbook.reporting.verdicts` the verdict rules (evidence, checks, untestable / not comparable);
- :mod:`workbook.reporting.power`    pre-registered power of a design, by simulating the same estimator;
- :mod:`workbook.reporting.summary`  ``results/summary.{md,html,json}`` from every run.json;
- :mod:`workbook.reporting.site`     the static report site under ``results/site/``;
- :mod:`workbook.reporting.io`       atomic writers, deterministic JSON, provenance facts.
"""

from workbook.reporting.claims import load_reported, reported_vs_reproduced, requires, untestable, verdict
from workbook.reporting.run_dir import RunDir

__all__ = ["RunDir", "load_reported", "reported_vs_reproduced", "requires", "untestable", "verdict"]
