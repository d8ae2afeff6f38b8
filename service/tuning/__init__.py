"""Hyperparameter search, one job per module; Optuna coordinates the trials.

- ``space``: search spaces: the request's form, validation against each type's params, defaults.
- ``storage``: Optuna's RDB storage, kept apart from our tables.
- ``objective``: one trial: fit on the validation split carved from the training part, score it.
- ``runner``: what the workers run: one trial per task, the retrain of the best, the upkeep.
- ``studies``: create, list, read and cancel studies (the API's side).
- ``public``: a study and its trials as the API shows them.
"""
