data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.region
}

# A customer-managed key: CloudWatch alarms cannot publish to a topic encrypted with the
# AWS-managed aws/sns key, because that key's policy cannot grant CloudWatch access.
data "aws_iam_policy_document" "key" {
  #checkov:skip=CKV_AWS_109:This is a KMS key policy: resource "*" means the key itself, and the administrative actions are named one by one.
  #checkov:skip=CKV_AWS_111:This is a KMS key policy: resource "*" means the key itself.
  #checkov:skip=CKV_AWS_356:This is a KMS key policy: resource "*" means the key itself.
  statement {
    sid    = "AccountAdministersKey"
    effect = "Allow"
    actions = [
      "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey",
      "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListResourceTags", "kms:PutKeyPolicy",
      "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
    ]
    resources = ["*"] # In a key policy "*" means this key.

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchPublishesAlarms"
    effect    = "Allow"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"] # In a key policy "*" means this key.

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "alarms" {
  description             = "Encrypts the ${var.name} alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
  tags                    = var.tags
}

resource "aws_kms_alias" "alarms" {
  name          = "alias/${var.name}-alarms"
  target_key_id = aws_kms_key.alarms.key_id
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = aws_kms_key.alarms.arn
  tags              = var.tags
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid       = "CloudWatchPublishes"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish", "sns:Subscribe"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.topic.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  # The fixed alarm kinds, one entry per alarm, keyed by alarm name. Every alarm sums or
  # maximises one metric over its period and alarms above its threshold; missing data is
  # "not breaching" (an idle queue or function reports nothing).
  sqs_alarms = merge(
    # Any message in a DLQ needs a person: alarm on the first one.
    { for q in var.dead_letter_queue_names : "${q}-not-empty" => {
      description = "Messages are waiting in the DLQ ${q}: inspect them, fix the cause, then redrive."
      metric      = "ApproximateNumberOfMessagesVisible", queue = q, period = 60, periods = 1, threshold = 0
    } },
    # A DLQ message nearing the end of its retention is about to be lost.
    { for q in var.dead_letter_queue_names : "${q}-oldest-message-age" => {
      description = "The oldest message in the DLQ ${q} is older than ${var.dlq_age_threshold_seconds} s; redrive it before retention deletes it."
      metric      = "ApproximateAgeOfOldestMessage", queue = q, period = 300, periods = 1, threshold = var.dlq_age_threshold_seconds
    } },
    # A source queue whose oldest message keeps ageing is not being consumed.
    { for q in var.queue_names : "${q}-oldest-message-age" => {
      description = "The oldest message in ${q} is older than ${var.queue_age_threshold_seconds} s: the consumer is failing or too slow."
      metric      = "ApproximateAgeOfOldestMessage", queue = q, period = 300, periods = 2, threshold = var.queue_age_threshold_seconds
    } },
  )
  alarms = merge(
    { for name, a in local.sqs_alarms : name => {
      description = a.description, namespace = "AWS/SQS", metric = a.metric, dimensions = { QueueName = a.queue }
      statistic   = "Maximum", period = a.period, periods = a.periods, threshold = a.threshold
    } },
    { for f in var.function_names : "${f}-errors" => {
      description = "The function ${f} reported errors.", namespace = "AWS/Lambda", metric = "Errors", dimensions = { FunctionName = f }
      statistic   = "Sum", period = 300, periods = 1, threshold = var.function_error_threshold
    } },
    { for f in var.function_names : "${f}-throttles" => {
      description = "The function ${f} was throttled.", namespace = "AWS/Lambda", metric = "Throttles", dimensions = { FunctionName = f }
      statistic   = "Sum", period = 300, periods = 1, threshold = 0
    } },
    { for api in var.http_api == null ? [] : [var.http_api] : "${var.name}-api-5xx" => {
      description = "The HTTP API answered 5xx.", namespace = "AWS/ApiGateway", metric = "5xx", dimensions = { ApiId = api.id, Stage = api.stage }
      statistic   = "Sum", period = 300, periods = 1, threshold = var.api_5xx_threshold
    } },
  )
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = each.key
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

# The application's own EMF metrics that count lost or rejected events: one is too many.
resource "aws_cloudwatch_metric_alarm" "application_metric" {
  for_each = var.application_metric_alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = var.application_metrics_namespace
  metric_name         = each.value.metric_name
  dimensions          = merge(var.application_metric_dimensions, each.value.dimensions)
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

locals {
  # The dashboard's widgets: position, title, statistic and metrics; every one a 60 s time series.
  api_dimensions = var.http_api == null ? [] : ["ApiId", var.http_api.id, "Stage", var.http_api.stage]
  widgets = [
    { x = 0, y = 0, width = 12, title = "API throughput and errors", stat = "Sum", metrics = [for m in ["Count", "4xx", "5xx"] : concat(["AWS/ApiGateway", m], local.api_dimensions) if var.http_api != null] },
    { x = 12, y = 0, width = 12, title = "API latency (p50, p99)", stat = null, metrics = [for s in ["p50", "p99"] : concat(["AWS/ApiGateway", "Latency"], local.api_dimensions, [{ stat = s }]) if var.http_api != null] },
    { x = 0, y = 6, width = 8, title = "Function invocations", stat = "Sum", metrics = [for f in var.function_names : ["AWS/Lambda", "Invocations", "FunctionName", f]] },
    { x = 8, y = 6, width = 8, title = "Function errors and throttles", stat = "Sum", metrics = flatten([for f in var.function_names : [["AWS/Lambda", "Errors", "FunctionName", f], ["AWS/Lambda", "Throttles", "FunctionName", f]]]) },
    { x = 16, y = 6, width = 8, title = "Function duration (p99)", stat = "p99", metrics = [for f in var.function_names : ["AWS/Lambda", "Duration", "FunctionName", f]] },
    { x = 0, y = 12, width = 12, title = "Queue depth", stat = "Maximum", metrics = [for q in var.queue_names : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]] },
    { x = 12, y = 12, width = 12, title = "DLQ depth", stat = "Maximum", metrics = [for q in var.dead_letter_queue_names : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]] },
  ]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [for w in local.widgets : {
      type = "metric", x = w.x, y = w.y, width = w.width, height = 6
      properties = merge(
        { title = w.title, region = local.region, period = 60, view = "timeSeries", metrics = w.metrics },
        { for key, value in { stat = w.stat } : key => value if value != null },
      )
    }]
  })
}
