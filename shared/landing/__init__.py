"""The landing zone: where raw data lands and how the app notices it.

- `layout`: the date-partitioned names, kinds and the pure decisions about a file;
- `events`: Event Grid BlobCreated parsing;
- `detection`: find settled files and claim each exactly once into sealed batches
  (claims, manifests, pending markers in STATE_CONTAINER). The landing zone itself is
  only ever read."""
