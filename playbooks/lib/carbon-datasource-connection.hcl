# Points an existing datasource (keyed by its <name> text) at another database: URL, driver,
# user and password are set in place; every other child (pool settings) stays as shipped.

variable "path" {
  type = string
}
variable "name" {
  type = string
}
variable "url" {
  type = string
}
variable "username" {
  type = string
}
variable "password" {
  type      = string
  sensitive = true
}
variable "driver" {
  type    = string
  default = "com.mysql.jdbc.Driver"
}

locals {
  conf = "/datasources-configuration/datasources/datasource[name='${var.name}']/definition/configuration"
}

task "xml_patch" "connection" {
  path = var.path
  set_text {
    xpath = "${local.conf}/url"
    value = var.url
  }
  set_text {
    xpath = "${local.conf}/driverClassName"
    value = var.driver
  }
  set_text {
    xpath = "${local.conf}/username"
    value = var.username
  }
  set_text {
    xpath = "${local.conf}/password"
    value = var.password
  }
}
