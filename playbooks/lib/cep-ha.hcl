# Two-node CEP high availability in event-processor.xml. The first <mode> with enable="true"
# wins, so the Single mode (shipped enabled, before HA, from carbon-analytics-common 5.1.37) is
# disabled when it exists. eventSync and management listen on this node's own address (0.0.0.0,
# localhost and loopback are rejected at runtime); their ports are not offset.

variable "path" {
  type        = string
  description = "event-processor.xml, e.g. <home>/repository/conf/event-processor.xml."
}
variable "host_ip" {
  type        = string
  description = "This node's address for eventSync and management."
}
variable "event_sync_port" {
  type    = number
  default = 11224
}
variable "management_port" {
  type    = number
  default = 10005
}
variable "persistence" {
  type        = bool
  default     = false
  description = "Snapshot CEP state so it survives restarts."
}

locals {
  ha = "/eventProcessorConfiguration/mode[@name='HA']"
}

task "xml_patch" "ha mode" {
  path = var.path
  set_attr {
    xpath    = "/eventProcessorConfiguration/mode[@name='Single']/@enable"
    value    = "false"
    optional = true
  }
  set_attr {
    xpath = "${local.ha}/@enable"
    value = "true"
  }
  set_attr {
    xpath = "/eventProcessorConfiguration/mode[@name='Distributed']/@enable"
    value = "false"
  }
  set_attr {
    xpath = "${local.ha}/nodeType/worker/@enable"
    value = "true"
  }
  set_attr {
    xpath = "${local.ha}/nodeType/presenter/@enable"
    value = "false"
  }
  set_text {
    xpath = "${local.ha}/eventSync/hostName"
    value = var.host_ip
  }
  set_text {
    xpath = "${local.ha}/eventSync/port"
    value = tostring(var.event_sync_port)
  }
  set_text {
    xpath = "${local.ha}/management/hostName"
    value = var.host_ip
  }
  set_text {
    xpath = "${local.ha}/management/port"
    value = tostring(var.management_port)
  }
  set_attr {
    xpath = "${local.ha}/persistence/@enable"
    value = tostring(var.persistence)
  }
}
