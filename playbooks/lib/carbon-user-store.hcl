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
  type        = string
  default     = null
  description = "Super-admin name and password (AdminUser); null leaves them as shipped."
}
variable "admin_password" {
  type      = string
  default   = ""
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
  when = var.admin_user != null
  path = var.path
  set_text {
    xpath = "/UserManager/Realm/Configuration/AdminUser/UserName"
    value = coalesce(var.admin_user, "admin")
  }
  set_text {
    xpath = "/UserManager/Realm/Configuration/AdminUser/Password"
    value = var.admin_password
  }
}
