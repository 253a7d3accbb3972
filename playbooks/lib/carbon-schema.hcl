# Creates a database and loads a Carbon schema script shipped inside a product home into it, once. The task
# runs on a node holding the product (the script is read there) and reaches the database server
# through it. By default the kernel script matching the server is picked: dbscripts/mysql5.7.sql
# for MySQL 5.7 and later (and MariaDB 10), else dbscripts/mysql.sql. Guarded by the tables the
# script creates; a half-loaded schema is an error.

variable "home" {
  type        = string
  description = "Product home on the task's host."
}
variable "server_version" {
  type        = string
  default     = "5.7"
  description = "The server's version string (mysql_db registers it as server_version)."
}
variable "script" {
  type        = string
  default     = null
  description = "Script path relative to home; null picks the kernel script for the server version."
}
variable "database" {
  type = string
}
variable "charset" {
  type        = string
  default     = null
  description = "Charset of the database when it is created; null takes the server default."
}
variable "db_host" {
  type = string
}
variable "db_port" {
  type    = number
  default = 3306
}
variable "login_user" {
  type = string
}
variable "login_password" {
  type      = string
  sensitive = true
}
variable "async" {
  type        = bool
  default     = false
  description = "Load in the background while the play goes on; the play waits for it at its end."
}

locals {
  v       = regex("^(\\d+)\\.(\\d+)", var.server_version)
  mysql57 = tonumber(local.v[0]) > 5 || (tonumber(local.v[0]) == 5 && tonumber(local.v[1]) >= 7)
  script  = var.script != null ? var.script : (local.mysql57 ? "dbscripts/mysql5.7.sql" : "dbscripts/mysql.sql")
}

task "mysql_db" "load" {
  async          = var.async
  host           = var.db_host
  port           = var.db_port
  login_user     = var.login_user
  login_password = var.login_password
  # The database is created here, where its schema is, so the plan knows it exists (a database
  # made by a task on another host is not seen by this one's plan).
  database {
    name    = var.database
    charset = var.charset
  }
  schema {
    database         = var.database
    script_host_path = "${var.home}/${local.script}"
  }
}
