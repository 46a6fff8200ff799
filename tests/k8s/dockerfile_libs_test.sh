#!/usr/bin/env bash
# Checks that the Dockerfile's runtime stage installs every shared library the service binaries
# link: runs ldd on $KILN_BUILD_DIR/services/<svc>/kiln-<svc>, maps each resolved library to its
# Debian package with dpkg -S, and fails naming the library and package when that package is
# neither in the runtime stage's apt-get install list nor one of the few that debian:12-slim
# always has. Then proves the check can fail: without librocksdb7.8 in the list it must complain.
#   KILN_BUILD_DIR=build tests/k8s/dockerfile_libs_test.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${KILN_BUILD_DIR:-$ROOT/build}
DOCKERFILE=$ROOT/Dockerfile
# The services and the operator CLI (services/admin/kiln-admin).
SERVICES=(blockstore metadata merge edge control admin)
# The C and C++ runtime of debian:12-slim (apt itself needs them); nothing else is assumed.
IN_SLIM=(libc6 libgcc-s1 libstdc++6)

fail() { printf 'dockerfile_libs_test: %s\n' "$*" >&2; exit 1; }

# Prints the packages that the final stage of the Dockerfile $1 installs with apt-get install,
# one per line. Continuation lines are joined and comment lines inside an instruction dropped.
runtime_packages() {
  awk '
    /^[[:space:]]*FROM[[:space:]]/ { stage = "" }
    { stage = stage $0 "\n" }
    END { printf "%s", stage }
  ' "$1" |
    awk '
      /^[[:space:]]*#/ { next }
      { line = line $0 }
      /\\[[:space:]]*$/ { sub(/\\[[:space:]]*$/, " ", line); next }
      { print line; line = "" }
    ' |
    awk '
      /^[[:space:]]*RUN[[:space:]]/ {
        n = split($0, parts, /&&|;|\|\|/)
        for (i = 1; i <= n; i++) {
          if (parts[i] !~ /apt-get[[:space:]](.*[[:space:]])?install[[:space:]]/) continue
          m = split(parts[i], w, /[[:space:]]+/)
          seen = 0
          for (j = 1; j <= m; j++) {
            if (seen && w[j] != "" && w[j] !~ /^-/) print w[j]
            if (w[j] == "install") seen = 1
          }
        }
      }
    '
}

# Prints "library package" for every library the binaries resolve; fails on unresolved ones.
library_packages() {
  local svc bin out lib path c pkg
  local -A lib_path=() owner=()
  for svc in "${SERVICES[@]}"; do
    bin=$BUILD_DIR/services/$svc/kiln-$svc
    [ -x "$bin" ] || fail "$bin is missing: build it or set KILN_BUILD_DIR"
    out=$(ldd "$bin") || fail "ldd $bin failed"
    if [[ $out == *"not found"* ]]; then
      fail "$bin has unresolved libraries: $(grep 'not found' <<<"$out" | tr -s ' \t' ' ')"
    fi
    while read -r lib path; do lib_path[$lib]=$path; done < <(
      awk '$2 == "=>" && $3 ~ /^\// { print $1, $3; next }
           $1 ~ /^\// { n = split($1, p, "/"); print p[n], $1 }' <<<"$out")
  done
  # Debian 12 is /usr-merged: a package may own /lib/..., /usr/lib/... or the real file. One
  # dpkg -S for all candidates (it is slow per call); paths nobody owns are simply not printed.
  candidates() {
    printf '%s\n' "$1" "$(readlink -f "$1")"
    case $1 in /usr/*) printf '%s\n' "${1#/usr}" ;; *) printf '%s\n' "/usr$1" ;; esac
  }
  while IFS= read -r line; do
    pkg=${line%%: /*}
    pkg=${pkg%%,*}
    owner[/${line#*: /}]=${pkg%%:*}
  done < <(for path in "${lib_path[@]}"; do candidates "$path"; done | sort -u |
             xargs dpkg -S 2>/dev/null || true)
  for lib in "${!lib_path[@]}"; do
    pkg=
    while read -r c; do
      if [ -n "${owner[$c]:-}" ]; then pkg=${owner[$c]}; break; fi
    done < <(candidates "${lib_path[$lib]}")
    [ -n "$pkg" ] || fail "no Debian package owns ${lib_path[$lib]}"
    printf '%s %s\n' "$lib" "$pkg"
  done | sort
}

# Checks the Dockerfile $1 against the libraries; prints what is missing and returns 1 if any.
check() {
  local dockerfile=$1 missing=0 lib pkg p
  local -A installed=()
  for p in "${IN_SLIM[@]}" $(runtime_packages "$dockerfile"); do installed[$p]=1; done
  [ ${#installed[@]} -gt ${#IN_SLIM[@]} ] ||
    { echo "no apt-get install list in the final stage of $dockerfile"; return 1; }
  while read -r lib pkg; do
    if [ -n "${installed[$pkg]:-}" ]; then continue; fi
    echo "missing: $lib comes from $pkg, which the runtime stage does not install"
    missing=1
  done <<<"$LIBS"
  return $missing
}

LIBS=$(library_packages)
[ -n "$LIBS" ] || fail "ldd found no libraries"
echo "linked packages: $(awk '{ print $2 }' <<<"$LIBS" | sort -u | tr '\n' ' ')"

# Every named package must exist (a typo would only show when the image is built).
for pkg in $(runtime_packages "$DOCKERFILE"); do
  if ! dpkg-query -W "$pkg" >/dev/null 2>&1 && ! apt-cache show "$pkg" >/dev/null 2>&1; then
    fail "the runtime stage installs $pkg, which is no Debian package known here"
  fi
done

if ! out=$(check "$DOCKERFILE"); then
  printf '%s\n' "$out" >&2
  fail "the runtime stage of $DOCKERFILE lacks packages (above)"
fi
echo "ok - the runtime stage installs the package of every linked library"

# The check must notice a missing package.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
grep -vxE '[[:space:]]*librocksdb7\.8 \\' "$DOCKERFILE" >"$tmp"
if out=$(check "$tmp"); then fail "the check passed a Dockerfile without librocksdb7.8"; fi
grep -q 'librocksdb.so.7.8 comes from librocksdb7.8' <<<"$out" ||
  fail "the check did not name librocksdb.so.7.8 and librocksdb7.8: $out"
echo "ok - a runtime stage without librocksdb7.8 is refused"
