# postern container image: Debian 12 slim, two stages. The build stage
# compiles and runs `make install` (the same steps as on a host) into /out;
# the run stage gets that tree, the runtime libraries and a user, nothing
# else. It runs as that user, never as root: the listener is on 2525 (the
# host maps 25 or 587 to it), so the root parent's privilege separation
# has nothing to do. docs/install.md#container.
#
#   podman build --format docker -t postern .    (or docker build -t postern .)
#   podman run -d -v /srv/postern:/etc/postern:ro -v postern-spool:/var/spool/postern \
#       -p 127.0.0.1:2525:2525 postern
ARG DEBIAN=debian:12-slim

FROM ${DEBIAN} AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        gcc make pkg-config libc6-dev libevent-dev libssl-dev libc-ares-dev \
        libcrypt-dev libpcre2-dev libcurl4-openssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN make -j"$(nproc)" build/postern \
    && make install DESTDIR=/out PREFIX=/usr \
    && cp docker/postern.cf /out/etc/postern/postern.cf

FROM ${DEBIAN}
# the libraries build/postern links (ldd), the CA store for
# smtp_tls_security_level = verify; tests/e2e/test_packaging.py checks the list
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libevent-2.1-7 libevent-core-2.1-7 libevent-openssl-2.1-7 libssl3 libc-ares2 \
        libpcre2-8-0 libcurl4 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# a fixed uid, so that files mounted from the host can be given to it
# (the secrets: chown 2525 sasl_passwd; chmod 600 sasl_passwd)
ARG POSTERN_UID=2525
COPY scripts/add-mail-owner /usr/local/sbin/add-mail-owner
RUN add-mail-owner postern "${POSTERN_UID}" && rm /usr/local/sbin/add-mail-owner
COPY --from=build /out/ /
COPY docker/healthcheck /usr/lib/postern/healthcheck
RUN install -d -o postern -g postern -m 0700 /var/mail/postern \
    && chown postern:postern /var/spool/postern
# the queue outlives the container; a new volume takes this directory's owner
VOLUME ["/var/spool/postern"]
WORKDIR /var/spool/postern
USER ${POSTERN_UID}:${POSTERN_UID}
EXPOSE 2525
# /readyz of http_listen answers 200 (queue has room, the relayhost login
# works); a configuration without http_listen: the first smtp:// or
# submission:// listener answers with its 220 greeting (docker/healthcheck)
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/lib/postern/healthcheck"]
# SIGTERM: sessions in DATA get 30 s; give the container 40 (--stop-timeout 40 / -t 40)
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/sbin/postern"]
CMD ["serve", "-c", "/etc/postern/postern.cf"]
