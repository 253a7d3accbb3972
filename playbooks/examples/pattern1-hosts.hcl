# Example inventory for playbooks/pattern1.hcl: the MySQL host, two IS nodes and the load balancer.
defaults {
  user        = "wso2"
  known_hosts = "~/.ssh/known_hosts"
}

host "db1" {
  address = "10.0.0.5"
  groups  = ["mysql"]
}
host "is1" {
  address = "is1.example.com"
  groups  = ["identity"]
  vars    = { ip = "10.0.0.21", java_home = "/usr/lib/jvm/java-8-openjdk-amd64" }
}
host "is2" {
  address = "is2.example.com"
  groups  = ["identity"]
  vars    = { ip = "10.0.0.22", java_home = "/usr/lib/jvm/java-8-openjdk-amd64" }
}

# The load balancer (F11): nginx installed, its service managed by systemd; isaplay connects as
# wso2 and uses sudo for nginx's files.
host "lb1" {
  address = "is.example.com"
  groups  = ["lb"]
  vars    = { become = true }
}
