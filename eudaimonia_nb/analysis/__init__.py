"""The analysis engine: violation rates with honest uncertainty, and models of real versus
modified prompts.

Modules, one concept each (import them directly; nothing heavy loads here):

- ``frames``: load and validate the long judgments table (CSV, JSONL, Parquet).
- ``rates``: Wilson intervals by any grouping; prompt-bootstrap rates and real-vs-modified gaps.
- ``mixed``: logistic mixed model (Laplace approximation), ``fit_mixed``.
- ``gee``: population-averaged GEE cross-check, ``fit_gee`` and ``compare``.
- ``simulate``: judgments with known truth; ``demo_judgments`` for the dashboard.
- ``published``: the paper's published figures from ``data/published/``.
- ``selection``: target / rewriter / other model groups and prompt-origin breakdowns.
- ``covariation``: correlation of violations between requirements.
- ``agreement``: confusion counts and Cohen's kappa between two raters of the same checks.
- ``conditions``: paired condition effects of a study (bootstrap, Holm) and its mixed model.
- ``power``: power and minimum detectable effect of a planned study, by simulation.
- ``attributes``: model attributes with their sources, joined to published or own rates.
- ``reducers``: a check's repeated verdicts (epochs, judge repeats) made into one.
- ``noise``: prompt, response and judge noise told apart (``nested_quadrature`` fits its SDs;
  ``noise_study`` checks it on simulated truth); ``nested``: the mixed model on unreduced verdicts.

May import: the shared ground, ``benchmark`` and ``store`` (frames are read from the store or a
file). Never ``judging`` (the analysis works on what was recorded, however it was made), nor
anything above it (``plots``, ``validity``, ``report``, ``widgets``, ``cli``).
"""
