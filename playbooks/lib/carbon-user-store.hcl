# Points the Carbon user realm (user-mgt.xml) at a datasource. The admin password is applied by
# Carbon only at the first start against an empty user store, so it is set here and ignored later.

variable "path" {
  type        = string
  description = "user-mgt.xml, e.g. <home>/repository/conf/user-mgt.xml."
}
variable "datasource" {
  type        = string
  description = "JNDI name of the user store datasource, e.g. jdbc/WSO2UM_DB."
}
variable "admin_user" {
  type    = string
  default = null
}
variable "admin_password" {
  type      = string
  default   = null
  sensitive = true
}

task "xml_patch" "realm datasource" {
  path = var.path
  set_text {
    xpath = "/UserManager/Realm/Configuration/Property[@name='dataSource']"
    value = var.datasource
  }
}

task "xml_patch" "admin user" {
  when = var.admin_user != null && var.admin_password != null
  path = var.path
  set_text {
    xpath = "/UserManager/Realm/Configuration/AdminUser/UserName"
    value = coalesce(var.admin_user, "admin")
  }
  set_text {
    xpath = "/UserManager/Realm/Configuration/AdminUser/Password"
    value = coalesce(var.admin_password, "admin")
  }
}
