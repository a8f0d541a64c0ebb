"""Provider batch APIs: the same calls as a live run, submitted as batches at about half price,
with a durable ledger in the results store so that a killed run resumes without paying twice.

- ``protocol``: what every dialect offers (``Dialect``), the records they exchange with the
  executor, and ``custom_id``, the one function that derives a line's id from its check key;
- ``openai``, ``anthropic``, ``openrouter``: one module per dialect (OpenAI Batch with JSONL
  files, Anthropic Message Batches, OpenRouter's inline batches);
- ``executor``: a batched run: phases (responses, then judge calls built from the stored
  responses), submission after the intent is in the ledger, polling, collection into the store
  exactly once, resubmission of failed or expired lines, reconciliation after a crash.

Request bodies come from ``judging.calls`` (the live run's own builders), what to call from
``judging.plan`` and storing from ``judging.recording``: a batched run sends what a live run sends.
May import what ``judging`` may (the shared ground, ``benchmark``, ``store``) and ``judging`` itself.
"""
