"""Key Vault secrets of the app: which ones the app rotates itself (the webhook signing
secret and the intake secret, each with a `-next` companion that is accepted alongside it
during an overlap) and which a person must replace (the sink URLs, the Batch key), and the
rotation that `on_secret_near_expiry` runs (`rotation`)."""
