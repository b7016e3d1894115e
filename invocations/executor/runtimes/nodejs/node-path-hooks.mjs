// ES module resolution that also searches NODE_PATH, as AWS's Node.js 18+ runtimes do:
// Node's own `import` ignores it, so without this an ES module handler could not import the
// runtime's AWS SDK (/var/runtime-sdk/nodejs/node_modules) or a layer's packages
// (/opt/nodejs/node_modules). Registered by bootstrap.js before it imports an ES module
// handler; a specifier found by Node's own rules (the function's node_modules) wins.
import path from "node:path";
import { pathToFileURL } from "node:url";

let searched = [];

export function initialize(data) {
  searched = String((data && data.nodePath) || "")
    .split(":")
    .filter((dir) => path.isAbsolute(dir));
}

function isBare(specifier) {
  return !/^(\.{0,2}\/|[a-z][a-z0-9+.-]*:)/i.test(specifier);
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (!error || error.code !== "ERR_MODULE_NOT_FOUND" || !isBare(specifier)) {
      throw error;
    }
    for (const dir of searched) {
      // As if imported by a module in `dir`: Node looks in `dir/../node_modules` on its way
      // up, so a `.../node_modules` entry is searched as NODE_PATH means it.
      const parentURL = pathToFileURL(path.join(dir, "node-path-import.mjs")).href;
      try {
        return await nextResolve(specifier, { ...context, parentURL });
      } catch (again) {
        if (!again || again.code !== "ERR_MODULE_NOT_FOUND") {
          throw again;
        }
      }
    }
    throw error;
  }
}
