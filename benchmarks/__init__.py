"""conformap's benchmark suite: ours against the published pipelines, in the same run.

Run ``python -m benchmarks --quick`` (under 10 minutes on 2 cores when the machine is idle) or
``--full``; see ``__main__.py`` for the configurations and ``docs/benchmarks.md`` for the
results of the committed full run (``docs/benchmarks/full.json``; the quick run of the same
code is ``docs/benchmarks/results.json``). Registered standalone modules (``EXTERNAL``) run
after the built-in benchmarks, in the same suite.

Results format (``<out>/<name>.json``): ``{"suite", "command", "date", "machine", "note",
"load_average", "complete", "records": [...], "failures": [...], "failed_checks": [...]}``.
Each record is built by ``_harness.pair_record`` (ours vs a baseline: ``ours``, ``baseline``,
``others``, ``speedup``, ``memory_ratio``), ``_harness.single_record`` (one implementation,
e.g. scaling) or ``_harness.measurement_record`` (a measured property such as an
approximation error), and always has ``benchmark``, ``params``, ``check`` (from
``_harness.check_result``: ``passed``, ``tolerance`` = what is compared with which bound,
plus the measured values) and ``passed``. A record whose check fails fails the run.

Adding a standalone benchmark module ``benchmarks/bench_x.py``: give it module-level cases
(``setup``, ``warmup`` for every impl, one method per impl returning ``(outputs, phases)``,
optionally ``check(impl, outputs)``; see ``_harness.py``), ``SUITES = {"quick": cfg, "full":
cfg}`` and ``run(cfg, log) -> list[record]`` (typically ``measure(...)`` then
``pair_record(...)``), and register it with one line in ``__main__.EXTERNAL``:
``"x": "benchmarks.bench_x"``. Its rows then appear in the results JSON, the tables of
``docs/benchmarks.md`` and the checks, with no other change.
"""
