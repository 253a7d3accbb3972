# Makes the JDBC user store the primary one in user-mgt.xml: every live UserStoreManager of
# another class is removed (commented ones are never touched), the kernel's JDBCUserStoreManager
# block (files/jdbc-user-store.xml) is inserted after the realm Configuration, and the realm
# points at the datasource. Needed when nodes share users: an embedded LDAP cannot be shared.

variable "path" {
  type = string
}
variable "datasource" {
  type        = string
  description = "JNDI name of the user store datasource."
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
