// Fills Node's compile cache (NODE_COMPILE_CACHE) with Directus's modules, at image build time: imports
// what `cli.js start` imports (the CLI, the server, the app with its routes, services and database layer)
// and Directus's migrations (which a first boot's bootstrap imports) without starting anything, so Node compiles each module once and writes its code cache at exit.
// No database is reachable during a build: Directus's modules read DB_* when imported and may log that the
// database cannot be reached; that is expected and ignored. Exits 1 only when Node has no compile cache.
// Usage: NODE_COMPILE_CACHE=DIR node compile-cache/warm.mjs DIRECTUS_DIR
import module from "node:module";
import { readdirSync } from "node:fs";
import path from "node:path";

const directus = path.resolve(process.argv[2] ?? "/directus");
const api = path.join(directus, "node_modules/@directus/api/dist");
if (!module.getCompileCacheDir?.()) {
  console.error("warm: Node's compile cache is off (is NODE_COMPILE_CACHE set?)");
  process.exit(1);
}
const entries = ["cli/index.js", "start.js", "server.js", "app.js"];
for (const entry of entries) {
  try {
    await import(path.join(api, entry));
  } catch (err) {
    console.error(`warm: ${entry}: ${err?.message ?? err} (ignored: its modules are compiled and cached up to there)`);
  }
}
// Directus's own migrations: a first boot's bootstrap (trm-init's Directus step) imports all ~100 of them
// one by one; importing only defines their up/down functions.
const migrations = path.join(api, "database/migrations");
let imported = 0;
for (const file of readdirSync(migrations).filter((f) => /^\d.*\.js$/.test(f))) {
  try {
    await import(path.join(migrations, file));
    imported++;
  } catch (err) {
    console.error(`warm: migration ${file}: ${err?.message ?? err} (ignored)`);
  }
}
module.flushCompileCache?.();
console.error(`warm: compile cache for ${entries.length} Directus entries and ${imported} migrations in ${module.getCompileCacheDir()}`);
process.exit(0);
