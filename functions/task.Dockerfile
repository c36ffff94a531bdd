# The JobTask's image (infra/tasks.ts): the project's sources run by tsx, production dependencies only, better-sqlite3
# compiled for this image's Node (22, as the Lambda runtime) whatever Node the deployer has. Built by `sst deploy`.
FROM public.ecr.aws/docker/library/node:22-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY core ./core
COPY functions ./functions
COPY api ./api
COPY tsconfig.json ./
USER node
ENTRYPOINT ["node", "--import", "tsx", "functions/task.ts"]
