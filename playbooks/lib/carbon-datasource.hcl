# Ensures one RDBMS datasource in a Carbon datasources file (master-datasources.xml), keyed by
# its <name> text: inserted after an anchor datasource when missing, updated in place when it
# differs, never duplicated. The password is XML-escaped here and masked in every plan.

variable "path" {
  type        = string
  description = "The datasources file, e.g. <home>/repository/conf/datasources/master-datasources.xml."
}
variable "name" {
  type = string
}
variable "description" {
  type    = string
  default = ""
}
variable "jndi_name" {
  type        = string
  default     = null
  description = "JNDI name (jdbc/...); null for a datasource without jndiConfig."
}
variable "url" {
  type        = string
  description = "JDBC URL, unescaped (& is written &amp;)."
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
variable "pool" {
  type        = list(object({ name = string, value = string }))
  description = "Pool settings after driverClassName, in order."
  default = [
    { name = "maxActive", value = "50" },
    { name = "maxWait", value = "60000" },
    { name = "testOnBorrow", value = "true" },
    { name = "validationQuery", value = "SELECT 1" },
    { name = "validationInterval", value = "30000" },
  ]
}
variable "after" {
  type        = string
  default     = "WSO2_CARBON_DB"
  description = "Name of the datasource to insert after when missing."
}

locals {
  root            = "/datasources-configuration/datasources"
  url_xml         = replace(replace(replace(var.url, "&", "&amp;"), "<", "&lt;"), ">", "&gt;")
  username_xml    = replace(replace(replace(var.username, "&", "&amp;"), "<", "&lt;"), ">", "&gt;")
  password_xml    = replace(replace(replace(var.password, "&", "&amp;"), "<", "&lt;"), ">", "&gt;")
  description_xml = replace(replace(replace(var.description, "&", "&amp;"), "<", "&lt;"), ">", "&gt;")
  jndi            = var.jndi_name == null ? "" : "\n    <jndiConfig>\n        <name>${var.jndi_name}</name>\n    </jndiConfig>"
  pool            = join("", [for p in var.pool : "\n            <${p.name}>${replace(replace(p.value, "&", "&amp;"), "<", "&lt;")}</${p.name}>"])
}

task "xml_patch" "datasource" {
  path = var.path
  ensure {
    xpath    = "${local.root}/datasource[name='${var.name}']"
    after    = "${local.root}/datasource[name='${var.after}']"
    fragment = <<-XML
      <datasource>
          <name>${var.name}</name>
          <description>${local.description_xml}</description>${local.jndi}
          <definition type="RDBMS">
              <configuration>
                  <url>${local.url_xml}</url>
                  <username>${local.username_xml}</username>
                  <password>${local.password_xml}</password>
                  <driverClassName>${var.driver}</driverClassName>${local.pool}
              </configuration>
          </definition>
      </datasource>
      XML
  }
}
