"""Local stand-ins, never deployed: Azurite launcher, Data Factory emulator, Functions host
stand-in with a Durable engine, and the demo. Imports the app only to host it."""
