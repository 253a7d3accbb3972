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
# The Spark master and worker web UIs answer GET /json/, and the HTTPS port the analytics REST API
# GET /analytics/tables and the admin service AnalyticsProcessorAdminService's SOAP executeQuery
# for the admin of user-mgt.xml, and the console's login page, through socat and openssl when they
# are installed; the plain HTTP port serves the same.
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
# unxml, xmlesc: XML character references out of and into text on stdin.
unxml() { sed 's/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&apos;/'"'"'/g; s/&amp;/\&/g'; }
xmlesc() { sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g'; }

# --api AUTHFILE SQLFILE IP: answer one request on the node's Carbon port (socat runs it per
# connection) for the admin of user-mgt.xml (AUTHFILE holds the base64 of its Basic credentials):
# the analytics REST API's GET /analytics/tables lists no table, and the admin service
# AnalyticsProcessorAdminService answers the Interactive Analytics Console's SOAP 1.1 executeQuery
# (its WSDL in wso2/carbon-analytics service-stubs/analytics-processors/
# org.wso2.carbon.analytics.spark.stub) once SQLFILE exists, i.e. once the Spark SQL context is up.
# GET /carbon/admin/login.jsp (the management console's login page) answers anyone. Every answer
# names the node in an X-Standin-Node header (IP), so a test behind a load balancer can tell which
# node served it.
if [ "$1" = --api ]; then
  authfile=$2 sqlready=$3 node=$4
  cr=$(printf '\r')
  IFS= read -r req || exit 0
  req=${req%"$cr"}
  auth= len=0 action=- ctype=
  # Headers, without a process per line: names are case-insensitive, values trimmed.
  while IFS= read -r h; do
    h=${h%"$cr"}
    [ -n "$h" ] || break
    v=${h#*:}
    v=${v#"${v%%[![:space:]]*}"}
    v=${v%"${v##*[![:space:]]}"}
    case "${h%%:*}" in
      [Aa][Uu][Tt][Hh][Oo][Rr][Ii][Zz][Aa][Tt][Ii][Oo][Nn]) auth=$v ;;
      [Cc][Oo][Nn][Tt][Ee][Nn][Tt]-[Ll][Ee][Nn][Gg][Tt][Hh]) len=$v ;;
      [Cc][Oo][Nn][Tt][Ee][Nn][Tt]-[Tt][Yy][Pp][Ee]) ctype=$v ;;
      [Ss][Oo][Aa][Pp][Aa][Cc][Tt][Ii][Oo][Nn]) action=${v#\"} action=${action%\"} ;;
    esac
  done
  case "$len" in "" | *[!0-9]*) len=0 ;; esac
  body=
  [ "$len" -gt 0 ] && body=$(head -c "$len" | tr '\r\n\t' '   ')
  set -f
  set -- $req
  method=$1 path=$2
  # respond STATUS CONTENT-TYPE BODY [HEADER]: one HTTP/1.0 response.
  respond() {
    printf 'HTTP/1.0 %s\r\n' "$1"
    [ -z "$node" ] || printf 'X-Standin-Node: %s\r\n' "$node"
    [ -z "$4" ] || printf '%s\r\n' "$4"
    [ -z "$2" ] || printf 'Content-Type: %s\r\n' "$2"
    printf 'Content-Length: %s\r\nConnection: close\r\n\r\n%s' "$(printf '%s' "$3" | wc -c)" "$3"
  }
  IFS= read -r creds < "$authfile"
  scheme=${auth%% *}
  case "$scheme" in [Bb][Aa][Ss][Ii][Cc]) authed=$([ "${auth#* }" = "$creds" ] && echo true) ;; *) authed= ;; esac
  case "$path" in /services/AnalyticsProcessorAdminService | /services/AnalyticsProcessorAdminService[./]*) ;; *)
    if [ "$method" = GET ] && [ "$path" = /carbon/admin/login.jsp ]; then
      respond '200 OK' text/html '<html><head><title>WSO2 Management Console</title></head><body>Sign-in</body></html>'
    elif [ -z "$authed" ]; then
      respond '401 Unauthorized' '' '' 'WWW-Authenticate: Basic realm="WSO2 Carbon"'
    elif [ "$method" = GET ] && [ "$path" = /analytics/tables ]; then
      respond '200 OK' application/json '[]'
    else
      respond '404 Not Found' '' ''
    fi
    exit 0 ;;
  esac

  # ---- AnalyticsProcessorAdminService (Axis2 1.6 on Carbon 4.4: SOAP 1.1 and faults as it sends them) ----
  SOAP11=http://schemas.xmlsoap.org/soap/envelope/
  NS=http://admin.spark.analytics.carbon.wso2.org
  envelope() { printf '<?xml version='"'"'1.0'"'"' encoding='"'"'UTF-8'"'"'?><soapenv:Envelope xmlns:soapenv="%s"><soapenv:Body>%s</soapenv:Body></soapenv:Envelope>' "$SOAP11" "$1"; }
  # fault STATUS CODE STRING [DETAIL]
  fault() {
    if [ -n "$4" ]; then d="<detail>$4</detail>"; else d='<detail/>'; fi
    respond "$1" 'text/xml; charset=UTF-8' "$(envelope "<soapenv:Fault><faultcode>soapenv:$2</faultcode><faultstring>$(printf '%s' "$3" | xmlesc)</faultstring>$d</soapenv:Fault>")"
    exit 0
  }
  # admin_fault MESSAGE CAUSE: the service's checked AnalyticsProcessorAdminException, as Axis2's
  # RPCMessageReceiver wraps it (the WSDL's fault element); the cause, which Carbon logs, is the message.
  admin_fault() {
    fault '500 Internal Server Error' Server "$1" "<ns:AnalyticsProcessorAdminServiceAnalyticsProcessorAdminException xmlns:ns=\"$NS\"><ns:AnalyticsProcessorAdminException xmlns:ax219=\"$NS/xsd\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"ax219:AnalyticsProcessorAdminException\"><ax219:message>$(printf '%s' "$2" | xmlesc)</ax219:message></ns:AnalyticsProcessorAdminException></ns:AnalyticsProcessorAdminServiceAnalyticsProcessorAdminException>"
  }
  # Carbon's BasicAccessAuthenticator: no or malformed credentials get a bare 401; well-formed wrong
  # ones fail in AuthenticationHandler with the fault below (sent here with 401, see the README).
  if [ -z "$authed" ]; then
    dec=$(printf '%s' "${auth#* }" | base64 -d 2> /dev/null | tr -d '\000')
    case "$scheme:$dec" in
      [Bb][Aa][Ss][Ii][Cc]:?*:?*)
        respond '401 Unauthorized' 'text/xml; charset=UTF-8' "$(envelope '<soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>Access Denied. Authentication failed - Invalid credentials provided.</faultstring><detail/></soapenv:Fault>')" ;;
      *) respond '401 Unauthorized' text/html '' 'WWW-Authenticate: Basic realm="WSO2 Identity Server Analytics"' ;;
    esac
    exit 0
  fi
  [ "$method" = POST ] || fault '500 Internal Server Error' Client "The endpoint reference (EPR) for the Operation not found is $path and the WSA Action = null. If this EPR was previously reachable, please contact the server administrator."
  # xmlns PREFIX: the namespace the body declares for PREFIX ("" for the default namespace).
  xmlns() { printf '%s' "$body" | grep -o "xmlns${1:+:$1}=[\"'][^\"']*[\"']" | head -n 1 | sed 's/^[^=]*=.//; s/.$//'; }
  first=$(printf '%s' "$body" | sed 's/<?[^>]*?>//g; s/<!--[^>]*-->//g' | grep -o '<[A-Za-z_][^[:space:]/>]*' | head -n 1 | sed 's/^<//')
  case "$first" in *:*) epfx=${first%%:*} ;; *) epfx= ;; esac
  [ "${first#*:}" = Envelope ] || fault '500 Internal Server Error' Client "First Element must contain the local name, Envelope , but found ${first#*:}"
  case "$ctype" in
    [Tt][Ee][Xx][Tt]/[Xx][Mm][Ll] | [Tt][Ee][Xx][Tt]/[Xx][Mm][Ll]\;*) [ "$(xmlns "$epfx")" = "$SOAP11" ] ;;
    *) false ;;
  esac || fault '500 Internal Server Error' Client "Transport level information does not match with SOAP Message namespace URI"
  op=$(printf '%s' "$body" | sed -n 's/.*<\([A-Za-z_][^[:space:]>]*:\)\{0,1\}Body\([[:space:]][^>]*\)\{0,1\}>[[:space:]]*<\([^[:space:]/>]*\).*/\3/p')
  case "$op" in *:*) opfx=${op%%:*} ;; *) opfx= ;; esac
  op=${op#*:}
  opns=$(xmlns "$opfx")
  # Axis2 dispatches on the SOAPAction, then on the body's first element.
  case "$action" in
    urn:?*) name=${action#urn:} ;;
    - | "") [ "$opns" = "$NS" ] && name=$op || name= ; action=null ;;
    *) name= ;;
  esac
  case "$name" in
    executeQuery) ;;
    execute | executeScript | executeScriptInBackground | executeInBackground | getScript | getAllScripts | saveScript | \
    saveScriptContent | updateScript | updateScriptContent | updateScriptTask | deleteScript | pauseAllScripts | resumeAllScripts | \
    getScheduledTaskStatuses | isAnalyticsExecutionEnabled | isAnalyticsScriptExecuting | isAnalyticsTaskExecuting)
      fault '500 Internal Server Error' Server "isaplay stand-in: AnalyticsProcessorAdminService.$name is not modelled, only executeQuery" ;;
    *) fault '500 Internal Server Error' Client "The endpoint reference (EPR) for the Operation not found is $path and the WSA Action = $action. If this EPR was previously reachable, please contact the server administrator." ;;
  esac
  # RPCMessageReceiver: the operation element must be in the service's namespace.
  [ "$opns" = "$NS" ] || fault '500 Internal Server Error' Server "namespace mismatch require $NS found $opns"
  query=$(printf '%s' "$body" | sed -n 's/.*<\([A-Za-z_][^[:space:]>]*:\)\{0,1\}query\([[:space:]][^>]*\)\{0,1\}>\([^<]*\)<\/\([A-Za-z_][^[:space:]>]*:\)\{0,1\}query>.*/\3/p' | unxml)
  q=$(printf '%s' "$query" | sed 's/^[[:space:]]*//; s/[[:space:]]*;*[[:space:]]*$//')
  [ -n "$q" ] || admin_fault "No queries provided to execute." "No queries provided to execute."
  failed="Error while executing query : $query"
  [ -e "$sqlready" ] || admin_fault "$failed" "Spark SQL Context is not available. Check if the cluster has instantiated properly."
  # Spark SQL, as far as a stand-in goes: SELECT of literals (numbers, 'strings', true, false,
  # null), each optionally named; a FROM names a table this node does not have.
  word=$(printf '%s' "$q" | sed 's/[[:space:]].*//')
  case "$word" in
    [Ss][Ee][Ll][Ee][Cc][Tt]) ;;
    *) admin_fault "$failed" "[1.1] failure: \`\`with'' expected but identifier $word found" ;;
  esac
  list=$(printf '%s' "$q" | sed 's/^[^[:space:]]*[[:space:]]*//')
  table=$(printf '%s' " $list" | sed -n 's/.*[[:space:]][Ff][Rr][Oo][Mm][[:space:]][[:space:]]*\([^[:space:]]*\).*/\1/p')
  [ -z "$table" ] || admin_fault "$failed" "Table not found: $table;"
  [ -n "$list" ] || admin_fault "$failed" "[1.7] failure: illegal start of simple expression"
  cols= vals= i=0
  IFS=,
  for item in $list; do
    item=$(printf '%s' "$item" | sed 's/^[[:space:]]*//; s/[[:space:]]*$//')
    re="^(-?[0-9]+(\.[0-9]+)?|'[^']*'|[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Nn][Uu][Ll][Ll])(([[:space:]]+([Aa][Ss][[:space:]]+)?)([A-Za-z_][A-Za-z0-9_]*))?\$"
    lit=$(printf '%s\n' "$item" | sed -nE "s/$re/\\1/p")
    [ -n "$lit" ] || admin_fault "$failed" "cannot resolve '$item' given input columns: [];"
    col=$(printf '%s\n' "$item" | sed -nE "s/$re/\\6/p")
    cols="$cols<ax221:columnNames>$(printf '%s' "${col:-_c$i}" | xmlesc)</ax221:columnNames>"
    case "$lit" in
      [Nn][Uu][Ll][Ll]) vals="$vals<ax221:columnValues xsi:nil=\"true\"/>" ;;
      \'*) vals="$vals<ax221:columnValues>$(printf '%s' "$lit" | sed "s/^'//; s/'\$//" | xmlesc)</ax221:columnValues>" ;;
      *) vals="$vals<ax221:columnValues>$(printf '%s' "$lit" | tr 'A-Z' 'a-z')</ax221:columnValues>" ;;
    esac
    i=$((i + 1))
  done
  respond '200 OK' 'text/xml; charset=UTF-8' "$(envelope "<ns:executeQueryResponse xmlns:ns=\"$NS\"><ns:return xmlns:ax221=\"http://dto.admin.spark.analytics.carbon.wso2.org/xsd\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"ax221:AnalyticsQueryResultDto\">$cols<ax221:query>$(printf '%s' "$query" | xmlesc)</ax221:query><ax221:rowsResults xsi:type=\"ax221:AnalyticsRowResultDto\">$vals</ax221:rowsResults></ns:return></ns:executeQueryResponse>")"
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
# fresh FILE: the file exists and was touched within STALE seconds. A peer may remove it at any
# moment (the active member's lock at its shutdown), so its mtime is read once and a file gone by
# then is not fresh: an empty operand in $((...)) is an expansion error, which ends this shell at
# once and without a word (the node would simply vanish).
fresh() { mtime=$(stat -c %Y -- "$1" 2>/dev/null) && [ $(( $(now) - mtime )) -le "$STALE" ]; }
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
API=
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
  [ -z "$API" ] || rm -f "$API.sql"
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
API="$UI/${IP}_$HTTPS_PORT"
# SQL_READY: the Spark SQL context is up (local Spark at once; a cluster once its client runs,
# when the master count is reached); executeQuery answers a fault until then.
SQL_READY=false
sql_ready() { SQL_READY=true; [ ! -d "$UI" ] || touch "$API.sql"; }
# serve_api: the analytics REST API, the AnalyticsProcessorAdminService and the console's login
# page on IP:HTTPS_PORT (TLS with a throwaway self-signed certificate, as Carbon's default keystore
# is self-signed), for the admin of user-mgt.xml, and the same on IP:HTTP_PORT in plain HTTP.
serve_api() {
  command -v socat > /dev/null 2>&1 && command -v openssl > /dev/null 2>&1 || return 0
  mkdir -p "$UI"
  a=$API
  rm -f "$a.sql"
  ! $SQL_READY || touch "$a.sql"
  (umask 077
    printf '%s:%s' "$ADMIN_USER" "$ADMIN_PASS" | base64 -w 0 > "$a.auth"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$IP" -days 2 \
      -keyout "$a.key" -out "$a.crt" > /dev/null 2>&1) || return 0
  socat -T 5 "OPENSSL-LISTEN:$HTTPS_PORT,bind=$IP,reuseaddr,fork,cert=$a.crt,key=$a.key,verify=0" \
    "SYSTEM:sh '$CARBON_HOME/bin/wso2server.sh' --api '$a.auth' '$a.sql' '$IP'" < /dev/null > /dev/null 2>&1 &
  SERVERS="$SERVERS $!"
  # Tomcat's plain HTTP connector serves the same pages.
  socat -T 5 "TCP-LISTEN:$HTTP_PORT,bind=$IP,reuseaddr,fork" \
    "SYSTEM:sh '$CARBON_HOME/bin/wso2server.sh' --api '$a.auth' '$a.sql' '$IP'" < /dev/null > /dev/null 2>&1 &
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
    if { mkdir "$CL/cep-active" 2>/dev/null || { ! fresh "$CL/cep-active/heartbeat" && ! fresh "$CL/cep-active" && rm -rf "$CL/cep-active" && mkdir "$CL/cep-active" 2>/dev/null; }; }; then
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
  SQL_READY=true
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
    if { mkdir "$CL/cep-active" 2>/dev/null || { ! fresh "$CL/cep-active/heartbeat" && ! fresh "$CL/cep-active" && rm -rf "$CL/cep-active" && mkdir "$CL/cep-active" 2>/dev/null; }; }; then
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
      sql_ready
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
