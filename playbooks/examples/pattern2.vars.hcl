# Example variables for playbooks/pattern2.hcl. Passwords are better left out of files: isaplay
# asks for them on a terminal, or reads ISAPLAY_VAR_<name> from the environment.

an_home = "/opt/wso2/wso2is-analytics-5.6.0"
is_home = "/opt/wso2/wso2is-5.6.0"

db_host       = "10.0.0.5"
db_port       = 3306
db_admin_user = "root"
an_db_user    = "wso2an"
is_db_user    = "wso2is"

# Controller paths, relative to the playbook. The packs (wso2is-analytics-5.6.0.zip and
# wso2is-5.6.0.zip) go in the same directory as the MySQL driver.
mysql_jar   = "/srv/wso2/files/mysql-connector-java-5.1.47-bin.jar"
svnkit_jar  = "/srv/wso2/files/svnkit-all-1.8.7.wso2v1.jar"
trilead_jar = "/srv/wso2/files/trilead-ssh2-1.0.0-build215.jar"

svn_url  = "http://svn.example.com/repos/isan/"
svn_user = "wso2"

an_symlink        = "/opt/wso2/is-analytics"
an_cluster_domain = "wso2.is.analytics.domain"
is_cluster_domain = "wso2.is.domain"
lb_host           = "is.example.com"

start_servers = true

# The load balancer (group "lb"): the certificate for lb_host and its key, already on the LB host.
lb_cert   = "/etc/nginx/tls/is.example.com.crt"
lb_key    = "/etc/nginx/tls/is.example.com.key"
lb_reload = ["systemctl", "reload", "nginx"]
