"""The app's logic, one package per feature over a few base modules (the README's
architecture section is the map; `tests/unit/test_layering.py` keeps imports pointing one
way). Never imports `functions`, `devstack` or `training`.

Logic receives a `shared.services.Services` from its entry point and never looks settings
or clients up itself. `functions/` imports these modules only inside handlers, so importing
`function_app` stays cheap.
"""
