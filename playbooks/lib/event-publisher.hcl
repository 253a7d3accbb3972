# Points a WSO2 event publisher (deployment/server/eventpublishers/*.xml, namespace
# http://wso2.org/carbon/eventpublisher) at analytics receivers. The password is write-once:
# Carbon encrypts it on deployment (encrypted="true"), after which it is left alone.

variable "path" {
  type = string
}
variable "receiver_url" {
  type        = string
  description = "Thrift receivers: a|b fails over, a,b balances, {a},{b} sends to both."
}
variable "username" {
  type = string
}
variable "password" {
  type      = string
  sensitive = true
}

locals {
  to = "/ep:eventPublisher/ep:to"
}

task "xml_patch" "publisher" {
  path       = var.path
  namespaces = { ep = "http://wso2.org/carbon/eventpublisher" }
  set_text {
    xpath = "${local.to}/ep:property[@name='receiverURL']"
    value = var.receiver_url
  }
  set_text {
    xpath = "${local.to}/ep:property[@name='username']"
    value = var.username
  }
  set_text {
    xpath    = "${local.to}/ep:property[@name='password'][@encrypted='false']"
    value    = var.password
    optional = true
  }
}
