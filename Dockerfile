# syntax=docker/dockerfile:1
# One image for all Kiln services; the container's command picks the binary:
#   /usr/local/bin/kiln-blockstore, kiln-metadata, kiln-merge, kiln-edge, kiln-control
# plus the operator CLI /usr/local/bin/kiln-admin (kubectl exec ... kiln-admin checkpoint ...).
# Build: docker build -t kiln .
# tests/k8s/dockerfile_libs_test.sh checks that the runtime stage installs the Debian package of
# every shared library the binaries link; keep one package per line in its apt-get install list.

FROM debian:12 AS build
# The library headers of APT_PACKAGES in tools/dev; the developer tools (ccache, clang-format, ...)
# are left out. GoogleTest is needed because CMakeLists.txt always configures tests/.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkgconf \
      libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev \
      librocksdb-dev libssl-dev prometheus-cpp-dev libgoogle-glog-dev \
      libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev \
      libgtest-dev libgmock-dev libcurl4-openssl-dev libpq-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DKILN_BUILD_TOOLS=OFF \
 && ninja -C build kiln-blockstore kiln-metadata kiln-merge kiln-edge kiln-control kiln-admin \
 && mkdir /out \
 && for svc in blockstore metadata merge edge control admin; do \
      strip --strip-unneeded -o /out/kiln-$svc build/services/$svc/kiln-$svc; \
    done

FROM debian:12-slim AS runtime
# Runtime shared libraries only. libc6, libgcc-s1 and libstdc++6 are part of debian:12-slim.
# libcurl4 (the block-store's S3 transport) brings most of the rest (TLS, Kerberos, LDAP, ...).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates \
      libabsl20220623 \
      libboost-json1.81.0 \
      libboost-url1.81.0 \
      libbrotli1 \
      libbz2-1.0 \
      libc-ares2 \
      libcivetweb1 \
      libcom-err2 \
      libcurl4 \
      libffi8 \
      libgflags2.2 \
      libgmp10 \
      libgnutls30 \
      libgoogle-glog0v6 \
      libgrpc++1.51 \
      libgrpc29 \
      libgssapi-krb5-2 \
      libhogweed6 \
      libidn2-0 \
      libk5crypto3 \
      libkeyutils1 \
      libkrb5-3 \
      libkrb5support0 \
      libldap-2.5-0 \
      liblz4-1 \
      liblzma5 \
      libnettle8 \
      libnghttp2-14 \
      libp11-kit0 \
      libpq5 \
      libprometheus-cpp-core1.0 \
      libprometheus-cpp-pull1.0 \
      libprotobuf32 \
      libpsl5 \
      libre2-9 \
      librocksdb7.8 \
      librtmp1 \
      libsasl2-2 \
      libsnappy1v5 \
      libssh2-1 \
      libssl3 \
      libtasn1-6 \
      libunistring2 \
      libunwind8 \
      libzstd1 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 kiln \
 && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin kiln \
 && install -d -o 65532 -g 65532 /data
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
# RocksDB data belongs on a volume mounted at /data (--backend=rocksdb:///data/<service>).
EXPOSE 7101 7102 7103 8787 9101 9102 9103 9104
