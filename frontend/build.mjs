// Bundles each console page's script into static/console/dist (never committed).
import { build } from "esbuild";
import { readdirSync } from "node:fs";

const entries = readdirSync("src")
  .filter((name) => name.endsWith(".js") && !name.startsWith("_"))
  .map((name) => `src/${name}`);

await build({
  entryPoints: entries,
  bundle: true,
  format: "esm",
  splitting: true,
  minify: true,
  sourcemap: true,
  target: ["es2022"],
  outdir: "../static/console/dist",
  loader: { ".css": "css" },
  logLevel: "warning",
});
