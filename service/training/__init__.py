"""The training lifecycle, one job per module.

- ``jobs``: create job rows and queue them once committed (API, CLI, scheduled retrain); cancel.
- ``broker``: the Celery client the service sends tasks with, by name.
- ``dispatch``: where a queued job goes: Celery, or a thread in this process.
- ``pipeline``: ``run_training_job``: claim, train, write the version, gate, retain.
- ``fitting``: everything model-type specific: split, fit, evaluate (``train_candidate``).
- ``progress``: each epoch to the job row; a cancel request stops the fit.
- ``gate``: whether a new version replaces the active one.
- ``retention``: which old versions lose their artifacts.
- ``reaper``: fail jobs whose worker died; re-send jobs no worker claimed.
- ``public``: a job as the API shows it.
- ``status``: the one ``JobStatus``.

``workers/`` holds the Celery app and thin tasks that call into here; ``service`` never
imports ``workers``.
"""
