locals {
  # AWS's guidance for SQS event sources: visibility timeout at least six times the
  # function timeout, plus the batching window.
  minimum_visibility_timeout = 6 * var.consumer_timeout_seconds + var.batching_window_seconds
  visibility_timeout         = coalesce(var.visibility_timeout_seconds, local.minimum_visibility_timeout)
  has_event_sources          = length(var.event_sources) > 0
  # The DLQ's ARN from its parts (the format AWS documents for SQS), so the redrive policy,
  # maxReceiveCount included, is known when planning instead of "known after apply"; a
  # postcondition on the DLQ checks it against the real ARN.
  # SQS's message quota (1 MiB since August 2025); a queue created without it keeps 256 KiB.
  # The DLQ takes the same, so every message the queue accepted can be moved there.
  max_message_size = 1048576
  dlq_arn          = "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:${var.name}-dlq"
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

resource "aws_sqs_queue" "this" {
  name                       = var.name
  max_message_size           = local.max_message_size
  visibility_timeout_seconds = local.visibility_timeout
  message_retention_seconds  = var.message_retention_seconds
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = var.kms_master_key_id == null ? true : null
  kms_master_key_id          = var.kms_master_key_id
  tags                       = var.tags

  lifecycle {
    precondition {
      condition     = local.visibility_timeout >= local.minimum_visibility_timeout
      error_message = "visibility_timeout_seconds must be >= 6 x consumer_timeout_seconds + batching_window_seconds."
    }
    precondition {
      condition     = !var.create_dlq || var.dlq_message_retention_seconds > var.message_retention_seconds
      error_message = "The DLQ must keep messages longer than its source queue (dlq_message_retention_seconds > message_retention_seconds)."
    }
  }
}

resource "aws_sqs_queue" "dlq" {
  count = var.create_dlq ? 1 : 0

  name                      = "${var.name}-dlq"
  max_message_size          = local.max_message_size
  message_retention_seconds = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled   = var.kms_master_key_id == null ? true : null
  kms_master_key_id         = var.kms_master_key_id
  tags                      = var.tags

  lifecycle {
    postcondition {
      condition     = self.arn == local.dlq_arn
      error_message = "The DLQ's ARN is not the one the redrive policy names (local.dlq_arn)."
    }
  }
}

# Redrive (source -> DLQ) and redrive-allow (DLQ <- source) as their own resources, so
# neither queue refers to the other and there is no dependency cycle.
resource "aws_sqs_queue_redrive_policy" "this" {
  count = var.create_dlq ? 1 : 0

  queue_url = aws_sqs_queue.this.id
  redrive_policy = jsonencode({
    deadLetterTargetArn = local.dlq_arn
    maxReceiveCount     = var.max_receive_count
  })

  # The ARN above is a string, not a reference: the DLQ must exist first.
  depends_on = [aws_sqs_queue.dlq]
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  count = var.create_dlq ? 1 : 0

  queue_url = aws_sqs_queue.dlq[0].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this.arn]
  })
}

data "aws_iam_policy_document" "queue" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:PurgeQueue", "sqs:SetQueueAttributes"]
    resources = [aws_sqs_queue.this.arn]

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

  dynamic "statement" {
    for_each = local.has_event_sources ? [1] : []
    content {
      sid       = "AllowEventBridgeRules"
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.this.arn]

      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }

      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [for source in values(var.event_sources) : source.rule_arn]
      }
    }
  }
}

resource "aws_sqs_queue_policy" "this" {
  queue_url = aws_sqs_queue.this.id
  policy    = data.aws_iam_policy_document.queue.json
}

data "aws_iam_policy_document" "dlq" {
  count = var.create_dlq ? 1 : 0

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:PurgeQueue", "sqs:SetQueueAttributes", "sqs:StartMessageMoveTask"]
    resources = [aws_sqs_queue.dlq[0].arn]

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

resource "aws_sqs_queue_policy" "dlq" {
  count = var.create_dlq ? 1 : 0

  queue_url = aws_sqs_queue.dlq[0].id
  policy    = data.aws_iam_policy_document.dlq[0].json
}

# The queue subscribes to its rules here rather than in the event-bus module: the target
# needs this queue's ARN and this queue's policy needs the rules' ARNs, so both live on the
# same side and the two modules do not depend on each other in a cycle.
resource "aws_cloudwatch_event_target" "this" {
  for_each = var.event_sources

  rule           = each.value.rule_name
  event_bus_name = each.value.bus_name
  target_id      = var.name
  arn            = aws_sqs_queue.this.arn

  retry_policy {
    maximum_retry_attempts       = var.maximum_retry_attempts
    maximum_event_age_in_seconds = var.maximum_event_age_in_seconds
  }

  dead_letter_config {
    arn = each.value.dead_letter_arn
  }

  # EventBridge may send only once the queue policy admits the rule.
  depends_on = [aws_sqs_queue_policy.this]
}

resource "aws_lambda_event_source_mapping" "this" {
  count = var.consumer_function_name == null ? 0 : 1

  event_source_arn                   = aws_sqs_queue.this.arn
  function_name                      = var.consumer_function_name
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.maximum_concurrency
  }
}
