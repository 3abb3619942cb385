"""The app's logic. Never imports `functions`, `devstack` or `training`.

Modules here import Azure SDKs, pydantic, numpy... lazily or at their own top level, but
`functions/` imports them only inside handlers so that importing `function_app` stays cheap.
"""
