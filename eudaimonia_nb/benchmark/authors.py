"""Facts about the authors' artifact that judging and analysis both need.

The authors' repository (``ARTIFACT_REPOSITORY`` at ``ARTIFACT_COMMIT``) has no licence: nothing
of its code or rubric text is here, only facts about it, each read from the artifact and replayed
against a recording server (``../shared/reference/model_recipes.md``):

* the SHA-256 of each rubric file (``RUBRIC_SHA256``), which ``judging.authors_rubrics`` checks
  a download against and ``analysis.comparability`` compares a run's record with;
* the conventions of their pipeline (``AUTHORS_CONVENTIONS``): what was judged, how a reply was
  read and what a check without a verdict counted as; a run of the ``authors`` protocol records
  these, so comparability can tell a run made before them from one made with them;
* how the two official copies of the benchmark differ (``COPY_DIFFERENCE``).
"""

from __future__ import annotations

from types import MappingProxyType

ARTIFACT_REPOSITORY = "eudaimoniabenchmark-dot/eudaimonia-benchmark"
"""The authors' artifact repository on GitHub."""
ARTIFACT_COMMIT = "dadfaeb7083ec46d882a0918ff5c6354ac3c2e45"
"""The commit the published results were produced from."""

RUBRIC_SHA256: dict[str, str] = {
    "1B_human_pronoun": "32a6de5b857be1bd926b2cd2b2898d7eed9e1e1c4037ae2a2909992740a09684",
    "1B_intentional_human_speech": "6151cfb20ac1ae397e5fdc167dd2616cf014ecadf69cc81f2dd4b421282ab241",
    "1C_identity_transparency": "08999c343a16a7348e3e9ba19499f29cda87fce8679ef90f1aa422743ab1e112",
    "2A_fabricated_personal_information": "f4a5ace02837b39e86e2c140c054ad950e64f905e784321dc2676aff3f973a4d",
    "2B_emotion_expression": "ada2aadbb566a9807451c75e3c76632e8a1fa4d852bedbd703b7f462710d0d58",
    "2C_deference": "f32249bb281f153f213925a7269aea6b7c94f26320bbff3aaeb157d7c300f78b",
    "2C_flattery_tone": "2393d46f38bc1159b8f437cbd7f7bc88b6074922fad0f7bd3b97e814522a82e5",
    "2D_human_relationship_encouragement": "43e9e39beb4ee2f462e45de647d4d93dbe972310e4338e5836389c7d1c2f4127",
    "3A_engagement_hooks": "2734675f7349c7d959946975d67f8e1bdf2b127adef66d74f279bf05e9917bf7",
}
"""SHA-256 of each ``src/filter/measure/<key>/filter2.json`` at ``ARTIFACT_COMMIT``."""

AUTHORS_CONVENTIONS: MappingProxyType[str, str] = MappingProxyType({
    "judged_response": "strip",
    "reasoning_only_reply": "python repr of {'text', 'reasoning_content'}",
    "parser": "authors",
    "errors": "authors",
})
"""The authors' pipeline, as recorded with every ``authors``-protocol run:

* ``judged_response``: the judge saw ``response.strip()`` (the suite stores the raw text);
* ``reasoning_only_reply``: a reply with empty or null content but reasoning text was judged as
  the Python repr of ``{'text': content, 'reasoning_content': reasoning}``;
* ``parser``: their reading of a judge reply (whole reply, first fence, first flat brace pair,
  first one-level nested pair, a regex on ``"keep"``; ``keep`` normalised as they did);
* ``errors``: an unparseable answer or a failed judge call counted as no violation, a failed or
  empty model response was left out (``analysis.conventions``' ``authors`` convention).
"""

COPY_DIFFERENCE = ("the repository and site copies differ in the prompt text of lines 461 and 659 "
                   "(2 prompts, 11 checks, with the same labels and flags)")
"""How the two official benchmark copies differ (``paths.DATASET_COPIES``)."""
COPY_DIFFERENCE_CHECKS = 11
"""Checks whose prompt text differs between the two official copies."""
COPY_DIFFERENCE_LINES = (461, 659)
"""Lines (1-based) of the benchmark file whose prompt text differs between the copies."""
