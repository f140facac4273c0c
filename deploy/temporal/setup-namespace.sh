#!/bin/sh
# Creates sagsflow's Temporal namespace (with the retention of closed workflows) and the case
# search attributes (workflows/search_attributes.py). Safe to run again: what exists is kept,
# the retention is set to the configured value.
# Needs the `temporal` CLI (temporalio/admin-tools image, or the one sagsflow installs).
set -eu

: "${TEMPORAL_ADDRESS:=temporal:7233}"
: "${NAMESPACE:=sagsflow}"
: "${NAMESPACE_RETENTION:=30d}"
export TEMPORAL_ADDRESS

# name:type — the public contract of DESIGN.md; never personal data.
SEARCH_ATTRIBUTES="CaseNumber:Keyword SchoolId:Keyword CasePhase:Keyword CaseStatus:Keyword
CaseRoute:Keyword CaseSeverity:Keyword OpenTaskCount:Int NextDeadline:Datetime
HasOverdueTask:Bool"

echo "waiting for Temporal at ${TEMPORAL_ADDRESS}"
attempt=1
until temporal operator cluster health >/dev/null 2>&1; do
  if [ "$attempt" -ge 60 ]; then
    echo "Temporal did not become healthy" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 2
done

if temporal operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
  temporal operator namespace update --namespace "$NAMESPACE" --retention "$NAMESPACE_RETENTION"
  echo "namespace $NAMESPACE exists; retention $NAMESPACE_RETENTION"
else
  temporal operator namespace create --namespace "$NAMESPACE" --retention "$NAMESPACE_RETENTION"
  echo "namespace $NAMESPACE created; retention $NAMESPACE_RETENTION"
fi

# A new namespace can take a moment before it takes search attributes.
attempt=1
until existing=$(temporal operator search-attribute list --namespace "$NAMESPACE" 2>/dev/null); do
  if [ "$attempt" -ge 30 ]; then
    echo "cannot list the search attributes of $NAMESPACE" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep 2
done
for pair in $SEARCH_ATTRIBUTES; do
  name=${pair%%:*}
  type=${pair#*:}
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "search attribute $name exists"
  else
    temporal operator search-attribute create --namespace "$NAMESPACE" --name "$name" --type "$type"
    echo "search attribute $name ($type) created"
  fi
done
echo "namespace $NAMESPACE ready"
