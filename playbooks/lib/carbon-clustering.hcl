# Carbon Hazelcast clustering in axis2.xml with the well-known-address (WKA) scheme: enables
# clustering, sets the cluster domain, this node's member host and port, and the member list
# (the same list on every node; a node may list itself). Carbon does not add the port offset to
# the Hazelcast port. Keep a distinct domain per product so two products never form one cluster.

variable "path" {
  type        = string
  description = "axis2.xml, e.g. <home>/repository/conf/axis2/axis2.xml."
}
variable "domain" {
  type = string
}
variable "local_member_host" {
  type        = string
  description = "This node's cluster address (never a loopback address)."
}
variable "port" {
  type    = number
  default = 4000
}
variable "members" {
  type        = list(string)
  description = "Addresses of every member, in order."
}

locals {
  port = tostring(var.port)
}

task "xml_patch" "hazelcast" {
  path = var.path
  set_attr {
    xpath = "/axisconfig/clustering"
    name  = "enable"
    value = "true"
  }
  assert {
    xpath = "/axisconfig/clustering/@class"
    value = "org.wso2.carbon.core.clustering.hazelcast.HazelcastClusteringAgent"
  }
  set_text {
    xpath = "/axisconfig/clustering/parameter[@name='membershipScheme']"
    value = "wka"
  }
  set_text {
    xpath = "/axisconfig/clustering/parameter[@name='domain']"
    value = var.domain
  }
  set_text {
    xpath = "/axisconfig/clustering/parameter[@name='localMemberHost']"
    value = var.local_member_host
  }
  set_text {
    xpath = "/axisconfig/clustering/parameter[@name='localMemberPort']"
    value = local.port
  }
  replace_children {
    xpath = "/axisconfig/clustering/members"
    # The port is turned into text once, not once per member (a number's conversion is slow).
    fragment = join("", [for m in var.members : "<member><hostName>${m}</hostName><port>${local.port}</port></member>"])
  }
}
