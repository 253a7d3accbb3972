#!/bin/sh
# mkpack.sh REFERENCE_DIR OUT_DIR [tar]
#
# Builds a fake IS Analytics 5.6.0 pack for end-to-end tests: OUT_DIR/wso2is-analytics-5.6.0/
# holds the real, unmodified configuration files from REFERENCE_DIR (the shared
# wso2-reference folder), the real dbscripts and bin/load-spark-env-vars.sh, and the stand-in
# server as bin/wso2server.sh. With "tar", OUT_DIR/wso2is-analytics-5.6.0.tar.gz is written
# too, for the unarchive task. Configure it with the real playbook, then start it with
# service_start: it logs what its configuration makes a Carbon node log.
set -eu

ref=${1:?usage: mkpack.sh REFERENCE_DIR OUT_DIR [tar]}
out=${2:?usage: mkpack.sh REFERENCE_DIR OUT_DIR [tar]}
here=$(cd "$(dirname "$0")" && pwd)
pack="$out/wso2is-analytics-5.6.0"

mkdir -p "$pack/bin" "$pack/repository/components/lib" "$pack/repository/components/dropins" \
  "$pack/repository/deployment/server/carbonapps" "$pack/repository/logs" "$pack/repository/data"
cp -R "$ref/repository/conf" "$pack/repository/"
cp -R "$ref/dbscripts" "$pack/"
cp "$ref/bin/load-spark-env-vars.sh" "$pack/bin/"
cp "$here/wso2server.sh" "$pack/bin/wso2server.sh"
chmod 755 "$pack/bin/wso2server.sh" "$pack/bin/load-spark-env-vars.sh"

if [ "${3:-}" = tar ]; then
  (cd "$out" && tar czf wso2is-analytics-5.6.0.tar.gz wso2is-analytics-5.6.0)
fi
