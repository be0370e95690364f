// Creates the Phase 2 (course) and Phase 3 (timing) collections in a running Directus through its REST
// API, after the slice-1 collections exist. Used by scripts/make-snapshot.sh.
// Env: DIRECTUS_URL (default http://127.0.0.1:8055), ADMIN_EMAIL, ADMIN_PASSWORD.
import { createCollections } from './course-builders.mjs';
import { collections as course } from './phase2-course.mjs';
import { collections as timing } from './phase3-timing.mjs';

const base = process.env.DIRECTUS_URL ?? 'http://127.0.0.1:8055';

async function request(method, path, body, token) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

const { data: { access_token: token } } = await request('POST', '/auth/login', {
  email: process.env.ADMIN_EMAIL, password: process.env.ADMIN_PASSWORD,
});
const call = (method, path, body) => request(method, path, body, token);
await createCollections(call, course);
await createCollections(call, timing);
