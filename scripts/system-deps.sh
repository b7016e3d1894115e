#!/usr/bin/env bash
# System packages the executor's runtimes use inside sandboxes: Debian's python3 (the
# python3.x runtimes), Node.js (nodejs*), bash and curl (custom runtimes, as on Amazon
# Linux), setpriv (drops privileges in the sandbox), libseccomp (the sandbox's seccomp
# filter), erofs-utils (code images), passt and nftables (functions' network). Installed
# only when missing.
set -euo pipefail
missing=()
[[ -x /usr/bin/python3 ]] || missing+=(python3)
command -v node >/dev/null || missing+=(nodejs)
# The Ruby and Java runtimes (issue 15): Debian's Ruby serves ruby3.x, its JDK java17 (javac
# builds the platform's own runtime client and the com.amazonaws...runtime interfaces).
[[ -x /usr/bin/ruby ]] || missing+=(ruby)
[[ -x /usr/bin/javac ]] || missing+=(openjdk-17-jdk-headless)
# Jackson: the Java runtime's POJO serializer (as AWS's runtime uses Jackson).
[[ -f /usr/share/java/jackson-databind.jar ]] || missing+=(libjackson2-databind-java)
[[ -x /usr/bin/curl ]] || missing+=(curl)
[[ -x /usr/bin/setpriv ]] || missing+=(util-linux)
[[ -x /usr/bin/bash ]] || missing+=(bash)
# The seccomp filter is compiled with libseccomp (through pyseccomp).
/sbin/ldconfig -p | grep -q 'libseccomp\.so\.2 ' || missing+=(libseccomp2)
# Each sandbox's /tmp is an ext4 image on a loop device (without them it falls back to tmpfs).
[[ -x /sbin/mkfs.ext4 || -x /usr/sbin/mkfs.ext4 ]] || missing+=(e2fsprogs)
[[ -x /sbin/losetup || -x /usr/sbin/losetup ]] || missing+=(mount)
# Code, layers and the runtimes are read-only erofs images in sandboxes, so that their mount
# table names no host path (without it they are bound from their directories).
command -v mkfs.erofs >/dev/null || missing+=(erofs-utils)
# Functions' outbound networking: pasta (from passt) per environment, fenced by an nftables
# table (invocations/executor/egress.py; without them functions get no network).
[[ -x /usr/bin/pasta ]] || missing+=(passt)
[[ -x /usr/sbin/nft ]] || missing+=(nftables)
if ((${#missing[@]})); then
    if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
        echo "Functory's runtimes need: ${missing[*]} (install them, then re-run)" >&2
        exit 1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
