# Example inventory for playbooks/pattern1.hcl: the MySQL host and two IS nodes.
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
