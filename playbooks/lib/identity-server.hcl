# One WSO2 Identity Server node of a cluster (deployment pattern 1), on shared MySQL databases:
# datasources, JDBC user store (and the embedded LDAP off), identity persistence, the config
# registry mounted on its own database, Hazelcast WKA clustering, the load balancer's host name
# and proxy ports, and (optionally) authentication data published to IS Analytics receivers.

variable "home" {
  type = string
}
variable "jdbc" {
  type        = string
  description = "JDBC URL prefix of the server, jdbc:mysql://host:port."
}
variable "jdbc_query" {
  type    = string
  default = "?autoReconnect=true&useSSL=false"
}
variable "db_user" {
  type = string
}
variable "db_password" {
  type      = string
  sensitive = true
}
variable "um_db" {
  type    = string
  default = "WSO2_UM_DB"
}
variable "reg_db" {
  type    = string
  default = "WSO2_REG_DB"
}
variable "identity_db" {
  type    = string
  default = "WSO2_IDENTITY_DB"
}
variable "cluster_domain" {
  type = string
}
variable "member_host" {
  type = string
}
variable "members" {
  type = list(string)
}
variable "hz_port" {
  type    = number
  default = 4000
}
variable "lb_host" {
  type    = string
  default = null
}
variable "disable_embedded_ldap" {
  type        = bool
  default     = true
  description = "Switch the embedded LDAP off (repository/conf/identity/embedded-ldap.xml, which must exist) now that the JDBC store holds the users; false leaves that file alone."
}
variable "analytics_url" {
  type        = string
  default     = null
  description = "receiverURL of the IS Analytics publishers (tcp://an1:7612|tcp://an2:7612); null leaves them alone."
}
variable "analytics_user" {
  type    = string
  default = "admin"
}
variable "analytics_secret" {
  type      = string
  default   = null
  sensitive = true
}

locals {
  conf = "${var.home}/repository/conf"
  ds   = "${var.home}/repository/conf/datasources/master-datasources.xml"
  pubs = "${var.home}/repository/deployment/server/eventpublishers"
}

include "user datasource" {
  source      = "carbon-datasource.hcl"
  path        = local.ds
  name        = "WSO2_USER_DB"
  description = "The datasource used by the user manager"
  jndi_name   = "jdbc/WSO2UserDS"
  url         = "${var.jdbc}/${var.um_db}${var.jdbc_query}"
  username    = var.db_user
  password    = var.db_password
}
include "config registry datasource" {
  source      = "carbon-datasource.hcl"
  path        = local.ds
  name        = "WSO2_CONFIG_REG_DB"
  description = "The datasource used by the config registry"
  jndi_name   = "jdbc/WSO2ConfigDS"
  url         = "${var.jdbc}/${var.reg_db}${var.jdbc_query}"
  username    = var.db_user
  password    = var.db_password
  after       = "WSO2_USER_DB"
}
include "identity datasource" {
  source      = "carbon-datasource.hcl"
  path        = local.ds
  name        = "WSO2_IDENTITY_DB"
  description = "The datasource used by the identity components"
  jndi_name   = "jdbc/WSO2IdentityDS"
  url         = "${var.jdbc}/${var.identity_db}${var.jdbc_query}"
  username    = var.db_user
  password    = var.db_password
  after       = "WSO2_CONFIG_REG_DB"
  pool = [
    { name = "maxActive", value = "50" },
    { name = "maxWait", value = "60000" },
    { name = "testOnBorrow", value = "true" },
    { name = "validationQuery", value = "SELECT 1" },
    { name = "validationInterval", value = "30000" },
    { name = "defaultAutoCommit", value = "false" },
  ]
}
include "consent datasource" {
  source      = "carbon-datasource.hcl"
  path        = local.ds
  name        = "WSO2_CONSENT_DB"
  description = "The datasource used by the consent management"
  jndi_name   = "jdbc/WSO2ConsentDS"
  url         = "${var.jdbc}/${var.identity_db}${var.jdbc_query}"
  username    = var.db_user
  password    = var.db_password
  after       = "WSO2_IDENTITY_DB"
}

include "identity" {
  source               = "identity-persistence.hcl"
  home                 = var.home
  publish_to_analytics = var.analytics_url != null
}

include "user store" {
  source        = "carbon-jdbc-user-store.hcl"
  path          = "${local.conf}/user-mgt.xml"
  datasource    = "jdbc/WSO2UserDS"
  embedded_ldap = var.disable_embedded_ldap ? "${local.conf}/identity/embedded-ldap.xml" : null
}

include "registry" {
  source            = "carbon-registry-mount.hcl"
  path              = "${local.conf}/registry.xml"
  db_config         = "configregistry"
  datasource        = "jdbc/WSO2ConfigDS"
  instance_id       = "configregistry"
  cache_id          = "${var.db_user}@${var.jdbc}/${var.reg_db}"
  config_target     = "/_system/config/is"
  governance_target = "/_system/governance/is"
}

include "clustering" {
  source            = "carbon-clustering.hcl"
  path              = "${local.conf}/axis2/axis2.xml"
  domain            = var.cluster_domain
  local_member_host = var.member_host
  port              = var.hz_port
  members           = var.members
}

include "carbon" {
  source    = "carbon-server.hcl"
  home      = var.home
  offset    = 0
  host_name = var.lb_host
}

include "proxy ports" {
  source = "carbon-proxy-ports.hcl"
  when   = var.lb_host != null
  home   = var.home
}

include "authentication publisher" {
  source       = "event-publisher.hcl"
  when         = var.analytics_url != null
  path         = "${local.pubs}/IsAnalytics-Publisher-wso2event-AuthenticationData.xml"
  receiver_url = coalesce(var.analytics_url, "-")
  username     = var.analytics_user
  password     = coalesce(var.analytics_secret, "-")
}
include "session publisher" {
  source       = "event-publisher.hcl"
  when         = var.analytics_url != null
  path         = "${local.pubs}/IsAnalytics-Publisher-wso2event-SessionData.xml"
  receiver_url = coalesce(var.analytics_url, "-")
  username     = var.analytics_user
  password     = coalesce(var.analytics_secret, "-")
}
