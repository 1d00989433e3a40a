# wasp in a container: the host binary, the Rust plugins and the example
# pipelines, built from this checkout. Never built on the machine wasp is
# developed on (no image registry is reachable there); tests/all/containers.rs
# checks that every path and command named here exists.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN scripts/setup && cargo build --release -p wasp && cargo xtask plugins --rust-only

FROM debian:bookworm-slim
COPY --from=build /src/target/release/wasp /usr/local/bin/wasp
COPY --from=build /src/plugins/dist /opt/wasp/plugins/dist
COPY examples /opt/wasp/examples
WORKDIR /opt/wasp
ENTRYPOINT ["wasp"]
CMD ["--help"]
