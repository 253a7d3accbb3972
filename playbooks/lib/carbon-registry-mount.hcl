# Mounts the config and governance registry collections of registry.xml on a shared database:
# a dbConfig naming the datasource, a remoteInstance and the two mounts, each keyed
# (dbConfig/@name, remoteInstance/id, mount/@path) and inserted after the local wso2registry
# dbConfig, which stays as shipped. cache_id must be user@<jdbc url> of that datasource.

variable "path" {
  type        = string
  description = "registry.xml, e.g. <home>/repository/conf/registry.xml."
}
variable "db_config" {
  type        = string
  description = "Name of the dbConfig (and the remoteInstance's dbConfig), e.g. govregistry."
}
variable "datasource" {
  type        = string
  description = "JNDI name of the datasource, e.g. jdbc/WSO2REG_DB."
}
variable "instance_id" {
  type    = string
  default = "gov"
}
variable "cache_id" {
  type = string
}
variable "config_target" {
  type    = string
  default = "/_system/config"
}
variable "governance_target" {
  type    = string
  default = "/_system/governance"
}
variable "instance_url" {
  type    = string
  default = "https://localhost:9443/registry"
}

locals {
  cache_id = replace(replace(var.cache_id, "&", "&amp;"), "<", "&lt;")
}

task "xml_patch" "mounts" {
  path = var.path
  ensure {
    xpath    = "/wso2registry/dbConfig[@name='${var.db_config}']"
    after    = "/wso2registry/dbConfig[@name='wso2registry']"
    fragment = "<dbConfig name=\"${var.db_config}\">\n    <dataSource>${var.datasource}</dataSource>\n</dbConfig>"
  }
  ensure {
    xpath    = "/wso2registry/remoteInstance[id='${var.instance_id}']"
    after    = "/wso2registry/dbConfig[@name='${var.db_config}']"
    fragment = <<-XML
      <remoteInstance url="${var.instance_url}">
          <id>${var.instance_id}</id>
          <cacheId>${local.cache_id}</cacheId>
          <dbConfig>${var.db_config}</dbConfig>
          <readOnly>false</readOnly>
          <enableCache>true</enableCache>
          <registryRoot>/</registryRoot>
      </remoteInstance>
      XML
  }
  ensure {
    xpath    = "/wso2registry/mount[@path='/_system/governance']"
    after    = "/wso2registry/remoteInstance[id='${var.instance_id}']"
    fragment = "<mount path=\"/_system/governance\" overwrite=\"true\">\n    <instanceId>${var.instance_id}</instanceId>\n    <targetPath>${var.governance_target}</targetPath>\n</mount>"
  }
  ensure {
    xpath    = "/wso2registry/mount[@path='/_system/config']"
    after    = "/wso2registry/mount[@path='/_system/governance']"
    fragment = "<mount path=\"/_system/config\" overwrite=\"true\">\n    <instanceId>${var.instance_id}</instanceId>\n    <targetPath>${var.config_target}</targetPath>\n</mount>"
  }
}
