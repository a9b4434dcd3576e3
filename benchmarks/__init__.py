"""conformap's benchmark suite: ours against the published pipelines, in the same run.

Run ``python -m benchmarks --quick`` (under 10 minutes on 2 cores) or ``--full``; see
``__main__.py`` for the configurations and ``docs/benchmarks.md`` for the latest full results.
"""
