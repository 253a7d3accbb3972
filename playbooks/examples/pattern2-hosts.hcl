# Example inventory for playbooks/pattern2.hcl: the MySQL host, two IS Analytics nodes (the
# first becomes CEP HA active and the deployment synchronizer manager), two IS nodes and the load
# balancer in front of them.
# ip is the address the nodes use for each other (cluster traffic); it defaults to address.

defaults {
  user        = "wso2"
  port        = 22
  known_hosts = "~/.ssh/known_hosts"
}

host "db1" {
  address = "10.0.0.5"
  groups  = ["mysql"]
}

host "an1" {
  address = "an1.example.com"
  groups  = ["analytics"]
  vars    = { ip = "10.0.0.11" }
}
host "an2" {
  address = "an2.example.com"
  groups  = ["analytics"]
  vars    = { ip = "10.0.0.12" }
}

host "is1" {
  address = "is1.example.com"
  groups  = ["identity"]
  vars    = { ip = "10.0.0.21" }
}
host "is2" {
  address = "is2.example.com"
  groups  = ["identity"]
  vars    = { ip = "10.0.0.22" }
}

# The load balancer (F11): nginx installed, its service managed by systemd; isaplay connects as
# wso2 and uses sudo for nginx's files.
host "lb1" {
  address = "is.example.com"
  groups  = ["lb"]
  vars    = { become = true }
}
