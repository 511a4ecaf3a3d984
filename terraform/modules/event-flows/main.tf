locals {
  prefix = "${var.name_prefix}-${var.environment}"
  tags   = merge({ Project = var.name_prefix, Environment = var.environment }, var.tags)

  function_names = { for key in keys(local.functions) : key => "${local.prefix}-${key}" }

  # The environment variables of functionEnvironment() in scripts/local/topology.ts, plus the JWT settings.
  function_environment = {
    ENVIRONMENT          = var.environment
    DATA_TABLE_NAME      = module.table["data"].name
    ANALYTICS_TABLE_NAME = module.table["analytics"].name
    APP_BUS_NAME         = module.event_bus["app"].bus_name
    ANALYTICS_BUS_NAME   = module.event_bus["analytics"].bus_name
    IMPORT_QUEUE_URL     = module.queue["import"].queue_url
    ANALYTICS_DLQ_URL    = module.queue["analytics"].dlq_url
    APP_EVENTS_DLQ_URL   = module.queue["app-events"].dlq_url
    ANALYTICS_QUEUE_URL  = module.queue["analytics"].queue_url
    IMPORT_DLQ_URL       = module.queue["import"].dlq_url
    # The import worker must know the last receive before SQS moves a message to the DLQ.
    IMPORT_MAX_RECEIVE_COUNT = tostring(local.queues["import"].max_receive_count)
    # Partition keys of a new collection's items (functions/shared/items/shards.ts).
    ITEM_SHARDS = tostring(var.item_shards)
  }
  # Optional retention overrides, read by the analytics function only (shared/analytics/keys.ts).
  analytics_environment = { for name, days in var.analytics_retention_days : name => tostring(days) }

  # ARNs the policies name, one resource per entry (tests/infra/iam.test.ts resolves them).
  data_table_arn       = module.table["data"].arn
  data_index_arns      = module.table["data"].index_arns
  analytics_table_arn  = module.table["analytics"].arn
  analytics_index_arns = module.table["analytics"].index_arns
  app_bus_arn          = module.event_bus["app"].bus_arn
  analytics_bus_arn    = module.event_bus["analytics"].bus_arn
  import_queue_arn     = module.queue["import"].queue_arn
  app_events_queue_arn = module.queue["app-events"].queue_arn
  analytics_queue_arn  = module.queue["analytics"].queue_arn
  analytics_dlq_arn    = module.queue["analytics"].dlq_arn
  import_dlq_arn       = module.queue["import"].dlq_arn
  app_events_dlq_arn   = module.queue["app-events"].dlq_arn
  # What the SQS event source mapping needs on the queue it polls (the function's code
  # itself neither receives nor deletes).
  sqs_event_source_actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]

  # Least privilege per function, derived from the code: exactly the SDK commands each
  # function's bundle can send, on exactly the tables, indexes, buses and queues they
  # address (the table with the code locations is in README.md; tests/infra/iam.test.ts
  # extracts the commands from functions/ and fails on any difference either way).
  # The log statement is added by the function module.
  function_policies = {
    "query" = [
      # shared/items/repository.ts: getItem, getCollectionStats (GetItem); listItems (Query on the table or a sort index).
      { sid = "ReadItems", actions = ["dynamodb:GetItem"], resources = [local.data_table_arn] },
      { sid = "ListItems", actions = ["dynamodb:Query"], resources = [local.data_table_arn, local.data_index_arns["byCreatedAt"], local.data_index_arns["byUpdatedAt"]] },
      # listItems fetches the items of a sort index's keys-only page (shared/batch-get.ts).
      { sid = "FetchListedItems", actions = ["dynamodb:BatchGetItem"], resources = [local.data_table_arn] },
      # shared/events/publisher.ts through shared/analytics/emitter.ts (request analytics).
      { sid = "EmitAnalytics", actions = ["events:PutEvents"], resources = [local.analytics_bus_arn] },
      { sid = "SendUndeliverableAnalytics", actions = ["sqs:SendMessage"], resources = [local.analytics_dlq_arn] },
    ]
    "write" = [
      # shared/items/repository.ts: putItem, patchItem, deleteItem.
      { sid = "WriteItems", actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"], resources = [local.data_table_arn] },
      # shared/events/publisher.ts: item events (domain-events.ts) and request analytics (emitter.ts).
      { sid = "EmitEvents", actions = ["events:PutEvents"], resources = [local.app_bus_arn, local.analytics_bus_arn] },
      { sid = "SendUndeliverableEvents", actions = ["sqs:SendMessage"], resources = [local.analytics_dlq_arn, local.app_events_dlq_arn] },
    ]
    "import-api" = [
      # shared/imports/jobs.ts (Get/Put/Update/Delete/Query on the job and chunk records; the
      # chunk Put through shared/imports/transact.ts) and, when a request finishes a job,
      # shared/items/stats.ts (Get/Update, and the TransactWrite of applyImportToStats).
      { sid = "ManageImports", actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"], resources = [local.data_table_arn] },
      # shared/imports/queue.ts: SendMessageBatch of the chunk messages.
      { sid = "QueueImportChunks", actions = ["sqs:SendMessage"], resources = [local.import_queue_arn] },
      { sid = "EmitEvents", actions = ["events:PutEvents"], resources = [local.app_bus_arn, local.analytics_bus_arn] },
      { sid = "SendUndeliverableEvents", actions = ["sqs:SendMessage"], resources = [local.analytics_dlq_arn, local.app_events_dlq_arn] },
    ]
    "app-events" = [
      # shared/items/stats.ts advanceLastWriteAt (Update); shared/imports/complete.ts finishing a
      # job: shared/imports/jobs.ts (Get/Query/Update) and applyImportToStats (Get/Update, its
      # TransactWrite of Updates). It creates and deletes nothing.
      { sid = "FinishImportsAndStats", actions = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query"], resources = [local.data_table_arn] },
      { sid = "PollAppEvents", actions = local.sqs_event_source_actions, resources = [local.app_events_queue_arn] },
      { sid = "EmitEvents", actions = ["events:PutEvents"], resources = [local.app_bus_arn, local.analytics_bus_arn] },
      { sid = "SendUndeliverableEvents", actions = ["sqs:SendMessage"], resources = [local.analytics_dlq_arn, local.app_events_dlq_arn] },
    ]
    "import" = [
      # import/batches.ts (BatchGet, Get, Put, BatchWrite), import/writer.ts (BatchWrite, Put),
      # shared/imports/jobs.ts settleBatch (Update).
      { sid = "WriteImportedItems", actions = ["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"], resources = [local.data_table_arn] },
      { sid = "PollImportQueue", actions = local.sqs_event_source_actions, resources = [local.import_queue_arn] },
      { sid = "EmitEvents", actions = ["events:PutEvents"], resources = [local.app_bus_arn, local.analytics_bus_arn] },
      { sid = "SendUndeliverableEvents", actions = ["sqs:SendMessage"], resources = [local.analytics_dlq_arn, local.app_events_dlq_arn] },
    ]
    "analytics" = [
      # shared/analytics/store.ts: TransactWrite of Puts (events) and Updates (aggregates);
      # shared/analytics/shard-counts.ts: the count items (GetItem, UpdateItem), and once per
      # table the layout item (PutItem), after a Scan of one item to see whether the table is empty.
      { sid = "StoreAnalytics", actions = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Scan"], resources = [local.analytics_table_arn] },
      # analytics/handler.ts delayRetries: GetQueueUrl and ChangeMessageVisibilityBatch on the queue it polls.
      { sid = "PollAnalyticsQueue", actions = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"], resources = [local.analytics_queue_arn] },
      # analytics/handler.ts reject: invalid events go straight to the DLQ.
      { sid = "SendRejectedAnalytics", actions = ["sqs:SendMessage"], resources = [local.analytics_dlq_arn] },
    ]
    "analytics-api" = [
      # shared/analytics/store.ts: readAggregates (Query on the table), readUserEvents (Query on byUser);
      # shared/analytics/shard-counts.ts readerShardCounts: the days' shard counts (BatchGetItem).
      { sid = "ReadAnalytics", actions = ["dynamodb:Query"], resources = [local.analytics_table_arn, local.analytics_index_arns["byUser"]] },
      { sid = "ReadAnalyticsShardCounts", actions = ["dynamodb:BatchGetItem"], resources = [local.analytics_table_arn] },
      { sid = "EmitAnalytics", actions = ["events:PutEvents"], resources = [local.analytics_bus_arn] },
      { sid = "SendUndeliverableAnalytics", actions = ["sqs:SendMessage"], resources = [local.analytics_dlq_arn] },
      # analytics-api/queues.ts: queue depths for GET /analytics/health.
      { sid = "ReadQueueDepths", actions = ["sqs:GetQueueAttributes"], resources = [local.analytics_queue_arn, local.analytics_dlq_arn, local.import_queue_arn, local.import_dlq_arn] },
    ]
    "auth-triggers" = [
      # shared/auth/membership.ts: tenantMembership (GetItem of MEMBER#<sub>).
      { sid = "ReadMemberships", actions = ["dynamodb:GetItem"], resources = [local.data_table_arn] },
      # shared/analytics/emitter.ts: the AUTHENTICATION events.
      { sid = "EmitAnalytics", actions = ["events:PutEvents"], resources = [local.analytics_bus_arn] },
      { sid = "SendUndeliverableAnalytics", actions = ["sqs:SendMessage"], resources = [local.analytics_dlq_arn] },
    ]
  }

  # The Cognito triggers' ARN from its parts: the user pool names it while the functions'
  # environment names the pool's issuer, so a reference would be a cycle.
  auth_triggers_arn = "arn:${data.aws_partition.current.partition}:lambda:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:function:${local.function_names["auth-triggers"]}"
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

module "table" {
  source   = "../table"
  for_each = local.tables

  name          = "${local.prefix}-${each.key}"
  hash_key      = each.value.hash_key
  range_key     = each.value.range_key
  ttl_attribute = each.value.ttl_attribute
  # Each index's projection is declared in topology.json (the data table's list indexes hold
  # keys only: a list fetches a page's items with BatchGetItem).
  global_secondary_indexes = [for index in each.value.indexes : {
    name            = index.name
    hash_key        = index.hash_key
    range_key       = index.range_key
    projection_type = index.projection
    warm_throughput = lookup(var.table_warm_throughput, "${each.key}/${index.name}", null)
  }]
  warm_throughput             = lookup(var.table_warm_throughput, each.key, null)
  deletion_protection_enabled = var.table_deletion_protection
  tags                        = local.tags
}

# A misspelt table or index key would silently change nothing (lookup() falls back to null).
check "table_warm_throughput_names_tables" {
  assert {
    condition     = length(setsubtract(keys(var.table_warm_throughput), local.warmable_tables)) == 0
    error_message = "table_warm_throughput names tables or indexes the topology does not have: ${join(", ", setsubtract(keys(var.table_warm_throughput), local.warmable_tables))} (known: ${join(", ", local.warmable_tables)})."
  }
}

# A misspelt queue key would silently change nothing (lookup() falls back to topology.json).
check "queue_consumer_concurrency_names_queues" {
  assert {
    condition     = length(setsubtract(keys(var.queue_consumer_concurrency), keys(local.queues))) == 0
    error_message = "queue_consumer_concurrency names queues the topology does not have: ${join(", ", setsubtract(keys(var.queue_consumer_concurrency), keys(local.queues)))} (known: ${join(", ", keys(local.queues))})."
  }
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
  maximum_concurrency      = lookup(var.queue_consumer_concurrency, each.key, each.value.maximum_concurrency)
  # The EventBridge rules that target this queue: the queue module creates their targets and
  # admits only them in its policy (see modules/event-bus/main.tf for why the target is there).
  event_sources = { for rule_key, rule in local.rules : rule_key => {
    rule_name       = module.event_bus[rule.bus].rule_names[rule_key]
    bus_name        = module.event_bus[rule.bus].bus_name
    rule_arn        = module.event_bus[rule.bus].rule_arns[rule_key]
    dead_letter_arn = module.event_bus[rule.bus].delivery_dlq_arns[rule_key]
  } if rule.target_queue == each.key }
  tags = local.tags
}

module "event_bus" {
  source   = "../event-bus"
  for_each = toset(local.buses)

  name        = "${local.prefix}-${each.key}"
  name_prefix = "${local.prefix}-"
  rules = { for rule_key, rule in local.rules : rule_key => {
    event_pattern     = jsonencode(rule.event_pattern)
    target_queue_name = "${local.prefix}-${rule.target_queue}"
  } if rule.bus == each.key }
  # Only the buses topology.json archives (the app bus), and only what its pattern selects:
  # archived events cannot be erased one by one, and the analytics bus carries personal data
  # whose retention (30/90 days by category) an archive would outlive.
  archive = contains(keys(local.archives), each.key) ? {
    description    = local.archives[each.key].description
    event_pattern  = jsonencode(local.archives[each.key].event_pattern)
    retention_days = var.event_archive_retention_days
  } : null
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
  environment_variables          = merge(local.function_environment, each.key == "analytics" ? local.analytics_environment : {})
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
  cognito_trigger_arn           = local.auth_triggers_arn
  cognito_trigger_function_name = module.function["auth-triggers"].function_name
  cognito_domain_prefix         = local.dashboard_enabled ? local.cognito_domain_prefix : null
  oauth_redirect_urls           = local.dashboard_redirect_urls
  cors_allowed_origins          = concat(var.cors_allowed_origins, local.dashboard_origins)
  cors                          = local.cors # local_allow_origins, for the local stack only, is dropped by the type
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
  # The application's own EMF metrics that count lost or rejected events (namespace
  # EventFlows; functions/shared/events/publisher.ts, shared/analytics/emitter.ts,
  # analytics/handler.ts): any one in 5 minutes alarms. Every one carries the environment
  # (functions/shared/log.ts), so dev and prod never share a metric.
  application_metric_dimensions = { Environment = var.environment }
  application_metric_alarms = {
    "app-undelivered-events" = {
      metric_name = "UndeliveredEvents"
      dimensions  = { EventBus = module.event_bus["app"].bus_name }
      description = "Domain events EventBridge did not take (publisher.ts); they went to the app-events DLQ or, failing that, to the log (see LostToLogEvents)."
    }
    "analytics-undelivered-events" = {
      metric_name = "UndeliveredEvents"
      dimensions  = { EventBus = module.event_bus["analytics"].bus_name }
      description = "Analytics events EventBridge did not take (publisher.ts); they went to the analytics DLQ or, failing that, to the log (see LostToLogEvents)."
    }
    "analytics-unbuilt-events" = {
      metric_name = "UndeliveredEvents"
      dimensions  = { EventBus = "analytics" }
      description = "Analytics events that could not even be built (emitter.ts recordAnalytics): lost; the function log has the error."
    }
    "app-lost-to-log-events" = {
      metric_name = "LostToLogEvents"
      dimensions  = { EventBus = module.event_bus["app"].bus_name }
      description = "Domain events neither EventBridge nor the app-events DLQ took: only the function log has them (undelivered event lines, replayable)."
    }
    "analytics-lost-to-log-events" = {
      metric_name = "LostToLogEvents"
      dimensions  = { EventBus = module.event_bus["analytics"].bus_name }
      description = "Analytics events neither EventBridge nor the analytics DLQ took: only the function log has them (undelivered event lines, replayable)."
    }
    "analytics-events-rejected" = {
      metric_name = "AnalyticsEventsRejected"
      dimensions  = { Function = "analytics" }
      description = "The analytics function rejected invalid events (analytics/handler.ts) and moved them to the analytics DLQ."
    }
  }
  http_api = { id = module.http_api.api_id, stage = module.http_api.stage_name }
  tags     = local.tags
}
