#!/usr/bin/env bash
# Installs the real Prometheus server and promtool from Debian's package (once; idempotent) and
# checks the shipped alerting rules: `promtool check rules` on helm/credence/files/rules/
# credence.rules.yaml and `promtool test rules` on its unit tests (credence.rules.test.yaml).
# Exits non-zero if the install or either check fails. tests/prometheus_e2e.rs then runs the same
# server against the real daemon.
#
# The package's system service is never left running: a missing /usr/sbin/policy-rc.d is put in
# place for the install (so dpkg starts no service), and if a service was started anyway it is
# stopped again.
set -euo pipefail
cd "$(dirname "$0")/../.."

rules=helm/credence/files/rules/credence.rules.yaml
tests=helm/credence/files/rules/credence.rules.test.yaml

if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi

if ! command -v prometheus >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1; then
  echo "installing prometheus (Debian package)"
  added_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# Added by credence tests/prometheus/setup.sh for one install.\nexit 101\n' |
      $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  cleanup() { if [ -n "$added_policy" ]; then $sudo rm -f /usr/sbin/policy-rc.d; fi; }
  trap cleanup EXIT
  $sudo apt-get update -qq
  # No recommends: prometheus-node-exporter is not needed (and would be another service).
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus
  cleanup
  trap - EXIT
  # Should the service have started after all (a machine with systemd and no policy), stop it.
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    if systemctl is-active --quiet prometheus 2>/dev/null; then
      echo "stopping the prometheus service the package started"
      $sudo systemctl stop prometheus
      $sudo systemctl disable prometheus >/dev/null 2>&1 || true
    fi
  elif [ -f /run/prometheus/prometheus.pid ]; then
    pid=$(cat /run/prometheus/prometheus.pid)
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = prometheus ]; then
      echo "stopping the prometheus service the package started (pid $pid)"
      $sudo kill "$pid"
    fi
  fi
fi

prometheus --version 2>&1 | head -1
promtool --version 2>&1 | head -1

echo "==> promtool check rules $rules"
promtool check rules "$rules"
if [ -f "$tests" ]; then
  echo "==> promtool test rules $tests"
  promtool test rules "$tests"
fi
