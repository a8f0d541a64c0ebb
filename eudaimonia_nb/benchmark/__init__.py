"""The benchmark: the prompts, the design code's nine requirements, and the file's download.

- ``design_code``: the nine requirements and three principles, defined once (``REQUIREMENTS``),
  with the suite's own rubric texts in ``rubrics/*.md``;
- ``dataset``: load and validate the benchmark file into a prompts and a checks table;
- ``fetch``: download it from its pinned official URL and verify its SHA-256;
- ``explore``: descriptive tables over the prompts, and the prompt browser's filter.

May import: the shared ground (``paths``, ``credentials``, ``linebreaks``). It is the bottom
stage: nothing here reads results, calls a model or draws a figure.
"""
