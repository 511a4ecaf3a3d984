# The system's topology (functions, tables, queues, buses, rules, routes) is declared once, in
# topology.json: Terraform reads it here and the local stack imports it
# (scripts/local/topology.ts), so both build the same system. Add or change a function, queue,
# rule or route there; tests/infra/terraform-plan.test.ts checks the plan against it.
locals {
  topology = jsondecode(file("${path.module}/topology.json"))

  functions = local.topology.functions
  tables    = local.topology.tables
  queues    = local.topology.queues
  buses     = local.topology.buses
  archives  = local.topology.archives
  rules     = local.topology.rules
  routes    = local.topology.routes
  cors      = local.topology.cors

  # What var.table_warm_throughput may name: a table ("analytics") or one of its indexes ("analytics/byUser").
  warmable_tables = concat(keys(local.tables), flatten([for key, table in local.tables : [for index in table.indexes : "${key}/${index.name}"]]))
}
