#!/usr/bin/env bash
# deps.sh TOOL...: make sure the tools the tests drive are installed.
# On Debian/Ubuntu as root it installs the missing ones with apt-get;
# elsewhere it names what is missing and how to get it.
set -euo pipefail
missing=()
for t in "$@"; do
  # mount helpers live in sbin, which a user's PATH may lack.
  command -v "$t" >/dev/null 2>&1 || [ -x "/sbin/$t" ] || [ -x "/usr/sbin/$t" ] || missing+=("$t")
done
[ ${#missing[@]} -eq 0 ] && exit 0
pkgs=()
for t in "${missing[@]}"; do
  case "$t" in
    sha256sum) pkgs+=(coreutils) ;;
    mount.fuse3 | fusermount3) pkgs+=(fuse3) ;;
    autoreconf) pkgs+=(autoconf) ;;
    gcc) pkgs+=(gcc libc6-dev) ;;
    prove) pkgs+=(perl) ;;
    setfattr | getfattr) pkgs+=(attr) ;;
    *) pkgs+=("$t") ;;
  esac
done
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "deps: installing ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
else
  echo "deps: missing ${missing[*]}; install them (Debian: apt-get install ${pkgs[*]})" >&2
  exit 1
fi
