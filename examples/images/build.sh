#!/bin/sh
# Build the example images into the local Docker engine, with no registry: each program is
# compiled on this host first (a static one with the C compiler, one against musl with
# musl-gcc: Debian's gcc and musl-tools, which `make run` installs), then `docker build` of a
# FROM scratch context holding only it. Usage: build.sh [NAME...] (default: all of them).
set -eu
cd "$(dirname "$0")"
TAG=${TAG:-1}
work=$(mktemp -d "${TMPDIR:-/tmp}/.vmctb-tmp-examples.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
for name in ${*:-static-http musl-primes}; do
  context="$work/$name"
  mkdir -p "$context"
  case "$name" in
    static-http) cc -static -O2 -Wall -Werror -o "$context/server" static-http/server.c ;;
    musl-primes)
      musl-gcc -O2 -Wall -Werror -o "$context/primes" musl-primes/primes.c
      cp /lib/ld-musl-x86_64.so.1 "$context/" ;;
    *) echo "build.sh: no example image $name (there are: static-http, musl-primes)" >&2; exit 2 ;;
  esac
  cp "$name/Dockerfile" "$context/"
  id=$(docker build -q -t "vmct-example/$name:$TAG" "$context")
  echo "vmct-example/$name:$TAG $id"
done
