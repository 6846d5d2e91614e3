# The Bisect Bot image: one image, two processes.
#   web     node --import tsx server/web.ts      (the default command)
#   worker  node --import tsx jobs/worker.ts
# plus the one-shot commands `node --import tsx scripts/db.ts migrate` and
# `node --import tsx scripts/runner-image.ts`. docker-compose.prod.yml runs all of them.
#
# The base is a Debian bookworm image with Node 20.18+ and npm. No registry needed: by default it
# is the local `bisect-bot-node:20` made by scripts/build-node-base.sh; where a registry is
# reachable, `--build-arg NODE_BASE=node:20-bookworm-slim` works as well.
#
# Runs as an unprivileged user, writes nothing outside /tmp (run it with a read-only root and a
# tmpfs on /tmp), and carries production dependencies only.
ARG NODE_BASE=bisect-bot-node:20

# --- build: every dependency, then the Remix production build --------------------------------
FROM ${NODE_BASE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY remix.config.js remix.env.d.ts tsconfig.json ./
COPY public public
COPY config config
COPY db db
COPY runner runner
COPY jobs jobs
COPY app app
RUN NODE_ENV=production node node_modules/@remix-run/dev/dist/cli.js build

# --- prod-deps: production dependencies only (tsx is one: the processes run TypeScript) ------
FROM ${NODE_BASE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

# --- the image -------------------------------------------------------------------------------
FROM ${NODE_BASE}
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    DATA_DIR=/tmp/bisect-bot \
    HOME=/tmp \
    TMPDIR=/tmp \
    NPM_CONFIG_UPDATE_NOTIFIER=false
RUN groupadd --gid 10001 bisect \
 && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
      --shell /usr/sbin/nologin bisect
WORKDIR /app
# Everything below belongs to root and is read-only to the process.
COPY --from=prod-deps /app/node_modules node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY config config
COPY db db
COPY runner runner
COPY jobs jobs
COPY server server
COPY scripts scripts
COPY docker/healthcheck-web.mjs docker/healthcheck-web.mjs
COPY --from=build /app/build build
COPY --from=build /app/public public

USER 10001:10001
EXPOSE 3000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "docker/healthcheck-web.mjs"]
CMD ["node", "--import", "tsx", "server/web.ts"]
