"""The Durable Functions engine of the host stand-in: history events, replay through the
package's own executor, the per-instance state machine, its Azurite store, the runtime that
runs it on worker pools, and the Durable HTTP API."""
