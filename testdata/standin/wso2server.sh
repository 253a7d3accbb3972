#!/bin/sh
# Stand-in for WSO2 IS Analytics 5.6.0 bin/wso2server.sh, for isaplay's tests.
#
# It behaves like a Carbon node as far as isaplay can see: `start` returns at once and a
# background process writes wso2carbon.pid and repository/logs/wso2carbon.log in Carbon's exact
# line format; `stop` sends TERM and the process logs "Shutdown complete" and "Halting JVM".
# What it logs is decided by the node's REAL configuration files, read with grep and sed:
#   repository/conf/axis2/axis2.xml           clustering enable, membershipScheme, domain,
#                                              localMemberHost, localMemberPort, <members>
#   repository/conf/event-processor.xml       the first <mode> with enable="true" wins
#   repository/conf/carbon.xml                Ports/Offset, DeploymentSynchronizer
#   repository/conf/analytics/spark/spark-defaults.conf   carbon.spark.master(.count), ports,
#                                              carbon.das.symbolic.link
#   bin/load-spark-env-vars.sh                export SPARK_LOCAL_IP=
#   repository/data/my-node-id.dat            created with a fresh UUID when missing
# Nodes of one cluster meet in a shared directory, $STANDIN_CLUSTER_DIR (default
# /tmp/isaplay-standin), keyed by the cluster domain: a member file per live node (touched as a
# heartbeat), the CEP HA active lock, and claimed ports. A node sees a peer only when the peer's
# host:port is in its own WKA <members> list, as Hazelcast's WKA scheme does.
#
# Environment: JAVA_HOME (must be set, as for the real script), STANDIN_CLUSTER_DIR,
# STANDIN_STEP (seconds between startup phases, default 0.05), STANDIN_POLL (seconds between
# cluster polls, default 0.1), STANDIN_STALE (seconds after which a silent peer is gone,
# default 10), STANDIN_SYNC_FAILURES (failed CEP state syncs before success on a passive
# member, default 1).
# Extra commands: `run` (the server itself, normally started by `start`), `status`.
# The Spark master and worker web UIs answer GET /json/, and the HTTPS port the analytics REST
# API GET /analytics/tables for the admin of user-mgt.xml and the console's login page, through
# socat and openssl when they are installed.
# Only POSIX sh, coreutils, grep, sed (and socat) are used: targets have no Python.

CARBON_HOME=$(cd "$(dirname "$0")/.." && pwd)
PIDFILE="$CARBON_HOME/wso2carbon.pid"
LOGDIR="$CARBON_HOME/repository/logs"
LOG="$LOGDIR/wso2carbon.log"
CONF="$CARBON_HOME/repository/conf"

# --http FILE: answer one HTTP request on standard input with the JSON in FILE (socat runs it per
# connection for the Spark web UIs' /json/ pages).
if [ "$1" = --http ]; then
  IFS= read -r _ || exit 0
  while IFS= read -r h; do
    case "$h" in "" | "$(printf '\r')") break ;; esac
  done
  printf 'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n\r\n' "$(wc -c < "$2")"
  cat "$2"
  exit 0
fi
# --api AUTHFILE IP: answer one HTTPS request on the node's HTTPS port: GET /analytics/tables (the
# analytics REST API) with the admin's Basic credentials (AUTHFILE holds their base64, from
# user-mgt.xml) lists no table; GET /carbon/admin/login.jsp (the management console's login page)
# answers anyone. Every answer names the node in an X-Standin-Node header (IP), so a test behind a
# load balancer can tell which node served it.
if [ "$1" = --api ]; then
  authfile=$2
  node="X-Standin-Node: $3\r\n"
  IFS= read -r req || exit 0
  auth=
  while IFS= read -r h; do
    h=$(printf '%s' "$h" | tr -d '\r')
    [ -n "$h" ] || break
    case "$h" in [Aa]uthorization:\ Basic\ *) auth=${h#*Basic } ;; esac
  done
  set -- $req
  if [ "$1" = GET ] && [ "$2" = /carbon/admin/login.jsp ]; then
    page='<html><head><title>WSO2 Management Console</title></head><body>Sign-in</body></html>'
    printf "HTTP/1.0 200 OK\r\n${node}Content-Type: text/html\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s" "${#page}" "$page"
  elif [ "$auth" != "$(cat "$authfile")" ]; then
    printf "HTTP/1.0 401 Unauthorized\r\n${node}WWW-Authenticate: Basic realm=\"WSO2 Carbon\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
  elif [ "$1" = GET ] && [ "$2" = /analytics/tables ]; then
    printf "HTTP/1.0 200 OK\r\n${node}Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n[]"
  else
    printf "HTTP/1.0 404 Not Found\r\n${node}Content-Length: 0\r\nConnection: close\r\n\r\n"
  fi
  exit 0
fi

if [ -z "$JAVA_HOME" ]; then
  echo "You must set the JAVA_HOME variable before running CARBON."
  exit 1
fi

PID=
if [ -e "$PIDFILE" ]; then
  PID=$(cat "$PIDFILE")
fi

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

CMD=run
for c in "$@"; do
  case "$c" in
    start|-start|--start) CMD=start ;;
    stop|-stop|--stop) CMD=stop ;;
    restart|-restart|--restart) CMD=restart ;;
    status) CMD=status ;;
    run) CMD=run ;;
  esac
done

case "$CMD" in
  start)
    if [ -e "$PIDFILE" ] && alive "$PID"; then
      echo "Process is already running"
      exit 0
    fi
    export CARBON_HOME
    nohup sh "$CARBON_HOME/bin/wso2server.sh" run > /dev/null 2>&1 &
    exit 0 ;;
  stop)
    kill -term "$(cat "$PIDFILE")"
    exit 0 ;;
  restart)
    pid=$(cat "$PIDFILE")
    kill -term "$pid"
    while alive "$pid"; do sleep 0.1; done
    nohup sh "$CARBON_HOME/bin/wso2server.sh" run > /dev/null 2>&1 &
    exit 0 ;;
  status)
    if alive "$PID"; then echo "running $PID"; else echo "stopped"; exit 3; fi
    exit 0 ;;
esac

# ----- the server ---------------------------------------------------------------------------

STEP=${STANDIN_STEP:-0.05}
POLL=${STANDIN_POLL:-0.1}
STALE=${STANDIN_STALE:-10}
SYNC_FAILURES=${STANDIN_SYNC_FAILURES:-1}
CLUSTER_BASE=${STANDIN_CLUSTER_DIR:-/tmp/isaplay-standin}

mkdir -p "$LOGDIR" "$CARBON_HOME/repository/data"
echo $$ > "$PIDFILE"
STARTED_AT=$(date +%s)

# log LEVEL CLASS MESSAGE: one line in log4j's CARBON_LOGFILE layout
# TID: [%T] [%S] [%d] %P%5p {%c} - %x %m {%c}%n
log() {
  printf 'TID: [-1234] [] [%s] %5s {%s} -  %s {%s}\n' "$(date '+%Y-%m-%d %H:%M:%S,%3N')" "$1" "$2" "$3" "$2" >> "$LOG"
}

# flat FILE: the file on one line, CR dropped and XML comments removed.
flat() {
  [ -f "$1" ] || return 0
  tr -d '\r' < "$1" | tr '\n' ' ' | sed 's/-->/\x02/g; s/<!--[^\x02]*\x02//g'
}
# text TAG: the text of the first <TAG>...</TAG> on stdin.
text() { grep -o "<$1>[^<]*</$1>" | head -n 1 | sed 's/^<[^>]*>//; s/<[^<]*$//; s/^ *//; s/ *$//'; }
# param NAME: the text of <parameter name="NAME">...</parameter> on stdin.
param() { grep -o "<parameter name=\"$1\">[^<]*</parameter>" | head -n 1 | sed 's/^<[^>]*>//; s/<[^<]*$//; s/^ *//; s/ *$//'; }
# prop KEY: a java.util.Properties value (whitespace, = or : separated) from spark-defaults.conf.
prop() {
  f="$CONF/analytics/spark/spark-defaults.conf"
  [ -f "$f" ] || return 0
  grep -E "^[[:space:]]*$1([[:space:]]+|[[:space:]]*[=:][[:space:]]*)" "$f" | tail -n 1 |
    sed -E "s/^[[:space:]]*$1([[:space:]]+|[[:space:]]*[=:][[:space:]]*)//; s/[[:space:]]*\$//"
}
uuid() { cat /proc/sys/kernel/random/uuid; }
now() { date +%s; }
# fresh FILE: the file exists and was touched within STALE seconds.
fresh() { [ -e "$1" ] && [ $(( $(now) - $(stat -c %Y "$1") )) -le "$STALE" ]; }
# invalid_ha_host: the host names HAManager rejects for eventSync and management.
invalid_ha_host() { case "$1" in ""|0.0.0.0|localhost|127.0.0.1|::1) return 0 ;; esac; return 1; }
# loopback_member: localMemberHost left at a loopback address (the shipped 127.0.0.1).
loopback_member() { case "$1" in ""|localhost|127.0.0.1|::1) return 0 ;; esac; return 1; }

# ---- configuration -----------------------------------------------------------------------------
AXIS2=$(flat "$CONF/axis2/axis2.xml" | sed 's/.*<clustering /<clustering /; s/<\/clustering>.*//')
CLUSTERING=false
printf '%s\n' "$AXIS2" | grep -o '<clustering [^>]*>' | grep -q 'enable="true"' && CLUSTERING=true
[ -f "$CONF/hazelcast.xml" ] && HAZELCAST_XML=true || HAZELCAST_XML=false
SCHEME=$(printf '%s\n' "$AXIS2" | param membershipScheme)
DOMAIN=$(printf '%s\n' "$AXIS2" | param domain)
MEMBER_HOST=$(printf '%s\n' "$AXIS2" | param localMemberHost)
MEMBER_PORT=$(printf '%s\n' "$AXIS2" | param localMemberPort)
[ -n "$MEMBER_PORT" ] || MEMBER_PORT=4000
WKA=$(printf '%s\n' "$AXIS2" | sed 's/.*<members>//; s/<\/members>.*//; s/<member>/\n/g' |
  sed -n 's/.*<hostName>[[:space:]]*\([^<[:space:]]*\)[[:space:]]*<\/hostName>.*<port>[[:space:]]*\([0-9]*\)[[:space:]]*<\/port>.*/\1:\2/p')

EP=$(flat "$CONF/event-processor.xml")
MODE=$(printf '%s\n' "$EP" | grep -o '<mode [^>]*>' | grep 'enable="true"' | head -n 1 | sed 's/.*name="\([^"]*\)".*/\1/')
HA=$(printf '%s\n' "$EP" | sed 's/.*<mode name="HA"/<mode name="HA"/; s/<\/mode>.*//')
SYNC_HOST=$(printf '%s\n' "$HA" | sed 's/.*<eventSync>//; s/<\/eventSync>.*//' | text hostName)
SYNC_PORT=$(printf '%s\n' "$HA" | sed 's/.*<eventSync>//; s/<\/eventSync>.*//' | text port)
MGMT_HOST=$(printf '%s\n' "$HA" | sed 's/.*<management>//; s/<\/management>.*//' | text hostName)
MGMT_PORT=$(printf '%s\n' "$HA" | sed 's/.*<management>//; s/<\/management>.*//' | text port)
HA_PERSIST=$(printf '%s\n' "$HA" | grep -o '<persistence [^>]*>' | head -n 1 | sed 's/.*enable="\([^"]*\)".*/\1/')

CARBON=$(flat "$CONF/carbon.xml")
OFFSET=$(printf '%s\n' "$CARBON" | sed 's/.*<Ports>//; s/<\/Ports>.*//' | text Offset)
[ -n "$OFFSET" ] || OFFSET=0
DEPSYNC=$(printf '%s\n' "$CARBON" | grep -o '<DeploymentSynchronizer>.*</DeploymentSynchronizer>' | sed 's/<\/DeploymentSynchronizer>.*//')
DS_ENABLED=$(printf '%s\n' "$DEPSYNC" | text Enabled)
DS_COMMIT=$(printf '%s\n' "$DEPSYNC" | text AutoCommit)
DS_URL=$(printf '%s\n' "$DEPSYNC" | text SvnUrl)

SPARK_MASTER=$(prop carbon.spark.master)
SPARK_COUNT=$(prop carbon.spark.master.count)
[ -n "$SPARK_COUNT" ] || SPARK_COUNT=1
SYMLINK=$(prop carbon.das.symbolic.link)
propd() { v=$(prop "$1"); echo "${v:-$2}"; }
MASTER_PORT=$(( $(propd spark.master.port 7077) + OFFSET ))
MASTER_UI=$(( $(propd spark.master.webui.port 8081) + OFFSET ))
WORKER_PORT=$(( $(propd spark.worker.port 11000) + OFFSET ))
WORKER_UI=$(( $(propd spark.worker.webui.port 11500) + OFFSET ))
SPARK_LOCAL_IP=$(sed -n 's/^[[:space:]]*export[[:space:]]*SPARK_LOCAL_IP=\([^[:space:]]*\).*/\1/p' "$CARBON_HOME/bin/load-spark-env-vars.sh" 2>/dev/null | tail -n 1)
IP=${SPARK_LOCAL_IP:-$MEMBER_HOST}
[ -n "$IP" ] || IP=127.0.0.1
HTTPS_PORT=$((9443 + OFFSET))
HTTP_PORT=$((9763 + OFFSET))
UM_ADMIN=$(flat "$CONF/user-mgt.xml" | grep -o '<AdminUser>.*</AdminUser>' | sed 's/<\/AdminUser>.*//')
unxml() { sed 's/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&apos;/'"'"'/g; s/&amp;/\&/g'; }
ADMIN_USER=$(printf '%s\n' "$UM_ADMIN" | text UserName | unxml)
ADMIN_PASS=$(printf '%s\n' "$UM_ADMIN" | text Password | unxml)

CL="$CLUSTER_BASE/${DOMAIN:-wso2.carbon.domain}"
PORTS="$CLUSTER_BASE/ports"
mkdir -p "$CL/members" "$PORTS"
ME="$CL/members/${MEMBER_HOST}_$MEMBER_PORT"
MY_UUID=$(uuid)

CLUSTER_AGENT=org.wso2.carbon.core.clustering.hazelcast.HazelcastClusteringAgent
WKA_SCHEME=org.wso2.carbon.core.clustering.hazelcast.wka.WKABasedMembershipScheme
HA_MANAGER=org.wso2.carbon.event.processor.manager.core.internal.HAManager
MODE_LOADER=org.wso2.carbon.event.processor.manager.core.internal.util.ManagementModeConfigurationLoader
SPARK=org.wso2.carbon.analytics.spark.core.internal.SparkAnalyticsExecutor
FINALIZER=org.wso2.carbon.core.internal.StartupFinalizerServiceComponent

CLAIMED=
SERVERS=
ACTIVE=false
PASSIVE=false
SPARK_UP=false
WORKER_UP=false
LEADER=false
PEERS=

# ---- shutdown --------------------------------------------------------------------------------
shutdown() {
  log INFO org.wso2.carbon.core.init.CarbonServerManager "Shutdown hook triggered...."
  log INFO org.wso2.carbon.core.init.CarbonServerManager "Gracefully shutting down WSO2 Identity Server Analytics..."
  rm -f "$ME"
  if $ACTIVE && [ "$(cat "$CL/cep-active/owner" 2>/dev/null)" = "$MY_UUID" ]; then
    rm -rf "$CL/cep-active"
  fi
  for p in $CLAIMED; do rm -rf "$PORTS/$p"; done
  # Only the socat processes still running as this node's children: one that failed to bind
  # is gone, and its pid may belong to anyone by now.
  for p in $SERVERS; do
    [ "$(cut -d ' ' -f 2,4 "/proc/$p/stat" 2>/dev/null)" = "(socat) $$" ] && kill "$p" 2>/dev/null
  done
  log INFO org.wso2.carbon.core.ServerManagement "Shutdown complete"
  log INFO org.wso2.carbon.core.init.CarbonServerManager "Halting JVM"
  exit 0
}
trap shutdown TERM INT

# claim PORT: take a port on IP; fail (BindException) when a live process holds it.
claim() {
  d="$PORTS/${IP}_$1"
  if mkdir "$d" 2>/dev/null || { ! fresh "$d/heartbeat" && rm -rf "$d" && mkdir "$d" 2>/dev/null; }; then
    touch "$d/heartbeat"
    CLAIMED="$CLAIMED ${IP}_$1"
    return 0
  fi
  return 1
}

# live_peers: host:port of every other member that is fresh and in our WKA list.
live_peers() {
  for f in "$CL"/members/*; do
    [ -e "$f" ] && [ "$f" != "$ME" ] && fresh "$f" || continue
    hp=$(basename "$f" | sed 's/_\([0-9]*\)$/:\1/')
    printf '%s\n' "$WKA" | grep -qx "$hp" && echo "$hp"
  done
}
peer_uuid() { head -n 1 "$CL/members/$(printf '%s\n' "$1" | sed 's/:\([0-9]*\)$/_\1/')" 2>/dev/null; }
masters() {
  { [ "$SPARK_UP" = true ] && echo "spark://$IP:$MASTER_PORT"
    for hp in $PEERS; do sed -n 's/^master=//p' "$CL/members/$(printf '%s\n' "$hp" | sed 's/:\([0-9]*\)$/_\1/')" 2>/dev/null; done; } | grep . | sort
}
write_member() {
  { echo "$MY_UUID"
    if $SPARK_UP; then echo "master=spark://$IP:$MASTER_PORT"; fi
    if $WORKER_UP; then echo "worker=$IP:$WORKER_PORT"; fi; } > "$ME.tmp" && mv -f "$ME.tmp" "$ME"
}

# The Spark web UIs' JSON (Spark 1.6 JsonProtocol: writeMasterState, writeWorkerState), served
# with socat on IP:PORT/json/ when it is installed. The master that is the Carbon cluster leader
# is ALIVE, the others STANDBY; the leader's master runs the CarbonAnalytics application.
UI="$CL/ui"
# serve_api: the analytics REST API and the console's login page on IP:HTTPS_PORT (TLS with a
# throwaway self-signed certificate, as Carbon's default keystore is self-signed), and the same on
# IP:HTTP_PORT in plain HTTP.
serve_api() {
  command -v socat > /dev/null 2>&1 && command -v openssl > /dev/null 2>&1 || return 0
  mkdir -p "$UI"
  a="$UI/${IP}_$HTTPS_PORT"
  (umask 077
    printf '%s:%s' "$ADMIN_USER" "$ADMIN_PASS" | base64 -w 0 > "$a.auth"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$IP" -days 2 \
      -keyout "$a.key" -out "$a.crt" > /dev/null 2>&1) || return 0
  socat -T 5 "OPENSSL-LISTEN:$HTTPS_PORT,bind=$IP,reuseaddr,fork,cert=$a.crt,key=$a.key,verify=0" \
    "SYSTEM:sh '$CARBON_HOME/bin/wso2server.sh' --api '$a.auth' '$IP'" < /dev/null > /dev/null 2>&1 &
  SERVERS="$SERVERS $!"
  # Tomcat's plain HTTP connector serves the same pages.
  socat -T 5 "TCP-LISTEN:$HTTP_PORT,bind=$IP,reuseaddr,fork" \
    "SYSTEM:sh '$CARBON_HOME/bin/wso2server.sh' --api '$a.auth' '$IP'" < /dev/null > /dev/null 2>&1 &
  SERVERS="$SERVERS $!"
}
serve() { # serve PORT FILE
  command -v socat > /dev/null 2>&1 || return 0
  mkdir -p "$UI"
  socat -T 5 "TCP-LISTEN:$1,bind=$IP,reuseaddr,fork" "SYSTEM:sh '$CARBON_HOME/bin/wso2server.sh' --http '$2'" < /dev/null > /dev/null 2>&1 &
  SERVERS="$SERVERS $!"
}
workers_json() {
  { $WORKER_UP && echo "$IP:$WORKER_PORT"
    for hp in $PEERS; do sed -n 's/^worker=//p' "$CL/members/$(printf '%s\n' "$hp" | sed 's/:\([0-9]*\)$/_\1/')" 2>/dev/null; done; } |
    grep . | sort | sed 's/^\(.*\):\(.*\)$/{"id": "worker-\1-\2", "host": "\1", "port": \2, "state": "ALIVE", "cores": 2}/' | paste -sd, -
}
publish() {
  if $SPARK_UP; then
    if $LEADER; then st=ALIVE; else st=STANDBY; fi
    apps=
    $LEADER && $WORKER_UP && apps='{"id": "app-00000000000000-0000", "name": "CarbonAnalytics", "state": "RUNNING"}'
    printf '{"url": "spark://%s:%s", "workers": [%s], "cores": 0, "activeapps": [%s], "completedapps": [], "status": "%s"}\n' \
      "$IP" "$MASTER_PORT" "$(workers_json)" "$apps" "$st" > "$UI/${IP}_$MASTER_UI.tmp" && mv -f "$UI/${IP}_$MASTER_UI.tmp" "$UI/${IP}_$MASTER_UI.json"
  fi
  if $WORKER_UP; then
    printf '{"id": "worker-%s-%s", "masterurl": "%s", "executors": [{"id": 0, "appid": "app-00000000000000-0000", "state": "RUNNING"}], "finishedexecutors": []}\n' \
      "$IP" "$WORKER_PORT" "$(masters | head -n 1)" > "$UI/${IP}_$WORKER_UI.tmp" && mv -f "$UI/${IP}_$WORKER_UI.tmp" "$UI/${IP}_$WORKER_UI.json"
  fi
}

step() { sleep "$STEP"; }

# ---- startup ---------------------------------------------------------------------------------
log INFO org.wso2.carbon.core.internal.CarbonCoreActivator "Starting WSO2 Carbon..."
log INFO org.wso2.carbon.core.internal.CarbonCoreActivator "Operating System : $(uname -s) $(uname -r), $(uname -m)"
log INFO org.wso2.carbon.core.internal.CarbonCoreActivator "Java Home        : $JAVA_HOME"
log INFO org.wso2.carbon.core.internal.CarbonCoreActivator "Carbon Home      : $CARBON_HOME"
step

if ! claim "$HTTPS_PORT"; then
  log ERROR org.apache.catalina.core.StandardService "Failed to start connector [Connector[HTTP/1.1-$HTTPS_PORT]]"
  log ERROR org.apache.tomcat.util.net.NioEndpoint "java.net.BindException: Address already in use ($IP:$HTTPS_PORT)"
fi

if $CLUSTERING && ! $HAZELCAST_XML; then
  log INFO $CLUSTER_AGENT "Cluster domain: ${DOMAIN:-wso2.carbon.domain}"
  if [ "$SCHEME" = wka ]; then
    log INFO $CLUSTER_AGENT "Using wka based membership management scheme"
  else
    log INFO $CLUSTER_AGENT "Using ${SCHEME:-multicast} based membership management scheme"
  fi
  if loopback_member "$MEMBER_HOST"; then
    log WARN $CLUSTER_AGENT "localMemberHost is configured to use the loopback address. For better performance, please configure it to use the actual IP address of this node."
  fi
  step
  PEERS=$(live_peers)
  write_member
  log INFO $CLUSTER_AGENT "Hazelcast initialized in 1$(date +%N | cut -c1-2)ms"
  log INFO $CLUSTER_AGENT "Local member: [$MY_UUID] - Host:$MEMBER_HOST, Remote Host:null, Port: $MEMBER_PORT, HostName:$MEMBER_HOST, Domain: ${DOMAIN:-wso2.carbon.domain}, Sub Domain:worker, Active:true"
  for hp in $PEERS; do
    log INFO $WKA_SCHEME "Member joined [$(peer_uuid "$hp")]: /$hp"
  done
  if [ -z "$PEERS" ]; then
    LEADER=true
    log INFO $CLUSTER_AGENT "Elected this member [$MY_UUID] as the Coordinator node"
  fi
  log INFO $CLUSTER_AGENT "Cluster initialization completed"
elif $CLUSTERING; then
  log INFO $CLUSTER_AGENT "Loading Hazelcast configuration from $CONF/hazelcast.xml"
fi
step

# CEP management mode: the first enabled <mode> wins.
if [ "$MODE" = HA ]; then
  bad=
  for pair in "eventSync $SYNC_HOST" "management $MGMT_HOST"; do
    set -- $pair
    if invalid_ha_host "$2"; then
      log ERROR $HA_MANAGER "Hostname : ${2:-null} defined for $1 configuration is invalid"
      bad=true
    fi
  done
  case "$HA_PERSIST" in
    true) log INFO $MODE_LOADER "CEP started in Persistence enabled HA mode" ;;
    "") log INFO $MODE_LOADER "CEP started in HA mode" ;;
  esac
  if [ -z "$bad" ]; then
    if claim "${MGMT_PORT:-10005}"; then
      log INFO $HA_MANAGER "CEP HA Snapshot Server started on $MGMT_HOST:${MGMT_PORT:-10005}"
    else
      log ERROR $HA_MANAGER "Cannot start CEP HA Snapshot Server on port ${MGMT_PORT:-10005}"
    fi
    if { mkdir "$CL/cep-active" 2>/dev/null || { ! fresh "$CL/cep-active/heartbeat" && rm -rf "$CL/cep-active" && mkdir "$CL/cep-active" 2>/dev/null; }; }; then
      echo "$MY_UUID" > "$CL/cep-active/owner"
      touch "$CL/cep-active/heartbeat"
      ACTIVE=true
      log INFO $HA_MANAGER "Became CEP HA Active Member"
    else
      PASSIVE=true
      log INFO $HA_MANAGER "Became CEP HA Passive Member"
      log INFO $HA_MANAGER "CEP HA State syncing started.."
      i=0
      while [ "$i" -lt "$SYNC_FAILURES" ]; do
        log ERROR $HA_MANAGER "CEP HA State syncing failed, No execution plans exist for tenant  -1234"
        i=$((i + 1))
        step
      done
      log INFO $HA_MANAGER "CEP HA State successfully synced."
    fi
  fi
elif [ "$MODE" = Single ] || [ "$MODE" = SingleNode ]; then
  if $CLUSTERING; then
    log WARN $MODE_LOADER "CEP started with clustering enabled, but SingleNode configuration given."
  fi
fi
step

# Deployment synchronizer.
if [ "$DS_ENABLED" = true ]; then
  DSYNC=org.wso2.carbon.deployment.synchronizer.internal.DeploymentSynchronizationManager
  SVNREPO=org.wso2.carbon.deployment.synchronizer.subversion.SVNBasedArtifactRepository
  log INFO $DSYNC "Starting a synchronizer on file system at: $CARBON_HOME/repository/deployment/server/"
  case "$DS_URL" in
    http://?*|https://?*|svn://?*)
      if ls "$CARBON_HOME"/repository/components/dropins/svnkit*.jar > /dev/null 2>&1; then
        log INFO $SVNREPO "Checked out using SVN Kit"
      else
        log INFO $SVNREPO "Checked out using CmdLineClientAdapter"
      fi
      [ "$DS_COMMIT" = true ] && log INFO $SVNREPO "Directory creation by deployment synchronizer: ${DS_URL%/}/-1234"
      log INFO $DSYNC "Completed initial artifact synchronization for tenant: -1234" ;;
    *)
      log ERROR $SVNREPO "Provided SVN URL is malformed: $DS_URL" ;;
  esac
fi
step

# Spark.
if [ -n "$SYMLINK" ] && [ ! -e "$SYMLINK" ]; then
  log ERROR $SPARK "Error initializing analytics executor: Unable to create the extra spark classpath with CarbonHome specified, does not exist: $SYMLINK"
elif $CLUSTERING && { [ "$SPARK_MASTER" = local ] || [ "$SPARK_MASTER" = carbon ]; }; then
  [ "$SPARK_MASTER" = local ] && log WARN $SPARK "Using 'local' with Carbon clustering is deprecated. Please use 'carbon.spark.master carbon' instead!"
  log INFO $SPARK "[Spark init] Starting SPARK in Carbon clustering mode."
  SPARK_UP=true
  write_member
  log INFO $SPARK "[Spark init - master] Started SPARK MASTER in spark://$IP:$MASTER_PORT with webUI port : $MASTER_UI"
  mkdir -p "$UI"
  publish
  serve "$MASTER_UI" "$UI/${IP}_$MASTER_UI.json"
elif [ "$SPARK_MASTER" = carbon ]; then
  log ERROR $SPARK "Error initializing analytics executor: Spark started in cluster mode without enabling Carbon clustering"
else
  log INFO $SPARK "[Spark init] Starting SPARK in local mode: ${SPARK_MASTER:-local}"
fi
step

NODE_ID_FILE="$CARBON_HOME/repository/data/my-node-id.dat"
if [ ! -s "$NODE_ID_FILE" ] && [ -s "$CONF/analytics/my-node-id.dat" ]; then
  NODE_ID_FILE="$CONF/analytics/my-node-id.dat"
fi
if [ ! -s "$NODE_ID_FILE" ]; then
  uuid > "$NODE_ID_FILE"
fi
log INFO org.wso2.carbon.analytics.dataservice.core.indexing.IndexNodeCoordinator "My Analytics Node ID: $(head -n 1 "$NODE_ID_FILE")"

log INFO $FINALIZER "Server           :  WSO2 Identity Server Analytics-5.6.0"
log INFO $FINALIZER "WSO2 Carbon started in $(( $(now) - STARTED_AT )) sec"
log INFO org.wso2.carbon.ui.internal.CarbonUIServiceComponent "Mgt Console URL  : https://$IP:$HTTPS_PORT/carbon/"
serve_api
log INFO org.wso2.carbon.event.input.adapter.core.internal.CarbonEventManagementService "Starting polling event receivers"

# ---- running: heartbeats, membership, HA fail-over, Spark workers --------------------------
SQL_WARNED=false
while :; do
  if $CLUSTERING && ! $HAZELCAST_XML; then
    touch "$ME" 2>/dev/null || write_member
    now_peers=$(live_peers)
    for hp in $now_peers; do
      printf '%s\n' "$PEERS" | grep -qx "$hp" || log INFO $WKA_SCHEME "Member joined [$(peer_uuid "$hp")]: /$hp"
    done
    for hp in $PEERS; do
      printf '%s\n' "$now_peers" | grep -qx "$hp" || log INFO $WKA_SCHEME "Member left [unknown]: /$hp"
    done
    PEERS=$now_peers
    if [ -z "$PEERS" ] && ! $LEADER; then
      LEADER=true
      $SPARK_UP && log INFO $SPARK "[Spark leader election] This node is now the CARBON CLUSTERING LEADER"
    fi
  fi
  for p in $CLAIMED; do touch "$PORTS/$p/heartbeat" 2>/dev/null; done
  if $ACTIVE; then
    touch "$CL/cep-active/heartbeat"
  elif $PASSIVE; then
    if { mkdir "$CL/cep-active" 2>/dev/null || { ! fresh "$CL/cep-active/heartbeat" && rm -rf "$CL/cep-active" && mkdir "$CL/cep-active" 2>/dev/null; }; }; then
      echo "$MY_UUID" > "$CL/cep-active/owner"
      touch "$CL/cep-active/heartbeat"
      ACTIVE=true
      PASSIVE=false
      log INFO $HA_MANAGER "Became CEP HA Active Member"
    fi
  fi
  if $SPARK_UP && ! $WORKER_UP; then
    n=$(masters | wc -l)
    if [ "$n" -ge "$SPARK_COUNT" ]; then
      WORKER_UP=true
      write_member
      publish
      serve "$WORKER_UI" "$UI/${IP}_$WORKER_UI.json"
      list=$(masters | tr '\n' ',' | sed 's/,$//; s/,/, /g')
      log INFO $SPARK "[Spark init - clustered] Redundant master count reached. Starting workers in all members..."
      log INFO $SPARK "[Spark init - worker] Started SPARK WORKER in $IP:$WORKER_PORT with webUI port $WORKER_UI with Masters [$list]"
      if $LEADER; then
        log INFO $SPARK "[Spark init - client] Started Spark CLIENT in the cluster pointing to MASTER $(masters | tr '\n' ',' | sed 's/,$//; s/,spark:\/\//,/g')"
      fi
    elif ! $SQL_WARNED; then
      SQL_WARNED=true
      log ERROR org.wso2.carbon.analytics.spark.core.AnalyticsProcessorService "Spark SQL Context is not available. Check if the cluster has instantiated properly."
    fi
  fi
  # The UIs' JSON is written again every fifth poll: peers' workers show up within half a second.
  TICK=$(( (${TICK:-0} + 1) % 5 ))
  [ "$TICK" -ne 0 ] || publish
  sleep "$POLL"
done
