# Starts a Carbon node and waits until its log proves it is up: the log cursor is taken just
# before the start, so only this start's lines count. Include it in a play with serial = 1 to
# start nodes one after the other, each waiting for its own lines. A node already running is
# left alone (nothing to wait for), unless restart is true.

variable "home" {
  type = string
}
variable "register" {
  type        = string
  description = "Result name of the start (result.NAME.log_cursor), for later waits on the same log."
}
variable "patterns" {
  type        = list(string)
  default     = ["WSO2 Carbon started in \\d+ sec"]
  description = "Log lines (RE2) that must all appear, in any order."
}
variable "fail_patterns" {
  type    = list(string)
  default = []
}
variable "tolerate" {
  type    = list(string)
  default = []
}
variable "env" {
  type    = map(string)
  default = {}
}
variable "restart" {
  type    = bool
  default = false
}
variable "wait_timeout" {
  type    = string
  default = "300s"
}

locals {
  log = "${var.home}/repository/logs/wso2carbon.log"
}

task "service_start" "start" {
  script   = "${var.home}/bin/wso2server.sh"
  pid_file = "${var.home}/wso2carbon.pid"
  log_file = local.log
  env      = var.env
  restart  = var.restart
  register = var.register
}

task "wait_log" "started" {
  path          = local.log
  from          = result[var.register].log_cursor
  patterns      = var.patterns
  fail_patterns = var.fail_patterns
  tolerate      = var.tolerate
  wait_timeout  = var.wait_timeout
}
