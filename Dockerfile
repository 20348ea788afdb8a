# The storyteller engine (gateway + session runtime) and `storyteller tasker-local`, from
# this checkout. No build step: the CLI runs the TypeScript sources through tsx.
#
#   docker build -t storyteller .
#   docker run -e DATABASE_URL=… -e STORYTELLER_GATEWAY_SECRET=… -p 8080:8080 storyteller serve
#
# docker-compose.yml runs two engine instances and the local Tasker runner from this image
# (docs/operations.md).
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production \
    STORYTELLER_HOST=0.0.0.0 \
    STORYTELLER_PORT=8080 \
    STORYTELLER_DATA_DIR=/data

# Dependencies first (cached while only sources change). Install scripts stay off, as in
# package.json's allowScripts: node-llama-cpp builds nothing (only the `local` LLM provider
# uses it, with a prebuilt binary), onnxruntime-node ships its CPU binaries in the package.
COPY package.json package-lock.json .npmrc ./
COPY patches ./patches
# --ignore-scripts skips postinstall too: apply patches/ (xstate's context copy) by hand.
RUN npm ci --omit=dev --ignore-scripts && npx patch-package && npm cache clean --force

COPY bin ./bin
COPY src ./src
COPY db ./db
COPY models ./models
COPY tsconfig.json ./

RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080 8090

# /readyz: the database answers, every migration is applied, the ownership lease is fresh.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=6 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.STORYTELLER_PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"

ENTRYPOINT ["node", "bin/storyteller.js"]
CMD ["serve"]
