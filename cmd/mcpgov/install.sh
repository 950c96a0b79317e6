#!/bin/sh
# Install mcpgov from a release: download the archive for this OS and CPU and
# the release's checksums.txt, check the archive's SHA-256 against it, and
# install the binary (and its man pages) under a prefix.
#
#   curl -fsSL https://github.com/mcpgov/mcpgov/releases/latest/download/install.sh | sh
#   sh install.sh --version 1.2.3 --prefix /usr/local
#
# Options (or the environment variable in brackets):
#   --prefix DIR     install DIR/bin/mcpgov and DIR/share/man/man1/*
#                    [MCPGOV_PREFIX; default $HOME/.local]
#   --version V      a release such as 1.2.3 [MCPGOV_VERSION; default: latest]
#   --base-url URL   where the archives and checksums.txt are, for mirrors
#                    [MCPGOV_BASE_URL; default: the GitHub release of --version]
#
# The archive's name is read from checksums.txt, so one script serves every
# version. Nothing is installed unless the checksum matches. Messages go to
# stderr; stdout stays empty. POSIX sh; needs uname, mktemp, awk, tar (unzip
# on Windows), curl or wget, and sha256sum, shasum or openssl.
set -eu

REPO_URL=https://github.com/mcpgov/mcpgov

say() { printf 'mcpgov-install: %s\n' "$*" >&2; }
die() {
	printf 'mcpgov-install: error: %s\n' "$1" >&2
	if [ $# -gt 1 ]; then printf 'mcpgov-install: hint: %s\n' "$2" >&2; fi
	exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }

usage() {
	echo 'usage: install.sh [--prefix DIR] [--version V] [--base-url URL]' >&2
	exit 2
}

prefix=${MCPGOV_PREFIX:-}
version=${MCPGOV_VERSION:-}
base_url=${MCPGOV_BASE_URL:-}
while [ $# -gt 0 ]; do
	case $1 in
	--prefix) [ $# -ge 2 ] || usage; prefix=$2; shift 2 ;;
	--prefix=*) prefix=${1#*=}; shift ;;
	--version) [ $# -ge 2 ] || usage; version=$2; shift 2 ;;
	--version=*) version=${1#*=}; shift ;;
	--base-url) [ $# -ge 2 ] || usage; base_url=$2; shift 2 ;;
	--base-url=*) base_url=${1#*=}; shift ;;
	-h | --help) usage ;;
	*) say "error: unknown argument: $1"; usage ;;
	esac
done

if [ -z "$prefix" ]; then
	[ -n "${HOME:-}" ] || die "HOME is not set" "pass --prefix DIR"
	prefix=$HOME/.local
fi
if [ -z "$base_url" ]; then
	if [ -n "$version" ]; then
		base_url=$REPO_URL/releases/download/v${version#v}
	else
		base_url=$REPO_URL/releases/latest/download
	fi
fi
base_url=${base_url%/}

case $(uname -s) in
Linux) os=linux ;;
Darwin) os=darwin ;;
MINGW* | MSYS* | CYGWIN* | Windows_NT) os=windows ;;
*) die "unsupported operating system: $(uname -s)" "download a release by hand from $REPO_URL/releases" ;;
esac
case $(uname -m) in
x86_64 | amd64) arch=amd64 ;;
aarch64 | arm64) arch=arm64 ;;
*) die "unsupported CPU: $(uname -m)" "build from source: go install github.com/mcpgov/mcpgov/cmd/mcpgov@latest" ;;
esac
ext=tar.gz exe=mcpgov
if [ "$os" = windows ]; then ext=zip exe=mcpgov.exe; fi

if have curl; then
	fetch() { curl -fsSL --retry 2 -o "$2" "$1"; }
elif have wget; then
	fetch() { wget -q -O "$2" "$1"; }
else
	die "neither curl nor wget is installed"
fi
if have sha256sum; then
	sha256() { sha256sum "$1" | awk '{print $1}'; }
elif have shasum; then
	sha256() { shasum -a 256 "$1" | awk '{print $1}'; }
elif have openssl; then
	sha256() { openssl dgst -sha256 -r "$1" | awk '{print $1}'; }
else
	die "no SHA-256 tool found (sha256sum, shasum or openssl)"
fi

partial=
tmp=$(mktemp -d 2>/dev/null || mktemp -d -t mcpgov-install)
trap 'rm -rf "$tmp" ${partial:+"$partial"}' EXIT
trap 'exit 130' INT TERM

fetch "$base_url/checksums.txt" "$tmp/checksums.txt" ||
	die "cannot download $base_url/checksums.txt" "check --version and --base-url"

# checksums.txt lines are "SHA256  NAME" (NAME may carry sha256sum's binary
# marker "*"). The one archive for this platform is mcpgov_*_OS_ARCH.EXT.
suffix=_${os}_${arch}.$ext
matches=$(awk -v suffix="$suffix" '{
	name = $2; sub(/^\*/, "", name)
	if (NF == 2 && index(name, "mcpgov_") == 1 && length(name) > length(suffix) &&
		substr(name, length(name) - length(suffix) + 1) == suffix) print $1 " " name
}' "$tmp/checksums.txt")
case $matches in
"") die "no mcpgov archive for $os/$arch in $base_url/checksums.txt" ;;
*"
"*) die "more than one mcpgov archive for $os/$arch in $base_url/checksums.txt" ;;
esac
want=${matches%% *}
archive=${matches#* }
# The name becomes a URL and a file name: no slashes, no "..", no surprises.
case $archive in
*[!A-Za-z0-9._+~-]* | *..*) die "unexpected archive name in checksums.txt: $archive" ;;
esac
case $want in
*[!0-9a-fA-F]*) die "malformed checksum for $archive in checksums.txt" ;;
esac
[ ${#want} -eq 64 ] || die "malformed checksum for $archive in checksums.txt"

say "downloading $base_url/$archive"
fetch "$base_url/$archive" "$tmp/$archive" || die "cannot download $base_url/$archive"
got=$(sha256 "$tmp/$archive")
want=$(printf '%s' "$want" | tr 'A-F' 'a-f')
if [ "$got" != "$want" ]; then
	die "checksum mismatch for $archive: checksums.txt says $want, the download is $got" \
		"nothing was installed; the download or the mirror is corrupt or was tampered with"
fi
say "verified SHA-256 $got"

mkdir "$tmp/x"
case $ext in
zip) have unzip || die "unzip is not installed"; unzip -q "$tmp/$archive" -d "$tmp/x" ;;
*) tar -xzf "$tmp/$archive" -C "$tmp/x" ;;
esac
[ -f "$tmp/x/$exe" ] || die "$archive holds no $exe"

# Copy next to the target, then rename over it: a running mcpgov (a shim an
# IDE started) keeps its old file, and a half-written binary is never run.
bindir=$prefix/bin
mkdir -p "$bindir"
partial=$bindir/.$exe.tmp.$$
cp "$tmp/x/$exe" "$partial"
chmod 0755 "$partial"
mv -f "$partial" "$bindir/$exe"
partial=
for page in "$tmp/x/man/man1/"*.1; do
	[ -f "$page" ] || continue
	mkdir -p "$prefix/share/man/man1"
	cp "$page" "$prefix/share/man/man1/"
done

say "installed $bindir/$exe from $archive"
case :${PATH:-}: in
*:"$bindir":*) ;;
*) say "hint: $bindir is not on PATH; add it, or run $bindir/$exe" ;;
esac
