# Tomcat connectors behind a load balancer (catalina-server.xml): the proxy ports the public URLs
# use. The new attributes follow the file's one-attribute-per-line layout.

variable "home" {
  type = string
}
variable "http_port" {
  type    = number
  default = 9763
}
variable "https_port" {
  type    = number
  default = 9443
}
variable "http_proxy_port" {
  type    = number
  default = 80
}
variable "https_proxy_port" {
  type    = number
  default = 443
}

task "xml_patch" "connectors" {
  path = "${var.home}/repository/conf/tomcat/catalina-server.xml"
  set_attr {
    xpath = "/Server/Service/Connector[@port='${var.http_port}']"
    name  = "proxyPort"
    value = tostring(var.http_proxy_port)
  }
  set_attr {
    xpath = "/Server/Service/Connector[@port='${var.https_port}']"
    name  = "proxyPort"
    value = tostring(var.https_proxy_port)
  }
}
