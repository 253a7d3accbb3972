# Benchmark playbook: 10 tasks on real WSO2 configuration files, the shape of pattern 2's
# configuration phase. bench.sh applies it once, then times no-change plans.
variable "home" {
  type    = string
  default = "/opt/app"
}

play "configure" {
  hosts = "nodes"

  task "xml_patch" "clustering on" {
    path = "${var.home}/repository/conf/axis2/axis2.xml"
    set_attr {
      xpath = "/axisconfig/clustering"
      name  = "enable"
      value = "true"
    }
  }
  task "xml_patch" "wka" {
    path = "${var.home}/repository/conf/axis2/axis2.xml"
    set_text {
      xpath = "/axisconfig/clustering/parameter[@name='membershipScheme']"
      value = "wka"
    }
  }
  task "xml_patch" "pool size" {
    path = "${var.home}/repository/conf/datasources/master-datasources.xml"
    set_text {
      xpath = "/datasources-configuration/datasources/datasource[name='WSO2_CARBON_DB']/definition/configuration/maxActive"
      value = "80"
    }
  }
  task "xml_patch" "ha mode" {
    path = "${var.home}/repository/conf/event-processor.xml"
    set_attr {
      xpath = "/eventProcessorConfiguration/mode[@name='Single']"
      name  = "enable"
      value = "false"
    }
    set_attr {
      xpath = "/eventProcessorConfiguration/mode[@name='HA']"
      name  = "enable"
      value = "true"
    }
  }
  task "xml_patch" "offset" {
    path       = "${var.home}/repository/conf/carbon.xml"
    namespaces = { c = "http://wso2.org/projects/carbon/carbon.xml" }
    set_text {
      xpath = "/c:Server/c:Ports/c:Offset"
      value = "1"
    }
  }
  task "properties_set" "spark masters" {
    path = "${var.home}/repository/conf/analytics/spark/spark-defaults.conf"
    set  = { "carbon.spark.master.count" = "2", "carbon.spark.master" = "local" }
  }
  task "properties_set" "log level" {
    path = "${var.home}/repository/conf/log4j.properties"
    set  = { "log4j.logger.org.wso2.carbon.analytics" = "INFO" }
  }
  task "line_in_file" "spark local ip" {
    path   = "${var.home}/bin/load-spark-env-vars.sh"
    regexp = "^export SPARK_LOCAL_IP="
    line   = "export SPARK_LOCAL_IP=${host.address}"
  }
  task "symlink" "common path" {
    path   = "/opt/current"
    target = var.home
  }
  task "file" "node id" {
    path    = "${var.home}/repository/data/my-node-id.dat"
    content = "node-${host.name}"
  }
}
