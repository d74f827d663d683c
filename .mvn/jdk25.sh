# Sourced (POSIX sh) by ./mvnw, ./nimbus and .ci/run: makes JAVA_HOME point at a Java 25 or newer.
# Order: $JAVA_HOME when it is 25+, else $NIMBUS_JVM_DIR/temurin-25-jdk-*, else any $NIMBUS_JVM_DIR/*
# that is 25+ (NIMBUS_JVM_DIR: /usr/lib/jvm; tests point it at a made-up layout). A JDK is needed to
# build; running a built jar needs only a runtime (NIMBUS_JAVA_RUNTIME_ONLY=1, as ./nimbus sets when its
# jar is current). The machine's default `java` (often 17) is never used by accident.

nimbus_jdk_major() {
  # prints the feature version of the Java at $1 (e.g. 25), or nothing; plain sh only (the L1 guests'
  # root file systems have no sed or grep)
  if [ -f "$1/release" ]; then
    while IFS= read -r line; do
      case $line in
        JAVA_VERSION=*)
          v=${line#JAVA_VERSION=}; v=${v#\"}; v=${v%%[!0-9]*}
          echo "$v"; return 0 ;;
      esac
    done < "$1/release"
  elif [ -x "$1/bin/java" ]; then
    "$1/bin/java" -XshowSettings:properties -version 2>&1 |
      sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n 1
  fi
}

nimbus_jdk_ok() {
  # a JDK; with NIMBUS_JAVA_RUNTIME_ONLY=1 a runtime will do
  [ -x "$1/bin/java" ] || return 1
  [ "${NIMBUS_JAVA_RUNTIME_ONLY:-}" = 1 ] || [ -x "$1/bin/javac" ] || return 1
  v=$(nimbus_jdk_major "$1")
  [ -n "$v" ] && [ "$v" -ge 25 ] 2>/dev/null
}

nimbus_search_jdk() {
  # sets and exports JAVA_HOME to the first fit Java; no output
  if [ -n "${JAVA_HOME-}" ] && nimbus_jdk_ok "$JAVA_HOME"; then return 0; fi
  jvm_dir=${NIMBUS_JVM_DIR:-/usr/lib/jvm}
  case $- in *f*) nimbus_noglob=1 ;; *) nimbus_noglob= ;; esac
  set +f   # ./mvnw runs with globbing off
  found=
  for d in "$jvm_dir"/temurin-25-jdk-* "$jvm_dir"/*; do
    if [ -d "$d" ] && nimbus_jdk_ok "$d"; then found=$d; break; fi
  done
  [ -z "$nimbus_noglob" ] || set -f
  [ -n "$found" ] || return 1
  JAVA_HOME=$found
  export JAVA_HOME
}

nimbus_java_package() {
  # the Debian package that gives what is missing: a JDK, or only a runtime
  if [ "${NIMBUS_JAVA_RUNTIME_ONLY:-}" = 1 ]; then echo openjdk-25-jre-headless; else echo openjdk-25-jdk-headless; fi
}

nimbus_debian_has() {
  # does this machine's package index offer package $1? (Debian 13 "trixie" and later have Java 25)
  command -v apt-cache >/dev/null 2>&1 || return 1
  candidate=$(apt-cache policy "$1" 2>/dev/null | while read -r key value rest; do
    [ "$key" = Candidate: ] && { echo "$value"; break; }; done)
  [ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}

nimbus_find_jdk() {
  # nimbus_find_jdk [--install]: JAVA_HOME := a fit Java 25, or one line saying exactly what to install
  # and status 1. With --install (./nimbus demo and ./mvnw, the README's set-up commands), a root user
  # on a Debian release that packages Java 25 gets it installed instead.
  nimbus_search_jdk && return 0
  pkg=$(nimbus_java_package)
  what="JDK 25"; [ "${NIMBUS_JAVA_RUNTIME_ONLY:-}" != 1 ] || what="Java 25 runtime"
  where="JAVA_HOME=${JAVA_HOME-unset} is missing or older, and ${NIMBUS_JVM_DIR:-/usr/lib/jvm} has none"
  if nimbus_debian_has "$pkg"; then
    if [ "${1:-}" = --install ] && [ "$(id -u)" = 0 ]; then
      echo "nimbus: no $what found ($where): installing Debian's $pkg" >&2
      "$(dirname "$0")/conformance-tests/l1/ensure-packages" "$pkg" || return 1
      nimbus_search_jdk && return 0
      echo "nimbus: $pkg is installed but gave no $what under ${NIMBUS_JVM_DIR:-/usr/lib/jvm}" >&2
      return 1
    fi
    sudo=; [ "$(id -u)" = 0 ] || sudo="sudo "
    echo "nimbus: no $what found ($where); install it with: ${sudo}apt-get install $pkg" >&2
  else
    echo "nimbus: no $what found ($where), and this system's packages have none (Debian has $pkg from release 13 on); install Temurin 25 (https://adoptium.net) and set JAVA_HOME to it" >&2
  fi
  return 1
}
