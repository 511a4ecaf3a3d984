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

# Any message in a DLQ needs a person: alarm on the first one.
resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = toset(var.dead_letter_queue_names)

  alarm_name          = "${each.value}-not-empty"
  alarm_description   = "Messages are waiting in the DLQ ${each.value}: inspect them, fix the cause, then redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

# A DLQ message nearing the end of its retention is about to be lost.
resource "aws_cloudwatch_metric_alarm" "dlq_age" {
  for_each = toset(var.dead_letter_queue_names)

  alarm_name          = "${each.value}-oldest-message-age"
  alarm_description   = "The oldest message in the DLQ ${each.value} is older than ${var.dlq_age_threshold_seconds} s; redrive it before retention deletes it."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.dlq_age_threshold_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

# A source queue whose oldest message keeps ageing is not being consumed.
resource "aws_cloudwatch_metric_alarm" "queue_age" {
  for_each = toset(var.queue_names)

  alarm_name          = "${each.value}-oldest-message-age"
  alarm_description   = "The oldest message in ${each.value} is older than ${var.queue_age_threshold_seconds} s: the consumer is failing or too slow."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.queue_age_threshold_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = toset(var.function_names)

  alarm_name          = "${each.value}-errors"
  alarm_description   = "The function ${each.value} reported errors."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.function_error_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "function_throttles" {
  for_each = toset(var.function_names)

  alarm_name          = "${each.value}-throttles"
  alarm_description   = "The function ${each.value} was throttled."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value }
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

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  count = var.http_api == null ? 0 : 1

  alarm_name          = "${var.name}-api-5xx"
  alarm_description   = "The HTTP API answered 5xx."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5xx"
  dimensions          = { ApiId = var.http_api.id, Stage = var.http_api.stage }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_5xx_threshold
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

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title   = "API throughput and errors"
          region  = local.region
          stat    = "Sum"
          period  = 60
          view    = "timeSeries"
          metrics = [for m in ["Count", "4xx", "5xx"] : ["AWS/ApiGateway", m, "ApiId", var.http_api.id, "Stage", var.http_api.stage] if var.http_api != null]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title   = "API latency (p50, p99)"
          region  = local.region
          period  = 60
          view    = "timeSeries"
          metrics = [for s in ["p50", "p99"] : ["AWS/ApiGateway", "Latency", "ApiId", var.http_api.id, "Stage", var.http_api.stage, { stat = s }] if var.http_api != null]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 8, height = 6
        properties = {
          title   = "Function invocations"
          region  = local.region
          stat    = "Sum"
          period  = 60
          view    = "timeSeries"
          metrics = [for f in var.function_names : ["AWS/Lambda", "Invocations", "FunctionName", f]]
        }
      },
      {
        type = "metric", x = 8, y = 6, width = 8, height = 6
        properties = {
          title   = "Function errors and throttles"
          region  = local.region
          stat    = "Sum"
          period  = 60
          view    = "timeSeries"
          metrics = flatten([for f in var.function_names : [["AWS/Lambda", "Errors", "FunctionName", f], ["AWS/Lambda", "Throttles", "FunctionName", f]]])
        }
      },
      {
        type = "metric", x = 16, y = 6, width = 8, height = 6
        properties = {
          title   = "Function duration (p99)"
          region  = local.region
          stat    = "p99"
          period  = 60
          view    = "timeSeries"
          metrics = [for f in var.function_names : ["AWS/Lambda", "Duration", "FunctionName", f]]
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          title   = "Queue depth"
          region  = local.region
          stat    = "Maximum"
          period  = 60
          view    = "timeSeries"
          metrics = [for q in var.queue_names : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]]
        }
      },
      {
        type = "metric", x = 12, y = 12, width = 12, height = 6
        properties = {
          title   = "DLQ depth"
          region  = local.region
          stat    = "Maximum"
          period  = 60
          view    = "timeSeries"
          metrics = [for q in var.dead_letter_queue_names : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]]
        }
      },
    ]
  })
}
