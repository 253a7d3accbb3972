# WSO2 Identity Server identity.xml (default namespace of carbon.xml, ISO-8859-1): the identity
# datasource and, optionally, the authentication data publishers that feed IS Analytics.

variable "home" {
  type = string
}
variable "datasource" {
  type    = string
  default = "jdbc/WSO2IdentityDS"
}
variable "publish_to_analytics" {
  type    = bool
  default = true
}

locals {
  listener = "/c:Server/c:EventListeners/c:EventListener[@type='org.wso2.carbon.identity.core.handler.AbstractIdentityMessageHandler']"
  pkg      = "org.wso2.carbon.identity.data.publisher.application.authentication"
}

task "xml_patch" "identity.xml" {
  path       = "${var.home}/repository/conf/identity/identity.xml"
  namespaces = { c = "http://wso2.org/projects/carbon/carbon.xml" }
  set_text {
    xpath = "/c:Server/c:JDBCPersistenceManager/c:DataSource/c:Name"
    value = var.datasource
  }
  set_attr {
    xpath = "${local.listener}[@name='${local.pkg}.AuthnDataPublisherProxy']/@enable"
    value = tostring(var.publish_to_analytics)
  }
  set_attr {
    xpath = "${local.listener}[@name='${local.pkg}.impl.DASLoginDataPublisherImpl']/@enable"
    value = tostring(var.publish_to_analytics)
  }
  set_attr {
    xpath = "${local.listener}[@name='${local.pkg}.impl.DASSessionDataPublisherImpl']/@enable"
    value = tostring(var.publish_to_analytics)
  }
}
