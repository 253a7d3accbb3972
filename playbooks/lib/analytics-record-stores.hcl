# Asserts which datasources the analytics record stores use (analytics-config.xml). WSO2 IS
# Analytics 5.5.0 and 5.6.0 ship exactly these values, so this is a check that never changes
# the file.

variable "home" {
  type = string
}
variable "event_store" {
  type    = string
  default = "WSO2_ANALYTICS_EVENT_STORE_DB"
}
variable "processed_store" {
  type    = string
  default = "WSO2_ANALYTICS_PROCESSED_DATA_STORE_DB"
}

locals {
  store = "/analytics-dataservice-configuration/analytics-record-store"
}

task "xml_patch" "record stores" {
  path = "${var.home}/repository/conf/analytics/analytics-config.xml"
  assert {
    xpath = "${local.store}[@name='EVENT_STORE']/properties/property[@name='datasource']"
    value = var.event_store
  }
  assert {
    xpath = "${local.store}[@name='EVENT_STORE_WO']/properties/property[@name='datasource']"
    value = var.event_store
  }
  assert {
    xpath = "${local.store}[@name='PROCESSED_DATA_STORE']/properties/property[@name='datasource']"
    value = var.processed_store
  }
}
