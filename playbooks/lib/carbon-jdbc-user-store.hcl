# Makes the JDBC user store the primary one in user-mgt.xml: every live UserStoreManager of
# another class is removed (commented ones are never touched), the kernel's JDBCUserStoreManager
# block (files/jdbc-user-store.xml) is inserted after the realm Configuration, and the realm
# points at the datasource. Needed when nodes share users: an embedded LDAP cannot be shared.
# With embedded_ldap set, the product's embedded LDAP server, no longer anyone's user store, is
# switched off (WSO2 IS: repository/conf/identity/embedded-ldap.xml).

variable "path" {
  type = string
}
variable "datasource" {
  type        = string
  description = "JNDI name of the user store datasource."
}
variable "embedded_ldap" {
  type        = string
  default     = null
  description = "The product's embedded-ldap.xml, whose EmbeddedLDAP server is switched off (it must exist); null leaves it alone."
}

locals {
  jdbc = "org.wso2.carbon.user.core.jdbc.JDBCUserStoreManager"
}

task "xml_patch" "jdbc user store" {
  path = var.path
  remove {
    xpath = "/UserManager/Realm/UserStoreManager[@class!='${local.jdbc}']"
  }
  ensure {
    xpath    = "/UserManager/Realm/UserStoreManager[@class='${local.jdbc}']"
    after    = "/UserManager/Realm/Configuration"
    fragment = trimspace(file("files/jdbc-user-store.xml"))
  }
  set_text {
    xpath = "/UserManager/Realm/Configuration/Property[@name='dataSource']"
    value = var.datasource
  }
}

# Carbon starts the embedded LDAP only when this text is exactly "true". The KDCServer section's
# look-alike "enabled" property is left alone: the KDC runs only inside the LDAP server.
task "xml_patch" "embedded ldap off" {
  when = var.embedded_ldap != null
  path = coalesce(var.embedded_ldap, "-")
  set_text {
    xpath = "/EmbeddedLDAPConfig/EmbeddedLDAP/Property[@name='enable']"
    value = "false"
  }
}
