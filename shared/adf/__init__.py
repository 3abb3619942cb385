"""Azure Data Factory: the one client the app uses (start exactly once, status, activity
runs, cancel, rerun from failure, deploy `adf/`) and the pure status vocabulary that maps
ADF's run and activity states onto the app's (queued, running, succeeded, failed, ...).

Public surface: `shared.adf.client` (`AdfClient`, `get_adf_client`, `AdfError`) and
`shared.adf.status` (the terminal and failure sets, `summarize`)."""
