locals {
  prefix = "${var.name_prefix}-${var.environment}"
  tags   = merge({ Project = var.name_prefix, Environment = var.environment }, var.tags)

  function_names = { for key in keys(local.functions) : key => "${local.prefix}-${key}" }

  # The environment variables of topology.ts's functionEnvironment(), plus the JWT settings.
  function_environment = {
    ENVIRONMENT          = var.environment
    DATA_TABLE_NAME      = module.table["data"].name
    ANALYTICS_TABLE_NAME = module.table["analytics"].name
    APP_BUS_NAME         = module.event_bus["app"].bus_name
    ANALYTICS_BUS_NAME   = module.event_bus["analytics"].bus_name
    IMPORT_QUEUE_URL     = module.queue["import"].queue_url
    ANALYTICS_DLQ_URL    = module.queue["analytics"].dlq_url
    APP_EVENTS_DLQ_URL   = module.queue["app-events"].dlq_url
  }
  jwt_environment = {
    JWT_ISSUER   = module.http_api.jwt_issuer
    JWT_AUDIENCE = join(",", module.http_api.jwt_audience)
  }

  data_table_arn         = module.table["data"].arn
  data_index_arns        = values(module.table["data"].index_arns)
  analytics_table_arn    = module.table["analytics"].arn
  analytics_index_arns   = values(module.table["analytics"].index_arns)
  app_bus_arn            = module.event_bus["app"].bus_arn
  analytics_bus_arn      = module.event_bus["analytics"].bus_arn
  import_queue_arn       = module.queue["import"].queue_arn
  app_events_queue_arn   = module.queue["app-events"].queue_arn
  analytics_queue_arn    = module.queue["analytics"].queue_arn
  analytics_dlq_arn      = module.queue["analytics"].dlq_arn
  app_events_dlq_arn     = module.queue["app-events"].dlq_arn
  sqs_consume_actions    = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
  analytics_fallback_sid = "SendUndeliverableAnalytics"
  # Functions that publish domain events to the app bus fall back to the app-events DLQ
  # (APP_EVENTS_DLQ_URL, functions/shared/config.ts) when EventBridge will not take them.
  domain_fallback = { sid = "SendUndeliverableDomainEvents", actions = ["sqs:SendMessage"], resources = [local.app_events_dlq_arn] }

  # Least privilege per function: exact actions on exact ARNs (tables, their indexes,
  # buses, queues). Logs and X-Ray statements are added by the function module.
  function_policies = {
    "query" = [
      { sid = "ReadData", actions = ["dynamodb:GetItem", "dynamodb:Query"], resources = concat([local.data_table_arn], local.data_index_arns) },
      { sid = "EmitAnalytics", actions = ["events:PutEvents"], resources = [local.analytics_bus_arn] },
      { sid = local.analytics_fallback_sid, actions = ["sqs:SendMessage"], resources = [local.analytics_dlq_arn] },
    ]
    "write" = [
      { sid = "WriteData", actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], resources = [local.data_table_arn] },
      { sid = "EmitEvents", actions = ["events:PutEvents"], resources = [local.app_bus_arn, local.analytics_bus_arn] },
      { sid = local.analytics_fallback_sid, actions = ["sqs:SendMessage"], resources = [local.analytics_dlq_arn] },
      local.domain_fallback,
    ]
    "event-processor" = [
      { sid = "ManageImports", actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:BatchWriteItem"], resources = [local.data_table_arn] },
      { sid = "QueueImportChunks", actions = ["sqs:SendMessage"], resources = [local.import_queue_arn] },
      { sid = "ConsumeAppEvents", actions = local.sqs_consume_actions, resources = [local.app_events_queue_arn] },
      { sid = "EmitEvents", actions = ["events:PutEvents"], resources = [local.app_bus_arn, local.analytics_bus_arn] },
      { sid = local.analytics_fallback_sid, actions = ["sqs:SendMessage"], resources = [local.analytics_dlq_arn] },
      local.domain_fallback,
    ]
    "import" = [
      { sid = "WriteImportedItems", actions = ["dynamodb:BatchWriteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"], resources = [local.data_table_arn] },
      { sid = "ConsumeImportQueue", actions = local.sqs_consume_actions, resources = [local.import_queue_arn] },
      { sid = "EmitEvents", actions = ["events:PutEvents"], resources = [local.app_bus_arn, local.analytics_bus_arn] },
      { sid = local.analytics_fallback_sid, actions = ["sqs:SendMessage"], resources = [local.analytics_dlq_arn] },
      local.domain_fallback,
    ]
    "analytics" = [
      { sid = "StoreAnalytics", actions = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchWriteItem"], resources = [local.analytics_table_arn] },
      { sid = "ConsumeAnalyticsQueue", actions = local.sqs_consume_actions, resources = [local.analytics_queue_arn] },
      { sid = local.analytics_fallback_sid, actions = ["sqs:SendMessage"], resources = [local.analytics_dlq_arn] },
    ]
    "analytics-api" = [
      { sid = "ReadAnalytics", actions = ["dynamodb:Query", "dynamodb:GetItem"], resources = concat([local.analytics_table_arn], local.analytics_index_arns) },
      { sid = "EmitAnalytics", actions = ["events:PutEvents"], resources = [local.analytics_bus_arn] },
      { sid = local.analytics_fallback_sid, actions = ["sqs:SendMessage"], resources = [local.analytics_dlq_arn] },
    ]
  }
}

module "table" {
  source   = "../table"
  for_each = local.tables

  name          = "${local.prefix}-${each.key}"
  hash_key      = each.value.hash_key
  range_key     = each.value.range_key
  ttl_attribute = each.value.ttl_attribute
  global_secondary_indexes = [for index in each.value.indexes : {
    name      = index.name
    hash_key  = index.hash_key
    range_key = index.range_key
  }]
  deletion_protection_enabled = var.table_deletion_protection
  tags                        = local.tags
}

module "queue" {
  source   = "../queue"
  for_each = local.queues

  name                     = "${local.prefix}-${each.key}"
  max_receive_count        = each.value.max_receive_count
  consumer_function_name   = module.function[each.value.consumer].function_name
  consumer_timeout_seconds = local.functions[each.value.consumer].timeout_seconds
  batch_size               = each.value.batch_size
  batching_window_seconds  = each.value.batching_window_seconds
  maximum_concurrency      = each.value.maximum_concurrency
  # Only the EventBridge rules that target this queue may send to it.
  event_source_arns = [for rule_key, rule in local.rules : module.event_bus[rule.bus].rule_arns[rule_key] if rule.target_queue == each.key]
  tags              = local.tags
}

module "event_bus" {
  source   = "../event-bus"
  for_each = toset(local.buses)

  name        = "${local.prefix}-${each.key}"
  name_prefix = "${local.prefix}-"
  rules = { for rule_key, rule in local.rules : rule_key => {
    event_pattern     = jsonencode(rule.event_pattern)
    target_queue_name = "${local.prefix}-${rule.target_queue}"
    target_queue_arn  = module.queue[rule.target_queue].queue_arn
  } if rule.bus == each.key }
  archive_retention_days  = var.event_archive_retention_days
  allowed_account_ids     = each.key == "analytics" ? var.analytics_allowed_account_ids : []
  allowed_organization_id = each.key == "analytics" ? var.analytics_allowed_organization_id : null
  tags                    = local.tags
}

module "function" {
  source   = "../function"
  for_each = local.functions

  name                           = local.function_names[each.key]
  description                    = each.value.description
  zip_path                       = lookup(var.function_zip_paths, each.key, "${var.artifacts_dir}/${each.key}.zip")
  memory_mb                      = each.value.memory_mb
  timeout_seconds                = each.value.timeout_seconds
  reserved_concurrent_executions = lookup(var.reserved_concurrency, each.key, -1)
  environment_variables          = merge(local.function_environment, local.jwt_environment)
  policy_statements              = local.function_policies[each.key]
  log_retention_days             = var.log_retention_days
  tags                           = local.tags
}

module "http_api" {
  source = "../http-api"

  name                          = local.prefix
  description                   = "Event Flows HTTP API (${var.environment})"
  routes                        = local.routes
  functions                     = { for key, fn in module.function : key => { invoke_arn = fn.invoke_arn, function_name = fn.function_name } }
  jwt_issuer                    = var.jwt_issuer
  jwt_audience                  = var.jwt_audience
  create_cognito_user_pool      = var.create_cognito_user_pool
  user_pool_deletion_protection = var.table_deletion_protection
  cors_allowed_origins          = var.cors_allowed_origins
  throttling_burst_limit        = var.api_throttling_burst_limit
  throttling_rate_limit         = var.api_throttling_rate_limit
  access_log_retention_days     = var.log_retention_days
  tags                          = local.tags
}

module "alarms" {
  source = "../alarms"

  name         = local.prefix
  alarm_emails = var.alarm_emails
  # Every DLQ: each queue's redrive DLQ and each rule's delivery DLQ.
  dead_letter_queue_names = concat(
    [for key, queue in module.queue : queue.dlq_name],
    flatten([for key, bus in module.event_bus : values(bus.delivery_dlq_names)]),
  )
  queue_names    = [for key, queue in module.queue : queue.queue_name]
  function_names = [for key, fn in module.function : fn.function_name]
  api_id         = module.http_api.api_id
  api_stage      = module.http_api.stage_name
  tags           = local.tags
}
