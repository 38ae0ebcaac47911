# The service as a container image: a locked release build, then a slim Debian runtime with
# only the binary and CA certificates (TLS to PostgreSQL is rustls, inside the binary).
#
#   docker build -t betriebsnachbarschaften --build-arg GIT_REVISION="$(git rev-parse --short=12 HEAD)" .
#   docker run -p 8080:8080 -v bn-data:/data betriebsnachbarschaften
#
# See docs/operations.md for settings, PostgreSQL, replicas and health checks.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM docker.io/library/rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
WORKDIR /src

# Dependencies first, against placeholder sources: this layer is rebuilt only when the
# manifests change, not on every source change.
COPY Cargo.toml Cargo.lock build.rs ./
COPY .cargo .cargo
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src target/release/.fingerprint/betriebsnachbarschaften-* \
              target/release/build/betriebsnachbarschaften-*

COPY migrations migrations
COPY templates templates
COPY src src
# The revision for `bn_build_info` (the build context has no .git).
ARG GIT_REVISION=unknown
RUN GIT_REVISION="${GIT_REVISION}" cargo build --release --locked \
    && install -m 0755 target/release/betriebsnachbarschaften /usr/local/bin/betriebsnachbarschaften \
    && betriebsnachbarschaften --version

FROM docker.io/library/debian:${DEBIAN_RELEASE}-slim
# Stamped by the build (scripts/container-smoke.sh passes all three).
ARG VERSION=0.1.0
ARG GIT_REVISION=unknown
ARG SOURCE_URL=unknown
LABEL org.opencontainers.image.title="betriebsnachbarschaften" \
      org.opencontainers.image.description="System of record for regional skilled-labour networks" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GIT_REVISION}" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 bn \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
               --shell /usr/sbin/nologin bn \
    && install -d -o 10001 -g 10001 -m 0750 /data

COPY --from=build /usr/local/bin/betriebsnachbarschaften /usr/local/bin/betriebsnachbarschaften

# Inside the image the server listens on all addresses; the SQLite default and the token
# signing key live on the /data volume. JSON logs for shippers.
ENV HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    LOG_FORMAT=json
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
# The binary asks its own /health/ready: no curl in the image.
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
    CMD ["betriebsnachbarschaften", "healthcheck"]
# SIGTERM stops gracefully: in-flight requests get SHUTDOWN_GRACE_SECS to finish, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["betriebsnachbarschaften"]
CMD ["serve"]
