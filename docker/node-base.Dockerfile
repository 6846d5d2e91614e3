# The Node.js runtime image the app image builds on (`bisect-bot-node:20`), made without a registry:
# Debian bookworm-slim plus a Node 20 binary and its npm, both taken from the build context that
# scripts/build-node-base.sh prepares (from this machine's Node, or from an official Node
# distribution unpacked with --dist). bookworm-slim already carries libstdc++ and libgcc_s, which
# is all the official linux-x64 binary links against; Node brings its own CA certificates.
#
# Where a registry is reachable, `--build-arg NODE_BASE=node:20-bookworm-slim` on the app image
# does the same job.
FROM debian:bookworm-slim

ARG NODE_VERSION
# Set by `--ca-certs`: extra CA certificates Node trusts (a TLS-intercepting proxy in front of the
# npm registry or GitHub). Empty: Node's own CA list only.
ARG EXTRA_CA_CERTS=
LABEL org.opencontainers.image.title="bisect-bot-node" \
      org.opencontainers.image.description="Debian bookworm-slim with Node.js ${NODE_VERSION} and npm" \
      bisect-bot.node-version="${NODE_VERSION}"

COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY extra-ca-certs.pem /usr/local/share/bisect-bot/extra-ca-certs.pem
ENV NODE_EXTRA_CA_CERTS=${EXTRA_CA_CERTS}
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version && npm --version

CMD ["node"]
