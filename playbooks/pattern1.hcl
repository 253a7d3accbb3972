# WSO2 Identity Server deployment pattern 1: two (or more) clustered IS nodes (group "identity")
# behind a sticky load balancer, on shared MySQL databases reached through the host of group
# "mysql". Built from the same components as pattern2.hcl, without IS Analytics.
#
# The pack (wso2is-5.6.0.zip, named after the folder of is_home) is taken from the controller
# directory that holds mysql_jar; when it is not there, IS must already be installed.
# Host vars: "ip" (cluster address, default the host's address), "java_home" (optional).
# Optional group "lb": nginx load balancers in front of the IS nodes (F11); their host vars
# "listen" (the address nginx binds; default every address) and "become" (sudo).
#
#   isaplay apply playbooks/pattern1.hcl -i examples/pattern1-hosts.hcl --var-file examples/pattern1.vars.hcl

variable "is_home" {
  type        = string
  description = "IS home on every identity node."
}
variable "db_host" {
  type = string
}
variable "db_port" {
  type    = number
  default = 3306
}
variable "db_admin_user" {
  type = string
}
variable "db_admin_password" {
  type      = string
  sensitive = true
}
variable "is_db_user" {
  type = string
}
variable "is_db_password" {
  type      = string
  sensitive = true
}
variable "disable_embedded_ldap" {
  type        = bool
  default     = true
  description = "F5: switch the IS embedded LDAP off once the JDBC user store holds the users (repository/conf/identity/embedded-ldap.xml must exist); false leaves that file alone."
}
variable "is_cluster_domain" {
  type    = string
  default = "wso2.is.domain"
}
variable "lb_host" {
  type        = string
  default     = null
  description = "Public host name behind the load balancer; null leaves HostName and proxy ports alone."
}
variable "lb_config" {
  type        = string
  default     = "/etc/nginx/conf.d/wso2is.conf"
  description = "F11: the nginx file written on the hosts of group \"lb\" (included by lb_nginx_conf's http block); null leaves the LB hosts alone."
}
variable "lb_cert" {
  type        = string
  default     = null
  description = "F11: TLS certificate (PEM) for lb_host on the LB hosts; needed when group \"lb\" has hosts."
}
variable "lb_key" {
  type        = string
  default     = null
  description = "F11: its private key on the LB hosts (only the path is written)."
}
variable "lb_sticky" {
  type        = string
  default     = "ip_hash"
  description = "F11: the nginx upstream directive that keeps a client on one IS node."
}
variable "lb_nginx_conf" {
  type        = string
  default     = "/etc/nginx/nginx.conf"
  description = "F11: the main nginx configuration, tested (nginx -t) with the new file before it is kept."
}
variable "lb_validate" {
  type        = bool
  default     = true
  description = "F11: test a changed LB file with nginx -t (nginx must be installed); false writes it untested."
}
variable "lb_reload" {
  type        = list(string)
  default     = null
  description = "F11: command (argv) that makes the running nginx load a changed file, and the previous one after a rollback, e.g. [\"systemctl\", \"reload\", \"nginx\"]; null leaves reloading to the operator."
}
variable "hz_port" {
  type    = number
  default = 4000
}
variable "mysql_jar" {
  type = string
}
variable "start_servers" {
  type    = bool
  default = true
}

locals {
  is_hosts = group_hosts("identity")
  is_ips   = [for h in local.is_hosts : lookup(h.vars, "ip", h.address)]
  is_first = local.is_hosts[0].name
  # F11: hosts in group "lb" and a file to write.
  lb_hosts = has_group("lb") ? group_hosts("lb") : []
  lb       = var.lb_config != null && length(local.lb_hosts) > 0
  files    = regex_replace(abspath(var.mysql_jar), "/[^/]*$", "")
  is_pack  = "${local.files}/${regex_replace(var.is_home, "^.*/", "")}.zip"
  jdbc     = "jdbc:mysql://${var.db_host}:${var.db_port}"
  is_dbs   = ["WSO2_UM_DB", "WSO2_REG_DB", "WSO2_IDENTITY_DB"]
}

play "databases" {
  hosts = "mysql"

  task "mysql_db" "identity users" {
    run_once       = true
    host           = var.db_host
    port           = var.db_port
    login_user     = var.db_admin_user
    login_password = var.db_admin_password
    user {
      name     = var.is_db_user
      hosts    = local.is_ips
      password = var.is_db_password
      grants   = [for db in local.is_dbs : "ALL ON ${db}.*"]
    }
    register = "db"
  }
}

play "identity" {
  hosts = "identity"

  include "install" {
    source   = "lib/carbon-install.hcl"
    home     = var.is_home
    pack     = fileexists(local.is_pack) ? local.is_pack : null
    jdbc_jar = abspath(var.mysql_jar)
  }

  # The Carbon and identity schemas, read from the pack on the first node. Async: they load while
  # the nodes are configured below; the play ends once they are loaded, so no node starts before.
  include "um schema" {
    source         = "lib/carbon-schema.hcl"
    when           = host.name == local.is_first
    home           = var.is_home
    server_version = values(results.db)[0].server_version
    database       = "WSO2_UM_DB"
    charset        = "latin1"
    db_host        = var.db_host
    db_port        = var.db_port
    login_user     = var.db_admin_user
    login_password = var.db_admin_password
    async          = true
  }
  include "reg schema" {
    source         = "lib/carbon-schema.hcl"
    when           = host.name == local.is_first
    home           = var.is_home
    server_version = values(results.db)[0].server_version
    database       = "WSO2_REG_DB"
    charset        = "latin1"
    db_host        = var.db_host
    db_port        = var.db_port
    login_user     = var.db_admin_user
    login_password = var.db_admin_password
    async          = true
  }
  task "mysql_db" "identity schema" {
    when           = host.name == local.is_first
    host           = var.db_host
    port           = var.db_port
    login_user     = var.db_admin_user
    login_password = var.db_admin_password
    async          = true
    database {
      name    = "WSO2_IDENTITY_DB"
      charset = "latin1"
    }
    schema {
      database         = "WSO2_IDENTITY_DB"
      script_host_path = "${var.is_home}/dbscripts/identity/mysql.sql"
    }
    schema {
      database         = "WSO2_IDENTITY_DB"
      script_host_path = "${var.is_home}/dbscripts/identity/uma/mysql.sql"
    }
    schema {
      database         = "WSO2_IDENTITY_DB"
      script_host_path = "${var.is_home}/dbscripts/consent/mysql.sql"
    }
  }

  include "node" {
    source                = "lib/identity-server.hcl"
    home                  = var.is_home
    jdbc                  = local.jdbc
    db_user               = var.is_db_user
    db_password           = var.is_db_password
    cluster_domain        = var.is_cluster_domain
    member_host           = lookup(host.vars, "ip", host.address)
    members               = local.is_ips
    hz_port               = var.hz_port
    lb_host               = var.lb_host
    disable_embedded_ldap = var.disable_embedded_ldap
  }
}

play "start" {
  hosts  = "identity"
  serial = 1

  include "node" {
    source        = "lib/carbon-start.hcl"
    when          = var.start_servers
    home          = var.is_home
    register      = "is_start"
    env           = lookup(host.vars, "java_home", "") == "" ? {} : { JAVA_HOME = lookup(host.vars, "java_home", "") }
    fail_patterns = ["java\\.net\\.BindException: Address already in use", "Access denied for user", "Communications link failure"]
  }
}

play "verify" {
  hosts = "identity"

  task "wait_log" "members joined" {
    when     = var.start_servers && host.name == local.is_first && length(local.is_ips) > 1
    path     = "${var.is_home}/repository/logs/wso2carbon.log"
    from     = var.start_servers ? result.is_start.log_cursor : ""
    patterns = length(local.is_ips) > 1 ? [for ip in slice(local.is_ips, 1, length(local.is_ips)) : "Member joined \\[[^\\]]*\\]: \\S*/${replace(ip, ".", "\\.")}:${var.hz_port}"] : ["Member joined"]
  }
}

# ---- F11: the load balancer (nginx) on the hosts of group "lb", when the inventory has any --------
play "load balancer" {
  hosts = local.lb ? ["lb"] : []

  task "assert" "inputs" {
    run_once  = true
    condition = var.lb_host != null && var.lb_cert != null && var.lb_key != null
    message   = "group lb has hosts: set lb_host, lb_cert and lb_key (or lb_config = null to leave those hosts alone)"
  }

  include "nginx" {
    source      = "lib/nginx-lb.hcl"
    path        = var.lb_config
    server_name = coalesce(var.lb_host, "-")
    members     = local.is_ips
    listen      = lookup(host.vars, "listen", "") == "" ? null : lookup(host.vars, "listen", "")
    cert_file   = coalesce(var.lb_cert, "/-")
    key_file    = coalesce(var.lb_key, "/-")
    sticky      = var.lb_sticky
    nginx_conf  = var.lb_nginx_conf
    validate    = var.lb_validate
    reload      = var.lb_reload
    # Through the LB to an IS node, once the nodes run and nginx has loaded the file.
    check_path = var.start_servers && var.lb_reload != null ? "/carbon/admin/login.jsp" : null
    become     = lookup(host.vars, "become", false)
  }
}
