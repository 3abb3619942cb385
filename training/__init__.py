"""TensorFlow code that Azure Data Factory runs as Custom activities on Azure Batch.

Batch downloads `<mlContainer>/code/<version>/` (uploaded by `python -m training.package`)
into the task's working directory, so `training/` is a package there, and ADF runs
`python -m training.preprocess`, `python -m training.train` or `python -m training.score`.
The pool's start task installs `training/requirements.txt` on every node.

This package never imports the Function App (`shared`, `functions`, `devstack`): it talks to
it only through ADF parameters (`activity.json` extendedProperties) and blob paths, and
hands a summary back through `outputs.json` (ADF's `customOutput`).
"""
