# attest as a container image: a release build with the Swift standard library linked in
# statically, on a slim Ubuntu with only the shared libraries that build still loads.
#
#   docker build -t attest:0.1.0 .          # or: podman build / buildah bud -t attest:0.1.0 .
#   docker run --rm attest:0.1.0            # the offline demo (the default command)
#   docker run --rm attest:0.1.0 scan aws --help
#
# deploy/README.md covers the Kubernetes deployment (a sharded organization scan as an
# Indexed Job). The image runs as UID 65532 and writes nothing outside /tmp and its home, so
# it runs with a read-only root filesystem.

FROM swift:6.3-noble AS build
# GRDB builds against the system SQLite (the Swift image has its runtime library, not its
# headers); compress-nio against zlib, FoundationXML against libxml2. binutils (strip) is there.
# Package versions follow the base image's Ubuntu release.
# hadolint ignore=DL3008
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get -q update \
    && apt-get -q install -y --no-install-recommends libsqlite3-dev libxml2-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
# The dependencies first, in a layer of their own that a source change does not invalidate.
# Package.resolved is not committed: pinned versions are used when the checkout has one.
COPY Package.swift Package.resolved* ./
RUN if [ -f Package.resolved ]; then swift package resolve --force-resolved-versions; else swift package resolve; fi
# The manifest declares the test targets too, so their folders must exist for the package to load.
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib --product attest \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/attest" /staging/attest \
    && strip --strip-debug /staging/attest \
    && install -m 0755 /usr/libexec/swift/linux/swift-backtrace-static /staging/swift-backtrace-static

FROM ubuntu:noble
# What the binary still links dynamically with --static-swift-stdlib (ldd of a build): glibc and
# libm (in the base image), libstdc++ and libgcc_s (the Swift runtime's C++ parts), zlib
# (compress-nio), SQLite (GRDB, the scan history) and libxml2 (FoundationXML, the AWS XML
# protocols; it brings ICU and liblzma). ca-certificates: the TLS trust store for every HTTPS call.
# hadolint ignore=DL3008
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get -q update \
    && apt-get -q install -y --no-install-recommends \
        ca-certificates \
        libgcc-s1 \
        libsqlite3-0 \
        libstdc++6 \
        libxml2 \
        zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 65532 attest \
    && useradd --system --uid 65532 --gid 65532 --home-dir /home/attest --create-home --shell /usr/sbin/nologin attest

# The binary finds its data in share/attest above its own folder (scripts/install.sh's layout):
# provider specs, built-in controls and framework catalogues, the demo's recorded accounts and
# the example configuration.
COPY providers /usr/local/share/attest/providers
COPY controls /usr/local/share/attest/controls
COPY fixtures /usr/local/share/attest/fixtures
COPY config /usr/local/share/attest/config
COPY --from=build /staging/attest /usr/local/bin/attest
# The Swift runtime's crash reporter, so a crash in a pod leaves a symbolicated backtrace in its
# log (the binary keeps its symbol table; only debug information is stripped).
COPY --from=build /staging/swift-backtrace-static /usr/local/libexec/attest/swift-backtrace-static

ENV HOME=/home/attest \
    SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/usr/local/libexec/attest/swift-backtrace-static
WORKDIR /home/attest
# Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/attest"]
CMD ["demo"]
