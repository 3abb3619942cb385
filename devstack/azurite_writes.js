// Preloaded into Azurite (`node --require devstack/azurite_writes.js azurite.js ...`) with
// DEVSTACK_AZURITE_WRITES (a file) and DEVSTACK_AZURITE_BLOB_PORT set.
//
// Appends one JSON line per blob created or replaced (Put Blob, Put Block List, Copy Blob),
// the write path Azure Storage tells Event Grid from. The Event Grid stand-in reads the lines
// after the last one it read, so what it costs follows the writes; listing the watched
// container every few seconds cost more with every file that ever landed.
"use strict";

const fs = require("fs");
const http = require("http");

const file = process.env.DEVSTACK_AZURITE_WRITES;
const blobPort = Number(process.env.DEVSTACK_AZURITE_BLOB_PORT);

// The operation a blob request answered with `status` was, when it created or replaced a
// blob; else null.
// Put Block, leases, snapshots, metadata and container requests carry `comp` or `restype`.
function operation(req, status, query) {
  if (req.method !== "PUT" || query.has("restype")) return null;
  const comp = query.get("comp");
  if (comp === "blocklist") return status === 201 ? "PutBlockList" : null;
  if (comp !== null) return null;
  if (req.headers["x-ms-copy-source"]) return status === 201 || status === 202 ? "CopyBlob" : null;
  return status === 201 ? "PutBlob" : null;
}

function record(fd, req, status, res) {
  const url = new URL(req.url, "http://azurite");
  const op = operation(req, status, url.searchParams);
  if (op === null) return;
  const [, , container, ...blob] = url.pathname.split("/"); // "", account, container, blob
  if (!container || blob.length === 0) return;
  const line = {
    container: decodeURIComponent(container),
    blob: decodeURIComponent(blob.join("/")),
    etag: String(res.getHeader("etag") || ""),
    api: op,
  };
  fs.writeSync(fd, JSON.stringify(line) + "\n"); // the reader takes only whole lines
}

if (file && blobPort) {
  const fd = fs.openSync(file, "a");
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function (event, req, res) {
    if (event === "request" && req.method === "PUT" && req.socket.localPort === blobPort) {
      // As the answer's head goes out (the blob is committed by then): the line is in the
      // journal before the client has its answer, even if the client hangs up meanwhile.
      const writeHead = res.writeHead;
      res.writeHead = function (status) {
        try {
          record(fd, req, status, res);
        } catch (err) {
          console.error(`azurite_writes: ${req.url} not recorded: ${err}`);
        }
        return writeHead.apply(this, arguments);
      };
    }
    return emit.apply(this, arguments);
  };
}
