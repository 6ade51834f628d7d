# ReadFlow API and worker image (the same image; the command selects the role).
# Node 24, the current LTS (CI runs the suite on it as well as on Node 20, the oldest supported).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-fund --no-audit
COPY tsconfig.json tsconfig.build.json vite.config.mjs ./
COPY src ./src
COPY generated ./generated
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
# The ingest activities read burned-in text with tesseract on a downscaled copy (gdcmconv decodes compressed pixels).
RUN apt-get update && apt-get install -y --no-install-recommends tesseract-ocr libgdcm-tools && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# dist/ holds the bundled web page too (dist/web, made by vite in `npm run build`); src/web/serve.ts finds it there.
COPY package.json ./
USER node
EXPOSE 3000
CMD ["node", "dist/src/cli/api.js"]
