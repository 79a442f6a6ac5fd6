# syntax=docker/dockerfile:1
# The Credence daemon image: a release build of `credence` on Debian slim, running as a non-root
# user with nothing writable needed (run it with a read-only root filesystem), and the CycloneDX
# SBOM of the build at /usr/share/doc/credence/sbom.cdx.json.
#
#   docker build -t credence:0.1.0 \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
#
# Configuration: mount credence.toml at /etc/credence/credence.toml (the Helm chart does), give the
# pseudonymisation key in CREDENCE_PSEUDONYM_KEY or a mounted key file. Admin port 9464.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
# librdkafka is built from source (cmake) with TLS and SCRAM against the system OpenSSL.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends cmake pkg-config libssl-dev python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin credence \
 && bash scripts/sbom.sh /out/sbom.cdx.json \
 && install -D -m 0755 target/release/credence /out/credence

FROM debian:${DEBIAN_RELEASE}-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
# Runtime libraries of the binary (ldd): OpenSSL and zlib; CA certificates for TLS to Kafka.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libssl3 zlib1g ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/credence /usr/local/bin/credence
COPY --from=build /out/sbom.cdx.json /usr/share/doc/credence/sbom.cdx.json
COPY LICENSE /usr/share/doc/credence/LICENSE
COPY credence.example.toml /usr/share/doc/credence/credence.example.toml
LABEL org.opencontainers.image.title="credence" \
      org.opencontainers.image.description="Runtime behavioral anomaly detection for API credentials" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://example.invalid/credence" \
      org.opencontainers.image.documentation="https://example.invalid/credence/blob/main/README.md" \
      org.opencontainers.image.base.name="docker.io/library/debian:${DEBIAN_RELEASE}-slim"
# A numeric user (the chart's runAsUser): Kubernetes can check runAsNonRoot against it.
USER 65532:65532
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/credence"]
CMD ["run", "--config", "/etc/credence/credence.toml"]
