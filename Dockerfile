# syntax=docker/dockerfile:1
#
# The TRM Directus image: the official Directus image with trm-init as PID 1.
# Built and run by a real Docker engine in every test run (scripts/test.sh: tests/container_*.rs boot,
# stop, probe, restart and harden it); tests/dockerfile.rs checks rules the engine does not enforce (pinned
# tags, layer order, exec-form HEALTHCHECK, no shell tools), tests/image_rehearsal.rs the final stage's
# layout on a machine without an engine. On the development machines the FROM images are local
# stand-ins (stand-ins/README.md); elsewhere the real images are used as they are.

# ---- build: the static trm-init ------------------------------------------------------------------------
# .cargo/config.toml selects x86_64-unknown-linux-gnu with crt-static: one static binary that runs on the
# musl (Alpine) base below. Build on an amd64 builder (e.g. `docker build --platform linux/amd64`).
FROM rust:1.95.0-slim-bookworm AS build
WORKDIR /src
# Dependencies first, compiled against an empty crate: this layer is reused until Cargo.toml,
# Cargo.lock or .cargo/ change, so a code change rebuilds only trm-init itself.
# build.rs: the release link leaves out the unwind tables (panic = "abort"), the empty crate's too.
COPY Cargo.toml Cargo.lock build.rs ./
COPY .cargo/ .cargo/
# The tests' harness is a path dev-dependency: cargo reads its manifest even for a release build.
COPY tests/support/ tests/support/
RUN mkdir src && echo 'fn main() {}' > src/main.rs && : > src/lib.rs \
    && cargo build --release --locked && rm -rf src
COPY src/ src/
# The access file: its `membership` section is built into the binary as the default of every access file
# (src/preflight/access/file.rs). A change to it rebuilds trm-init; the rest of snapshots/ stays late.
COPY snapshots/access.yaml snapshots/access.yaml
# touch: the copied sources may be older than the empty crate's build, which cargo would then reuse.
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && test -x target/x86_64-unknown-linux-gnu/release/trm-init

# ---- extensions: the TypeScript Directus extensions (extensions/), built with the official SDK ----------
# Their own package.json and lockfile: `npm ci` installs exactly what the lockfile pins, in a layer reused
# until either changes. The unit tests run before the build; only package.json and dist/ (the bundle,
# dependencies included) reach the final stage, laid out as Directus's extensions folder expects.
FROM node:22.23.5-bookworm-slim AS extensions
WORKDIR /src
COPY extensions/package.json extensions/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY extensions/tsconfig.json ./
COPY extensions/src/ src/
COPY extensions/test/ test/
# The sample course the GPX unit tests read (seed/courses, shipped with the seed below).
COPY seed/courses/ /seed/courses/
RUN npm test && npm run build \
    && mkdir -p /out/trm-extensions && cp -r package.json dist /out/trm-extensions/ \
    && test -f /out/trm-extensions/dist/api.js

# ---- seed: the loader's npm dependencies, exact versions from seed/package-lock.json (no dev tools) -------
FROM node:22-alpine AS seed
WORKDIR /seed
COPY seed/package.json seed/package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- compile-cache: Node's compile cache for Directus's modules, made once per Directus version ----------
# The runtime's base, as uid 1000 (Node names its cache folder by version and uid: the runtime's Directus
# runs as node), with Directus at the same paths: compile-cache/warm.mjs imports what `cli.js start`
# imports, so Node compiles every module once and writes V8's code cache (about 4,400 entries, 22 MB).
# The runtime copies the result to /directus/compile-cache, which trm-init hands to Directus as
# NODE_COMPILE_CACHE (child.compile_cache): a first boot and a read-only root start sooner too. DB_*: the
# modules read them when imported (pg: PostgreSQL's driver is what gets compiled, not the base's sqlite3);
# nothing listens on port 9, so no database is reached. The final stage stays free of RUN steps.
FROM directus/directus:11.17.4 AS compile-cache
USER node
WORKDIR /directus
COPY compile-cache/warm.mjs /tmp/warm.mjs
RUN mkdir -p /directus/compile-cache \
    && env DB_CLIENT=pg DB_HOST=127.0.0.1 DB_PORT=9 DB_DATABASE=warm DB_USER=warm SECRET=warm \
       NODE_COMPILE_CACHE=/directus/compile-cache node /tmp/warm.mjs /directus \
    && test -n "$(ls /directus/compile-cache/*-1000/)"

# ---- runtime: the official Directus image, pinned to the version the end-to-end tests run ---------------
FROM directus/directus:11.17.4
# Rarely changing layers first; the snapshot and the seed late; extensions last.
COPY --from=build /src/target/x86_64-unknown-linux-gnu/release/trm-init /usr/local/bin/trm-init
# Node's compile cache for Directus (see the compile-cache stage): changes only with the base image.
COPY --from=compile-cache --chown=node:node /directus/compile-cache/ /directus/compile-cache/
COPY config/ /directus/config/
# The Directus step's helper: bootstrap, diff and apply in one Node process, through @directus/api's modules.
COPY directus-step/ /directus/directus-step/
COPY db-init/ /directus/db-init/
COPY db-init-post/ /directus/db-init-post/
COPY snapshots/ /directus/snapshots/
# The seed loader, run on demand: docker exec <container> node /directus/seed/load.mjs (seed/README.md).
COPY --from=seed /seed/node_modules/ /directus/seed/node_modules/
COPY seed/ /directus/seed/
COPY --from=extensions --chown=node:node /out/ /directus/extensions/

ENV TRM_INIT_CONFIG=/directus/config/trm-init.toml
USER node
WORKDIR /directus
# docker stop sends this, then KILL after its timeout (10 s by default); trm-init's child.stop_grace (8 s)
# stays below it so trm-init, not Docker, ends Directus and reports the exit code.
STOPSIGNAL SIGTERM
# Exec form: no shell in the probe. trm-init health gives up after 3 s, inside Docker's 5 s timeout (Docker's
# default is 30 s). The start period covers a cold boot: database wait (database.wait_timeout, 60 s) plus
# bootstrap, schema apply and Directus's start on an empty database.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
    CMD ["/usr/local/bin/trm-init", "health", "--timeout", "3s"]
# Setting ENTRYPOINT drops the base image's CMD (bootstrap && pm2-runtime): trm-init runs the boot itself.
ENTRYPOINT ["/usr/local/bin/trm-init"]
