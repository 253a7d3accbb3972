# The load balancer in front of a WSO2 cluster (pattern 2, F11), as an nginx http-context file
# (files/nginx-lb.conf.tmpl): sticky sessions (ip_hash by default) to every member's HTTPS port
# behind HTTPS on https_port, and to their HTTP port behind HTTP on http_port.
#
# The file is written, then (validate) nginx tests the whole configuration it runs from nginx_conf
# and the written file must be part of it; a failure fails the apply, whose rollback puts the
# previous file back, so nginx never loads a file that did not pass. Nothing here installs, starts
# or stops nginx. With reload set, a changed file is loaded by running that command, and a rollback
# of the run runs it again once the previous file is back.

variable "path" {
  type        = string
  description = "The file to write on the LB host, one nginx_conf includes in its http block (Debian: /etc/nginx/conf.d/NAME.conf)."
  validation {
    condition     = length(regexall("^/[^\\s;{}'\"]+$", var.path)) > 0
    error_message = "path must be an absolute path without spaces, quotes, braces or semicolons."
  }
}
variable "server_name" {
  type        = string
  description = "The public host name (lb_host), which must resolve to the LB."
  validation {
    condition     = length(regexall("^[A-Za-z0-9*_.-]+$", var.server_name)) > 0
    error_message = "server_name must be a host name."
  }
}
variable "members" {
  type        = list(string)
  description = "The members' addresses, in order (an IPv6 address in brackets)."
  validation {
    condition     = length(var.members) > 0 && length([for m in var.members : m if length(regexall("^([A-Za-z0-9_.-]+|\\[[0-9A-Fa-f:.]+\\])$", m)) == 0]) == 0
    error_message = "members must be one or more host names or addresses."
  }
}
variable "member_https_port" {
  type    = number
  default = 9443
}
variable "member_http_port" {
  type    = number
  default = 9763
}
variable "https_port" {
  type    = number
  default = 443
}
variable "http_port" {
  type    = number
  default = 80
}
variable "listen" {
  type        = string
  default     = null
  description = "The address nginx listens on (an IPv6 address in brackets); null for every address."
  validation {
    condition     = var.listen == null || length(regexall("^([A-Za-z0-9_.-]+|\\[[0-9A-Fa-f:.]+\\])$", coalesce(var.listen, "x"))) > 0
    error_message = "listen must be a host name or address."
  }
}
variable "cert_file" {
  type        = string
  description = "The TLS certificate (PEM, with its chain) on the LB host."
  validation {
    condition     = length(regexall("^/[^\\s;{}'\"]+$", var.cert_file)) > 0
    error_message = "cert_file must be an absolute path without spaces, quotes, braces or semicolons."
  }
}
variable "key_file" {
  type        = string
  description = "The certificate's private key on the LB host (only its path is written; isaplay never reads it)."
  validation {
    condition     = length(regexall("^/[^\\s;{}'\"]+$", var.key_file)) > 0
    error_message = "key_file must be an absolute path without spaces, quotes, braces or semicolons."
  }
}
variable "sticky" {
  type        = string
  default     = "ip_hash"
  description = "The upstream directive that keeps a client on one member: ip_hash, or e.g. \"hash $remote_addr consistent\"."
  validation {
    condition     = length(regexall("^[A-Za-z0-9_$ .-]+$", var.sticky)) > 0
    error_message = "sticky must be one nginx directive without its semicolon."
  }
}
variable "upstream" {
  type        = string
  default     = "wso2is"
  description = "Prefix of the two upstream names (NAME_https, NAME_http), unique in the nginx configuration."
  validation {
    condition     = length(regexall("^[A-Za-z0-9_]+$", var.upstream)) > 0
    error_message = "upstream must be letters, digits and underscores."
  }
}
variable "validate" {
  type        = bool
  default     = true
  description = "Test a changed file with nginx -t in nginx_conf (nginx must be installed); false writes it untested."
}
variable "nginx" {
  type    = string
  default = "nginx"
}
variable "nginx_conf" {
  type        = string
  default     = "/etc/nginx/nginx.conf"
  description = "The main configuration nginx runs with; it must include path."
}
variable "reload" {
  type        = list(string)
  default     = null
  description = "A command (argv) that makes the running nginx load its configuration, e.g. [\"systemctl\", \"reload\", \"nginx\"]; null leaves that to the operator."
}
variable "check_path" {
  type        = string
  default     = null
  description = "After the file is in place, GET this path through the LB (HTTPS, from the LB host) until a member answers 200, e.g. /carbon/admin/login.jsp; null for no check."
}
variable "become" {
  type        = bool
  default     = false
  description = "Run as root through sudo (nginx's files are root's)."
}

locals {
  content = templatefile("files/nginx-lb.conf.tmpl", {
    upstream          = var.upstream
    sticky            = var.sticky
    members           = var.members
    member_https_port = var.member_https_port
    member_http_port  = var.member_http_port
    listen            = var.listen == null ? "" : "${var.listen}:"
    https_port        = var.https_port
    http_port         = var.http_port
    server_name       = var.server_name
    cert_file         = var.cert_file
    key_file          = var.key_file
  })
  # nginx -t, then the file must be one nginx -T lists: a file nothing includes is never loaded.
  test = <<-EOT
    command -v "$1" >/dev/null 2>&1 || { echo "$1 not found on this host: install nginx, or turn validation off" >&2; exit 1; }
    "$1" -t -q -c "$2" || exit 1
    "$1" -T -q -c "$2" 2>/dev/null | grep -qxF "# configuration file $3:" || { echo "$2 does not include $3: nginx would never load it" >&2; exit 1; }
  EOT
}

# Undo runs in reverse order, so a rollback reaches this task after the previous file is back
# and reloads it. It has something to do only when the file is about to change.
task "command" "rollback reloads" {
  when        = var.reload != null
  become      = var.become
  argv        = ["echo", "a rollback of this run reloads the load balancer"]
  unless      = ["sh", "-c", "printf '%s  %s\\n' \"$1\" \"$2\" | sha256sum -c --status 2>/dev/null", "sh", sha256(local.content), var.path]
  revert_argv = var.reload == null ? ["true"] : var.reload
}

task "file" "config" {
  path     = var.path
  content  = local.content
  mode     = "0644"
  become   = var.become
  register = "nginx_lb_config"
}

task "command" "config test" {
  when   = var.validate && result.nginx_lb_config.changed
  become = var.become
  argv   = ["sh", "-c", local.test, "sh", var.nginx, var.nginx_conf, var.path]
}

task "command" "reload" {
  when   = var.reload != null && result.nginx_lb_config.changed
  become = var.become
  argv   = var.reload == null ? ["true"] : var.reload
}

task "http_check" "through the load balancer" {
  when         = var.check_path != null
  url          = "https://${coalesce(var.listen, "127.0.0.1")}:${var.https_port}${coalesce(var.check_path, "/")}"
  insecure     = true
  interval     = "500ms"
  wait_timeout = "60s"
}
