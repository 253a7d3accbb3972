# carbon.xml server settings: asserts the port offset the rest of the configuration assumes, and
# optionally sets the public host names (HostName and MgtHostName exist only as comments in the
# shipped file, so they are inserted after Version).

variable "home" {
  type = string
}
variable "offset" {
  type        = number
  default     = null
  description = "The expected Ports/Offset; null to skip the check."
}
variable "host_name" {
  type        = string
  default     = null
  description = "HostName and MgtHostName (the load balancer's name); null to leave them out."
}

locals {
  ns = { c = "http://wso2.org/projects/carbon/carbon.xml" }
}

task "xml_patch" "port offset" {
  when       = var.offset != null
  path       = "${var.home}/repository/conf/carbon.xml"
  namespaces = local.ns
  assert {
    xpath = "/c:Server/c:Ports/c:Offset"
    value = tostring(coalesce(var.offset, 0))
  }
}

task "xml_patch" "host names" {
  when       = var.host_name != null
  path       = "${var.home}/repository/conf/carbon.xml"
  namespaces = local.ns
  ensure {
    xpath    = "/c:Server/c:HostName"
    after    = "/c:Server/c:Version"
    fragment = "<HostName>${coalesce(var.host_name, "-")}</HostName>"
  }
  ensure {
    xpath    = "/c:Server/c:MgtHostName"
    after    = "/c:Server/c:HostName"
    fragment = "<MgtHostName>${coalesce(var.host_name, "-")}</MgtHostName>"
  }
}
