# launch-operator image: one binary for the controller and the emulator.
#   docker build -t launch-operator:0.1.0 .
# Build stage: the Rust toolchain; aws-lc-rs needs cmake, clang and perl.
FROM rust:1.95-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake clang \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin launch-operator

# Runtime stage: glibc and CA certificates only, no shell, runs as an unprivileged user.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/launch-operator /usr/local/bin/launch-operator
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/launch-operator"]
CMD ["controller"]
