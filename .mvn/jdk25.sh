# Sourced (POSIX sh) by ./mvnw, ./nimbus and .ci/run: makes JAVA_HOME point at a JDK 25 or newer.
# Order: $JAVA_HOME when it is 25+, else /usr/lib/jvm/temurin-25-jdk-*, else any /usr/lib/jvm/*
# that is 25+. The machine's default `java` (often 17) is never used by accident.

nimbus_jdk_major() {
  # prints the feature version of the JDK at $1 (e.g. 25), or nothing; plain sh only (the L1 guests'
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
  # a JDK; with NIMBUS_JAVA_RUNTIME_ONLY=1 a JRE will do (running a built jar, as inside an L1 guest)
  [ -x "$1/bin/java" ] || return 1
  [ "${NIMBUS_JAVA_RUNTIME_ONLY:-}" = 1 ] || [ -x "$1/bin/javac" ] || return 1
  v=$(nimbus_jdk_major "$1")
  [ -n "$v" ] && [ "$v" -ge 25 ] 2>/dev/null
}

nimbus_find_jdk() {
  if [ -n "${JAVA_HOME-}" ] && nimbus_jdk_ok "$JAVA_HOME"; then return 0; fi
  case $- in *f*) nimbus_noglob=1 ;; *) nimbus_noglob= ;; esac
  set +f   # ./mvnw runs with globbing off
  for d in /usr/lib/jvm/temurin-25-jdk-* /usr/lib/jvm/*; do
    if [ -d "$d" ] && nimbus_jdk_ok "$d"; then
      JAVA_HOME=$d
      export JAVA_HOME
      [ -z "$nimbus_noglob" ] || set -f
      return 0
    fi
  done
  [ -z "$nimbus_noglob" ] || set -f
  echo "nimbus: no JDK 25 found (JAVA_HOME=${JAVA_HOME-unset} is missing or older, and /usr/lib/jvm has none)." >&2
  echo "nimbus: install one, for example Temurin 25 (apt package temurin-25-jdk), or point JAVA_HOME at it." >&2
  return 1
}
