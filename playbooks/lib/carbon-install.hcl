# Installs a WSO2 Carbon product pack on a node: unpacks the zip (skipped when the product's
# bin/wso2server.sh exists, or when the pack is not given), on a freshly unpacked node only
# removes per-node identity files that must never be cloned (the analytics node ID), links a
# common path to it and copies the JDBC driver into repository/components/lib. The jar comes
# last: its write is held with those of the file tasks that follow the include (one batch).

variable "home" {
  type        = string
  description = "Product home on the node, e.g. /opt/wso2/wso2is-analytics-5.6.0; the pack must unpack to this folder name."
}
variable "pack" {
  type        = string
  default     = null
  description = "The product zip on the controller; null when the product is already installed."
}
variable "owner" {
  type        = string
  default     = null
  description = "Owner of the unpacked files (default: the connecting user)."
}
variable "symlink" {
  type        = string
  default     = null
  description = "A common path linked to home (identical on every node); null for none."
}
variable "jdbc_jar" {
  type        = string
  default     = null
  description = "JDBC driver jar on the controller, copied into repository/components/lib; null for none."
}
variable "fresh_node_files" {
  type        = list(string)
  default     = []
  description = "Paths relative to home removed right after the pack was unpacked (never on a node already installed)."
}

locals {
  parent = regex_replace(var.home, "/[^/]+/?$", "")
  jar    = var.jdbc_jar == null ? "" : regex_replace(var.jdbc_jar, "^.*/", "")
  # Carbon wraps a lib/ jar into an OSGi bundle in dropins/: dots and dashes become _, plus _1.0.0.
  wrapper = "${regex_replace(regex_replace(local.jar, "\\.jar$", ""), "[.-]", "_")}_1.0.0.jar"
}

task "unarchive" "unpack" {
  when     = var.pack != null
  src      = coalesce(var.pack, "${var.home}.zip")
  dest     = local.parent
  creates  = "${var.home}/bin/wso2server.sh"
  owner    = var.owner
  group    = var.owner
  register = "carbon_install_unpack"
}

task "file_absent" "fresh node identity" {
  when  = length(var.fresh_node_files) > 0 && lookup(result, "carbon_install_unpack", { changed = false }).changed
  paths = length(var.fresh_node_files) > 0 ? [for f in var.fresh_node_files : "${var.home}/${f}"] : ["${var.home}/-"]
}

task "symlink" "common path" {
  when   = var.symlink != null
  path   = coalesce(var.symlink, "${var.home}.link")
  target = var.home
}

task "jar_copy" "jdbc driver" {
  when             = var.jdbc_jar != null
  src              = coalesce(var.jdbc_jar, "-")
  dest             = "${var.home}/repository/components/lib/"
  mode             = "0644"
  owner            = var.owner
  group            = var.owner
  undo_also_remove = ["${var.home}/repository/components/dropins/${local.wrapper}"]
}
