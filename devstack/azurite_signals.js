// Preloaded into Azurite (`node --require devstack/azurite_signals.js azurite.js ...`).
//
// Azurite installs its SIGTERM/SIGINT handlers only after all three services listen, so
// for a moment its ports accept connections while a SIGTERM still kills it by the default
// action (exit -15, metadata not saved). A parent that stops it as soon as the ports are
// up, or while it starts, hits that window. Here a signal that arrives before Azurite's own
// handlers are in is held, and handed to them as soon as Azurite installs them.
"use strict";

const SIGNALS = ["SIGTERM", "SIGINT"];
const held = [];
const hold = (sig) => held.push(sig);

for (const sig of SIGNALS) process.on(sig, hold);

process.on("newListener", function handOver(event, listener) {
  if (!SIGNALS.includes(event) || listener === hold) return;
  process.removeListener("newListener", handOver);
  // Azurite adds its SIGINT and SIGTERM handlers in one statement: hand over after it.
  setImmediate(() => {
    for (const sig of SIGNALS) process.removeListener(sig, hold);
    for (const sig of held.splice(0)) process.emit(sig, sig);
  });
});
