// trm-init's preloaded main child: loads Directus's server module while trm-init's preflight runs, then
// starts the server only when trm-init says so.
//
// Owns the wait between the module load and `startServer()`. It never starts the server without the go:
// importing `@directus/api`'s `dist/server.js` only defines Directus's modules (the environment is read,
// the logger made; the database, the schema, permissions, extensions and caches are first touched by
// `startServer()`), so nothing it loads can predate the preflight's migrations and access rows.
//
// File descriptor 3 is the read end of a pipe whose write end only trm-init holds. trm-init writes
// "go\n" once the preflight has succeeded; anything else, or end of file (the preflight failed, a stop
// signal, trm-init died), ends this process with status 0 without starting anything.
// Usage (trm-init builds it from `child.command`): node [node options] preload.mjs <@directus/api>/dist/server.js
import { createReadStream } from 'node:fs';
import { pathToFileURL } from 'node:url';

const GO_FD = 3;
const server = process.argv[2];
if (!server) {
	console.error('preload: usage: node preload.mjs <@directus/api>/dist/server.js');
	process.exit(2);
}

const { startServer } = await import(pathToFileURL(server).href);
console.error(`preload: ${server} loaded, waiting for trm-init's go`);

async function readGo() {
	let text = '';
	// autoClose: the descriptor is closed once the answer is read (the server must not inherit it).
	for await (const chunk of createReadStream('', { fd: GO_FD, encoding: 'utf8', autoClose: true })) {
		text += chunk;
		if (text.includes('\n')) break;
	}
	return text.split('\n')[0] === 'go';
}

if (!(await readGo())) {
	console.error('preload: no go from trm-init (preflight failed or stopped): exiting without starting Directus');
	process.exit(0);
}
await startServer();
