# Clustered Spark inside WSO2 analytics (DAS 3.x based): the number of Spark masters in
# spark-defaults.conf (whitespace-separated java.util.Properties; each line keeps its separator),
# optionally the common symbolic link path (it must exist on the node) and SPARK_LOCAL_IP for
# multi-NIC hosts. spark.*.port keys stay at their base values: Carbon adds the offset.

variable "home" {
  type = string
}
variable "master_count" {
  type        = number
  description = "carbon.spark.master.count: how many masters (the minimum HA cluster has 2)."
}
variable "master" {
  type        = string
  default     = "local"
  description = "carbon.spark.master: local (the shipped value, clustered when Carbon clustering is on) or carbon."
}
variable "symbolic_link" {
  type        = string
  default     = null
  description = "carbon.das.symbolic.link, identical on every node; null to leave it commented."
}
variable "local_ip" {
  type        = string
  default     = null
  description = "SPARK_LOCAL_IP exported by bin/load-spark-env-vars.sh; null to leave the file alone."
}

task "properties_set" "spark defaults" {
  path   = "${var.home}/repository/conf/analytics/spark/spark-defaults.conf"
  format = "spark"
  set = merge(
    { "carbon.spark.master" = var.master, "carbon.spark.master.count" = tostring(var.master_count) },
    var.symbolic_link == null ? {} : { "carbon.das.symbolic.link" = var.symbolic_link },
  )
}

task "line_in_file" "spark local ip" {
  when   = var.local_ip != null
  path   = "${var.home}/bin/load-spark-env-vars.sh"
  regexp = "^\\s*export\\s+SPARK_LOCAL_IP="
  line   = "export SPARK_LOCAL_IP=${coalesce(var.local_ip, "-")}"
}
