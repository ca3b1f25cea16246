# One image for every edgeplay role: `edgeplay up|gateway|matchmaker|host|turn` and `edgectl`.
# Build: docker build -t edgeplay .
# Run:   docker run --rm -p 8080:8080 -p 8443:8443/udp edgeplay up --public-ip <your IP>
FROM golang:1.26-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      pkg-config libavcodec-dev libavutil-dev libswscale-dev libx264-dev libvpx-dev libopus-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -o /out/edgeplay ./cmd/edgeplay && \
    CGO_ENABLED=0 go build -trimpath -o /out/edgectl ./cmd/edgectl

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libavcodec59 libavutil57 libswscale6 libvpx7 libopus0 ca-certificates \
    && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 edgeplay
COPY --from=build /out/edgeplay /out/edgectl /usr/local/bin/
USER edgeplay
# 8080/tcp: web client, player websocket, /metrics. 8443/udp: WebRTC media (ICE UDP mux).
# 3478/udp+tcp: TURN. TURN's relay ports (--turn-relay-ports) are not listed: they must be
# published 1:1 (`-p 49160-49200:49160-49200/udp` with that range), which -P would not do.
EXPOSE 8080/tcp 8443/udp 3478/udp 3478/tcp
ENTRYPOINT ["edgeplay"]
CMD ["up"]
