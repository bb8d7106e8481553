# Portcullis gateway image.
#   docker build -t portcullis .
#   docker run -p 8787:8787 -v "$PWD/portcullis.yaml:/config/portcullis.yaml:ro" -v portcullis-state:/app/.portcullis portcullis
# To publish the port the config must listen on 0.0.0.0:8787, and that needs gateway.auth.mode: jwt
# (mode none is refused off loopback). Relative paths in the config resolve against /app; keep
# state and audit under ./.portcullis/, the volume. Try the demo in one process over stdio:
#   docker run -i --rm portcullis serve --stdio -c config/demo.yaml

# ---- build: compile TypeScript with the dev dependencies ----
FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and the compiled output only ----
FROM node:22-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY config ./config
# The code stays root-owned and read-only to the gateway; only the state folder is writable.
RUN chmod 0755 bin/portcullis.js \
 && ln -s /app/bin/portcullis.js /usr/local/bin/portcullis \
 && mkdir -p /app/.portcullis \
 && chown node:node /app/.portcullis
USER node
VOLUME ["/app/.portcullis"]
EXPOSE 8787
# slim has no curl; node's fetch does the probe. Adjust the port if gateway.listen differs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8787/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["portcullis"]
CMD ["serve", "-c", "/config/portcullis.yaml"]
