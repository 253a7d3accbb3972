# Fails a running analytics cluster (CEP HA and Spark masters: IS Analytics, DAS and the other
# DAS 3.x based products) over and back, as a test (pattern2-spec G9). It stops the CEP HA
# active member, waits until a passive member logs that it took over and the surviving Spark
# master is ALIVE, then starts the stopped node again and waits until it has rejoined as
# passive. Each wait reads its node's log from a cursor taken on that node before the stop
# (log_cursor), so no line from before this failover counts. Include it in a play over every
# node of the cluster, without serial (every node finishes a step before any starts the next),
# after the tasks that registered the roles and the Spark masters' status. It stops a service:
# include it only when an operator asks for the test.

variable "home" {
  type = string
}
variable "env" {
  type    = map(string)
  default = {}
}
variable "register" {
  type        = string
  description = "Prefix of the results this component registers: NAME_cursor, NAME_stop, NAME_restart and NAME_roles."
}
variable "roles" {
  type        = map(string)
  description = "Every node's CEP HA role now (Active, Passive or Backup), by host name; the Active one is stopped, the Passive ones take over."
}
variable "ips" {
  type        = map(string)
  description = "Every node's cluster address (Hazelcast localMemberHost), by host name."
}
variable "hz_port" {
  type    = number
  default = 4000
}
variable "spark_masters" {
  type        = map(string)
  default     = {}
  description = "The status (ALIVE or STANDBY) of the Spark master of every node that runs one, by host name; empty to check no Spark master."
}
variable "spark_ui_url" {
  type        = string
  default     = null
  description = "This node's Spark master web UI JSON, e.g. http://IP:8082/json/, when it runs a master."
}
variable "rejoin_patterns" {
  type        = list(string)
  default     = ["Became CEP HA Passive Member", "CEP HA State successfully synced\\.", "WSO2 Carbon started in \\d+ sec"]
  description = "Log lines (RE2) the stopped node must all log once started again."
}
variable "fail_patterns" {
  type    = list(string)
  default = []
}
variable "tolerate" {
  type    = list(string)
  default = []
}
variable "wait_timeout" {
  type    = string
  default = "300s"
}

locals {
  log        = "${var.home}/repository/logs/wso2carbon.log"
  active     = [for n, r in var.roles : n if r == "Active"]
  passive    = [for n, r in var.roles : n if r == "Passive"]
  stop_reg   = "${var.register}_stop"
  cursor_reg = "${var.register}_cursor"
  roles_reg  = "${var.register}_roles"
  # Every other member logs that the stopped one left. CEP HA has one passive member, which
  # becomes active; where several nodes are passive they race for it, and the assert at the end
  # (after the stopped node rejoined as passive, which it can only do once one of them is
  # active) finds the winner.
  takeover = concat(
    [for n in local.active : "Member left \\[[^\\]]*\\]: \\S*/${replace(var.ips[n], ".", "\\.")}:${var.hz_port}"],
    length(local.passive) == 1 ? ["Became CEP HA Active Member"] : [],
  )
  # The Spark master that must be ALIVE afterwards: the surviving one when the stopped node's
  # was ALIVE, else the one that was ALIVE already.
  stopped_alive = length([for n in local.active : n if lookup(var.spark_masters, n, "") == "ALIVE"]) > 0
  must_be_alive = [for n, st in var.spark_masters : n if !contains(local.active, n) && (local.stopped_alive || st == "ALIVE")]
}

task "assert" "one active and a passive" {
  run_once  = true
  condition = length(local.active) == 1 && length(local.passive) > 0
  message   = "the failover test needs exactly one CEP HA active member and at least one passive member to take over"
}

task "log_cursor" "before stop" {
  when     = contains(local.passive, host.name)
  path     = local.log
  register = local.cursor_reg
}

task "service_stop" "stop active" {
  when     = contains(local.active, host.name)
  script   = "${var.home}/bin/wso2server.sh"
  pid_file = "${var.home}/wso2carbon.pid"
  log_file = local.log
  env      = var.env
  register = local.stop_reg
}

task "wait_log" "stopped" {
  when         = contains(local.active, host.name)
  path         = local.log
  from         = result[local.stop_reg].log_cursor
  patterns     = ["Shutdown complete", "Halting JVM"]
  wait_timeout = var.wait_timeout
}

task "wait_log" "taken over" {
  when          = contains(local.passive, host.name)
  path          = local.log
  from          = result[local.cursor_reg].log_cursor
  patterns      = local.takeover
  fail_patterns = var.fail_patterns
  tolerate      = var.tolerate
  wait_timeout  = var.wait_timeout
}

task "http_check" "spark master alive" {
  when         = var.spark_ui_url != null && contains(local.must_be_alive, host.name)
  url          = coalesce(var.spark_ui_url, "http://invalid/")
  json_path    = ".status"
  json_value   = "ALIVE"
  interval     = "500ms"
  wait_timeout = var.wait_timeout
}

# Only a node this run stopped is started again.
include "rejoin" {
  source        = "carbon-start.hcl"
  when          = contains(local.active, host.name) && lookup(result[local.stop_reg], "changed", false)
  home          = var.home
  env           = var.env
  register      = "${var.register}_restart"
  patterns      = var.rejoin_patterns
  fail_patterns = var.fail_patterns
  tolerate      = var.tolerate
  wait_timeout  = var.wait_timeout
}

task "log_compare" "roles after" {
  path     = local.log
  regex    = "Became CEP HA (Active|Passive|Backup) Member"
  register = local.roles_reg
}

task "assert" "another node active" {
  run_once  = true
  condition = length([for n, r in results[local.roles_reg] : n if r.value == "Active" && !contains(local.active, n)]) == 1 && length([for n in local.active : n if results[local.roles_reg][n].value == "Passive"]) == length(local.active)
  message   = "after the failover exactly one other node must be the CEP HA active member and the stopped node passive again"
}
