# syntax=docker/dockerfile:1
# The hdra image: the `hdra` CLI (node plugin, webhook, controller) on a slim Python 3.11 base, plus
# HAMi-core's libvgpu.so taken from the published HAMi image (DESIGN §5).
#
#   docker build -t hdra:0.1.0 .
#
# The chart's node-plugin init container copies /usr/local/vgpu/libvgpu.so onto the host and writes
# ld.so.preload next to it. The image runs as the non-root user 10001 (webhook, controller); the
# chart runs the node plugin as root because it writes kubelet, CDI and hdra host directories.

# HAMi v2.10.0 ships HAMi-core as /k8s-vgpu/lib/nvidia/libvgpu.so.<HAMi version> (HAMi docker/Dockerfile).
ARG HAMI_IMAGE=projecthami/hami:v2.10.0
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${HAMI_IMAGE} AS hami

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/hdra
WORKDIR /src
COPY pyproject.toml README.md ./
COPY dra_driver ./dra_driver
# No extras: the development tools (hdra[tools]: dev cluster, simulator, CEL engine) stay out of the image.
RUN /opt/hdra/bin/pip install --upgrade pip \
 && /opt/hdra/bin/pip install . \
 && /opt/hdra/bin/hdra --help >/dev/null

# Exactly one libvgpu.so* must come from the HAMi image; the glob absorbs the version suffix.
COPY --from=hami /k8s-vgpu/lib/nvidia/ /tmp/hami-nvidia/
RUN set -eu; \
    found=$(find /tmp/hami-nvidia -maxdepth 1 -type f -name 'libvgpu.so*'); \
    count=$(printf '%s\n' "$found" | grep -c . || true); \
    if [ "$count" -ne 1 ]; then \
      echo "expected exactly one libvgpu.so* under /k8s-vgpu/lib/nvidia of the HAMi image, found $count: $found" >&2; \
      exit 1; \
    fi; \
    mkdir -p /out/usr/local/vgpu; \
    cp "$found" /out/usr/local/vgpu/libvgpu.so; \
    chmod 0755 /out/usr/local/vgpu/libvgpu.so

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="hdra" \
      org.opencontainers.image.description="Kubernetes DRA driver that shares accelerators with hard limits" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/hdra/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 hdra \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin hdra
COPY --from=build /opt/hdra /opt/hdra
COPY --from=build /out/usr/local/vgpu/libvgpu.so /usr/local/vgpu/libvgpu.so
USER 10001:10001
ENTRYPOINT []
CMD ["hdra", "--help"]
