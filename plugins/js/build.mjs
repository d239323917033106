// Builds one JavaScript Switchyard plugin into a WebAssembly component with componentize-js
// (the StarlingMonkey engine). `switchyard plugin build` runs a copy of this script; it can
// also be run by hand:
//
//   node plugins/js/build.mjs --wit wit --world policy --src plugins/js/tiered/plugin.js \
//        --out tiered.wasm [--modules plugins/js/node_modules]
//
// Every optional engine feature is disabled (stdio, random, clocks, http, fetch-event), so
// the component imports nothing but `switchyard:plugin/host`: no WASI at all. `console.log`
// goes nowhere (use the host's `log` import), `Date.now()` and `Math.random()` are fixed.
// Why StarlingMonkey and not the QuickJS backend: see docs/plugins.md ("JavaScript engine").

import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    wit: { type: "string" },
    world: { type: "string" },
    src: { type: "string" },
    out: { type: "string" },
    modules: { type: "string" },
  },
});
for (const key of ["wit", "world", "src", "out"]) {
  if (!values[key]) {
    console.error(`build.mjs: missing --${key}`);
    process.exit(2);
  }
}
const modules = values.modules ?? join(dirname(fileURLToPath(import.meta.url)), "node_modules");
const pkgDir = join(modules, "@bytecodealliance", "componentize-js");
let pkg;
try {
  pkg = JSON.parse(await readFile(join(pkgDir, "package.json"), "utf8"));
} catch {
  console.error(`build.mjs: componentize-js is not installed in ${modules}`);
  process.exit(3);
}
const entry = pkg.exports?.import ?? pkg.exports?.["."]?.import ?? "src/componentize.js";
const { componentize } = await import(pathToFileURL(join(pkgDir, entry)).href);

// componentize-js reads the WIT through a WASI shim (preview2-shim) whose recent versions
// preopen nothing, so any WIT path fails with "No such file or directory (os error 44)".
// Preopen the WIT directory, and only it, in the very shim instance componentize-js uses.
const witDir = resolve(values.wit);
try {
  const shim = join(modules, "@bytecodealliance", "preview2-shim", "dist", "nodejs", "filesystem.js");
  const { _addPreopen } = await import(pathToFileURL(shim).href);
  _addPreopen?.(witDir, witDir);
} catch {
  // An older shim that preopens `/` itself.
}

const started = Date.now();
const { component } = await componentize({
  sourcePath: resolve(values.src),
  witPath: witDir,
  worldName: values.world,
  disableFeatures: ["stdio", "random", "clocks", "http", "fetch-event"],
});
await mkdir(dirname(resolve(values.out)), { recursive: true });
await writeFile(values.out, component);
console.log(
  `componentize-js ${pkg.version}: ${values.out} (${component.length} bytes) in ${Date.now() - started} ms`,
);
