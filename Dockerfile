# SneakyScanner: the server with nmap, the built web app and a SQLite volume.
FROM rust:1.95-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# `make frontend`: Trunk with the project's wasm-opt on PATH, the 400 KB size check, and the
# API playground's pinned files.
RUN make frontend && cargo build --release --locked -p server

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends nmap ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/target/release/sneakyscan /usr/local/bin/sneakyscan
COPY --from=build /src/frontend/dist /app/frontend/dist
COPY configs /app/configs
ENV SNEAKYSCAN_LISTEN=0.0.0.0:8080 \
    SNEAKYSCAN_DATA_DIR=/data
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD ["sneakyscan", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]
ENTRYPOINT ["sneakyscan"]
CMD ["serve"]
