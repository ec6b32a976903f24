# syntax=docker/dockerfile:1
#
# celery-prometheus-exporter image: Node.js on distroless, non-root, no shell.
#
#   docker build -t celery-prometheus-exporter .
#   docker run --rm -p 8888:8888 -e CELERY_BROKER_URL=redis://redis:6379/0 celery-prometheus-exporter
#
# Flags go after the image name, exactly as after `celery-prometheus-exporter` (`node dist/cli.js`):
#   docker run … celery-prometheus-exporter --queues default,reports --log-level debug
# Change the port with CELERY_EXPORTER_PORT (not --port) so the HEALTHCHECK follows it.
# test/unit/dockerfile.test.ts checks these invariants; test/integration/dockerfile-build.test.ts
# replays both stages as plain shell and starts the result.

ARG NODE_MAJOR=22

# --- build: compile the TypeScript, then drop the development dependencies --------------------
FROM node:${NODE_MAJOR}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# --- runtime: the compiled exporter and its production dependencies only ----------------------
FROM gcr.io/distroless/nodejs${NODE_MAJOR}-debian12:nonroot
LABEL org.opencontainers.image.title="celery-prometheus-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Celery task, worker and queue metrics" \
      org.opencontainers.image.licenses="MIT"
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# distroless's "nonroot" user, by number so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8888
# No shell or curl in the image: Node itself asks /healthz (liveness). Kubernetes ignores this and
# uses the probes in deploy/kubernetes/ (/healthz for liveness, /readyz for readiness).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/nodejs/bin/node", "-e", "fetch('http://127.0.0.1:'+(process.env.CELERY_EXPORTER_PORT||8888)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/nodejs/bin/node", "dist/cli.js"]
