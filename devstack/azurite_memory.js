// Preloaded into Azurite (`node --expose-gc --require devstack/azurite_memory.js azurite.js
// ...`). Collects garbage every DEVSTACK_AZURITE_GC_SECONDS (default 60; 0: never).
//
// Under a steady load V8 collects Azurite's old generation rarely and keeps the pages it
// freed, so its RSS floor climbs while what it holds does not: in the soak the least RSS of
// each minute rose 122 -> 134 MB in 21 minutes (+19% per hour) while the heap in use after a
// full collection stayed at 51 MB. A full collection a minute (tens of milliseconds at this
// heap size) lets the RSS follow what Azurite holds, as a stand-in left running on a
// developer's machine should.
"use strict";

const seconds = Number(process.env.DEVSTACK_AZURITE_GC_SECONDS ?? "60");
if (typeof global.gc === "function" && seconds > 0) {
  setInterval(() => global.gc(), seconds * 1000).unref(); // never what keeps node running
}
