# Carbon's SVN deployment synchronizer (carbon.xml DeploymentSynchronizer), which shares
# repository/deployment/server between nodes. One node commits (auto_commit, the manager: start
# it first); the others only check out. SVNKit is not shipped by WSO2: its bundle goes into
# dropins/ and trilead-ssh2 into lib/, or Carbon falls back to the svn command line client.
# The repository must be reachable from every node (http, https or svn URLs; not svn+ssh).

variable "home" {
  type = string
}
variable "svn_url" {
  type = string
}
variable "svn_user" {
  type = string
}
variable "svn_password" {
  type      = string
  sensitive = true
}
variable "auto_commit" {
  type        = bool
  description = "True on the one manager node."
}
variable "svnkit_jar" {
  type        = string
  default     = null
  description = "svnkit-all-1.8.7.wso2v1.jar on the controller (an OSGi bundle, copied into dropins/)."
}
variable "trilead_jar" {
  type        = string
  default     = null
  description = "trilead-ssh2-1.0.0-build215.jar on the controller (copied into lib/)."
}
variable "owner" {
  type    = string
  default = null
}
variable "check_repository" {
  type        = bool
  default     = true
  description = "Check that every node reaches the repository (an svn client process per node and run): a playbook that only configures, without starting anything, can skip it."
}

locals {
  ds      = "/c:Server/c:DeploymentSynchronizer"
  trilead = var.trilead_jar == null ? "" : regex_replace(regex_replace(var.trilead_jar, "^.*/", ""), "\\.jar$", "")
}

# Read-only reachability check, run on every plan and apply (unless check_repository is false):
# in sync when the node reaches the repository (an authentication refusal still proves it is
# there); otherwise the apply fails here, before any node is started. Nodes without an svn client
# are not checked.
task "command" "repository reachable" {
  when   = var.check_repository
  argv   = ["sh", "-c", "echo \"$1 is not reachable from this node\" >&2; exit 1", "sh", var.svn_url]
  unless = ["sh", "-c", "command -v svn >/dev/null 2>&1 || exit 0; out=$(svn info --non-interactive --no-auth-cache \"$1\" 2>&1) && exit 0; case \"$out\" in *E170001*|*E215004*|*E170013*authoriz*) exit 0 ;; esac; exit 1", "sh", var.svn_url]
}

task "jar_copy" "svnkit bundle" {
  when  = var.svnkit_jar != null
  src   = coalesce(var.svnkit_jar, "-")
  dest  = "${var.home}/repository/components/dropins/"
  owner = var.owner
  group = var.owner
}

task "jar_copy" "trilead ssh2" {
  when             = var.trilead_jar != null
  src              = coalesce(var.trilead_jar, "-")
  dest             = "${var.home}/repository/components/lib/"
  owner            = var.owner
  group            = var.owner
  undo_also_remove = ["${var.home}/repository/components/dropins/${regex_replace(local.trilead, "[.-]", "_")}_1.0.0.jar"]
}

task "xml_patch" "carbon.xml" {
  path       = "${var.home}/repository/conf/carbon.xml"
  namespaces = { c = "http://wso2.org/projects/carbon/carbon.xml" }
  set_text {
    xpath = "${local.ds}/c:Enabled"
    value = "true"
  }
  set_text {
    xpath = "${local.ds}/c:AutoCommit"
    value = tostring(var.auto_commit)
  }
  set_text {
    xpath = "${local.ds}/c:AutoCheckout"
    value = "true"
  }
  set_text {
    xpath = "${local.ds}/c:RepositoryType"
    value = "svn"
  }
  set_text {
    xpath = "${local.ds}/c:SvnUrl"
    value = var.svn_url
  }
  set_text {
    xpath = "${local.ds}/c:SvnUser"
    value = var.svn_user
  }
  set_text {
    xpath = "${local.ds}/c:SvnPassword"
    value = var.svn_password
  }
  set_text {
    xpath = "${local.ds}/c:SvnUrlAppendTenantId"
    value = "true"
  }
}
