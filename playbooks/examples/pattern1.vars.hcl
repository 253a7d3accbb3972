# Example variables for playbooks/pattern1.hcl (passwords: ISAPLAY_VAR_db_admin_password and
# ISAPLAY_VAR_is_db_password, or asked on a terminal).
is_home           = "/opt/wso2/wso2is-5.6.0"
db_host           = "10.0.0.5"
db_admin_user     = "root"
is_db_user        = "wso2is"
is_cluster_domain = "wso2.is.domain"
lb_host           = "is.example.com"
mysql_jar         = "/srv/wso2/files/mysql-connector-java-5.1.47-bin.jar"
start_servers     = true

# The load balancer (group "lb"): the certificate for lb_host and its key, already on the LB host.
lb_cert   = "/etc/nginx/tls/is.example.com.crt"
lb_key    = "/etc/nginx/tls/is.example.com.key"
lb_reload = ["systemctl", "reload", "nginx"]
